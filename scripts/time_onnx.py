"""Times an exported model.onnx with ONNX Runtime on this machine (batch 1, one thread by
default) and prints one JSON line: {"median_ms", "min_ms", "p90_ms", "runs", "threads",
"onnxruntime"}. The main job uses it to put the exported model's measured latency beside
the predicted one in its model card.

    python scripts/time_onnx.py MODEL.onnx [--threads 1] [--seconds 3] [--min-runs 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def runner(model: str, threads: int = 1):
    """(a callable that runs `model` once on a fixed random input, batch 1, with ONNX
    Runtime on `threads` threads; onnxruntime's version). Raises what ONNX Runtime raises
    for a file it cannot load."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return (lambda: session.run(None, {inp.name: x})), ort.__version__


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--min-runs", type=int, default=200)
    a = ap.parse_args()
    try:
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        print(f"time_onnx: needs numpy and onnxruntime ({e})", file=sys.stderr)
        return 2
    try:
        run, version = runner(a.model, a.threads)
    except Exception as e:  # noqa: BLE001
        print(f"time_onnx: {a.model}: cannot load ({e})", file=sys.stderr)
        return 2
    for _ in range(20):
        run()
    times: list[float] = []
    end = time.perf_counter() + a.seconds
    while time.perf_counter() < end or len(times) < a.min_runs:
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"median_ms": round(statistics.median(times), 6), "min_ms": round(times[0], 6),
                      "p90_ms": round(times[int(0.9 * (len(times) - 1))], 6), "runs": len(times), "threads": a.threads,
                      "onnxruntime": version}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
