"""Optuna baselines for `topiary-bench strategies`: the same table, budgets, seeds and noise.

    python bench/optuna_baseline.py [--csv ../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv]
                                    [--seeds 30] [--budgets 25,50,100,200]
                                    [--samplers random,tpe,nsga2] [--rows-only]
    python bench/optuna_baseline.py --landscape FILE.json [--seeds 30] [--budgets ...] [--samplers tpe] [--raw]

Install: python3 -m venv ~/.cache/topiary/bench-venv && ~/.cache/topiary/bench-venv/bin/pip install -r bench/requirements.txt

The protocol mirrors bench/Sources/topiary-bench/StrategyBench.swift exactly:

- The space is NAS-Bench-Macro: eight categorical parameters (`s1.b1.op` ... `s3.b3.op`) with the
  choices identity, mb_e3_k3, mb_e6_k5; an architecture's key is its eight choice indices.
- Noise: the k-th evaluation (k = 0, 1, ...) of architecture `a` in seed `s` observes
  `test_acc_run{i+1}` with i = splitmix64(s * 0x9E3779B97F4A7C15 ^ index(a) * 0xD1B54A32D192ED03 ^ k) % 3,
  where index(a) reads the key in base 3. A sampler that proposes an architecture again pays for a
  new evaluation and sees a fresh draw.
- Single objective (maximize accuracy): after b evaluations the returned architecture is the trial
  with the best observed accuracy (what `study.best_trial` gives); it is scored by its true `mean_acc`.
- Two objectives (maximize accuracy, minimize flops): after b evaluations the returned set is the
  non-dominated set of the observed (accuracy, flops) pairs; it is scored by the hypervolume of its
  true (mean_acc, flops) points against the reference point (85 % accuracy, 110 MFLOPs), divided by
  the hypervolume of the table's true Pareto front (so 1.0 is the best possible).
- `--landscape FILE.json` (written by `topiary-bench suite`, see bench/Sources/topiary-bench/Landscape.swift):
  a synthetic landscape over a space's dimensions instead of the table, searched define-by-run
  (a dimension is suggested only when its condition holds, as Topiary drops inactive ones); the
  k-th evaluation observes the value plus noise drawn from (seed, key, k) exactly as Swift does;
  one objective. The file's check values are verified before anything runs.
- `--raw` prints one line per (sampler, seed, budget): `raw SAMPLER SEED BUDGET TRUE_VALUE`.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import time

import optuna

from landscape import MASK, Landscape, noise_draw, splitmix64

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CSV = os.path.join(REPO, "..", "shared", "benchmarks", "nas-bench-macro", "nas-bench-macro-cifar10.csv")
OPS = ["identity", "mb_e3_k3", "mb_e6_k5"]
LAYERS = ["s1.b1.op", "s1.b2.op", "s2.b1.op", "s2.b2.op", "s2.b3.op", "s3.b1.op", "s3.b2.op", "s3.b3.op"]
REF_ACC = 85.0
REF_FLOPS = 110e6


def run_index(seed: int, arch: str, k: int) -> int:
    state = ((seed * 0x9E3779B97F4A7C15) & MASK) ^ ((int(arch, 3) * 0xD1B54A32D192ED03) & MASK) ^ k
    return splitmix64(state) % 3


class Table:
    def __init__(self, path: str) -> None:
        self.runs: dict[str, list[float]] = {}
        self.mean: dict[str, float] = {}
        self.flops: dict[str, int] = {}
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                a = row["arch"]
                self.runs[a] = [float(row[f"test_acc_run{i}"]) for i in (1, 2, 3)]
                self.mean[a] = float(row["mean_acc"])
                self.flops[a] = int(row["flops"])
        if len(self.runs) != 6561:
            sys.exit(f"error: {path} has {len(self.runs)} architectures; NAS-Bench-Macro has 6,561")
        self.best_hv = hypervolume([(self.mean[a], self.flops[a]) for a in self.runs])


def hypervolume(points: list[tuple[float, float]]) -> float:
    """Area dominated by (accuracy up, flops down) points and bounded by the reference point."""
    pts = sorted((f, a) for a, f in points if a > REF_ACC and f < REF_FLOPS)
    area, best_acc = 0.0, REF_ACC
    # Sweep flops from low to high; each point adds the strip above the best accuracy so far.
    for i, (f, a) in enumerate(pts):
        if a > best_acc:
            best_acc = a
        nxt = pts[i + 1][0] if i + 1 < len(pts) else REF_FLOPS
        area += (best_acc - REF_ACC) * (nxt - f) / 1e6
    return area


def front(observed: list[tuple[str, float]], table: Table) -> list[str]:
    """Archs whose observed (accuracy, flops) no other observation dominates."""
    out = []
    for a, acc in observed:
        f = table.flops[a]
        if not any((acc2 >= acc and table.flops[b] <= f) and (acc2 > acc or table.flops[b] < f) for b, acc2 in observed):
            out.append(a)
    return out


def run_landscape_study(land: Landscape, sampler: str, seed: int, budget: int) -> list[tuple[str, float, float]]:
    """The ordered (key, observed, true value) of one study on a landscape."""
    counts: dict[str, int] = {}
    history: list[tuple[str, float, float]] = []

    def objective(trial: optuna.Trial) -> float:
        x: list = []
        for d in land.dims:
            if land.active(d, x):
                x.append(d["labels"].index(trial.suggest_categorical(d["name"], d["labels"])))
            else:
                x.append(None)
        key = Landscape.key(x)
        k = counts.get(key, 0)
        counts[key] = k + 1
        true = land.value(x)
        observed = true + land.noise_sd * noise_draw(seed, key, k)
        history.append((key, observed, true))
        return observed

    study = optuna.create_study(direction="maximize", sampler=make_sampler(sampler, seed))
    study.optimize(objective, n_trials=budget)
    return history


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe-mv":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, warn_independent_sampling=False)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise SystemExit(f"error: unknown sampler '{name}'; use random, tpe, tpe-mv or nsga2")


def run_study(table: Table, sampler: str, seed: int, budget: int, objectives: int) -> list[tuple[str, float]]:
    """The ordered (arch, observed accuracy) of one study."""
    counts: dict[str, int] = {}
    history: list[tuple[str, float]] = []

    def objective(trial: optuna.Trial):
        arch = "".join(str(OPS.index(trial.suggest_categorical(name, OPS))) for name in LAYERS)
        k = counts.get(arch, 0)
        counts[arch] = k + 1
        acc = table.runs[arch][run_index(seed, arch, k)]
        history.append((arch, acc))
        return acc if objectives == 1 else (acc, float(table.flops[arch]))

    directions = ["maximize"] if objectives == 1 else ["maximize", "minimize"]
    study = optuna.create_study(directions=directions, sampler=make_sampler(sampler, seed))
    study.optimize(objective, n_trials=budget)
    return history


def fmt(values: list[float], digits: int) -> str:
    m = statistics.fmean(values)
    s = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--csv", default=DEFAULT_CSV)
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--budgets", default="25,50,100,200")
    p.add_argument("--samplers", default="random,tpe,nsga2")
    p.add_argument("--rows-only", action="store_true", help="print table rows only (topiary-bench merges them)")
    p.add_argument("--landscape", help="a synthetic landscape JSON from `topiary-bench suite` instead of the table")
    p.add_argument("--objectives", type=int, choices=(1, 2), default=2, help="1: the single-objective studies only")
    p.add_argument("--raw", action="store_true", help="per-seed lines: raw SAMPLER SEED BUDGET TRUE_VALUE")
    args = p.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    if not budgets or min(budgets) < 1:
        sys.exit("error: --budgets takes positive integers, e.g. 25,50,100,200")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = [s for s in args.samplers.split(",") if s]
    if args.landscape:
        land = Landscape(args.landscape)
        for name in samplers:
            acc_at = {b: [] for b in budgets}
            for seed in range(args.seeds):
                hist = run_landscape_study(land, name, seed, max(budgets))
                for b in budgets:
                    best = max(hist[:b], key=lambda h: h[1])
                    acc_at[b].append(best[2])
                    if args.raw:
                        print(f"raw {name} {seed} {b} {best[2]!r}", flush=True)
            if not args.raw:
                print("acc " + f"optuna-{name}".ljust(22) + "".join(fmt(acc_at[b], 3).rjust(16) for b in budgets))
        return
    table = Table(args.csv)
    if not args.rows_only:
        print(f"optuna {optuna.__version__}: {args.seeds} seeds, budgets {budgets}")
    single_rows, multi_rows = [], []
    for name in samplers:
        t0 = time.perf_counter()
        acc_at = {b: [] for b in budgets}
        hv_at = {b: [] for b in budgets}
        for seed in range(args.seeds):
            hist = run_study(table, name, seed, max(budgets), 1)
            for b in budgets:
                best = max(hist[:b], key=lambda h: h[1])[0]
                acc_at[b].append(table.mean[best])
                if args.raw:
                    print(f"raw {name} {seed} {b} {table.mean[best]!r}", flush=True)
            if args.objectives == 1:
                continue
            hist2 = run_study(table, name, seed, max(budgets), 2)
            for b in budgets:
                pts = [(table.mean[a], table.flops[a]) for a in front(hist2[:b], table)]
                hv_at[b].append(hypervolume(pts) / table.best_hv)
        secs = time.perf_counter() - t0
        label = f"optuna-{name}"
        single_rows.append("acc " + label.ljust(22) + "".join(fmt(acc_at[b], 2).rjust(16) for b in budgets) + f"   ({secs:.0f} s both modes)")
        if args.objectives == 2:
            multi_rows.append("hv  " + label.ljust(22) + "".join(fmt(hv_at[b], 4).rjust(16) for b in budgets))
    if args.raw:
        return
    for row in single_rows + multi_rows:
        print(row, flush=True)


if __name__ == "__main__":
    main()
