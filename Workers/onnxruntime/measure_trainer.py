#!/usr/bin/env python3
"""The `measure` trainer: times a job's network with ONNX Runtime where the worker runs.

Run by a worker tagged with a hardware target, e.g.
    topiary worker --tags host-cpu --trainer onnxruntime="python Workers/onnxruntime/measure_trainer.py"
and fed `measure` jobs (`topiary search start … --kind measure --trainer onnxruntime`).
Follows the trainer protocol (docs/PROTOCOL.md): reads the job from $TOPIARY_JOB (or stdin),
prints one result line whose `latency_ms` (the median of the timed runs) the store keeps as
the candidate's measured latency on the search's target. `fidelity` may set `runs`,
`warmup`, `min_seconds` and `precision` (auto, fp32, int8, int8-dynamic).
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from measure import PRECISIONS, measure  # noqa: E402


def main() -> int:
    path = os.environ.get("TOPIARY_JOB")
    try:
        job = json.load(open(path, encoding="utf-8")) if path else json.load(sys.stdin)
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: cannot read the job: {e}", file=sys.stderr)
        return 2
    graph = job.get("graph")
    if not isinstance(graph, dict):
        print("error: the job has no graph (is the search's trainer a table?)", file=sys.stderr)
        return 2
    fid = job.get("fidelity") or {}
    precision = str(fid.get("precision", "auto"))
    if precision not in PRECISIONS:
        print(f"error: fidelity.precision {precision!r} is not one of {', '.join(PRECISIONS)}", file=sys.stderr)
        return 2
    threads = int(os.environ.get("TOPIARY_THREADS", "1"))
    r = measure(graph, precision=precision, runs=int(fid.get("runs", 30)), warmup=int(fid.get("warmup", 5)),
                threads=max(1, threads), min_seconds=float(fid.get("min_seconds", 0.2)), seed=int(job.get("seed", 0)) % (2**31))
    metrics = {"latency_ms": r["median_ms"], "latency_min_ms": r["min_ms"], "latency_p90_ms": r["p90_ms"], "runs": r["runs"]}
    print(json.dumps({"event": "result", "metrics": metrics,
                      "info": {k: r[k] for k in ("precision", "threads", "onnxruntime", "provider", "onnx_nodes")}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
