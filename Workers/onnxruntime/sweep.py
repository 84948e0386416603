"""Times kernels one after another for a kernel sweep (`topiary target profile`).

    python Workers/onnxruntime/sweep.py --kernels kernels.jsonl [--runtime onnxruntime|litert]
                                        [--seconds 600] [--threads 1] [--runs 20] [--min-seconds 0.05]
                                        [--batch 16]

Reads one JSON object per line — {"signature": S, "precision": "fp32"|"int8", "graph": {...}}
(the graph JSON of docs/PROTOCOL.md: one layer behind an input) — and times each in the
runtime as a measuring worker would (ONNX Runtime through measure.py; LiteRT through
Workers/litert/measure_trainer.py: converted, then timed — for LiteRT, --batch kernels of
one precision are converted as one file, a signature each, Workers/litert/batch.py, since
the converter's cost is per file). Writes one JSON line per kernel to stdout as soon as it
is measured — {"signature", "median_ms", "min_ms", "runs"}, or {"signature", "error"} for a
kernel the runtime cannot build — so that a sweep stopped halfway keeps what it measured.
Stops after --seconds (the kernels are in the order to measure them; a LiteRT batch begun
is finished). Exit status 2 for a bad kernels file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load_measure(runtime: str):
    """measure(graph, precision=…, runs=…, …) of the runtime: one network at a time."""
    if runtime == "onnxruntime":
        from measure import measure
        return measure
    return _litert_module("measure_trainer.py").measure


def _litert_module(name: str):
    spec = importlib.util.spec_from_file_location(f"litert_{name[:-3]}", os.path.join(os.path.dirname(HERE), "litert", name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batches(kernels: list[dict], size: int):
    """The kernels in order, `size` at a time, each group split by precision (a file holds one)."""
    for start in range(0, len(kernels), size):
        group = kernels[start:start + size]
        for precision in ("fp32", "int8"):
            same = [k for k in group if k["precision"] == precision]
            if same:
                yield precision, same


def line(k: dict, r: dict | Exception) -> str:
    if isinstance(r, Exception):
        return json.dumps({"signature": k["signature"], "error": f"{type(r).__name__}: {r}"[:300]})
    return json.dumps({"signature": k["signature"], "median_ms": r["median_ms"], "min_ms": r["min_ms"], "runs": r["runs"]})


def read_kernels(path: str) -> list[dict]:
    kernels = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                k = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e}") from None
            if not isinstance(k, dict) or not isinstance(k.get("signature"), str) or not isinstance(k.get("graph"), dict) \
                    or k.get("precision") not in ("fp32", "int8"):
                raise ValueError(f"{path}:{n}: needs signature (text), precision (fp32 or int8) and graph (object)")
            kernels.append(k)
    return kernels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernels", required=True, help="JSON lines: signature, precision, graph")
    ap.add_argument("--runtime", choices=["onnxruntime", "litert"], default="onnxruntime")
    ap.add_argument("--seconds", type=float, default=600.0, help="time budget of the sweep")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.05, help="least timed seconds per kernel")
    ap.add_argument("--batch", type=int, default=16, help="LiteRT: kernels converted as one file (1: one file each)")
    args = ap.parse_args()
    if args.batch < 1:
        print("error: --batch must be at least 1", file=sys.stderr)
        return 2
    try:
        kernels = read_kernels(args.kernels)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        measure = load_measure(args.runtime)
    except ImportError as e:
        print(f"error: the {args.runtime} runtime is not installed here ({e}); run `bash scripts/setup.sh --python`", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.seconds
    timing = {"runs": args.runs, "warmup": args.warmup, "threads": args.threads, "min_seconds": args.min_seconds}
    if args.runtime == "litert" and args.batch > 1:
        measure_many = _litert_module("batch.py").measure_many
        for precision, group in batches(kernels, args.batch):
            if time.monotonic() >= deadline:
                break
            try:
                results = measure_many([k["graph"] for k in group], precision, **timing)
            except Exception as e:  # noqa: BLE001 — the runtime missing: every kernel says so
                results = [e] * len(group)
            for k, r in zip(group, results):
                print(line(k, r), flush=True)
        return 0
    for k in kernels:
        if time.monotonic() >= deadline:
            break
        try:
            r = measure(k["graph"], precision=k["precision"], **timing)
        except Exception as e:  # noqa: BLE001 — one kernel the runtime cannot build must not end the sweep
            r = e
        print(line(k, r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
