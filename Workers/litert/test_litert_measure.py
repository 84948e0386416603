"""The LiteRT measuring trainer: a job's graph built, converted to .tflite and timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "pytorch"))

import tflite_export  # noqa: E402

WHY = tflite_export.available()
GRAPHS = HERE.parent / "onnxruntime" / "fixtures"
SCRIPT = HERE / "measure_trainer.py"


def job(graph: str, **fidelity) -> dict:
    return {"trial": 1, "attempt": 1, "kind": "measure", "graph": json.loads((GRAPHS / f"{graph}.graph.json").read_text()),
            "fidelity": {"runs": 20, "warmup": 2, "min_seconds": 0.05, **fidelity}, "seed": 3}


def run(j: dict | str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "job.json"
    path.write_text(j if isinstance(j, str) else json.dumps(j))
    env = dict(os.environ, TOPIARY_JOB=str(path), TOPIARY_THREADS="1")
    return subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
@pytest.mark.parametrize("graph,precision", [("fashion-mobilenet-0", "fp32"), ("fashion-mobilenet-0", "int8"),
                                             ("nas-bench-201-0", "auto")])
def test_a_graph_is_timed_in_litert(tmp_path, graph, precision):
    r = run(job(graph, precision=precision), tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    line = json.loads(r.stdout.strip().splitlines()[-1])
    m, info = line["metrics"], line["info"]
    assert line["event"] == "result" and m["runs"] >= 20
    assert 0 < m["latency_min_ms"] <= m["latency_ms"] <= m["latency_p90_ms"]
    assert info["precision"] == ("fp32" if precision == "auto" else precision) and info["tflite_bytes"] > 0


def test_bad_jobs_are_refused_by_name(tmp_path):
    r = run(job("fashion-mobilenet-0", precision="int4"), tmp_path)
    assert r.returncode == 2 and "fidelity.precision" in r.stderr
    r = run({"trial": 1, "fidelity": {}}, tmp_path)
    assert r.returncode == 2 and "no graph" in r.stderr
    r = run("not json", tmp_path)
    assert r.returncode == 2 and "cannot read the job" in r.stderr
