"""A weight-sharing supernet over a search space (Once-for-All / BigNAS style), built from graphs.

Every network of a space is a slice of its largest one: the same layers (named by the graph's
labels), fewer blocks (elastic depth: a stage's first d blocks), fewer channels (elastic width
and expansion: the first c), smaller kernels (the centre k x k of the largest kernel), another
input size (convolutions do not depend on it). The supernet is `GraphNet(largest graph)`; a
candidate's weights are cut from it layer by layer, so nothing here knows the space's YAML:
the coordinator sends the largest graph, the smallest and a pool of sampled ones
(`topiary supernet pool`), and the same slicing serves every space built from labelled graphs.

Training (`train`): the sandwich rule with in-place distillation (BigNAS): every step trains
the largest network on the labels, then the smallest and two networks of the pool on the
largest one's predictions, and takes one optimizer step for all four.

Evaluating by inheritance (`inherit`): a candidate's `GraphNet` gets its slices; batch-norm
statistics are then recomputed on a few training batches by the caller (the largest
network's statistics do not hold for a slice).
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from graph_model import GraphNet, module_name

FORMAT = 2
SHARED_OPS = ("conv", "linear", "batchnorm")
# Parts of a MobileNet block that compute something else when the block has no expansion
# layer (expansion 1): they read the block's input, not expanded channels, so they get
# weights of their own instead of sharing the expanded block's.
BLOCK_PARTS = ("dw", "se", "project")


class SupernetError(ValueError):
    """A checkpoint or graph the supernet cannot serve; the message says which layer and why."""


def layer_keys(graph: dict[str, Any]) -> dict[int, str]:
    """Node id -> the layer's name across the space: label, op and its position among the
    label's nodes of that op (a squeeze-excite block has two convolutions under one label),
    marked `|noexpand` for the parts of a block without an expansion layer."""
    labels = {str(n.get("label", "")) for n in graph["nodes"]}
    seen: dict[tuple[str, str], int] = {}
    keys: dict[int, str] = {}
    for n in graph["nodes"]:
        if n.get("op") not in SHARED_OPS:
            continue
        label = str(n.get("label", ""))
        k = (label, n["op"])
        i = seen.get(k, 0)
        seen[k] = i + 1
        block, _, part = label.rpartition(".")
        mark = "|noexpand" if part in BLOCK_PARTS and block and f"{block}.expand" not in labels else ""
        keys[n["id"]] = f"{label}/{n['op']}/{i}{mark}"
    return keys


def _crop(w: torch.Tensor, k: int, key: str) -> torch.Tensor:
    big = w.shape[-1]
    if k > big or (big - k) % 2:
        raise SupernetError(f"layer {key}: a {k}x{k} kernel is not the centre of the supernet's {big}x{big}")
    o = (big - k) // 2
    return w[..., o:o + k, o:o + k]


def slice_param(key: str, node: dict[str, Any], name: str, full: torch.Tensor) -> torch.Tensor:
    """The part of a supernet parameter (`weight`, `bias`, `running_mean`, ...) that the layer
    `node` of a smaller network uses."""
    op = node["op"]
    if op == "conv" and name == "weight":
        out, cin, g, k = node["out"], node["in"], node.get("groups", 1), node["kernel"]
        per_group = cin // g
        if out > full.shape[0] or per_group > full.shape[1]:
            raise SupernetError(f"layer {key}: {cin}->{out} (groups {g}) is wider than the supernet's "
                                f"{full.shape[1]}x{full.shape[0]}: the supernet was trained for another space")
        return _crop(full[:out, :per_group], k, key)
    if op == "linear" and name == "weight":
        out, cin = node["out"], node["in"]
        if out > full.shape[0] or cin > full.shape[1]:
            raise SupernetError(f"layer {key}: {cin}->{out} is wider than the supernet's {full.shape[1]}->{full.shape[0]}")
        return full[:out, :cin]
    if full.ndim == 0:  # num_batches_tracked
        return full
    c = node["out"] if op in ("conv", "linear") else node["shape"][0]
    if c > full.shape[0]:
        raise SupernetError(f"layer {key}: {c} channels but the supernet has {full.shape[0]}")
    return full[:c]


class Supernet(nn.Module):
    """The largest network's layers (and those of `extra` networks, for layers the largest
    does not have: blocks without an expansion layer), lent in slices to any network of the
    space."""

    def __init__(self, largest: dict[str, Any], extra: list[dict[str, Any]] | None = None):
        super().__init__()
        self.largest = largest
        self.extra = list(extra or [])
        self.nets = nn.ModuleList([GraphNet(g) for g in [largest] + self.extra])
        self.net = self.nets[0]
        # key -> the module holding the widest version of that layer
        self.by_key: dict[str, nn.Module] = {}
        for g, net in zip([largest] + self.extra, self.nets):
            for i, key in layer_keys(g).items():
                self.by_key.setdefault(key, net.layers[module_name(i)])
        self._plans: dict[int, tuple[GraphNet, list[tuple[str, str, str, dict[str, Any]]]]] = {}

    def plan(self, graph: dict[str, Any]) -> tuple[GraphNet, list[tuple[str, str, str, dict[str, Any]]]]:
        """A network of the graph (built once) and, for each of its parameters and buffers,
        (its name, the supernet module, the tensor's name, the node)."""
        cached = self._plans.get(id(graph))
        if cached is not None and cached[0].graph is graph:
            return cached
        sub = GraphNet(graph)
        entries = []
        for i, key in layer_keys(graph).items():
            mod = self.by_key.get(key)
            if mod is None:
                raise SupernetError(f"layer {key} is not in the supernet: it was trained for another space "
                                    f"(or a compressed graph was given where its uncompressed one was needed)")
            node = graph["nodes"][i]
            for pname, _ in list(sub.layers[module_name(i)].named_parameters(recurse=False)) + \
                    list(sub.layers[module_name(i)].named_buffers(recurse=False)):
                entries.append((f"layers.{module_name(i)}.{pname}", mod, pname, node))
        self._plans[id(graph)] = (sub, entries)
        return sub, entries

    def sliced(self, graph: dict[str, Any], buffers: bool = False) -> dict[str, torch.Tensor]:
        """The graph's parameters (and, if asked, buffers) as slices of the supernet's: views
        that carry gradients back to the supernet."""
        _, entries = self.plan(graph)
        out = {}
        for name, mod, pname, node in entries:
            full = getattr(mod, pname)
            if isinstance(full, nn.Parameter) or buffers:
                out[name] = slice_param(f"{node.get('label')}/{node['op']}", node, pname, full)
        return out

    def forward_graph(self, graph: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        """The graph's network run with the supernet's sliced weights (training mode: batch-norm
        uses the batch's statistics)."""
        sub, _ = self.plan(graph)
        # Its own buffers (batch-norm statistics) must be where the input is.
        if next(sub.buffers(), x).device != x.device:
            sub.to(x.device)
        sub.train(self.training)
        return functional_call(sub, self.sliced(graph), (x,), strict=False)

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def load_into(self, model: GraphNet) -> int:
        """Copies the slices of every parameter and buffer into `model` (a network of the space);
        returns the number of values copied."""
        keys = layer_keys(model.graph)
        copied = 0
        with torch.no_grad():
            for i, key in keys.items():
                mod = self.by_key.get(key)
                if mod is None:
                    raise SupernetError(f"layer {key} is not in the supernet: it was trained for another space")
                node = model.graph["nodes"][i]
                src = mod
                dst = model.layers[module_name(i)]
                for pname, t in list(dst.named_parameters(recurse=False)) + list(dst.named_buffers(recurse=False)):
                    s = slice_param(key, node, pname, getattr(src, pname))
                    if s.shape != t.shape:
                        raise SupernetError(f"layer {key}: {pname} {list(t.shape)} but the supernet gives {list(s.shape)}")
                    t.copy_(s)
                    copied += t.numel()
        return copied


# --- checkpoints ------------------------------------------------------------------------------

def save(net: Supernet, path: Path, space: str, settings: dict[str, Any], figures: dict[str, Any]) -> None:
    torch.save({"format": FORMAT, "space": space, "largest": net.largest, "extra": net.extra,
                "state_dict": net.nets.state_dict(), "settings": settings, "figures": figures}, path)


_LOADED: dict[str, tuple[Supernet, dict[str, Any]]] = {}


def load(path: str | Path) -> tuple[Supernet, dict[str, Any]]:
    """A supernet checkpoint (`save`); only tensors and plain values are read (weights_only)."""
    key = str(path)
    if key in _LOADED:
        return _LOADED[key]
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 — any unreadable file is the same problem for the user
        raise SupernetError(f"{path}: not a supernet checkpoint ({type(e).__name__}: {str(e)[:200]})") from e
    if not isinstance(ck, dict) or ck.get("format") != FORMAT or not isinstance(ck.get("largest"), dict):
        raise SupernetError(f"{path}: not a supernet checkpoint of format {FORMAT} (train one with `topiary supernet train`)")
    net = Supernet(ck["largest"], ck.get("extra") or [])
    try:
        net.nets.load_state_dict(ck["state_dict"])
    except RuntimeError as e:
        raise SupernetError(f"{path}: the weights do not match the checkpoint's largest graph: {str(e)[:200]}") from e
    _LOADED[key] = (net, ck)
    return net, ck


# --- training ---------------------------------------------------------------------------------

def check_pool(pool: Any) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(largest, smallest, sampled graphs, extra graphs) of a job's `supernet` object."""
    if not isinstance(pool, dict):
        raise SupernetError("the job's 'supernet' must be an object with 'largest', 'smallest' and 'graphs'")
    largest, smallest, graphs, extra = pool.get("largest"), pool.get("smallest"), pool.get("graphs"), pool.get("extra", [])
    if not isinstance(largest, dict) or not isinstance(smallest, dict):
        raise SupernetError("supernet.largest and supernet.smallest must be graph JSON objects")
    if not isinstance(graphs, list) or not graphs or not all(isinstance(g, dict) for g in graphs):
        raise SupernetError("supernet.graphs must be a non-empty list of graph JSON objects (the sampled networks)")
    if not isinstance(extra, list) or not all(isinstance(g, dict) for g in extra):
        raise SupernetError("supernet.extra must be a list of graph JSON objects")
    return largest, smallest, graphs, extra


def sandwich_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """In-place distillation: KL(teacher || student) at temperature 1 (BigNAS)."""
    return F.kl_div(F.log_softmax(student, dim=1), F.log_softmax(teacher, dim=1), reduction="batchmean", log_target=True)


def train(net: Supernet, smallest: dict[str, Any], pool: list[dict[str, Any]], split, *, epochs: int, lr: float,
          batch_size: int, seed: int, sampled: int = 2, weight_decay: float = 1e-5,
          epoch_end: Callable[[int, float, float], bool] | None = None, device: torch.device | None = None) -> int:
    """Sandwich-rule training. Returns the epochs done (`epoch_end` may stop early). With
    `device`, the supernet trains there and is moved back where it was at the end."""
    from engine import on_device
    with on_device(net, device):
        return _train(net, smallest, pool, split, epochs, lr, batch_size, seed, sampled, weight_decay, epoch_end)


def _train(net, smallest, pool, split, epochs, lr, batch_size, seed, sampled, weight_decay, epoch_end) -> int:
    from engine import Schedule, device_of, network_input, optimizer_and_schedule
    n = len(split)
    total = max(1, math.ceil(n / batch_size)) * epochs
    opt, sch = optimizer_and_schedule(net.nets, Schedule(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size), total)
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    largest = net.largest
    dev = device_of(net)
    for epoch in range(1, epochs + 1):
        t0 = time.monotonic()
        net.train()
        perm = torch.randperm(n, generator=gen)
        running, seen = 0.0, 0
        for s in range(0, n, batch_size):
            idx = perm[s:s + batch_size]
            if len(idx) < 2:
                continue
            x, y = split.images[idx], split.labels[idx].to(dev)
            opt.zero_grad(set_to_none=True)
            out = net.forward_graph(largest, network_input(x, tuple(largest["input"]), split.pad).to(dev))
            loss = F.cross_entropy(out, y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"supernet training diverged (loss {loss.item()}) in epoch {epoch}")
            loss.backward()
            soft = out.detach()
            for g in [smallest] + rng.sample(pool, min(sampled, len(pool))):
                sl = sandwich_loss(net.forward_graph(g, network_input(x, tuple(g["input"]), split.pad).to(dev)), soft)
                sl.backward()
            opt.step()
            sch.step()
            running += loss.item() * len(idx)
            seen += len(idx)
        if epoch_end is not None and epoch_end(epoch, running / max(1, seen), time.monotonic() - t0) is False:
            return epoch
    return epochs
