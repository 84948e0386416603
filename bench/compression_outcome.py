"""What a search's compression bought: an exported model against its space's largest network
trained alike (the uncompressed reference) — how many times smaller on disk, how many times
faster measured on this machine (ONNX Runtime and LiteRT), and the accuracy difference.

    ~/.cache/topiary/venv/bin/python bench/compression_outcome.py --export runs/demo-…/best \\
        --space SearchSpaces/fashion-fused.yaml [--reference-dir DIR] [--card]

The reference is the space's largest network (every stage at its greatest depth, width,
expansion and kernel, squeeze-excite on; `topiary supernet pool`), uncompressed, trained by
the reference trainer with the main job's final fidelity (`--fidelity`, default the one
scripts/demo.sh gives its finalists: 20 epochs fitted into 10 minutes, label smoothing 0.1,
all the data, TFLite files) on one thread, as a worker would. Its directory (`--reference-dir`,
default ~/.cache/topiary/reference/SPACE-NAME) is reused when it already holds a result, so
several exports of one space compare against one training. Timing: batch 1, one thread,
alternating the two models in rounds so that a shared machine's load falls on both alike;
min and median reported. `--card` appends the comparison to the export's MODEL_CARD.md.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "Workers" / "pytorch"))       # tflite_export
sys.path.insert(0, str(REPO / "Workers" / "onnxruntime"))   # onnx_builder
sys.path.insert(0, str(REPO / "scripts"))                    # time_onnx

import time_onnx  # noqa: E402
from topiary_binary import topiary_binary  # noqa: E402

# The final fidelity scripts/demo.sh gives its finalists.
DEMO_FINAL = {"epochs": 20, "minutes": 10, "finetune_epochs": 1, "label_smoothing": 0.1, "data_fraction": 1,
              "test_fraction": 1, "tflite": 1, "from_scratch": 1}

TOPIARY: str | None = None

NO_COMPRESSION = {"pruning": {"method": "none"}, "quantization": {"weight_bits": 32, "activation_bits": 32, "mode": "ptq"},
                  "distillation": {"enabled": False}, "low_rank": {"rank_ratio": 1.0}, "weight_sharing": {"clusters": 0}}


def fail(msg: str) -> None:
    print(f"compression_outcome: {msg}", file=sys.stderr)
    sys.exit(2)


def largest_graph(space: Path) -> dict:
    """The space's largest network (`topiary supernet pool`)."""
    pool = subprocess.run([topiary_binary(str(REPO), TOPIARY), "supernet", "pool", str(space), "--count", "1"], capture_output=True, text=True)
    if pool.returncode != 0:
        fail(f"{space}: `topiary supernet pool` failed: {pool.stderr.strip()}")
    return json.loads(pool.stdout)["largest"]


