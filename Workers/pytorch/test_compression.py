"""Each compression technique does what it claims, on the graphs the Swift CLI produced."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import compress as C
import data
import engine
import pack
from testkit import fixture_names, load_fixture
from graph_model import GraphNet, count_macs, module_name


def round_half_even(x: float) -> int:
    return round(x)  # Python rounds half to even, as torch.nn.utils.prune and the Swift model do


@pytest.fixture(scope="module")
def tiny_data():
    return data.load(0.02, 0.05, 0.02)  # 1,080 training, 300 validation, 200 test images


def test_alignment_pairs_factors_and_keeps_everything_else():
    fx = load_fixture("fashion-all")
    al = C.align(fx["graph_uncompressed"], fx["graph"])
    pairs = al.factorized()
    assert len(pairs) == len(fx["graph"]["nodes"]) - len(fx["graph_uncompressed"]["nodes"]) > 0
    for i, (a, b) in pairs.items():
        u, ca, cb = fx["graph_uncompressed"]["nodes"][i], fx["graph"]["nodes"][a], fx["graph"]["nodes"][b]
        assert ca["label"] == cb["label"] == u["label"] and cb["inputs"] == [a]
    with pytest.raises(C.CompressionError):
        C.align(fx["graph_uncompressed"], load_fixture("fashion-mobilenet-2")["graph"])


def test_channel_pruning_halves_the_prunable_channels():
    fx = load_fixture("fashion-channel50")
    u = GraphNet(fx["graph_uncompressed"])
    pruned, rep = C.structural(u, fx["graph"])
    prunable = [n for n in fx["graph_uncompressed"]["nodes"] if n.get("prunable")]
    assert len(rep.pruned) == len(prunable) > 0
    for p in rep.pruned:
        assert p["kept"] == p["channels"] - round_half_even(0.5 * p["channels"])
        assert pruned.weight_module(p["node"]).out_channels == p["kept"]
    assert pruned.param_count() == fx["cost"]["params"]
    assert count_macs(pruned, pruned.input_shape) == fx["cost"]["macs"]


def _zero_channels(model: GraphNet, graph, drop: dict[int, torch.Tensor]) -> None:
    """Makes the channels in `drop` (node -> channel indices) contribute nothing: zero filters
    (so they have the smallest L1 norm), and zero scale, shift and mean in the batch norms
    that follow, down to the depthwise conv of the block."""
    nodes = graph["nodes"]
    with torch.no_grad():
        for i, idx in drop.items():
            model.weight_module(i).weight[idx] = 0
            j = i + 1
            while (j < len(nodes) and nodes[j]["label"].rsplit(".", 1)[0] == nodes[i]["label"].rsplit(".", 1)[0]
                   and not nodes[j]["label"].endswith(".project")):
                n = nodes[j]
                if n["op"] == "batchnorm":
                    bn = model.weight_module(j)
                    bn.weight[idx] = 0
                    bn.bias[idx] = 0
                    bn.running_mean[idx] = 0
                elif n["op"] == "conv" and n["groups"] > 1:
                    model.weight_module(j).weight[idx] = 0
                j += 1


def test_pruned_network_computes_what_the_unpruned_one_did_without_those_channels():
    fx = load_fixture("fashion-channel50")
    torch.manual_seed(0)
    u = GraphNet(fx["graph_uncompressed"])
    for m in u.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    drop = {}
    for n in fx["graph_uncompressed"]["nodes"]:
        if n.get("prunable") and n["op"] == "conv":
            c = n["out"]
            drop[n["id"]] = torch.randperm(c)[: round_half_even(0.5 * c)]
        elif n.get("prunable") and n["op"] == "linear":
            drop[n["id"]] = torch.randperm(n["out"])[: round_half_even(0.5 * n["out"])]
    _zero_channels(u, fx["graph_uncompressed"], drop)
    # The head's hidden conv: its batch norm and hswish follow; zero shift keeps hswish(0) = 0.
    c, rep = C.structural(u, fx["graph"])
    for p in rep.pruned:
        kept = set(range(p["channels"])) - set(drop[p["node"]].tolist())
        assert p["kept"] == len(kept)
    x = torch.randn(4, 1, 28, 28)
    u.eval(), c.eval()
    with torch.no_grad():
        assert torch.allclose(u(x), c(x), atol=1e-4)


def test_pruned_network_still_trains(tiny_data):
    fx = load_fixture("fashion-channel50")
    torch.manual_seed(0)
    u = GraphNet(fx["graph_uncompressed"])
    engine.train(u, tiny_data.train, (1, 28, 28), engine.Schedule(epochs=1), seed=0)
    c, _ = C.structural(u, fx["graph"])
    engine.recalibrate_bn(c, tiny_data.train, (1, 28, 28))
    before, _ = engine.evaluate(c, tiny_data.train, (1, 28, 28))
    engine.train(c, tiny_data.train, (1, 28, 28), engine.Schedule(epochs=2, lr=1e-3), seed=1)
    engine.recalibrate_bn(c, tiny_data.train, (1, 28, 28))
    after, _ = engine.evaluate(c, tiny_data.train, (1, 28, 28))
    assert after < before * 0.95, (before, after)


def _make_low_rank(model: GraphNet, rank: int) -> None:
    with torch.no_grad():
        for n in model.weight_nodes():
            if n["op"] == "linear" or (n["kernel"] == 1 and n["groups"] == 1):
                w = model.weight_module(n["id"]).weight
                o, i = w.shape[0], w.shape[1]
                r = min(rank, o, i)
                w.copy_((torch.randn(o, r) @ torch.randn(r, i) / i).reshape(w.shape))


def test_svd_factorization_reduces_parameters_by_the_rank_ratio():
    fx = load_fixture("fashion-lowrank50")
    u = GraphNet(fx["graph_uncompressed"])
    c, rep = C.structural(u, fx["graph"])
    assert rep.factorized
    before = after = 0
    for f in rep.factorized:
        i, o, k = f["in"], f["out"], f["rank"]
        assert k == int(0.5 * i * o / (i + o))
        before += i * o
        after += k * (i + o)
        assert k * (i + o) <= 0.5 * i * o
    # The factors keep half of the factorized layers' weights (less only by flooring k).
    assert 0.4 < after / before <= 0.5
    assert c.param_count() == fx["cost"]["params"] < fx["cost_uncompressed"]["params"]


def test_svd_factors_reproduce_layers_of_low_rank_exactly():
    fx = load_fixture("fashion-lowrank50")
    torch.manual_seed(0)
    u = GraphNet(fx["graph_uncompressed"])
    _make_low_rank(u, 2)  # every factorized layer here has rank k >= 2
    c, rep = C.structural(u, fx["graph"])
    assert min(f["rank"] for f in rep.factorized) >= 2
    assert all(f["energy"] > 0.9999 for f in rep.factorized)
    x = torch.randn(4, 1, 28, 28)
    u.eval(), c.eval()
    with torch.no_grad():
        assert torch.allclose(u(x), c(x), atol=1e-4, rtol=1e-3)


def test_magnitude_pruning_zeroes_the_smallest_weights_as_the_swift_model_counts():
    fx = load_fixture("fashion-magnitude50")
    torch.manual_seed(0)
    m = GraphNet(fx["graph"])
    original = {n["id"]: m.weight_module(n["id"]).weight.detach().clone() for n in m.weight_nodes()}
    cons, info = C.apply_weight_formats(m, prune_magnitude=True, share_weights=False)
    for n in m.weight_nodes():
        w = m.weight_module(n["id"]).weight
        zeros = int((w == 0).sum())
        assert zeros == n["weights"]["zeros"] == round_half_even(0.5 * w.numel())
        kept = original[n["id"]][w != 0].abs()
        gone = original[n["id"]][w == 0].abs()
        assert kept.min() >= gone.max()
        assert not hasattr(m.weight_module(n["id"]), "weight_mask")  # made permanent
    assert m.param_count() - cons.zeros() == fx["cost"]["nonzero_params"]
    # Fine-tuning keeps them zero.
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    F.cross_entropy(m(torch.randn(8, 1, 28, 28)), torch.randint(0, 10, (8,))).backward()
    opt.step()
    cons.project(lambda i: m.weight_module(i).weight)
    assert sum(int((m.weight_module(n["id"]).weight == 0).sum()) for n in m.weight_nodes()) == cons.zeros()


def test_kmeans_finds_separated_clusters():
    torch.manual_seed(0)
    centers = torch.tensor([-1.0, 0.1, 0.5, 2.0])
    vals = (centers[torch.randint(0, 4, (4000,))] + 0.01 * torch.randn(4000))
    cent, assign = C.kmeans_1d(vals, 4)
    assert torch.allclose(cent.sort().values, centers, atol=0.01)
    assert (cent[assign] - vals).abs().max() < 0.06


def test_weight_sharing_keeps_at_most_k_values_per_layer_through_fine_tuning():
    fx = load_fixture("fashion-clusters16")
    torch.manual_seed(0)
    m = GraphNet(fx["graph"])
    cons, info = C.apply_weight_formats(m, prune_magnitude=False, share_weights=True)
    assert info["clustered_layers"] == len(m.weight_nodes())

    def distinct() -> int:
        return max(m.weight_module(n["id"]).weight.unique().numel() for n in m.weight_nodes())

    assert distinct() <= 16
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    F.cross_entropy(m(torch.randn(8, 1, 28, 28)), torch.randint(0, 10, (8,))).backward()
    opt.step()
    assert distinct() > 16
    cons.project(lambda i: m.weight_module(i).weight)
    assert distinct() <= 16


PACKED = ["fashion-none", "fashion-magnitude50", "fashion-clusters16", "fashion-w4a8", "fashion-int8ptq", "fashion-fp16",
          "fashion-magnitude_w4_clusters", "fashion-int8qat", "fashion-mobilenet-0", "nas-bench-201-0"]


@pytest.mark.parametrize("name", PACKED)
def test_packed_model_is_as_large_as_the_swift_model_says_and_unpacks_to_the_same_weights(name, tmp_path):
    fx = load_fixture(name)
    torch.manual_seed(0)
    comp = fx["candidate"]["compression"]
    m = GraphNet(fx["graph"])
    for bn in m.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.running_var.uniform_(0.5, 2.0)
    method = (comp.get("pruning") or {}).get("method")
    clusters = (comp.get("weight_sharing") or {}).get("clusters", 0)
    cons, _ = C.apply_weight_formats(m, method == "magnitude", clusters > 0)
    q = C.QuantSpec.from_candidate(comp)
    if q.weight_bits < 32:
        C.simulate(m, C.QuantSpec(q.weight_bits, 32, q.mode, q.per_channel), cons)
    sizes = pack.pack(m, tmp_path / "m.tpym", cons)
    assert sizes["payload_bytes"] == fx["cost"]["size_bytes"]
    assert sizes["bytes"] == (tmp_path / "m.tpym").stat().st_size
    back = pack.unpack(tmp_path / "m.tpym")
    for n in m.weight_nodes():
        mod = m.weight_module(n["id"])
        assert torch.equal(back[n["id"]]["weight"], mod.weight.detach()), n["label"]  # the grid values, exactly
        if mod.bias is not None:
            assert torch.equal(back[n["id"]]["bias"], mod.bias.detach())
    # A float network loaded from the file computes what the compressed one does.
    other = pack.load_into(GraphNet(fx["graph"]), back).eval()
    m.eval()
    x = torch.randn(2, *fx["graph"]["input"])
    with torch.no_grad():
        assert torch.allclose(other(x), m(x), atol=1e-4, rtol=1e-4)


def test_int8_model_is_about_four_times_smaller_and_its_accuracy_is_measured(tiny_data, tmp_path):
    shape = (1, 28, 28)
    fx_float, fx_int8 = load_fixture("fashion-none"), load_fixture("fashion-int8ptq")
    torch.manual_seed(0)
    m = GraphNet(fx_float["graph"])
    engine.train(m, tiny_data.train, shape, engine.Schedule(epochs=1), seed=0)
    engine.recalibrate_bn(m, tiny_data.train, shape)
    _, float_acc = engine.evaluate(m, tiny_data.val, shape)
    q = C.QuantSpec(8, 8, "ptq", True)
    prepared = C.fx_prepare(m, q)
    engine.calibrate(prepared, tiny_data.train, shape, images=512)
    int8 = C.fx_convert(prepared)
    # Real int8 kernels: every conv and linear holds qint8 weights.
    qw = [mod.weight() for mod in int8.modules() if callable(getattr(mod, "weight", None))]
    assert len(qw) == len(m.weight_nodes()) and all(w.dtype == torch.qint8 for w in qw)
    _, int8_acc = engine.evaluate(int8, tiny_data.val, shape)
    assert float_acc > 30 and abs(int8_acc - float_acc) < 5, (float_acc, int8_acc)
    # Sizes: the weights take exactly a quarter; per-channel scales and the 32-bit batch norms
    # and biases keep the whole file a little above that.
    mi = GraphNet(fx_int8["graph"])
    mi.load_state_dict(m.state_dict())
    f32 = pack.pack(m, tmp_path / "f.tpym")["payload_bytes"]
    i8 = pack.pack(mi, tmp_path / "q.tpym")["payload_bytes"]
    weights = sum(n["in"] // n.get("groups", 1) * n["out"] * n.get("kernel", 1) ** 2 for n in m.weight_nodes())
    rest = f32 - 4 * weights  # biases and batch norm, 32-bit in both
    scales = 8 * sum(n["out"] for n in m.weight_nodes())  # float32 scale + int32 zero point per channel
    assert i8 == weights + rest + scales
    assert f32 / i8 > 3.0
    per_tensor = load_fixture("fashion-int8qat")["cost"]["size_bytes"]
    assert f32 / per_tensor > 3.5
    # PyTorch's own serialization of the int8 modules (packed weights plus their metadata).
    assert C.state_size(int8) < C.state_size(m) / 2


def test_simulated_quantization_puts_weights_on_the_grid():
    fx = load_fixture("fashion-w4a8")
    m = GraphNet(fx["graph"])
    C.simulate(m, C.QuantSpec(4, 8, "ptq", True), C.Constraints())
    for n in m.weight_nodes():
        w = m.weight_module(n["id"]).weight.detach()
        raw = C.raw_weight(m.weight_module(n["id"])).detach()
        scale, qmin, qmax = C.weight_qparams(raw, 4, True)
        q = w.reshape(w.shape[0], -1) / scale[:, None]
        assert torch.allclose(q, q.round(), atol=1e-4) and q.round().min() >= qmin and q.round().max() <= qmax
    assert len(m.act_fq) == len(C.act_quant_nodes(fx["graph"])) > 0


def test_unknown_structures_are_refused():
    fx = load_fixture("fashion-channel50")
    g = copy.deepcopy(fx["graph"])
    g["nodes"][4]["label"] = "elsewhere"
    with pytest.raises(C.CompressionError):
        C.align(fx["graph_uncompressed"], g)


def test_fx_quantization_traces_every_space():
    # FX graph mode must trace networks of every family (the int8 path depends on it).
    for name in ("fashion-mobilenet-0", "nas-bench-201-0", "nas-bench-macro-0"):
        m = GraphNet(load_fixture(name)["graph"])
        prepared = C.fx_prepare(m, C.QuantSpec(8, 8, "ptq", True))
        with torch.no_grad():
            prepared(torch.randn(2, *m.input_shape))
        names = [k for k, _ in prepared.named_modules()]
        assert any("activation_post_process" in k for k in names)
        assert f"layers.{module_name(1)}" in names
