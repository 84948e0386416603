"""Compression done for real on a trained PyTorch network, as the compressed graph says.

- Structural (`structural`): channel pruning by the L1 norm of each prunable layer's filters
  (the kept channels are physically copied into the smaller network of the compressed graph,
  with the batch norm, depthwise, squeeze-excite and next-layer inputs that read them), then
  low-rank factorization of 1x1 convolutions and linear layers by truncated SVD into the two
  layers the compressed graph has (rank k from the graph).
- Weight formats (`apply_weight_formats`): unstructured magnitude pruning with
  torch.nn.utils.prune.l1_unstructured (as many zeros as the graph's `weights.zeros`, made
  permanent) and weight sharing by k-means of each layer's weights (`weights.clusters`).
  `Constraints.project()` keeps both true while fine-tuning (masked weights stay zero,
  shared weights move together: each cluster's weights are replaced by their mean).
- Quantization (`quantize_*`): int8 weights and activations with torch.ao.quantization FX
  graph mode (post-training calibration or quantization-aware training; per-channel or
  per-tensor weights; x86/fbgemm kernels), and other widths (4- and 16-bit weights, weight-
  or activation-only) simulated with torch's fake-quantization ops.

The compressed graph JSON of the job is authoritative: this module reads every width, rank,
zero count and cluster count from it and checks the result against it.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.utils import parametrize, prune

from graph_model import GraphNet, GraphError, module_name

warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization.*deprecated", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao\..*")
warnings.filterwarnings("ignore", message=r".*reduce_range will be deprecated.*")


class CompressionError(RuntimeError):
    pass


# --- aligning the compressed graph with the uncompressed one ------------------------------

@dataclass
class Alignment:
    """For each uncompressed node id, the compressed node ids that implement it: one, or two
    (the in->k and k->out factors of a low-rank factorization)."""
    nodes: dict[int, tuple[int, ...]]

    def factorized(self) -> dict[int, tuple[int, int]]:
        return {i: js for i, js in self.nodes.items() if len(js) == 2}  # type: ignore[misc]


def _is_pointwise(n: dict[str, Any]) -> bool:
    return n["op"] == "linear" or (n["op"] == "conv" and n["kernel"] == 1 and n["groups"] == 1)


def align(uncompressed: dict[str, Any], compressed: dict[str, Any]) -> Alignment:
    """Matches nodes by order and label: the compressed graph is the uncompressed one with
    the same nodes (narrower where channels were pruned) and, for each factorized layer, one
    extra node (the in->k factor, same label) just before it."""
    u, c = uncompressed["nodes"], compressed["nodes"]
    out: dict[int, tuple[int, ...]] = {}
    j = 0
    for i, un in enumerate(u):
        if j >= len(c):
            raise CompressionError(f"compressed graph ends before uncompressed node {i} ({un['label']})")
        cn = c[j]
        if cn["op"] != un["op"] or cn["label"] != un["label"]:
            raise CompressionError(f"uncompressed node {i} ({un['op']} {un['label']}) has no counterpart: compressed node {j} is "
                                   f"{cn['op']} {cn['label']}")
        nxt = c[j + 1] if j + 1 < len(c) else None
        if (_is_pointwise(un) and nxt is not None and nxt["op"] == un["op"] and nxt["label"] == un["label"]
                and nxt["inputs"] == [j] and _is_pointwise(nxt) and not cn.get("bias", False)):
            unext = u[i + 1] if i + 1 < len(u) else None
            ambiguous = unext is not None and unext["op"] == un["op"] and unext["label"] == un["label"] and unext["inputs"] == [i]
            if ambiguous:
                raise CompressionError(f"nodes {i} and {i + 1} ({un['label']}) cannot be told from a factorization")
            out[i] = (j, j + 1)
            j += 2
        else:
            out[i] = (j,)
            j += 1
    if j != len(c):
        raise CompressionError(f"compressed graph has {len(c) - j} nodes more than the uncompressed one explains")
    # Inputs must correspond too.
    last = {i: js[-1] for i, js in out.items()}
    for i, js in out.items():
        want = [last[k] for k in u[i]["inputs"]]
        if c[js[0]]["inputs"] != want:
            raise CompressionError(f"compressed node {js[0]} ({c[js[0]]['label']}) reads {c[js[0]]['inputs']}, expected {want}")
    return Alignment(out)


def needs_structural(uncompressed: dict[str, Any], compressed: dict[str, Any]) -> bool:
    u, c = uncompressed["nodes"], compressed["nodes"]
    if len(u) != len(c):
        return True
    return any(a.get("out") != b.get("out") or a.get("in") != b.get("in") or a["shape"] != b["shape"] for a, b in zip(u, c))


# --- structural compression --------------------------------------------------------------

@dataclass
class StructuralReport:
    pruned: list[dict[str, Any]] = field(default_factory=list)      # {node, label, channels, kept}
    factorized: list[dict[str, Any]] = field(default_factory=list)  # {node, label, in, out, rank, energy}


def _filter_l1(w: torch.Tensor) -> torch.Tensor:
    return w.detach().abs().reshape(w.shape[0], -1).sum(1)


def structural(trained: GraphNet, compressed_graph: dict[str, Any]) -> tuple[GraphNet, StructuralReport]:
    """The network of `compressed_graph` with weights from `trained` (a network of the
    uncompressed graph): pruned channels chosen by filter L1 norm, factors by SVD."""
    ug, cg = trained.graph, compressed_graph
    al = align(ug, cg)
    un, cn = ug["nodes"], cg["nodes"]
    target = GraphNet(cg)
    report = StructuralReport()
    layers = trained.layers
    # chan[i]: indices of the uncompressed node i's output channels that survive (None: all).
    chan: dict[int, torch.Tensor | None] = {0: None}
    consumers: dict[int, list[int]] = {}
    for n in un:
        for k in n["inputs"]:
            consumers.setdefault(k, []).append(n["id"])

    def follower_set(i: int) -> torch.Tensor | None:
        # A layer whose width follows another tensor (squeeze-excite expand): the tensor its
        # gate multiplies, reached through element-wise activations.
        k = i
        while True:
            nxt = consumers.get(k, [])
            if len(nxt) != 1:
                break
            m = un[nxt[0]]
            if m["op"] == "activation":
                k = m["id"]
                continue
            if m["op"] == "multiply":
                others = [x for x in m["inputs"] if x != k]
                return chan[others[0]]
            break
        raise CompressionError(f"node {i} ({un[i]['label']}) loses output channels but neither is prunable nor gates a tensor")

    for n in un[1:]:
        i, op = n["id"], n["op"]
        first = n["inputs"][0]
        c_last = cn[al.nodes[i][-1]]
        if op in ("conv", "linear"):
            depthwise = op == "conv" and n["groups"] > 1 and n["groups"] == n["in"] == n["out"]
            want = c_last["out"]
            if depthwise:
                chan[i] = chan[first]
            elif want == n["out"]:
                chan[i] = None
            elif n.get("prunable"):
                w = layers[module_name(i)].weight
                keep = torch.topk(_filter_l1(w), want).indices.sort().values
                chan[i] = keep
                report.pruned.append({"node": i, "label": n["label"], "channels": n["out"], "kept": want})
            else:
                chan[i] = follower_set(i)
            if op == "conv" and n["groups"] > 1 and not depthwise and (chan[i] is not None or chan[first] is not None):
                raise CompressionError(f"node {i} ({n['label']}): channel pruning of grouped convolutions is not supported")
        else:
            chan[i] = chan[first]
            if op in ("add", "multiply"):
                for k in n["inputs"][1:]:
                    a, b = chan[first], chan[k]
                    if un[k]["shape"][0] == n["shape"][0] and not (a is None and b is None or a is not None and b is not None and torch.equal(a, b)):
                        raise CompressionError(f"node {i} ({n['label']}) joins tensors pruned differently")

    def sel(t: torch.Tensor, idx: torch.Tensor | None, dim: int) -> torch.Tensor:
        return t if idx is None else t.index_select(dim, idx)

    state: dict[str, torch.Tensor] = {}
    for n in un[1:]:
        i, op = n["id"], n["op"]
        src = layers[module_name(i)] if module_name(i) in layers else None
        js = al.nodes[i]
        if op in ("conv", "linear"):
            depthwise = op == "conv" and n["groups"] > 1 and n["groups"] == n["in"] == n["out"]
            w = sel(src.weight.detach(), chan[i], 0)
            if not depthwise:
                w = sel(w, chan[n["inputs"][0]], 1)
            b = sel(src.bias.detach(), chan[i], 0) if src.bias is not None else None
            if len(js) == 2:
                ja, jb = js
                k = cn[ja]["out"]
                mat = w.reshape(w.shape[0], w.shape[1])
                u_, s, vh = torch.linalg.svd(mat, full_matrices=False)
                root = s[:k].sqrt()
                a = root[:, None] * vh[:k]          # k x in
                bb = u_[:, :k] * root[None, :]      # out x k
                energy = float((s[:k] ** 2).sum() / (s ** 2).sum().clamp_min(1e-30))
                shape_a = (k, mat.shape[1], 1, 1) if op == "conv" else (k, mat.shape[1])
                shape_b = (mat.shape[0], k, 1, 1) if op == "conv" else (mat.shape[0], k)
                state[f"layers.{module_name(ja)}.weight"] = a.reshape(shape_a).contiguous()
                state[f"layers.{module_name(jb)}.weight"] = bb.reshape(shape_b).contiguous()
                if b is not None:
                    state[f"layers.{module_name(jb)}.bias"] = b
                report.factorized.append({"node": i, "label": n["label"], "in": mat.shape[1], "out": mat.shape[0], "rank": k,
                                          "energy": round(energy, 4)})
            else:
                state[f"layers.{module_name(js[0])}.weight"] = w.contiguous()
                if b is not None:
                    state[f"layers.{module_name(js[0])}.bias"] = b
        elif op == "batchnorm":
            for key, t in src.state_dict().items():
                state[f"layers.{module_name(js[0])}.{key}"] = t if t.ndim == 0 else sel(t, chan[i], 0)
    missing, unexpected = target.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise CompressionError(f"structural compression left {missing} unset and {unexpected} unused")
    return target, report


# --- magnitude pruning and weight sharing ---------------------------------------------------

@dataclass
class LayerConstraint:
    node: int
    mask: torch.Tensor | None = None         # 1 = kept, 0 = pruned
    assign: torch.Tensor | None = None       # cluster index of each (kept) weight, flattened
    clusters: int = 0


class Constraints:
    """What fine-tuning must keep true, per weight layer (by compressed node id)."""

    def __init__(self) -> None:
        self.layers: dict[int, LayerConstraint] = {}

    def __bool__(self) -> bool:
        return bool(self.layers)

    @torch.no_grad()
    def project(self, weights: Callable[[int], torch.Tensor]) -> None:
        """Re-imposes zeros and shared values on the weights that `weights(node)` returns."""
        for c in self.layers.values():
            w = weights(c.node)
            # The weights may have moved (training on a GPU): the constraint follows them, once.
            if c.mask is not None and c.mask.device != w.device:
                c.mask = c.mask.to(w.device)
            if c.assign is not None and c.assign.device != w.device:
                c.assign = c.assign.to(w.device)
            if c.mask is not None:
                w.mul_(c.mask)
            if c.assign is not None:
                flat = w.view(-1)
                pos = c.mask.view(-1).nonzero().squeeze(1) if c.mask is not None else None
                vals = flat[pos] if pos is not None else flat
                cent = _cluster_means(vals, c.assign, c.clusters)
                new = cent[c.assign]
                if pos is not None:
                    flat[pos] = new
                else:
                    flat.copy_(new)

    def to(self, device: torch.device) -> None:
        """Moves the masks and cluster assignments to `device` (where the weights are)."""
        for c in self.layers.values():
            c.mask = c.mask.to(device) if c.mask is not None else None
            c.assign = c.assign.to(device) if c.assign is not None else None

    def zeros(self) -> int:
        return sum(int((c.mask == 0).sum()) for c in self.layers.values() if c.mask is not None)


def _cluster_means(vals: torch.Tensor, assign: torch.Tensor, k: int) -> torch.Tensor:
    sums = torch.zeros(k, dtype=vals.dtype, device=vals.device).index_add_(0, assign, vals)
    counts = torch.zeros(k, dtype=vals.dtype, device=vals.device).index_add_(0, assign, torch.ones_like(vals))
    return sums / counts.clamp_min(1)


def kmeans_1d(vals: torch.Tensor, k: int, iters: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means of scalars with linear initialization over [min, max] (as Deep Compression
    found best for weights); assignment by the midpoints between sorted centroids. Returns
    (centroids, assignment); empty clusters keep their last centroid."""
    vals = vals.detach().float()
    k = max(1, min(k, vals.numel()))
    lo, hi = float(vals.min()), float(vals.max())
    cent = torch.linspace(lo, hi, k) if k > 1 else vals.mean().reshape(1)
    assign = torch.zeros(vals.numel(), dtype=torch.long)
    for _ in range(iters):
        cent, _ = cent.sort()
        mid = (cent[1:] + cent[:-1]) / 2
        new = torch.bucketize(vals, mid)
        sums = torch.zeros(k).index_add_(0, new, vals)
        counts = torch.zeros(k).index_add_(0, new, torch.ones_like(vals))
        cent = torch.where(counts > 0, sums / counts.clamp_min(1), cent)
        if torch.equal(new, assign):
            break
        assign = new
    return cent, assign


