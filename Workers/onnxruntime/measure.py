"""Times a Topiary network graph with ONNX Runtime where this script runs.

    python Workers/onnxruntime/measure.py --graph graph.json [--int8] [--runs N]

reads the JSON of `topiary candidate graph` (a file, or - for standard input), builds the
ONNX model (onnx_builder.py), optionally quantizes it to int8 with ONNX Runtime's own
quantization, and prints one JSON line:

    {"median_ms": 0.412, "min_ms": 0.398, "mean_ms": 0.415, "p90_ms": 0.43, "runs": 200,
     "warmup": 20, "precision": "fp32", "threads": 1, "params": 123456,
     "onnx_nodes": 57, "onnxruntime": "1.x", "provider": "CPUExecutionProvider"}

`measure(graph, ...)` is the same as a function, for a worker that runs `measure` jobs.
Errors go to standard error with exit status 2 (bad graph or arguments) or 1 (runtime).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import onnxruntime as ort  # noqa: E402

from onnx_builder import BuiltModel, GraphError, build_model  # noqa: E402

PRECISIONS = ("auto", "fp32", "int8", "int8-dynamic")


def precision_for(graph: dict[str, Any]) -> str:
    """The precision a CPU runtime would run the graph at: int8 when both the activations
    and every layer's weights are stored in 8 bits or fewer, else fp32 (weight-only
    quantization is dequantized on load)."""
    if graph.get("activation_bits", 32) > 8:
        return "fp32"
    bits = [n["weights"]["bits"] for n in graph["nodes"] if "weights" in n]
    return "int8" if bits and max(bits) <= 8 else "fp32"


class _RandomInputs:
    """Calibration data for static quantization: a few seeded normal images."""

    def __init__(self, shape: tuple[int, ...], count: int = 8, seed: int = 1):
        rng = np.random.default_rng(seed)
        self._data = [{"input": rng.standard_normal(shape).astype(np.float32)} for _ in range(count)]
        self._it = iter(self._data)

    def get_next(self):
        return next(self._it, None)

    def rewind(self):
        self._it = iter(self._data)


def quantize(built: BuiltModel, dynamic: bool, per_channel: bool) -> bytes:
    """The model quantized to int8 by ONNX Runtime: static (QDQ, activations calibrated on
    random inputs) or dynamic (activations quantized at run time)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice is not for our users
    with tempfile.TemporaryDirectory(prefix="topiary-ort-") as tmp:
        src = os.path.join(tmp, "model.onnx")
        dst = os.path.join(tmp, "model.int8.onnx")
        with open(src, "wb") as f:
            f.write(built.model.SerializeToString())
        if dynamic:
            quantize_dynamic(src, dst, per_channel=per_channel, weight_type=QuantType.QInt8)
        else:
            quantize_static(src, dst, _RandomInputs(built.input_shape), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        with open(dst, "rb") as f:
            return f.read()


def session(model_bytes: bytes, threads: int = 1) -> ort.InferenceSession:
    """A CPU session with every graph optimization (conv–BN–activation fusion) and a
    fixed number of threads (1 by default, for stable timings)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def measure(graph: dict[str, Any], precision: str = "auto", runs: int = 50, warmup: int = 10,
            threads: int = 1, min_seconds: float = 0.0, seed: int = 0) -> dict[str, Any]:
    """Builds, optionally quantizes, and times one graph; returns the JSON fields above.

    At least `runs` timed runs after `warmup` untimed ones, and more while the timed runs
    total less than `min_seconds` (small networks get many runs)."""
    if precision not in PRECISIONS:
        raise GraphError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if runs < 1 or warmup < 0 or threads < 1:
        raise GraphError("runs and threads must be at least 1, warmup at least 0")
    built = build_model(graph, seed=seed, fold_batchnorm=True)
    chosen = precision_for(graph) if precision == "auto" else precision
    if chosen == "fp32":
        model_bytes = built.model.SerializeToString()
    else:
        per_channel = all(n["weights"].get("per_channel", True) for n in graph["nodes"] if "weights" in n)
        model_bytes = quantize(built, dynamic=chosen == "int8-dynamic", per_channel=per_channel)
    sess = session(model_bytes, threads)
    x = np.random.default_rng(seed + 1).standard_normal(built.input_shape).astype(np.float32)
    feed = {"input": x}
    out = sess.run(None, feed)[0]
    if not np.all(np.isfinite(out)):
        raise RuntimeError("the network produced non-finite outputs")
    for _ in range(warmup):
        sess.run(None, feed)
    times: list[float] = []
    total = 0.0
    clock = time.perf_counter_ns
    while len(times) < runs or total < min_seconds:
        t0 = clock()
        sess.run(None, feed)
        dt = (clock() - t0) / 1e6
        times.append(dt)
        total += dt / 1e3
        if len(times) >= 100_000:
            break
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 6),
        "min_ms": round(times[0], 6),
        "mean_ms": round(statistics.fmean(times), 6),
        "p90_ms": round(times[min(len(times) - 1, math.ceil(0.9 * len(times)) - 1)], 6),
        "runs": len(times),
        "warmup": warmup,
        "precision": chosen,
        "threads": threads,
        "params": built.params,
        "onnx_nodes": len(built.model.graph.node),
        "onnxruntime": ort.__version__,
        "provider": "CPUExecutionProvider",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time a Topiary graph JSON with ONNX Runtime; prints one JSON line.")
    ap.add_argument("--graph", required=True, help="graph JSON file (topiary candidate graph), or - for stdin")
    ap.add_argument("--int8", action="store_true", help="quantize to int8 (static, QDQ); same as --precision int8")
    ap.add_argument("--precision", choices=PRECISIONS, default=None,
                    help="auto (default: int8 when the graph's weights and activations are 8-bit), fp32, int8, int8-dynamic")
    ap.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    ap.add_argument("--min-seconds", type=float, default=0.0, help="keep timing until the runs total this long")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights and input")
    args = ap.parse_args(argv)
    if args.int8 and args.precision not in (None, "int8"):
        print("error: --int8 contradicts --precision", args.precision, file=sys.stderr)
        return 2
    precision = "int8" if args.int8 else (args.precision or "auto")
    try:
        text = sys.stdin.read() if args.graph == "-" else open(args.graph, encoding="utf-8").read()
        graph = json.loads(text)
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: {args.graph}: {e}", file=sys.stderr)
        return 2
    try:
        result = measure(graph, precision, args.runs, args.warmup, args.threads, args.min_seconds, args.seed)
    except (GraphError, KeyError, TypeError) as e:
        print(f"error: {args.graph}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - report any runtime failure as one line
        print(f"error: {args.graph}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
