"""The PyTorch network built from a graph JSON is the network the Swift cost model counted."""

from __future__ import annotations

import copy

import pytest
import torch

from testkit import fixture_names, load_fixture
from graph_model import GraphError, GraphNet, count_macs

ALL = fixture_names()
SPACES = ("fashion-mobilenet", "nas-bench-macro", "nas-bench-201", "mobilenetv3-imagenet")


def test_fixtures_cover_every_space():
    for space in SPACES:
        assert any(n.startswith(space) for n in ALL), space
    # Compressed and uncompressed graphs really differ for some fixtures (pruning, factorization).
    assert any(load_fixture(n)["cost"]["params"] != load_fixture(n)["cost_uncompressed"]["params"] for n in ALL)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("which", ["graph", "graph_uncompressed"])
def test_params_and_macs_agree_with_swift(name, which):
    fx = load_fixture(name)
    cost = fx["cost"] if which == "graph" else fx["cost_uncompressed"]
    model = GraphNet(fx[which])
    assert model.param_count() == cost["params"]
    assert count_macs(model, model.input_shape) == cost["macs"]


@pytest.mark.parametrize("name", ["nas-bench-201-0", "nas-bench-macro-0", "fashion-mobilenet-0"])
def test_forward_gives_class_logits(name):
    g = load_fixture(name)["graph"]
    model = GraphNet(g).eval()
    out = model(torch.randn(3, *g["input"]))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


def test_every_op_is_built():
    seen = set()
    for name in ALL:
        for n in load_fixture(name)["graph"]["nodes"]:
            seen.add(n["op"] if n["op"] != "activation" else "activation:" + n["fn"])
    for op in ("conv", "batchnorm", "add", "multiply", "global_avg_pool", "avg_pool", "linear", "zero",
               "activation:relu", "activation:hswish", "activation:hsigmoid"):
        assert op in seen, f"no fixture has {op}"


def test_zero_and_avg_pool_semantics():
    # input -> zero; input -> avg_pool 3x3 (padding not counted); sum; pool; linear.
    g = {"format": 1, "input": [2, 4, 4], "output": 5, "activation_bits": 32, "nodes": [
        {"id": 0, "op": "input", "inputs": [], "shape": [2, 4, 4], "label": "input"},
        {"id": 1, "op": "zero", "inputs": [0], "shape": [2, 4, 4], "label": "e"},
        {"id": 2, "op": "avg_pool", "kernel": 3, "stride": 1, "padding": 1, "inputs": [0], "shape": [2, 4, 4], "label": "e"},
        {"id": 3, "op": "add", "inputs": [1, 2], "shape": [2, 4, 4], "label": "n"},
        {"id": 4, "op": "global_avg_pool", "inputs": [3], "shape": [2, 1, 1], "label": "pool"},
        {"id": 5, "op": "linear", "in": 2, "out": 3, "bias": True, "inputs": [4], "shape": [3, 1, 1], "label": "classifier"},
    ]}
    m = GraphNet(g)
    x = torch.ones(1, 2, 4, 4)
    with torch.no_grad():
        pooled = m.layers["n2"](x)
    assert torch.allclose(pooled, torch.ones_like(pooled))  # count_include_pad=False keeps borders at 1
    assert m(x).shape == (1, 3)
    assert m.param_count() == 2 * 3 + 3


def test_bad_graphs_are_refused_with_the_node_named():
    g = load_fixture("fashion-none")["graph"]
    bad = copy.deepcopy(g)
    bad["nodes"][4]["shape"][0] += 1
    with pytest.raises(GraphError, match="node 4"):
        GraphNet(bad)
    bad = copy.deepcopy(g)
    bad["nodes"][3]["op"] = "softmax"
    with pytest.raises(GraphError, match="unknown op"):
        GraphNet(bad)
    bad = copy.deepcopy(g)
    bad["nodes"][5]["inputs"] = [9]
    with pytest.raises(GraphError, match="inputs"):
        GraphNet(bad)
    with pytest.raises(GraphError, match="format"):
        GraphNet({"format": 2, "nodes": []})