def weight_layers(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in graph["nodes"] if n["op"] in ("conv", "linear")]


def apply_weight_formats(model: GraphNet, prune_magnitude: bool, share_weights: bool) -> tuple[Constraints, dict[str, Any]]:
    """Magnitude pruning (torch.nn.utils.prune.l1_unstructured, made permanent) and weight
    sharing (k-means) of every weight layer, with the zero and cluster counts of the graph."""
    cons = Constraints()
    zeros = clustered = 0
    for n in weight_layers(model.graph):
        fmt = n.get("weights") or {}
        m = model.weight_module(n["id"])
        lc = LayerConstraint(n["id"])
        z = int(fmt.get("zeros", 0))
        if prune_magnitude and z > 0:
            prune.l1_unstructured(m, "weight", amount=z)
            lc.mask = m.weight_mask.detach().clone()
            prune.remove(m, "weight")
            got = int((lc.mask == 0).sum())
            if got != z:
                raise CompressionError(f"node {n['id']} ({n['label']}): pruned {got} weights, the graph says {z}")
            zeros += z
        k = int(fmt.get("clusters", 0))
        if share_weights and k > 0:
            w = m.weight.detach().view(-1)
            pos = lc.mask.view(-1).nonzero().squeeze(1) if lc.mask is not None else None
            vals = w[pos] if pos is not None else w
            cent, assign = kmeans_1d(vals, k)
            lc.assign, lc.clusters = assign, cent.numel()
            clustered += 1
        if lc.mask is not None or lc.assign is not None:
            cons.layers[n["id"]] = lc
    cons.project(lambda i: model.weight_module(i).weight)
    return cons, {"zeros": zeros, "clustered_layers": clustered}


