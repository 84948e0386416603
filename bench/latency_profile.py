"""Per-operator timings of measured candidates, for finding where a latency model errs.

    python bench/latency_profile.py --data bench/data/host-cpu-ort-dev.csv [--space fashion-mobilenet]
                                    [--runs 300] [--out /tmp/profile.csv]

For each candidate of a measurement CSV (the output of bench/latency_validation.py) it
builds the same ONNX model as Workers/onnxruntime/measure.py (same precision), runs it
`--runs` times in a single-threaded ONNX Runtime session with the runtime's profiler on,
and writes one row per optimized operator: the graph node it computes (ONNX node names are
the graph's node ids, `n12`; operators the runtime inserted — layout reorders, transposes,
quantize/dequantize pairs — are traced to the graph node whose output they read), the
operator type, input and output shapes, and the median and mean of its kernel time in
microseconds over the runs. Beside it, the model's per-layer prediction
(`topiary candidate latency --json`) for the layer that holds that graph node, so the two
can be compared layer by layer (`--compare` prints a summary by operator kind).

The profiler's clock has 1 us resolution, so the mean over many runs is the better figure
for the 1-3 us operators of small networks; the sum of kernel times is less than the
end-to-end time by the executor's own per-operator cost.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "Workers", "onnxruntime"))

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from measure import quantize  # noqa: E402
from onnx_builder import build_model  # noqa: E402
from topiary_binary import topiary_binary  # noqa: E402

NODE_ID = re.compile(r"^n(\d+)(?:_|$)")


def profiled_session(model_bytes: bytes, tmp: str) -> tuple[ort.InferenceSession, onnx.ModelProto]:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tmp, "profile")
    so.optimized_model_filepath = os.path.join(tmp, "optimized.onnx")
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return sess, onnx.load(so.optimized_model_filepath)


def owners(model: onnx.ModelProto) -> dict[str, int]:
    """The graph node id each optimized operator belongs to: its own name's id, else that
    of the operator producing its first input (or, for the first operators, of its first
    consumer)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers = defaultdict(list)
    for n in model.graph.node:
        for i in n.input:
            consumers[i].append(n)
    owner: dict[str, int] = {}

    def find(n, depth=0) -> int:
        if n.name in owner:
            return owner[n.name]
        m = NODE_ID.match(n.name)
        if m:
            return int(m.group(1))
        if depth > 20:
            return -1
        for i in n.input:
            if i in producer:
                return find(producer[i], depth + 1)
        for o in n.output:
            for c in consumers.get(o, []):
                return find(c, depth + 1)
        return -1

    for n in model.graph.node:
        owner[n.name] = find(n)
    return owner


def profile(graph: dict, precision: str, runs: int, warmup: int) -> list[dict]:
    built = build_model(graph, seed=0, fold_batchnorm=True)
    if precision == "fp32":
        model_bytes = built.model.SerializeToString()
    else:
        per_channel = all(n["weights"].get("per_channel", True) for n in graph["nodes"] if "weights" in n)
        model_bytes = quantize(built, dynamic=False, per_channel=per_channel)
    with tempfile.TemporaryDirectory(prefix="topiary-prof-") as tmp:
        sess, optimized = profiled_session(model_bytes, tmp)
        feed = {"input": np.random.default_rng(1).standard_normal(built.input_shape).astype(np.float32)}
        for _ in range(warmup):
            sess.run(None, feed)
        path = sess.end_profiling()  # discard the warm-up's events
        sess, _ = profiled_session(model_bytes, tmp)
        for _ in range(warmup):
            sess.run(None, feed)
        for _ in range(runs):
            sess.run(None, feed)
        path = sess.end_profiling()
        with open(path) as f:
            events = json.load(f)
    owner = owners(optimized)
    durs: dict[str, list[int]] = defaultdict(list)
    info: dict[str, dict] = {}
    order: list[str] = []
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        name = e["name"][: -len("_kernel_time")]
        if name not in info:
            a = e.get("args", {})
            info[name] = {"op": a.get("op_name", ""), "inputs": a.get("input_type_shape", []), "outputs": a.get("output_type_shape", [])}
            order.append(name)
        durs[name].append(e["dur"])
    # Operators the saved optimized model does not name (functions inlined at load, such
    # as HardSwish) belong to the operator before them in execution order; those at the
    # very start to the first one that has an owner.
    prev = -1
    for name in order:
        if owner.get(name, -1) < 0:
            owner[name] = prev
        prev = owner[name]
    first = next((owner[n] for n in order if owner[n] >= 0), -1)
    for name in order:
        if owner[name] < 0:
            owner[name] = first
    rows = []
    for name in order:
        d = durs[name][-runs:]  # the timed runs (the warm-up's come first)
        shapes = lambda xs: ";".join("x".join(map(str, next(iter(x.values())))) for x in xs)  # noqa: E731
        rows.append({"node": name, "graph_node": owner.get(name, -1), "op": info[name]["op"],
                     "inputs": shapes(info[name]["inputs"]), "outputs": shapes(info[name]["outputs"]),
                     "median_us": statistics.median(d), "mean_us": round(statistics.fmean(d), 3)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="measurement CSV (bench/latency_validation.py)")
    ap.add_argument("--space", default=None, help="only candidates of this space")
    ap.add_argument("--target", default="host-cpu")
    ap.add_argument("--limit", type=int, default=0, help="at most this many candidates")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--topiary", default=None)
    ap.add_argument("--out", required=True, help="per-operator CSV to write")
    args = ap.parse_args()
    binary = topiary_binary(REPO, args.topiary)
    with open(args.data, newline="") as f:
        items = [r for r in csv.DictReader(f) if args.space in (None, r["space"])]
    if args.limit:
        items = items[: args.limit]
    fields = ["space", "id", "precision", "measured_ms", "node", "graph_node", "op", "inputs", "outputs", "median_us", "mean_us",
              "layer", "layer_kind", "layer_first", "layer_last", "predicted_layer_us"]
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for k, it in enumerate(items):
            space = os.path.join(REPO, "SearchSpaces", f"{it['space']}.yaml")
            graph = json.loads(subprocess.run([binary, "candidate", "graph", "-", "--space", space], input=it["candidate"],
                                              capture_output=True, text=True, check=True).stdout)
            pred = json.loads(subprocess.run([binary, "candidate", "latency", "-", "--space", space, "--target", args.target,
                                              "--uncalibrated", "--json"], input=it["candidate"],
                                             capture_output=True, text=True, check=True).stdout)
            layers = pred["layers"]
            for r in profile(graph, it["precision"], args.runs, args.warmup):
                layer = next((l for l in layers if l["nodes"][0] <= r["graph_node"] <= l["nodes"][1]), None)
                r.update({"space": it["space"], "id": it["id"], "precision": it["precision"], "measured_ms": it["measured_ms"]})
                if layer:
                    r.update({"layer": layer["name"], "layer_kind": layer["kind"], "layer_first": layer["nodes"][0],
                              "layer_last": layer["nodes"][1], "predicted_layer_us": round(layer["ms"] * 1000, 3)})
                w.writerow(r)
            f.flush()
            if (k + 1) % 20 == 0:
                print(f"{k + 1}/{len(items)}", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
