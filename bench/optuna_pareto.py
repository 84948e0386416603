"""Optuna's multi-objective samplers for `topiary-bench pareto-suite`: the same benchmarks, budgets, seeds and noise.

    python bench/optuna_pareto.py --landscape FILE-pareto.json [--seeds 30] [--budgets 25,50,100,200] [--samplers tpe,nsga2]
    python bench/optuna_pareto.py --csv ../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv [...]

Two objectives: maximize accuracy (observed with noise exactly as Swift draws it), minimize cost
(exact). `--landscape` reads a file written by `topiary-bench pareto-suite`
(SyntheticTradeOff in Swift, read by bench/landscape.py): an accuracy landscape, an independent cost
landscape and the constants that combine them; the parameters are suggested define-by-run, as
in bench/optuna_baseline.py. `--csv` is NAS-Bench-Macro (accuracy, MFLOPs).

After b trials the returned set is `study.best_trials` as of then: the trials whose observed
(accuracy, cost) no other observed trial dominates. Its hypervolume is computed on the true
(accuracy, cost) points against the reference point and printed unnormalized, one line per
(sampler, seed, budget): `raw SAMPLER SEED BUDGET HYPERVOLUME`; the Swift side divides by its
normalizer.
"""

from __future__ import annotations

import argparse
import sys

import optuna

from landscape import Landscape, TradeOff, noise_draw
from optuna_baseline import LAYERS, OPS, REF_ACC, REF_FLOPS, Table, make_sampler, run_index


def hypervolume(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by (accuracy up, cost down) points and bounded by the reference point."""
    pts = sorted((c, a) for a, c in points if a > ref[0] and c < ref[1])
    area, best = 0.0, ref[0]
    for i, (c, a) in enumerate(pts):
        best = max(best, a)
        nxt = pts[i + 1][0] if i + 1 < len(pts) else ref[1]
        area += (best - ref[0]) * (nxt - c)
    return area


def observed_front(history: list[tuple[float, float, float]]) -> list[tuple[float, float]]:
    """True (accuracy, cost) of the trials whose observed (accuracy, cost) no other dominates."""
    out = []
    for obs, cost, true in history:
        if not any(o2 >= obs and c2 <= cost and (o2 > obs or c2 < cost) for o2, c2, _ in history):
            out.append((true, cost))
    return out


def landscape_study(land: TradeOff, sampler: str, seed: int, budget: int) -> list[tuple[float, float, float]]:
    """The ordered (observed accuracy, cost, true accuracy) of one two-objective study."""
    counts: dict[str, int] = {}
    history: list[tuple[float, float, float]] = []

    def objective(trial: optuna.Trial):
        x: list = []
        for d in land.acc.dims:
            x.append(d["labels"].index(trial.suggest_categorical(d["name"], d["labels"])) if land.acc.active(d, x) else None)
        key = Landscape.key(x)
        k = counts.get(key, 0)
        counts[key] = k + 1
        true = land.acc.value(x)
        observed = true + land.acc.noise_sd * noise_draw(seed, key, k)
        cost = land.cost(x)
        history.append((observed, cost, true))
        return observed, cost

    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(sampler, seed))
    study.optimize(objective, n_trials=budget)
    return history


def table_study(table: Table, sampler: str, seed: int, budget: int) -> list[tuple[float, float, float]]:
    counts: dict[str, int] = {}
    history: list[tuple[float, float, float]] = []

    def objective(trial: optuna.Trial):
        arch = "".join(str(OPS.index(trial.suggest_categorical(name, OPS))) for name in LAYERS)
        k = counts.get(arch, 0)
        counts[arch] = k + 1
        acc = table.runs[arch][run_index(seed, arch, k)]
        cost = table.flops[arch] / 1e6
        history.append((acc, cost, table.mean[arch]))
        return acc, cost

    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(sampler, seed))
    study.optimize(objective, n_trials=budget)
    return history


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--landscape", help="a -pareto.json file from `topiary-bench pareto-suite`")
    src.add_argument("--csv", help="the NAS-Bench-Macro table")
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--budgets", default="25,50,100,200")
    p.add_argument("--samplers", default="tpe,nsga2")
    args = p.parse_args()
    try:
        budgets = sorted(int(b) for b in args.budgets.split(","))
    except ValueError:
        sys.exit(f"error: --budgets takes positive integers, e.g. 25,50,100,200 (got {args.budgets!r})")
    if not budgets or budgets[0] < 1:
        sys.exit("error: --budgets takes positive integers, e.g. 25,50,100,200")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.landscape:
        land = TradeOff(args.landscape)
        study, ref = (lambda s, seed, b: landscape_study(land, s, seed, b)), land.ref
    else:
        table = Table(args.csv)
        study, ref = (lambda s, seed, b: table_study(table, s, seed, b)), (REF_ACC, REF_FLOPS / 1e6)
    for name in [s for s in args.samplers.split(",") if s]:
        for seed in range(args.seeds):
            hist = study(name, seed, budgets[-1])
            for b in budgets:
                print(f"raw {name} {seed} {b} {hypervolume(observed_front(hist[:b]), ref)!r}", flush=True)


if __name__ == "__main__":
    main()
