"""Builds a PyTorch network from a Topiary network graph (the JSON of `topiary candidate graph`).

The graph lists nodes in execution order (see `NetworkGraph.json` in Sources/TopiaryCore and
docs/TRAINER.md); each becomes one module or one tensor operation, so that the network trained
here is exactly the one the Swift cost model counted: `GraphNet.param_count()` equals the
graph's parameter count and `count_macs()` its MACs. Every node's output shape is checked
against the graph's `shape` when the network is built.

The forward pass is a straight walk over the nodes with no data-dependent control flow, so
that torch.fx can trace it (FX graph-mode quantization) and torch.onnx can export it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
    "hsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "swish": nn.SiLU,
}

WEIGHT_OPS = ("conv", "linear")


class GraphError(ValueError):
    """A graph JSON that cannot be built; the message names the node."""


def module_name(node_id: int) -> str:
    return f"n{node_id}"


def _int(node: dict[str, Any], key: str, minimum: int = 0) -> int:
    v = node.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise GraphError(f"node {node.get('id')} ({node.get('label', '?')}): '{key}' must be an integer >= {minimum}, got {v!r}")
    return v


class GraphNet(nn.Module):
    """The network of one graph JSON. Modules are named `n<ID>` after their node's id."""

    def __init__(self, graph: dict[str, Any], check_shapes: bool = True):
        super().__init__()
        if not isinstance(graph, dict) or graph.get("format") != 1:
            raise GraphError(f"graph format {graph.get('format') if isinstance(graph, dict) else graph!r} is not supported (expected 1)")
        nodes = graph.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            raise GraphError("graph has no nodes")
        for i, n in enumerate(nodes):
            if not isinstance(n, dict) or n.get("id") != i:
                raise GraphError(f"node {i}: ids must be 0, 1, 2, … in order")
        if nodes[0].get("op") != "input":
            raise GraphError("node 0 must be the input")
        self.graph = graph
        self.input_shape = tuple(_int_list(graph.get("input"), "input", 3))
        self.output_id = graph.get("output", len(nodes) - 1)
        if not isinstance(self.output_id, int) or not 0 <= self.output_id < len(nodes):
            raise GraphError(f"output {self.output_id!r} is not a node")
        self.layers = nn.ModuleDict()
        # Fake quantization of node outputs (simulated low-precision activations), by module name.
        self.act_fq = nn.ModuleDict()
        # (op, id, inputs, rank of the first input, ids whose tensors can be dropped after this node)
        plan: list[tuple[str, int, tuple[int, ...], int, tuple[int, ...]]] = []
        rank: dict[int, int] = {0: 4}
        last_use = {i: i for i in range(len(nodes))}
        for n in nodes:
            for j in n.get("inputs", []):
                last_use[j] = max(last_use.get(j, 0), n["id"])
        last_use[self.output_id] = len(nodes)
        frees: dict[int, list[int]] = {}
        for j, k in last_use.items():
            frees.setdefault(k, []).append(j)

        for n in nodes[1:]:
            i, op = n["id"], n.get("op")
            inputs = n.get("inputs")
            if not isinstance(inputs, list) or not inputs or any(not isinstance(j, int) or not 0 <= j < i for j in inputs):
                raise GraphError(f"node {i} ({n.get('label', '?')}): inputs must name earlier nodes, got {inputs!r}")
            shape = _int_list(n.get("shape"), f"node {i} shape", 3)
            r = rank[inputs[0]]
            name = module_name(i)
            if op == "conv":
                cin, cout, k = _int(n, "in", 1), _int(n, "out", 1), _int(n, "kernel", 1)
                s, p, g = _int(n, "stride", 1), _int(n, "padding"), _int(n, "groups", 1)
                if cin % g or cout % g:
                    raise GraphError(f"node {i} ({n['label']}): groups {g} do not divide {cin} -> {cout}")
                self.layers[name] = nn.Conv2d(cin, cout, k, stride=s, padding=p, groups=g, bias=bool(n.get("bias", False)))
                rank[i] = 4
            elif op == "linear":
                self.layers[name] = nn.Linear(_int(n, "in", 1), _int(n, "out", 1), bias=bool(n.get("bias", False)))
                rank[i] = 2
            elif op == "batchnorm":
                c = shape[0]
                self.layers[name] = nn.BatchNorm2d(c) if r == 4 else nn.BatchNorm1d(c)
                rank[i] = r
            elif op == "activation":
                fn = n.get("fn")
                if fn not in ACTIVATIONS:
                    raise GraphError(f"node {i} ({n['label']}): unknown activation {fn!r}")
                self.layers[name] = ACTIVATIONS[fn]()
                rank[i] = r
            elif op == "global_avg_pool":
                self.layers[name] = nn.AdaptiveAvgPool2d(1)
                rank[i] = 4
            elif op == "avg_pool":
                self.layers[name] = nn.AvgPool2d(_int(n, "kernel", 1), stride=_int(n, "stride", 1), padding=_int(n, "padding"),
                                                 count_include_pad=False)
                rank[i] = 4
            elif op in ("add", "multiply"):
                if len(inputs) < 2:
                    raise GraphError(f"node {i} ({n['label']}): {op} needs two or more inputs")
                rank[i] = max(rank[j] for j in inputs)
            elif op in ("identity", "zero"):
                rank[i] = r
            else:
                raise GraphError(f"node {i} ({n.get('label', '?')}): unknown op {op!r}")
            plan.append((op, i, tuple(inputs), r, tuple(sorted(frees.get(i, [])))))
        self.plan = plan
        self.ranks = rank
        if check_shapes:
            self.check_shapes()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if "n0" in self.act_fq:
            x = self.act_fq["n0"](x)
        vals: dict[int, torch.Tensor] = {0: x}
        for op, i, inputs, r, free in self.plan:
            a = vals[inputs[0]]
            if op in ("conv", "batchnorm", "activation", "global_avg_pool", "avg_pool"):
                if op == "conv" and r == 2:
                    a = a.reshape(a.shape[0], -1, 1, 1)
                y = self.layers[module_name(i)](a)
            elif op == "linear":
                if r == 4:
                    a = torch.flatten(a, 1)
                y = self.layers[module_name(i)](a)
            elif op == "add":
                y = a
                for j in inputs[1:]:
                    y = y + vals[j]
            elif op == "multiply":
                y = a
                for j in inputs[1:]:
                    y = y * vals[j]
            elif op == "zero":
                y = a * 0.0
            else:  # identity
                y = a
            if module_name(i) in self.act_fq:
                y = self.act_fq[module_name(i)](y)
            vals[i] = y
            for j in free:
                if j != i:
                    vals.pop(j, None)
        out = vals[self.output_id]
        if self.ranks[self.output_id] == 4:
            out = torch.flatten(out, 1)
        return out

    # --- checks and counts -------------------------------------------------------------

    def node(self, i: int) -> dict[str, Any]:
        return self.graph["nodes"][i]

    def weight_nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.graph["nodes"] if n["op"] in WEIGHT_OPS]

    def weight_module(self, i: int) -> nn.Module:
        return self.layers[module_name(i)]

    def check_shapes(self) -> None:
        """Runs one image through the network and compares every node's output shape with
        the graph's (a graph whose shapes do not follow from its ops is refused)."""
        shapes: dict[int, tuple[int, ...]] = {}
        hooks = []
        for op, i, *_ in self.plan:
            if module_name(i) in self.layers:
                hooks.append(self.layers[module_name(i)].register_forward_hook(
                    lambda m, inp, out, i=i: shapes.__setitem__(i, tuple(out.shape[1:]))))
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                self(torch.zeros(1, *self.input_shape))
        except RuntimeError as e:
            raise GraphError(f"the graph does not run: {e}") from e
        finally:
            for h in hooks:
                h.remove()
            self.train(was)
        for i, got in shapes.items():
            want = tuple(self.node(i)["shape"])
            if len(got) == 1:
                got = (got[0], 1, 1)
            if got != want:
                n = self.node(i)
                raise GraphError(f"node {i} ({n['label']}): output shape {list(got)} but the graph says {list(want)}")

    def param_count(self) -> int:
        """Learnable parameters (weights, biases, batch-norm scale and shift), as the Swift
        cost model counts them; running statistics are buffers and not counted."""
        return sum(p.numel() for p in self.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of convolutions and linear layers for one input, measured by
    running the model: weights x output positions for a convolution, in x out for a linear."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        w = m.weight
        if isinstance(m, nn.Conv2d):
            total += w.numel() * out.shape[-1] * out.shape[-2]
        else:
            total += w.numel()

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return total


def _int_list(v: Any, what: str, n: int) -> list[int]:
    if not isinstance(v, list) or len(v) != n or any(not isinstance(x, int) or isinstance(x, bool) or x < 1 for x in v):
        raise GraphError(f"{what} must be a list of {n} positive integers, got {v!r}")
    return v
