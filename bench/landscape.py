"""Synthetic landscapes written by `topiary-bench suite` (SyntheticLandscape in Swift), read and
evaluated exactly as Swift does, so Optuna can be run on the same benchmark (bench/optuna_baseline.py)."""

from __future__ import annotations

import json
import math

MASK = (1 << 64) - 1


def splitmix64(state: int) -> int:
    """One output of SplitMix64 after one step from `state`."""
    z = (state + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a64(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def noise_draw(seed: int, key: str, k: int) -> float:
    """A standard normal draw from (seed, key, k): Landscape.noiseDraw in Swift."""
    state = ((seed * 0x9E3779B97F4A7C15) & MASK) ^ ((fnv1a64(key) * 0xD1B54A32D192ED03) & MASK) ^ k
    u1 = ((splitmix64(state) >> 11) + 0.5) * 2.0**-53
    u2 = (splitmix64(state ^ 0x5851F42D4C957F2D) >> 11) * 2.0**-53
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


class Landscape:
    """A synthetic landscape written by `topiary-bench suite`."""

    def __init__(self, path: str, data: dict | None = None) -> None:
        """Read the landscape from `path`, or from `data` (a landscape embedded in another file, `path` naming it in errors)."""
        if data is None:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        d = data
        self.dims = d["dims"]
        self.offset = d["offset"]
        self.noise_sd = d["noise_sd"]
        self.additive = d["additive"]
        self.pairs = d["pairs"]
        for c in d["checks"]:
            x = [None if v == "-" else int(v) for v in c["key"].split(",")]
            if abs(self.value(x) - c["value"]) > 1e-9 or abs(noise_draw(3, c["key"], 1) - c["noise_s3_k1"]) > 1e-9:
                raise ValueError(f"{path}: check value of {c['key']} differs; the landscape was written by another version")

    def value(self, x: list) -> float:
        s = self.offset
        for d, v in enumerate(x):
            s += self.additive[d][len(self.dims[d]["labels"]) if v is None else v]
        for p in self.pairs:
            i, j = p["i"], p["j"]
            a = len(self.dims[i]["labels"]) if x[i] is None else x[i]
            b = len(self.dims[j]["labels"]) if x[j] is None else x[j]
            s += p["table"][a][b]
        return s

    def active(self, d: dict, x: list) -> bool:
        cond = d.get("active_if_any")
        if cond is None:
            return True
        return any(c["when_absent"] if x[c["dim"]] is None else x[c["dim"]] in c["allowed"] for c in cond)

    @staticmethod
    def key(x: list) -> str:
        return ",".join("-" if v is None else str(v) for v in x)


class TradeOff:
    """An accuracy landscape and the cost paired with it (SyntheticTradeOff in Swift), from a
    `-pareto.json` file written by `topiary-bench pareto-suite`."""

    def __init__(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        self.acc = Landscape(path, d["accuracy"])
        self.other = Landscape(path, d["cost_other"])
        self.rho, self.log_sd = d["correlation"], d["log_sd"]
        self.center, self.scale = d["center"], d["scale"]
        self.ref = tuple(d["reference"])
        for c in d["checks"]:
            x = [None if v == "-" else int(v) for v in c["key"].split(",")]
            if abs(self.cost(x) - c["cost"]) > 1e-9 * max(1.0, c["cost"]):
                raise ValueError(f"{path}: the cost of {c['key']} differs; the file was written by another version")

    def cost(self, x: list) -> float:
        za = (self.acc.value(x) - self.center) / self.scale
        zo = (self.other.value(x) - self.center) / self.scale
        return math.exp(self.log_sd * (self.rho * za + math.sqrt(1 - self.rho**2) * zo))
