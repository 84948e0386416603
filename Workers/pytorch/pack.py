"""The compressed model as bytes, in the storage format the Swift cost model counts.

A packed file is `TPYM`, a little-endian u32 header length, a JSON header (the layers, their
formats and where their bytes are), then the payload: for each conv or linear node in graph
order, one bit stream padded to a byte, and for each batch norm, its inference scale and shift:

- weights at their width: 32-bit floats, 16-bit floats, or `bits`-bit two's-complement integers
  with a symmetric scale (float32) and zero point (int32) per output channel or per tensor;
- with weight sharing: a codebook of `clusters` values at that width, then each weight as a
  `ceil(log2 clusters)`-bit index (a codebook of a quantized layer shares one scale, repeated
  per channel when the granularity is per channel);
- with magnitude pruning: a bitmap of the kept weights (1 bit per weight), then only the kept
  weights' values or indices;
- biases as float32; batch norm as float32 a = gamma / sqrt(var + eps) and b = beta - mean * a.

So the payload is exactly `size_bytes` of `topiary candidate cost` (tested), and `unpack`
gives back the weights the model computes with.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from compress import raw_weight, weight_qparams
from graph_model import GraphNet, module_name

MAGIC = b"TPYM"


class _Bits:
    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []

    def put(self, values: np.ndarray, width: int) -> None:
        """Appends unsigned integers as `width`-bit fields, most significant bit first."""
        v = np.asarray(values, dtype=np.uint64).reshape(-1)
        if v.size == 0:
            return
        shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
        self.chunks.append(((v[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).reshape(-1))

    def bytes(self) -> bytes:
        if not self.chunks:
            return b""
        return np.packbits(np.concatenate(self.chunks)).tobytes()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self.pos = 0

    def get(self, count: int, width: int) -> np.ndarray:
        chunk = self.bits[self.pos:self.pos + count * width].reshape(count, width).astype(np.uint64)
        self.pos += count * width
        shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
        return (chunk << shifts).sum(1, dtype=np.uint64) if width else np.zeros(count, dtype=np.uint64)


def _index_bits(clusters: int) -> int:
    return max(1, math.ceil(math.log2(clusters))) if clusters > 1 else 1


def _encode_values(vals: torch.Tensor, bits: int, scale_of: torch.Tensor | None) -> np.ndarray:
    """Raw `bits`-bit fields for float values (float32/float16 bit patterns, or integers on
    the scale `scale_of` gives per value)."""
    if bits == 32:
        return vals.float().numpy().view(np.uint32)
    if bits == 16:
        return vals.half().numpy().view(np.uint16)
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    # x * (1 / scale), rounded half to even: what torch's fake-quantization kernels compute.
    q = torch.clamp(torch.round(vals * (1.0 / scale_of)), qmin, qmax).to(torch.int64).numpy()
    return (q & ((1 << bits) - 1)).astype(np.uint64)


def _decode_values(raw: np.ndarray, bits: int, scale_of: torch.Tensor | None) -> torch.Tensor:
    if bits == 32:
        return torch.from_numpy(raw.astype(np.uint32).view(np.float32).copy())
    if bits == 16:
        return torch.from_numpy(raw.astype(np.uint16).view(np.float16).astype(np.float32))
    q = raw.astype(np.int64)
    q = np.where(q >= 1 << (bits - 1), q - (1 << bits), q)
    return torch.from_numpy(q.astype(np.float32)) * scale_of


def layer_payload(node: dict[str, Any], weight: torch.Tensor, bias: torch.Tensor | None, mask: torch.Tensor | None,
                  assign: torch.Tensor | None, codebook: torch.Tensor | None) -> bytes:
    fmt = node.get("weights") or {}
    bits, clusters, per_channel = int(fmt.get("bits", 32)), int(fmt.get("clusters", 0)), bool(fmt.get("per_channel", True))
    zeros = int(fmt.get("zeros", 0))
    w = weight.detach().float()
    out = w.shape[0]
    b = _Bits()
    flat = w.reshape(-1)
    if zeros > 0:
        if mask is None or int((mask == 0).sum()) != zeros:
            raise ValueError(f"node {node['id']}: {zeros} pruned weights expected, mask has "
                             f"{None if mask is None else int((mask == 0).sum())}")
        keep = mask.reshape(-1).bool()
        b.put(keep.numpy().astype(np.uint8), 1)
    else:
        keep = torch.ones_like(flat, dtype=torch.bool)
    scales = None
    if clusters > 0:
        if codebook is None or assign is None:
            raise ValueError(f"node {node['id']}: weight sharing without a codebook")
        book = torch.zeros(clusters)
        book[:codebook.numel()] = codebook
        if bits <= 8:
            s, _, _ = weight_qparams(book, bits, per_channel=False)
            scales = s.repeat(out if per_channel else 1)
            b.put(_encode_values(book, bits, s[0]), bits)
        else:
            b.put(_encode_values(book, bits, None), bits)
        b.put(assign.numpy(), _index_bits(clusters))
    else:
        vals = flat[keep]
        if bits <= 8:
            s, _, _ = weight_qparams(w, bits, per_channel)
            scales = s
            per_value = s.repeat_interleave(flat.numel() // out)[keep] if per_channel else s[0]
            b.put(_encode_values(vals, bits, per_value), bits)
        else:
            b.put(_encode_values(vals, bits, None), bits)
    if scales is not None:
        b.put(scales.numpy().view(np.uint32), 32)
        b.put(np.zeros(scales.numel(), dtype=np.uint64), 32)  # zero points (symmetric)
    if bias is not None:
        b.put(bias.detach().float().numpy().view(np.uint32), 32)
    return b.bytes()


def _bn_affine(m: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    a = m.weight.detach() / torch.sqrt(m.running_var + m.eps)
    return a, m.bias.detach() - m.running_mean * a


def pack(model: GraphNet, path: str | Path, constraints=None) -> dict[str, int]:
    """Writes the packed model; returns {"bytes": file size, "payload_bytes": ..., "header_bytes": ...}.
    `constraints` (compress.Constraints) gives the pruning masks and cluster assignments."""
    layers_meta = []
    payload = bytearray()
    cons = constraints.layers if constraints is not None else {}
    for n in model.graph["nodes"]:
        i = n["id"]
        if n["op"] in ("conv", "linear"):
            m = model.weight_module(i)
            w = raw_weight(m).detach()
            c = cons.get(i)
            mask = c.mask if c is not None else None
            assign = codebook = None
            fmt = n.get("weights") or {}
            if int(fmt.get("clusters", 0)) > 0:
                if c is None or c.assign is None:
                    raise ValueError(f"node {i} ({n['label']}): weight sharing was not applied")
                assign = c.assign
                kept = w.reshape(-1)[mask.reshape(-1).bool()] if mask is not None else w.reshape(-1)
                codebook = torch.zeros(c.clusters)
                codebook[assign] = kept.float()  # every member of a cluster holds its value
            data = layer_payload(n, w, m.bias, mask, assign, codebook)
            layers_meta.append({"node": i, "op": n["op"], "shape": list(w.shape), "bias": m.bias is not None,
                                "format": fmt, "offset": len(payload), "length": len(data)})
            payload += data
        elif n["op"] == "batchnorm":
            a, b = _bn_affine(model.weight_module(i))
            data = a.float().numpy().tobytes() + b.float().numpy().tobytes()
            layers_meta.append({"node": i, "op": "batchnorm", "channels": a.numel(), "offset": len(payload), "length": len(data)})
            payload += data
    header = json.dumps({"format": 1, "input": list(model.input_shape), "layers": layers_meta}, separators=(",", ":")).encode()
    blob = MAGIC + struct.pack("<I", len(header)) + header + bytes(payload)
    Path(path).write_bytes(blob)
    return {"bytes": len(blob), "payload_bytes": len(payload), "header_bytes": len(header) + 8}


def unpack(path: str | Path) -> dict[int, dict[str, torch.Tensor]]:
    """Per node id: {"weight", "bias"?} for weight layers, {"a", "b"} for batch norms."""
    blob = Path(path).read_bytes()
    if blob[:4] != MAGIC:
        raise ValueError(f"{path}: not a packed Topiary model")
    (hlen,) = struct.unpack("<I", blob[4:8])
    header = json.loads(blob[8:8 + hlen])
    payload = blob[8 + hlen:]
    out: dict[int, dict[str, torch.Tensor]] = {}
    for L in header["layers"]:
        data = payload[L["offset"]:L["offset"] + L["length"]]
        if L["op"] == "batchnorm":
            arr = torch.from_numpy(np.frombuffer(data, dtype=np.float32).copy())
            c = L["channels"]
            out[L["node"]] = {"a": arr[:c], "b": arr[c:]}
            continue
        fmt, shape = L["format"], L["shape"]
        bits, clusters, per_channel = int(fmt.get("bits", 32)), int(fmt.get("clusters", 0)), bool(fmt.get("per_channel", True))
        zeros = int(fmt.get("zeros", 0))
        n = int(np.prod(shape))
        out_ch = shape[0]
        r = _Reader(data)
        keep = torch.from_numpy(r.get(n, 1).astype(bool)) if zeros > 0 else torch.ones(n, dtype=torch.bool)
        nkeep = int(keep.sum())
        nscale = (out_ch if per_channel else 1) if bits <= 8 else 0
        if clusters > 0:
            book_raw = r.get(clusters, bits)
            idx = torch.from_numpy(r.get(nkeep, _index_bits(clusters)).astype(np.int64))
            scales = torch.from_numpy(r.get(nscale, 32).astype(np.uint32).view(np.float32).copy()) if nscale else None
            r.get(nscale, 32)
            book = _decode_values(book_raw, bits, scales[0] if scales is not None else None)
            vals = book[idx]
        else:
            raw = r.get(nkeep, bits)
            scales = torch.from_numpy(r.get(nscale, 32).astype(np.uint32).view(np.float32).copy()) if nscale else None
            r.get(nscale, 32)
            if scales is not None:
                per_value = scales.repeat_interleave(n // out_ch)[keep] if per_channel else scales[0]
            else:
                per_value = None
            vals = _decode_values(raw, bits, per_value)
        flat = torch.zeros(n)
        flat[keep] = vals
        entry = {"weight": flat.reshape(shape)}
        if L["bias"]:
            entry["bias"] = torch.from_numpy(r.get(out_ch, 32).astype(np.uint32).view(np.float32).copy())
        out[L["node"]] = entry
    return out


def load_into(model: GraphNet, packed: dict[int, dict[str, torch.Tensor]]) -> GraphNet:
    """Sets a float network's weights from an unpacked model (batch norms as scale and shift)."""
    with torch.no_grad():
        for i, entry in packed.items():
            m = model.weight_module(i)
            if "a" in entry:
                m.weight.copy_(entry["a"])
                m.bias.copy_(entry["b"])
                m.running_mean.zero_()
                m.running_var.fill_(1.0 - m.eps)
            else:
                raw_weight(m).copy_(entry["weight"])
                if "bias" in entry:
                    m.bias.copy_(entry["bias"])
    return model


__all__ = ["pack", "unpack", "load_into", "layer_payload", "module_name"]