def train_reference(space: Path, ref: Path, fidelity: dict, threads: int, may_train: bool = True) -> dict:
    """Trains the space's largest network once into `ref` (job.json, trial.log, result.json,
    the trainer's files) and returns its result; an earlier result there is reused."""
    done = ref / "result.json"
    if done.exists():
        result = json.loads(done.read_text())
        if result.get("fidelity") == fidelity:
            print(f"reusing the reference trained in {ref}", file=sys.stderr)
            return result
        print(f"{ref} holds a reference trained at another fidelity", file=sys.stderr)
    if not may_train:
        fail(f"{ref}: no reference trained at this fidelity (--no-train)")
    ref.mkdir(parents=True, exist_ok=True)
    largest = largest_graph(space)
    job = {"trial": 1, "attempt": 1, "search": 0, "kind": "train", "trainer": "pytorch",
           "candidate": {"arch": {}, "compression": NO_COMPRESSION, "space": space.stem},
           "fidelity": fidelity, "seed": 1, "graph": largest, "graph_uncompressed": largest,
           "output_dir": str(ref)}
    (ref / "job.json").write_text(json.dumps(job))
    env = dict(os.environ, TOPIARY_JOB=str(ref / "job.json"), TOPIARY_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    print(f"training the largest network of {space.name} in {ref} (about {fidelity.get('minutes', '?')} minutes)…", file=sys.stderr)
    with open(ref / "trial.log", "w") as log:
        run = subprocess.run([sys.executable, str(REPO / "Workers" / "pytorch" / "trainer.py")], env=env,
                             stdout=subprocess.PIPE, stderr=log, text=True)
    lines = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    results = [x for x in lines if x.get("event") == "result"]
    if run.returncode != 0 or not results:
        fail(f"the reference's training failed (exit {run.returncode}); see {ref / 'trial.log'}")
    result = {"fidelity": fidelity, "metrics": results[-1].get("metrics", {})}
    done.write_text(json.dumps(result, indent=1))
    return result


def onnx_session(path: Path):
    return time_onnx.runner(str(path), threads=1)[0]


def litert_runner(path: Path):
    import numpy as np

    import tflite_export

    run = tflite_export.Runner(path)
    x = np.random.default_rng(0).standard_normal(run.inp["shape"]).astype(np.float32)
    return lambda: run(x)


def time_all(fns: list, rounds: int, seconds: float) -> list[list[float]]:
    """Per-call milliseconds of callables, taken in turn in `rounds` rounds of about
    `seconds` each: all see the same share of a noisy machine's load."""
    out: list[list[float]] = [[] for _ in fns]
    for f in fns:
        for _ in range(20):
            f()
    for _ in range(rounds):
        for f, ms in zip(fns, out):
            end = time.perf_counter() + seconds / len(fns)
            while time.perf_counter() < end:
                t = time.perf_counter()
                f()
                ms.append((time.perf_counter() - t) * 1000)
    return out


def built_session(graph: dict):
    """An ONNX Runtime session for a graph built with random weights (batch norm folded, as
    an export does): what is timed is the architecture."""
    import tempfile

    from onnx_builder import build_model

    import onnx

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.onnx"
        onnx.save(build_model(graph, seed=0, fold_batchnorm=True).model, str(path))
        return onnx_session(path)


def techniques(space: Path, export: Path, largest: dict, rounds: int, seconds: float) -> list[dict]:
    """Which technique gave what: ONNX Runtime fp32 latency and float32 size of the largest
    network, the candidate's architecture before compression, and after its structured
    compression (channel pruning, low rank), all built with random weights; then int8 (the
    export's LiteRT files, float32 against int8)."""
    cand = str(export / "candidate.json")
    bin_ = topiary_binary(str(REPO), TOPIARY)
    graphs = [("the space's largest network", largest)]
    for label, extra in (("the candidate's architecture, uncompressed", ["--uncompressed"]),
                         ("+ its structured compression (channel pruning, low rank)", [])):
        g = subprocess.run([bin_, "candidate", "graph", cand, "--space", str(space)] + extra, capture_output=True, text=True)
        if g.returncode != 0:
            fail(f"{cand}: `topiary candidate graph` failed: {g.stderr.strip()}")
        graphs.append((label, json.loads(g.stdout)))
    times = time_all([built_session(g) for _, g in graphs], rounds, seconds)
    from onnx_builder import graph_params

    rows = []
    for (label, g), ms in zip(graphs, times):
        n = graph_params(g)
        rows.append({"step": label, "params": n, "fp32_bytes": 4 * n, "onnxruntime_fp32": summary(ms)})
    if (export / "model.tflite").exists() and (export / "model_int8.tflite").exists():
        try:
            f32, i8 = time_all([litert_runner(export / "model.tflite"), litert_runner(export / "model_int8.tflite")], rounds, seconds)
            rows.append({"step": "+ int8 (LiteRT: the export's float32 file against its int8 file)",
                         "litert_fp32": summary(f32), "litert_int8": summary(i8),
                         "fp32_bytes": (export / "model.tflite").stat().st_size, "int8_bytes": (export / "model_int8.tflite").stat().st_size})
        except ImportError:
            pass
    return rows


def summary(ms: list[float]) -> dict:
    return {"min_ms": round(min(ms), 4), "median_ms": round(statistics.median(ms), 4), "runs": len(ms)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--export", type=Path, required=True, help="a directory written by `topiary export`")
    ap.add_argument("--space", type=Path, required=True, help="the export's search-space YAML")
    ap.add_argument("--reference-dir", type=Path, help="where the reference is trained (reused when it holds a result)")
    ap.add_argument("--fidelity", action="append", default=[], help="KEY=VALUE over the main job's final fidelity")
    ap.add_argument("--threads", type=int, default=1, help="training threads (a worker's --threads)")
    ap.add_argument("--topiary", help="the topiary binary (default: the newest build)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds per round")
    ap.add_argument("--no-train", action="store_true", help="compare only with a reference trained before; exit 2 when there is none")
    ap.add_argument("--card", action="store_true", help="append the comparison to the export's MODEL_CARD.md")
    a = ap.parse_args()
    global TOPIARY
    TOPIARY = a.topiary

    for f in ("model.onnx", "MODEL_CARD.md"):
        if not (a.export / f).exists():
            fail(f"{a.export / f}: missing; --export takes a directory written by `topiary export`")
    if not a.space.exists():
        fail(f"{a.space}: no such search-space file")
    fidelity = dict(DEMO_FINAL)
    for kv in a.fidelity:
        k, sep, v = kv.partition("=")
        if not sep:
            fail(f"--fidelity {kv}: expected KEY=VALUE")
        fidelity[k] = float(v) if "." in v else int(v)
    name = a.space.stem
    ref = a.reference_dir or Path(os.environ.get("TOPIARY_CACHE", Path.home() / ".cache" / "topiary")) / "reference" / name
    reference = train_reference(a.space, ref, fidelity, a.threads, may_train=not a.no_train)
    rm = reference["metrics"]
    card = a.export / "MODEL_CARD.md"
    em = {}
    for line in card.read_text().splitlines():  # the card's metrics table: | name | value |
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if len(parts) == 2:
            try:
                em[parts[0]] = float(parts[1])
            except ValueError:
                pass

    rows = []
    # On disk: what a device stores. The export's smallest deployable file against the
    # reference's float32 files (ONNX and TFLite).
    deploy = [f for f in ("model_int8.tflite", "model.tflite", "model.onnx") if (a.export / f).exists()]
    small = min(deploy, key=lambda f: (a.export / f).stat().st_size)
    for ref_file in ("model.onnx", "model.tflite"):
        if (ref / ref_file).exists():
            rb, eb = (ref / ref_file).stat().st_size, (a.export / small).stat().st_size
            rows.append({"figure": f"on disk: reference {ref_file} / export {small}", "reference": rb, "export": eb,
                         "ratio": round(rb / eb, 2), "unit": "bytes"})
    # Measured speed, batch 1, one thread.
    pairs = [("ONNX Runtime fp32", "model.onnx", "model.onnx", onnx_session)]
    try:
        import ai_edge_litert  # noqa: F401

        pairs += [("LiteRT fp32", "model.tflite", "model.tflite", litert_runner),
                  ("LiteRT int8 export vs fp32 reference", "model.tflite", "model_int8.tflite", litert_runner),
                  ("LiteRT int8 both", "model_int8.tflite", "model_int8.tflite", litert_runner)]
    except ImportError:
        print("ai-edge-litert is not installed: LiteRT not timed", file=sys.stderr)
    for label, rf, ef, make in pairs:
        if not (ref / rf).exists() or not (a.export / ef).exists():
            continue
        tr, te = time_all([make(ref / rf), make(a.export / ef)], a.rounds, a.seconds)
        sr, se = summary(tr), summary(te)
        rows.append({"figure": f"latency, {label} ({rf} / {ef})", "reference": sr, "export": se,
                     "ratio": round(sr["median_ms"] / se["median_ms"], 2), "unit": "ms"})
    acc = []
    for key, label in (("test_accuracy", "test accuracy (PyTorch)"), ("int8_tflite_test_accuracy", "test accuracy, int8 TFLite"),
                       ("accuracy", "validation accuracy")):
        if key in rm and key in em:
            acc.append({"figure": label, "reference": rm[key], "export": em[key], "difference": round(em[key] - rm[key], 2)})

    steps = techniques(a.space, a.export, largest_graph(a.space), a.rounds, a.seconds)
    out = {"space": name, "reference_dir": str(ref), "reference_params": rm.get("params"), "reference_epochs": rm.get("epochs_done"),
           "export_params": em.get("params"), "export_epochs": em.get("epochs_done"), "fidelity": fidelity, "sizes_and_speed": rows,
           "accuracy": acc, "techniques": steps}
    md = ["", "## Against the space's largest network trained alike", "",
          f"Reference: the largest network of `{name}`, uncompressed, {int(rm.get('params', 0)):,} parameters, trained at the same "
          f"final fidelity ({int(rm.get('epochs_done', 0))} epochs fitted into {fidelity.get('minutes')} minutes; this model: "
          f"{int(em.get('params', 0)):,} parameters, {int(em.get('epochs_done', 0))} epochs). Measured on this machine by "
          "`bench/compression_outcome.py` (batch 1, one thread, the two models alternated; medians).", "",
          "| figure | reference | this model | reference / this model |", "|---|---|---|---|"]
    for r in rows:
        if r["unit"] == "bytes":
            md.append(f"| {r['figure']} | {r['reference']:,} B | {r['export']:,} B | {r['ratio']}x smaller |")
        else:
            md.append(f"| {r['figure']} | {r['reference']['median_ms']} ms | {r['export']['median_ms']} ms | {r['ratio']}x faster |")
    for r in acc:
        md.append(f"| {r['figure']} | {r['reference']} | {r['export']} | {r['difference']:+.2f} points |")
    md += ["", "Which technique gave what on this CPU (ONNX Runtime fp32 timings of networks built with random weights, "
           "batch norm folded; the int8 row times the export's own LiteRT files):", "",
           "| step | parameters | size | median ms | speed-up over the step before |", "|---|---|---|---|---|"]
    prev = None
    for r in steps:
        if "onnxruntime_fp32" in r:
            ms = r["onnxruntime_fp32"]["median_ms"]
            md.append(f"| {r['step']} | {r['params']:,} | {r['fp32_bytes']:,} B fp32 | {ms} | {'' if prev is None else f'{prev / ms:.2f}x'} |")
            prev = ms
        else:
            f32, i8 = r["litert_fp32"]["median_ms"], r["litert_int8"]["median_ms"]
            md.append(f"| {r['step']} | | {r['fp32_bytes']:,} B → {r['int8_bytes']:,} B | {f32} → {i8} | {f32 / i8:.2f}x |")
    text = "\n".join(md) + "\n"
    print(text, file=sys.stderr)
    if a.card:
        with open(card, "a") as f:
            f.write(text)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
