"""bench/compression_outcome.py on an export made here: a reference already trained (its
result.json) is reused, sizes and speed are compared, the card gains the section; bad input
names the file. Needs the topiary binary (built before the Python tests run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "Workers" / "onnxruntime"))

import compression_outcome  # noqa: E402
from topiary_binary import topiary_binary  # noqa: E402

SPACE = REPO / "SearchSpaces" / "fashion-fused.yaml"
FIXTURE = REPO / "Workers" / "pytorch" / "fixtures" / "fashion-fused-0.json"


def save_onnx(graph: dict, path: Path) -> None:
    import onnx
    from onnx_builder import build_model

    onnx.save(build_model(graph, seed=1, fold_batchnorm=True).model, str(path))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERE / "compression_outcome.py"), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture()
def export_and_reference(tmp_path: Path):
    fixture = json.loads(FIXTURE.read_text())
    export = tmp_path / "best"
    export.mkdir()
    (export / "candidate.json").write_text(json.dumps(fixture["candidate"]))
    save_onnx(fixture["graph"], export / "model.onnx")
    (export / "MODEL_CARD.md").write_text("# Model card\n\n## Metrics\n\n| metric | value |\n|---|---|\n"
                                          "| accuracy | 90.5 |\n| test_accuracy | 90.1 |\n| params | 1234 |\n| epochs_done | 3 |\n")
    ref = tmp_path / "reference"
    ref.mkdir()
    pool = subprocess.run([topiary_binary(str(REPO), None), "supernet", "pool", str(SPACE), "--count", "1"],
                          capture_output=True, text=True, check=True)
    save_onnx(json.loads(pool.stdout)["largest"], ref / "model.onnx")
    (ref / "result.json").write_text(json.dumps({"fidelity": compression_outcome.DEMO_FINAL,
                                                 "metrics": {"accuracy": 91.0, "test_accuracy": 90.6, "params": 538546, "epochs_done": 2}}))
    return export, ref


def test_compares_an_export_with_a_reference_trained_before(export_and_reference):
    export, ref = export_and_reference
    r = run("--export", str(export), "--space", str(SPACE), "--reference-dir", str(ref), "--rounds", "1", "--seconds", "0.2", "--card")
    assert r.returncode == 0, r.stderr
    assert "reusing the reference" in r.stderr  # nothing trained
    out = json.loads(r.stdout.strip().splitlines()[-1])
    disk = [x for x in out["sizes_and_speed"] if x["unit"] == "bytes"]
    assert disk and disk[0]["ratio"] > 2  # the largest network's float file against a 135K-parameter candidate's
    speed = [x for x in out["sizes_and_speed"] if x["unit"] == "ms"]
    assert speed and all(x["reference"]["median_ms"] > 0 and x["export"]["median_ms"] > 0 for x in speed)
    acc = {x["figure"]: x["difference"] for x in out["accuracy"]}
    assert acc["test accuracy (PyTorch)"] == pytest.approx(-0.5)
    steps = out["techniques"]
    assert [s["step"][:5] for s in steps[:3]] == ["the s", "the c", "+ its"]
    assert steps[0]["params"] == 538546 and steps[0]["params"] > steps[1]["params"] >= steps[2]["params"]
    card = (export / "MODEL_CARD.md").read_text()
    assert "## Against the space's largest network trained alike" in card and "538,546 parameters" in card


def test_bad_input_names_the_file(tmp_path: Path):
    r = run("--export", str(tmp_path / "nothing"), "--space", str(SPACE))
    assert r.returncode == 2 and "nothing/model.onnx: missing" in r.stderr
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "model.onnx").write_bytes(b"")
    (tmp_path / "e" / "MODEL_CARD.md").write_text("")
    r = run("--export", str(tmp_path / "e"), "--space", str(tmp_path / "no.yaml"))
    assert r.returncode == 2 and "no.yaml: no such search-space file" in r.stderr
    r = run("--export", str(tmp_path / "e"), "--space", str(SPACE), "--fidelity", "minutes")
    assert r.returncode == 2 and "expected KEY=VALUE" in r.stderr
    r = run("--export", str(tmp_path / "e"), "--space", str(SPACE), "--reference-dir", str(tmp_path / "none"), "--no-train")
    assert r.returncode == 2 and "no reference trained at this fidelity" in r.stderr  # and nothing was trained
