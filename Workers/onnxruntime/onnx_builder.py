"""Turns a Topiary network graph (the JSON of `topiary candidate graph`) into an ONNX model.

The graph JSON lists nodes in execution order; each has an `op`, `inputs` (node ids),
`shape` ([C, H, W] of its output) and per-op attributes (see docs/HARDWARE.md and
`NetworkGraph.json` in Sources/TopiaryCore). Weights are random (seeded): what is timed is
the architecture, not a trained network. Magnitude pruning zeroes the stated number of
weights so that a runtime with sparse kernels would see the same sparsity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17

ACTIVATIONS = ("relu", "relu6", "hswish", "hsigmoid", "sigmoid", "swish")


class GraphError(ValueError):
    """A graph JSON that cannot be turned into ONNX; the message names the node."""


@dataclass
class BuiltModel:
    model: onnx.ModelProto
    #: Learnable parameters: conv/linear weights and biases, batch-norm scale and shift
    #: (running statistics are buffers, as in PyTorch, and not counted).
    params: int
    input_shape: tuple[int, int, int, int]


def _weights(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, zeros: int) -> np.ndarray:
    w = rng.standard_normal(shape).astype(np.float32) * np.float32(np.sqrt(2.0 / max(1, fan_in)))
    if zeros > 0:
        flat = w.reshape(-1)
        # Magnitude pruning: the smallest |w| become zero.
        idx = np.argsort(np.abs(flat), kind="stable")[: min(zeros, flat.size)]
        flat[idx] = 0.0
    return w


def build_model(graph: dict[str, Any], seed: int = 0, fold_batchnorm: bool = False) -> BuiltModel:
    """Builds an ONNX model (batch 1, float32 input named `input`, output `output`).

    With `fold_batchnorm`, a batch norm that is the only reader of a convolution is folded
    into the convolution's weights and bias, as a deployment export does (and as ONNX
    Runtime does itself when it optimizes; quantization needs it done beforehand)."""
    if graph.get("format") != 1:
        raise GraphError(f"graph format {graph.get('format')!r} is not supported (expected 1)")
    nodes = graph.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise GraphError("graph has no nodes")
    rng = np.random.default_rng(seed)
    c, h, w = graph["input"]
    onnx_nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    names: dict[int, str] = {}
    rank: dict[int, int] = {}  # 4 for NCHW tensors, 2 for (N, F)
    params = 0
    readers: dict[int, int] = {}
    for n in nodes:
        for j in n.get("inputs", []):
            readers[j] = readers.get(j, 0) + 1
    conv_nodes: dict[int, int] = {}  # node id -> index of its Conv in onnx_nodes
    by_id = {n["id"]: n for n in nodes}

    def init(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def as_4d(i: int) -> str:
        if rank[i] == 4:
            return names[i]
        out = f"n{i}_4d"
        shape = init(f"n{i}_4d_shape", np.array([1, -1, 1, 1], dtype=np.int64))
        onnx_nodes.append(helper.make_node("Reshape", [names[i], shape], [out]))
        return out

    def as_2d(i: int) -> str:
        if rank[i] == 2:
            return names[i]
        out = f"n{i}_2d"
        onnx_nodes.append(helper.make_node("Flatten", [names[i]], [out], axis=1))
        return out

    for n in nodes:
        i = n["id"]
        op = n["op"]
        ins = n.get("inputs", [])
        out = f"n{i}"
        if any(j not in names for j in ins):
            raise GraphError(f"node {i} ({op}) reads a node that comes later or does not exist: {ins}")
        if op == "input":
            names[i] = "input"
            rank[i] = 4
            continue
        x = ins[0] if ins else None
        if op == "conv":
            cin, cout, k, g = n["in"], n["out"], n["kernel"], n["groups"]
            if cin % g or cout % g:
                raise GraphError(f"node {i}: channels {cin}->{cout} not divisible by groups {g}")
            fan_in = (cin // g) * k * k
            wt = _weights(rng, (cout, cin // g, k, k), fan_in, n.get("weights", {}).get("zeros", 0))
            args = [as_4d(x), init(f"n{i}_w", wt)]
            params += wt.size
            if n["bias"]:
                args.append(init(f"n{i}_b", (rng.standard_normal(cout) * 0.01).astype(np.float32)))
                params += cout
            p = n["padding"]
            onnx_nodes.append(helper.make_node("Conv", args, [out], kernel_shape=[k, k], strides=[n["stride"]] * 2,
                                               pads=[p, p, p, p], group=g))
            conv_nodes[i] = len(onnx_nodes) - 1
            rank[i] = 4
        elif op == "linear":
            fin, fout = n["in"], n["out"]
            wt = _weights(rng, (fout, fin), fin, n.get("weights", {}).get("zeros", 0))
            args = [as_2d(x), init(f"n{i}_w", wt)]
            params += wt.size
            if n["bias"]:
                args.append(init(f"n{i}_b", (rng.standard_normal(fout) * 0.01).astype(np.float32)))
                params += fout
            onnx_nodes.append(helper.make_node("Gemm", args, [out], transB=1))
            rank[i] = 2
        elif op == "batchnorm":
            ch = n["shape"][0]
            scale = (1.0 + 0.1 * rng.standard_normal(ch)).astype(np.float32)
            shift = (0.1 * rng.standard_normal(ch)).astype(np.float32)
            mean = (0.1 * rng.standard_normal(ch)).astype(np.float32)
            var = (1.0 + 0.1 * np.abs(rng.standard_normal(ch))).astype(np.float32)
            params += 2 * ch
            if fold_batchnorm and x in conv_nodes and readers.get(x, 0) == 1 and x != graph["output"]:
                _fold(inits, onnx_nodes[conv_nodes[x]], by_id[x], scale / np.sqrt(var + 1e-5), shift, mean)
                names[i] = names[x]
                rank[i] = 4
                continue
            args = [as_4d(x), init(f"n{i}_scale", scale), init(f"n{i}_shift", shift),
                    init(f"n{i}_mean", mean), init(f"n{i}_var", var)]
            onnx_nodes.append(helper.make_node("BatchNormalization", args, [out], epsilon=1e-5))
            rank[i] = 4
        elif op == "activation":
            fn = n.get("fn")
            src = names[x]
            if fn == "relu":
                onnx_nodes.append(helper.make_node("Relu", [src], [out]))
            elif fn == "relu6":
                lo = init(f"n{i}_lo", np.array(0.0, dtype=np.float32))
                hi = init(f"n{i}_hi", np.array(6.0, dtype=np.float32))
                onnx_nodes.append(helper.make_node("Clip", [src, lo, hi], [out]))
            elif fn == "hswish":
                onnx_nodes.append(helper.make_node("HardSwish", [src], [out]))
            elif fn == "hsigmoid":
                onnx_nodes.append(helper.make_node("HardSigmoid", [src], [out], alpha=1.0 / 6.0, beta=0.5))
            elif fn == "sigmoid":
                onnx_nodes.append(helper.make_node("Sigmoid", [src], [out]))
            elif fn == "swish":
                onnx_nodes.append(helper.make_node("Sigmoid", [src], [f"{out}_sig"]))
                onnx_nodes.append(helper.make_node("Mul", [src, f"{out}_sig"], [out]))
            else:
                raise GraphError(f"node {i}: unknown activation {fn!r} (known: {', '.join(ACTIVATIONS)})")
            rank[i] = rank[x]
        elif op == "add":
            if len(ins) < 2:
                raise GraphError(f"node {i}: add needs at least two inputs")
            acc = names[ins[0]]
            for k, j in enumerate(ins[1:]):
                dst = out if k == len(ins) - 2 else f"{out}_sum{k}"
                onnx_nodes.append(helper.make_node("Add", [acc, names[j]], [dst]))
                acc = dst
            rank[i] = rank[ins[0]]
        elif op == "multiply":
            if len(ins) != 2:
                raise GraphError(f"node {i}: multiply needs two inputs (tensor, gate)")
            onnx_nodes.append(helper.make_node("Mul", [as_4d(ins[0]), as_4d(ins[1])], [out]))
            rank[i] = 4
        elif op == "global_avg_pool":
            onnx_nodes.append(helper.make_node("GlobalAveragePool", [as_4d(x)], [out]))
            rank[i] = 4
        elif op == "avg_pool":
            k, s, p = n["kernel"], n["stride"], n["padding"]
            onnx_nodes.append(helper.make_node("AveragePool", [as_4d(x)], [out], kernel_shape=[k, k], strides=[s, s],
                                               pads=[p, p, p, p], count_include_pad=0))
            rank[i] = 4
        elif op == "identity":
            onnx_nodes.append(helper.make_node("Identity", [names[x]], [out]))
            rank[i] = rank[x]
        elif op == "zero":
            zero = init(f"n{i}_zero", np.array(0.0, dtype=np.float32))
            onnx_nodes.append(helper.make_node("Mul", [names[x], zero], [out]))
            rank[i] = rank[x]
        else:
            raise GraphError(f"node {i}: unknown op {op!r}")
        names[i] = out

    out_id = graph["output"]
    if out_id not in names:
        raise GraphError(f"output node {out_id} does not exist")
    final = as_2d(out_id)
    onnx_nodes.append(helper.make_node("Identity", [final], ["output"]))
    out_c = nodes[out_id]["shape"][0]
    for node in onnx_nodes:
        # Named after the graph node they compute (n12, n12_4d, ...), so that a runtime's
        # per-node profile can be traced back to the graph.
        node.name = node.output[0]
    g = helper.make_graph(
        onnx_nodes, "topiary",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, c, h, w])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, out_c])],
        initializer=inits,
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="topiary")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return BuiltModel(model=model, params=params, input_shape=(1, c, h, w))


def _fold(inits: list[onnx.TensorProto], conv: onnx.NodeProto, node: dict[str, Any], gain: np.ndarray,
          shift: np.ndarray, mean: np.ndarray) -> None:
    """Folds y = gain * (conv(x) - mean) + shift into the convolution."""
    by_name = {t.name: k for k, t in enumerate(inits)}
    wk = by_name[conv.input[1]]
    w = numpy_helper.to_array(inits[wk]) * gain.reshape(-1, 1, 1, 1).astype(np.float32)
    inits[wk] = numpy_helper.from_array(w.astype(np.float32), conv.input[1])
    b = numpy_helper.to_array(inits[by_name[conv.input[2]]]) if len(conv.input) > 2 else np.zeros(len(gain), np.float32)
    b = ((b - mean) * gain + shift).astype(np.float32)
    name = conv.input[2] if len(conv.input) > 2 else f"{conv.input[1]}_folded_b"
    if len(conv.input) > 2:
        inits[by_name[name]] = numpy_helper.from_array(b, name)
    else:
        inits.append(numpy_helper.from_array(b, name))
        conv.input.append(name)


def graph_params(graph: dict[str, Any]) -> int:
    """Parameters the graph JSON describes (weights, biases, batch-norm scale and shift)."""
    total = 0
    for n in graph["nodes"]:
        op = n["op"]
        if op == "conv":
            total += n["out"] * (n["in"] // n["groups"]) * n["kernel"] ** 2 + (n["out"] if n["bias"] else 0)
        elif op == "linear":
            total += n["in"] * n["out"] + (n["out"] if n["bias"] else 0)
        elif op == "batchnorm":
            total += 2 * n["shape"][0]
    return total


def model_params(model: onnx.ModelProto) -> int:
    """Parameters held by the ONNX model's initializers, not counting batch-norm statistics
    and shape constants."""
    skip = ("_mean", "_var", "_4d_shape", "_lo", "_hi", "_zero")
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if not t.name.endswith(skip))
