"""Measures candidates on this machine's CPU through the ONNX Runtime worker (or, with
`--runtime litert`, the LiteRT one: Workers/litert) and writes a CSV that
`topiary-bench hardware` and `topiary target calibrate` read.

    python bench/latency_validation.py [--count 160] [--spaces fashion-mobilenet nas-bench-macro]
                                       [--passes 2] [--out bench/data/host-cpu-ort.csv]

For each space it draws `--count` candidates (`topiary space sample --seed`), turns each
into its graph JSON (`topiary candidate graph`), and times it with
Workers/onnxruntime/measure.py: single-threaded session, warm-up, then at least `--runs`
timed runs and at least `--min-seconds` of them; precision `auto` (int8 when weights and
activations are 8-bit, else fp32). Every candidate is measured in each of `--passes`
passes over the shuffled list; the figure kept is the smallest of the per-pass medians,
which discards a pass that another process disturbed. Before each measurement it waits
(up to `--max-wait` seconds) while a compiler (`swift-frontend`) runs or the CPUs are
more than 10% busy with other work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "Workers", "onnxruntime"))

from measure import measure as measure_onnxruntime  # noqa: E402
from measure import precision_for  # noqa: E402
from topiary_binary import topiary_binary  # noqa: E402


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def busy(window: float = 0.3, threshold: float = 0.1) -> bool:
    """Whether other work keeps the machine busy: a compiler is running, or, while this
    process sleeps for `window` seconds, the CPUs are more than `threshold` busy."""
    if subprocess.run(["pgrep", "-f", "swift-frontend"], capture_output=True).returncode == 0:
        return True
    b0, t0 = _cpu_times()
    time.sleep(window)
    b1, t1 = _cpu_times()
    return t1 > t0 and (b1 - b0) / (t1 - t0) > threshold


def wait_idle(max_wait: float) -> float:
    t0 = time.monotonic()
    while busy() and time.monotonic() - t0 < max_wait:
        time.sleep(1)
    return time.monotonic() - t0


def write_csv(path: str, items: list[dict]) -> None:
    """Writes the measured items (those measured in at least one pass)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["space", "id", "precision", "measured_ms", "min_ms", "pass_medians_ms", "runs", "busy_passes", "macs", "params", "candidate"])
        for it in items:
            if not it["medians"]:
                continue
            w.writerow([it["space"], it["id"], it["precision"], f"{min(it['medians']):.6f}", f"{min(it['mins']):.6f}",
                        ";".join(f"{m:.6f}" for m in it["medians"]), it["runs"], it["busy"], it["macs"], it["params"], it["candidate"]])
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topiary", help="path of the topiary binary (default: the newest build)")
    ap.add_argument("--spaces", nargs="+", default=["fashion-mobilenet", "nas-bench-macro"],
                    help="space names (SearchSpaces/NAME.yaml) or paths of space files")
    ap.add_argument("--count", type=int, default=160, help="candidates per space")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--min-seconds", type=float, default=0.3)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--max-wait", type=float, default=30.0, help="longest wait for an idle machine per candidate")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "data", "host-cpu-ort.csv"))
    ap.add_argument("--precision", choices=["any", "fp32", "int8"], default="any",
                    help="keep only the drawn candidates that run at this precision (more measurements of one kind)")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads of the runtime (default 1)")
    ap.add_argument("--runtime", choices=["onnxruntime", "litert"], default="onnxruntime",
                    help="litert: each candidate converted to .tflite (a few seconds) and timed in LiteRT")
    args = ap.parse_args()
    measure = measure_onnxruntime
    if args.runtime == "litert":
        import importlib.util  # Workers/litert/measure_trainer.py shares its module name with the ONNX one's
        spec = importlib.util.spec_from_file_location("litert_measure", os.path.join(REPO, "Workers", "litert", "measure_trainer.py"))
        litert = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(litert)
        import functools
        import tempfile
        # Each candidate is converted once; later passes time the same file.
        measure = functools.partial(litert.measure, cache_dir=tempfile.mkdtemp(prefix="topiary-litert-cache-"))

    binary = topiary_binary(REPO, args.topiary)
    items = []
    for space in args.spaces:
        path = space if space.endswith(".yaml") else os.path.join(REPO, "SearchSpaces", f"{space}.yaml")
        space = os.path.basename(path)[: -len(".yaml")]
        lines = subprocess.run([binary, "space", "sample", path, "--count", str(args.count), "--seed", str(args.seed), "--json"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        graphs = subprocess.run([binary, "candidate", "graph", "-", "--space", path], input="\n".join(lines) + "\n",
                                capture_output=True, text=True, check=True).stdout.splitlines()
        costs = subprocess.run([binary, "candidate", "cost", "-", "--space", path, "--json"], input="\n".join(lines) + "\n",
                               capture_output=True, text=True, check=True).stdout.splitlines()
        assert len(lines) == len(graphs) == len(costs), space
        for cand, graph, cost in zip(lines, graphs, costs):
            c = json.loads(cost)
            if args.precision != "any" and precision_for(json.loads(graph)) != args.precision:
                continue
            items.append({"space": space, "id": c["id"], "candidate": cand, "graph": json.loads(graph), "macs": c["macs"],
                          "params": c["params"], "medians": [], "mins": [], "runs": 0, "waited": 0.0, "busy": 0})
    print(f"{len(items)} candidates from {', '.join(args.spaces)}; {args.passes} passes", file=sys.stderr)
    rng = random.Random(args.seed)
    for p in range(args.passes):
        order = list(range(len(items)))
        rng.shuffle(order)
        t0 = time.monotonic()
        for n, k in enumerate(order):
            it = items[k]
            it["waited"] += wait_idle(args.max_wait)
            it["busy"] += int(busy())
            try:
                r = measure(it["graph"], precision="auto", runs=args.runs, warmup=args.warmup, threads=args.threads,
                            min_seconds=args.min_seconds)
            except Exception as e:  # noqa: BLE001 — a converter that refuses one network must not end the set
                print(f"{it['space']} {it['id']}: not measured: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
                continue
            it["medians"].append(r["median_ms"])
            it["mins"].append(r["min_ms"])
            it["runs"] += r["runs"]
            it["precision"] = r["precision"]
            if (n + 1) % 50 == 0:
                print(f"pass {p + 1}: {n + 1}/{len(items)} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
        write_csv(args.out, items)
    spread = sorted(max(it["medians"]) / min(it["medians"]) - 1 for it in items if it["medians"])
    print(f"wrote {args.out}: {sum(1 for it in items if it['medians'])} rows; pass-to-pass spread of medians: median {100 * spread[len(spread) // 2]:.1f}%, "
          f"90th percentile {100 * spread[int(0.9 * len(spread))]:.1f}%", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
