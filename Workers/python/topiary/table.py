"""The built-in `table` trainer (`--trainer NAME=table:PATH.csv`): a benchmark table's row
for the job's `benchmark_key` instead of training. With repeated runs (`*_run1`, …)
`accuracy` is one of them drawn with the job's seed — the same draw as the Swift worker
(SplitMix64, Lemire's bounded integers) — and `accuracy_mean` their mean."""
from __future__ import annotations

import re
from typing import Dict, List, Optional

MASK = (1 << 64) - 1


class SeededGenerator:
    def __init__(self, seed: int):
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def index(self, n: int) -> int:
        m = self.next() * n
        if (m & MASK) < n:
            threshold = ((1 << 64) - n) % n
            while (m & MASK) < threshold:
                m = self.next() * n
        return m >> 64


class TableError(ValueError):
    pass


class Table:
    def __init__(self, path: str):
        self.path = path
        try:
            lines = [l for l in open(path, encoding="utf-8").read().splitlines() if l.strip()]
        except OSError as e:
            raise TableError(f"{path}: cannot read the table ({e.strerror})") from None
        if not lines:
            raise TableError(f"{path}: the table is empty")
        names = [n.strip() for n in lines[0].split(",")]
        if len(names) < 2:
            raise TableError(f"{path}:1: expected a key column and at least one metric")
        self.columns = names[1:]
        self.rows: Dict[str, List[float]] = {}
        for n, line in enumerate(lines[1:], 2):
            f = line.split(",")
            if len(f) != len(names):
                raise TableError(f"{path}:{n}: {len(f)} fields, expected {len(names)}")
            try:
                self.rows[f[0]] = [float(v) for v in f[1:]]
            except ValueError:
                raise TableError(f"{path}:{n}: a value is not a number") from None
        self.runs = [i for i, c in enumerate(self.columns) if re.search(r"_run\d+$", c)]

    def evaluate(self, key: str, seed: int) -> Optional[Dict[str, float]]:
        values = self.rows.get(key)
        if values is None:
            return None
        m = {c: values[i] for i, c in enumerate(self.columns) if i not in self.runs}
        if self.runs:
            m["accuracy"] = values[self.runs[SeededGenerator(seed).index(len(self.runs))]]
            if "mean_acc" in m:
                m["accuracy_mean"] = m["mean_acc"]
        elif "accuracy" not in m and "mean_acc" in m:
            m["accuracy"] = m["mean_acc"]
        return m