# --- quantization ----------------------------------------------------------------------------

@dataclass
class QuantSpec:
    weight_bits: int = 32
    activation_bits: int = 32
    mode: str = "ptq"
    per_channel: bool = True

    @property
    def active(self) -> bool:
        return self.weight_bits < 32 or self.activation_bits < 32

    @property
    def int8(self) -> bool:
        """Real int8 kernels through torch.ao.quantization FX graph mode."""
        return self.weight_bits == 8 and self.activation_bits == 8

    @property
    def qat(self) -> bool:
        return self.active and self.mode == "qat" and (self.weight_bits <= 8 or self.activation_bits <= 8)

    @staticmethod
    def from_candidate(compression: dict[str, Any]) -> "QuantSpec":
        q = compression.get("quantization") or {}
        return QuantSpec(int(q.get("weight_bits", 32)), int(q.get("activation_bits", 32)), q.get("mode", "ptq"),
                         q.get("granularity", "per_channel") == "per_channel")


def weight_qparams(w: torch.Tensor, bits: int, per_channel: bool) -> tuple[torch.Tensor, int, int]:
    """Symmetric scales (zero point 0) for `bits`-bit signed weights, as torch.ao's symmetric
    min/max observers compute them: max(|w|) / ((qmax - qmin) / 2), per output channel or
    for the whole tensor. Returns (scale, qmin, qmax); scale has one entry per channel or one."""
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    flat = w.detach().reshape(w.shape[0], -1) if per_channel else w.detach().reshape(1, -1)
    amax = torch.maximum(-flat.min(1).values.clamp(max=0), flat.max(1).values.clamp(min=0))
    scale = (amax / ((qmax - qmin) / 2)).clamp_min(torch.finfo(torch.float32).eps)
    return scale.float(), qmin, qmax


