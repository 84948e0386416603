"""Tests of the ONNX builder and the measuring entry point.

The fixtures are graph JSONs that `topiary candidate graph` printed for candidates of all
four spaces (fixtures/candidates.jsonl lists them). When a built `topiary` binary is
present, the tests also regenerate each graph and check the fixture is still current, and
compare parameter counts with `topiary candidate cost --json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from measure import main, measure, precision_for  # noqa: E402
from onnx_builder import GraphError, build_model, graph_params, model_params  # noqa: E402

FIXTURES = [json.loads(line) for line in open(os.path.join(HERE, "fixtures", "candidates.jsonl"), encoding="utf-8")]
NAMES = [f["name"] for f in FIXTURES]
SPACES = {f["space"] for f in FIXTURES}


def load_graph(name: str) -> dict:
    with open(os.path.join(HERE, "fixtures", f"{name}.graph.json"), encoding="utf-8") as f:
        return json.load(f)


def topiary_binary() -> str | None:
    for d in (".build-hw", ".build"):
        p = os.path.join(REPO, d, "debug", "topiary")
        if os.access(p, os.X_OK):
            return p
    return None


def run_onnx(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def test_fixtures_cover_all_four_spaces():
    assert SPACES == {"fashion-mobilenet", "nas-bench-macro", "nas-bench-201", "mobilenetv3-imagenet"}


@pytest.mark.parametrize("name", NAMES)
def test_onnx_model_has_the_graph_json_parameter_count_and_runs(name):
    graph = load_graph(name)
    built = build_model(graph)
    assert model_params(built.model) == graph_params(graph) == built.params
    c, h, w = graph["input"]
    x = np.random.default_rng(0).standard_normal((1, c, h, w)).astype(np.float32)
    y = run_onnx(built.model.SerializeToString(), x)
    classes = graph["nodes"][graph["output"]]["shape"][0]
    assert y.shape == (1, classes)
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("name", NAMES)
def test_folding_batch_norm_keeps_the_outputs(name):
    graph = load_graph(name)
    plain = build_model(graph, seed=3)
    folded = build_model(graph, seed=3, fold_batchnorm=True)
    ops = [n.op_type for n in folded.model.graph.node]
    convs = {n["id"] for n in graph["nodes"] if n["op"] == "conv"}
    unfoldable = [n for n in graph["nodes"] if n["op"] == "batchnorm" and n["inputs"][0] not in convs]
    assert ops.count("BatchNormalization") == len(unfoldable)
    c, h, w = graph["input"]
    x = np.random.default_rng(1).standard_normal((1, c, h, w)).astype(np.float32)
    a = run_onnx(plain.model.SerializeToString(), x)
    b = run_onnx(folded.model.SerializeToString(), x)
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3 * float(np.abs(a).max()))


def test_magnitude_pruning_zeroes_the_stated_weights():
    graph = load_graph("fashion-mobilenet-0")  # magnitude pruning 0.5
    built = build_model(graph)
    zeros = {f"n{n['id']}_w": n["weights"]["zeros"] for n in graph["nodes"] if "weights" in n}
    assert sum(zeros.values()) > 0
    from onnx import numpy_helper
    for t in built.model.graph.initializer:
        if t.name in zeros:
            assert int(np.sum(numpy_helper.to_array(t) == 0)) == zeros[t.name]


@pytest.mark.parametrize("name", NAMES)
def test_measure_times_every_fixture_in_fp32_and_int8(name):
    graph = load_graph(name)
    fp32 = measure(graph, "fp32", runs=3, warmup=1)
    assert fp32["precision"] == "fp32" and fp32["runs"] == 3
    assert 0 < fp32["min_ms"] <= fp32["median_ms"] <= fp32["p90_ms"]
    int8 = measure(graph, "int8", runs=3, warmup=1)
    assert int8["precision"] == "int8"
    assert int8["params"] == fp32["params"] == graph_params(graph)


def test_auto_precision_is_int8_only_when_weights_and_activations_are_8_bit():
    assert precision_for(load_graph("fashion-mobilenet-0")) == "int8"   # w4 a8
    assert precision_for(load_graph("fashion-mobilenet-1")) == "fp32"   # w4 a32: weight-only
    assert precision_for(load_graph("nas-bench-macro-0")) == "fp32"
    assert precision_for(load_graph("mobilenetv3-imagenet-1")) == "int8"  # w8 a8


def test_min_seconds_adds_runs():
    r = measure(load_graph("nas-bench-macro-0"), "fp32", runs=2, warmup=0, min_seconds=0.05)
    assert r["runs"] > 2


def test_cli_prints_one_json_line(capsys):
    path = os.path.join(HERE, "fixtures", "nas-bench-macro-1.graph.json")
    assert main(["--graph", path, "--runs", "3", "--warmup", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    doc = json.loads(out[0])
    assert set(doc) >= {"median_ms", "min_ms", "runs", "precision", "params"}


def test_bad_graphs_name_the_node(capsys):
    graph = load_graph("nas-bench-macro-0")
    bad = json.loads(json.dumps(graph))
    bad["nodes"][3]["op"] = "maxout"
    with pytest.raises(GraphError, match="node 3"):
        build_model(bad)
    bad = json.loads(json.dumps(graph))
    bad["nodes"][2]["inputs"] = [40]
    with pytest.raises(GraphError, match="node 2"):
        build_model(bad)
    with pytest.raises(GraphError, match="format"):
        build_model({"format": 2, "nodes": []})
    assert main(["--graph", os.path.join(HERE, "no-such-file.json")]) == 2
    assert "no-such-file" in capsys.readouterr().err


@pytest.mark.parametrize("fixture", FIXTURES, ids=NAMES)
def test_fixtures_match_what_topiary_prints_now(fixture):
    binary = topiary_binary()
    if binary is None:
        pytest.skip("no built topiary binary (.build-hw or .build, debug): run `swift build` to check fixtures against it")
    space = os.path.join(REPO, "SearchSpaces", f"{fixture['space']}.yaml")
    cand = json.dumps(fixture["candidate"])
    graph = subprocess.run([binary, "candidate", "graph", "-", "--space", space], input=cand,
                           capture_output=True, text=True, check=True).stdout
    assert json.loads(graph) == load_graph(fixture["name"])
    cost = json.loads(subprocess.run([binary, "candidate", "cost", "-", "--space", space, "--json"], input=cand,
                                     capture_output=True, text=True, check=True).stdout)
    assert cost["params"] == build_model(load_graph(fixture["name"])).params


def test_onnx_nodes_are_named_after_their_graph_nodes():
    graph = load_graph(NAMES[0])
    ids = {n["id"] for n in graph["nodes"]}
    names = [n.name for n in build_model(graph, fold_batchnorm=True).model.graph.node]
    assert len(set(names)) == len(names)
    for name in names:
        head = name.split("_")[0]
        assert name == "output" or (head.startswith("n") and int(head[1:]) in ids), name


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_profile_traces_every_optimized_operator_to_a_graph_node(precision):
    # bench/latency_profile.py: per-operator kernel times of the optimized session, each
    # traced to the graph node it computes (reorders and quantize pairs included).
    sys.path.insert(0, os.path.join(REPO, "bench"))
    from latency_profile import profile  # noqa: E402

    graph = next(load_graph(f["name"]) for f in FIXTURES if f["space"] == "fashion-mobilenet")
    ids = {n["id"] for n in graph["nodes"]}
    rows = profile(graph, precision, runs=5, warmup=2)
    assert rows
    ops = {r["op"] for r in rows}
    assert ("QLinearConv" in ops) == (precision == "int8")
    for r in rows:
        assert r["graph_node"] in ids, r
        assert r["mean_us"] > 0 and r["median_us"] >= 0


def test_bench_scripts_run_the_newest_topiary_build(tmp_path):
    # bench/topiary_binary.py: --topiary when given, else the most recently built of the
    # release and debug builds, so a stale build directory is not picked over a fresh one.
    sys.path.insert(0, os.path.join(REPO, "bench"))
    from topiary_binary import topiary_binary  # noqa: E402

    paths = {}
    for age, d in ((300, ".build-hw/debug"), (0, ".build/release"), (100, ".build/debug")):
        p = tmp_path / d / "topiary"
        p.parent.mkdir(parents=True)
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
        t = time.time() - age
        os.utime(p, (t, t))
        paths[d] = str(p)
    assert topiary_binary(str(tmp_path), None) == paths[".build/release"]
    os.utime(paths[".build-hw/debug"], None)  # now the newest
    assert topiary_binary(str(tmp_path), None) == paths[".build-hw/debug"]
    assert topiary_binary(str(tmp_path), paths[".build/debug"]) == paths[".build/debug"]
    with pytest.raises(SystemExit):
        topiary_binary(str(tmp_path), str(tmp_path / "missing"))
    with pytest.raises(SystemExit):
        topiary_binary(str(tmp_path / "empty"), None)
