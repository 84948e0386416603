#!/usr/bin/env python3
"""The LiteRT `measure` trainer: times a job's network as a .tflite file in the LiteRT
interpreter (XNNPACK) where the worker runs — the runtime phones, Raspberry Pis and
microcontroller toolchains use.

Run by a worker tagged with a hardware target, e.g.
    topiary worker --tags raspberry-pi-4 --trainer litert="python Workers/litert/measure_trainer.py"
and fed `measure` jobs (`topiary target measure T --space S --trainer litert`, or `search start
… --kind measure --trainer litert`). Like the ONNX Runtime one (Workers/onnxruntime/), it reads
the job from $TOPIARY_JOB (or stdin) and prints one result line whose `latency_ms` (the median
of the timed runs) the store keeps as the candidate's measured latency on the search's target.
The network is built from the job's graph (Workers/pytorch/graph_model.py, seeded random
weights), converted by litert-torch — float32, or int8 throughout (weights per channel,
activations calibrated on seeded random images) — and run one image at a time. `fidelity` may
set `runs`, `warmup`, `min_seconds` and `precision` (auto, fp32, int8; auto is int8 when the
graph's activations and every weight are 8 bits or fewer).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pytorch"))
sys.path.insert(0, str(HERE.parent / "python"))

import topiary_trial as trial  # noqa: E402

PRECISIONS = ("auto", "fp32", "int8")


def precision_for(graph: dict[str, Any]) -> str:
    """int8 when the activations and every layer's weights are stored in 8 bits or fewer
    (what an integer runtime runs), else fp32."""
    if graph.get("activation_bits", 32) > 8:
        return "fp32"
    bits = [n["weights"]["bits"] for n in graph["nodes"] if "weights" in n]
    return "int8" if bits and max(bits) <= 8 else "fp32"


def measure(graph: dict[str, Any], precision: str = "auto", runs: int = 50, warmup: int = 10, threads: int = 1,
            min_seconds: float = 0.2, seed: int = 0, cache_dir: str | None = None) -> dict[str, Any]:
    """Builds, converts and times one graph; the figures of the timed runs. With
    `cache_dir`, converted files are kept there by graph, precision and seed, so that
    measuring the same graph again (another pass) times the same file without converting."""
    import numpy as np
    import torch

    import tflite_export
    from graph_model import GraphNet

    why = tflite_export.available()
    if why:
        raise RuntimeError(why)
    torch.manual_seed(seed)
    net = GraphNet(graph).eval()
    shape = tuple(net.input_shape)
    chosen = precision_for(graph) if precision == "auto" else precision
    with tempfile.TemporaryDirectory(prefix="topiary-litert-") as tmp:
        path = Path(tmp) / "model.tflite"
        cached = None
        if cache_dir:
            key = hashlib.sha256(json.dumps([graph, chosen, seed], sort_keys=True).encode()).hexdigest()[:24]
            cached = Path(cache_dir) / f"{key}.tflite"
            if cached.exists():
                shutil.copyfile(cached, path)
        t = time.monotonic()
        if path.exists():
            pass
        elif chosen == "int8":
            g = torch.Generator().manual_seed(seed + 1)
            tflite_export.convert_int8(net, shape, torch.randn(64, *shape, generator=g), path)
        else:
            tflite_export.convert_float(net, shape, path)
        convert_s = time.monotonic() - t
        if cached is not None and not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, cached)
        run = tflite_export.Runner(path, threads=threads)
        image = np.random.default_rng(seed).standard_normal((1, *shape)).astype(np.float32)
        figures = time_runs(run, image, runs=runs, warmup=warmup, min_seconds=min_seconds)
        size = path.stat().st_size
    from ai_edge_litert import __version__ as litert_version
    return {**figures, "precision": chosen, "threads": threads, "litert": litert_version, "tflite_bytes": size,
            "convert_seconds": round(convert_s, 2)}


def time_runs(run, image, runs: int, warmup: int, min_seconds: float) -> dict[str, Any]:
    """Times `run(image)` after `warmup` untimed runs: at least `runs` runs and `min_seconds`
    of them (at most 100,000); the median, fastest and 90th-percentile milliseconds."""
    for _ in range(max(0, warmup)):
        run(image)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        run(image)
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= 100_000:
            break
    times.sort()
    return {"median_ms": round(statistics.median(times), 5), "min_ms": round(times[0], 5),
            "p90_ms": round(times[min(len(times) - 1, int(0.9 * len(times)))], 5), "runs": len(times), "warmup": warmup}


def main() -> int:
    try:
        job = trial.get_job()
    except trial.JobError as e:
        print(f"error: cannot read the job: {e}", file=sys.stderr)
        return 2
    graph, fid = job.get("graph"), job.get("fidelity") or {}
    if not isinstance(graph, dict):
        print("error: the job has no graph (is the search's trainer a table?)", file=sys.stderr)
        return 2
    if str(fid.get("precision", "auto")) not in PRECISIONS:
        print(f"error: fidelity.precision {fid.get('precision')!r} is not one of {', '.join(PRECISIONS)}", file=sys.stderr)
        return 2
    from graph_model import GraphError
    try:
        r = measure(graph, precision=str(fid.get("precision", "auto")), runs=int(fid.get("runs", 30)), warmup=int(fid.get("warmup", 5)),
                    threads=trial.threads(), min_seconds=float(fid.get("min_seconds", 0.2)), seed=int(job.get("seed", 0)) % (2**31))
    except GraphError as e:
        print(f"error: bad graph: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    trial.report_result(latency_ms=r["median_ms"], latency_min_ms=r["min_ms"], latency_p90_ms=r["p90_ms"], runs=r["runs"],
                        info={k: r[k] for k in ("precision", "threads", "litert", "tflite_bytes", "convert_seconds")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