def fake_quant_weight(w: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """The weight on its quantization grid (gradient passes straight through)."""
    if bits >= 32:
        return w
    if bits == 16:
        return w + (w.half().float() - w).detach()
    scale, qmin, qmax = weight_qparams(w, bits, per_channel)
    zp = torch.zeros(scale.numel(), dtype=torch.int32, device=w.device)
    if per_channel:
        return torch.fake_quantize_per_channel_affine(w, scale, zp, 0, qmin, qmax)
    return torch.fake_quantize_per_tensor_affine(w, float(scale[0]), 0, qmin, qmax)


class WeightFakeQuant(nn.Module):
    """A parametrization: the layer computes with its weight on the `bits`-bit grid."""

    def __init__(self, bits: int, per_channel: bool):
        super().__init__()
        self.bits, self.per_channel = bits, per_channel

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quant_weight(w, self.bits, self.per_channel)


def raw_weight(m: nn.Module) -> torch.Tensor:
    if parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


def act_quant_nodes(graph: dict[str, Any]) -> list[int]:
    """Nodes whose output an int8 runtime stores quantized: the input and every op's output
    except a weight op or batch norm whose only reader is the batch norm or activation
    fused into it (the layer boundaries of the Swift cost model)."""
    nodes = graph["nodes"]
    readers: dict[int, list[int]] = {}
    for n in nodes:
        for k in n["inputs"]:
            readers.setdefault(k, []).append(n["id"])
    out = []
    for n in nodes:
        r = readers.get(n["id"], [])
        fused = (n["op"] in ("conv", "linear", "batchnorm") and len(r) == 1 and nodes[r[0]]["op"] in ("batchnorm", "activation")
                 and nodes[r[0]]["label"] == n["label"])
        if not fused:
            out.append(n["id"])
    return out


def simulate(model: GraphNet, q: QuantSpec, share: Constraints) -> GraphNet:
    """Adds simulated quantization to `model` in place: weights computed on their grid
    (clustered layers on one per-tensor grid, their codebook's), activations through
    torch.ao.quantization FakeQuantize modules (8-bit, moving-average min/max)."""
    from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver

    if q.weight_bits < 32:
        for n in weight_layers(model.graph):
            per_channel = q.per_channel and n["id"] not in {i for i, c in share.layers.items() if c.assign is not None}
            parametrize.register_parametrization(model.weight_module(n["id"]), "weight", WeightFakeQuant(q.weight_bits, per_channel))
    if q.activation_bits < 32:
        if q.activation_bits != 8:
            raise CompressionError(f"{q.activation_bits}-bit activations are not supported (8 or 32)")
        model.act_fq = nn.ModuleDict({
            module_name(i): FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
                                         qscheme=torch.per_tensor_affine, reduce_range=False)
            for i in act_quant_nodes(model.graph)})
    return model


def bake_weights(model: GraphNet) -> None:
    """Replaces parametrized weights by their quantized values (for export)."""
    for m in model.layers.values():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)


def fx_qconfig_mapping(q: QuantSpec):
    """torch.ao.quantization's x86 defaults (per-channel weights, reduce-range activations, fixed
    parameters for hard-sigmoid and sigmoid), with per-tensor weights when asked."""
    from torch.ao.quantization import (FakeQuantize, HistogramObserver, MovingAverageMinMaxObserver, QConfig,
                                       default_weight_fake_quant, default_weight_observer, get_default_qat_qconfig_mapping,
                                       get_default_qconfig_mapping)
    if q.qat:
        mapping = get_default_qat_qconfig_mapping("x86")
        if not q.per_channel:
            mapping.set_global(QConfig(activation=FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                                                         quant_max=255, reduce_range=True),
                                       weight=default_weight_fake_quant))
    else:
        mapping = get_default_qconfig_mapping("x86")
        if not q.per_channel:
            mapping.set_global(QConfig(activation=HistogramObserver.with_args(reduce_range=True), weight=default_weight_observer))
    return mapping


def fx_prepare(model: GraphNet, q: QuantSpec) -> nn.Module:
    """An FX GraphModule with observers (PTQ, eval mode) or fake quantization (QAT, train mode)."""
    from torch.ao.quantization.quantize_fx import prepare_fx, prepare_qat_fx
    torch.backends.quantized.engine = "x86"
    m = copy.deepcopy(model)
    example = (torch.zeros(2, *model.input_shape),)
    if q.qat:
        return prepare_qat_fx(m.train(), fx_qconfig_mapping(q), example)
    return prepare_fx(m.eval(), fx_qconfig_mapping(q), example)


def fx_convert(prepared: nn.Module) -> nn.Module:
    from torch.ao.quantization.quantize_fx import convert_fx
    return convert_fx(prepared.eval())


def fx_weight(prepared: nn.Module, node: int) -> torch.Tensor:
    """The float weight of compressed node `node` inside an FX-prepared module (fused or not)."""
    m = prepared.get_submodule(f"layers.{module_name(node)}")
    if hasattr(m, "weight") and isinstance(m.weight, torch.Tensor):
        return m.weight
    return m[0].weight


def set_observers(model: nn.Module, enabled: bool) -> None:
    from torch.ao.quantization import disable_observer, enable_observer
    model.apply(enable_observer if enabled else disable_observer)


def freeze_bn(model: nn.Module) -> None:
    import torch.ao.nn.intrinsic.qat as nniqat
    model.apply(nniqat.freeze_bn_stats)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def quantized_zero_count(model: nn.Module) -> int:
    """Zero weights in the int8 layers of a converted model (magnitude pruning survives conversion)."""
    total = 0
    for m in model.modules():
        w = getattr(m, "weight", None)
        if callable(w) and not isinstance(w, torch.Tensor):
            t = w()
            if isinstance(t, torch.Tensor) and t.is_quantized:
                total += int((t.int_repr() == 0).sum())  # symmetric weights: zero point 0
    return total


def state_size(model: nn.Module) -> int:
    import io
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


__all__ = [
    "Alignment", "CompressionError", "Constraints", "QuantSpec", "StructuralReport", "align", "apply_weight_formats",
    "bake_weights", "fake_quant_weight", "fx_convert", "fx_prepare", "fx_weight", "kmeans_1d", "needs_structural",
    "raw_weight", "set_observers", "simulate", "structural", "weight_qparams", "freeze_bn", "state_size", "GraphError",
    "fx_to_float", "quantized_zero_count",
]


def fx_to_float(prepared: nn.Module, model: GraphNet) -> GraphNet:
    """Copies the weights and batch-norm state trained inside an FX-prepared (QAT) module back
    into the float network they came from (fused conv-BN modules hold both)."""
    nodes = model.graph["nodes"]
    readers: dict[int, list[int]] = {}
    for n in nodes:
        for k in n["inputs"]:
            readers.setdefault(k, []).append(n["id"])
    done: set[int] = set()
    with torch.no_grad():
        for n in nodes:
            i = n["id"]
            if n["op"] not in ("conv", "linear", "batchnorm") or i in done:
                continue
            try:
                src = prepared.get_submodule(f"layers.{module_name(i)}")
            except AttributeError:
                raise CompressionError(f"node {i} ({n['label']}) is missing from the quantization-aware model") from None
            dst = model.layers[module_name(i)]
            bn = getattr(src, "bn", None)
            if isinstance(bn, nn.modules.batchnorm._BatchNorm):
                dst.weight.copy_(src.weight)
                if dst.bias is not None:
                    dst.bias.copy_(src.bias)
                j = readers[i][0]
                model.layers[module_name(j)].load_state_dict(bn.state_dict())
                done.add(j)
            else:
                sd = src.state_dict()
                for k, v in dst.state_dict().items():
                    if k in sd and sd[k].shape == v.shape:
                        v.copy_(sd[k])
            done.add(i)
    return model
