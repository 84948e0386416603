#!/usr/bin/env python3
"""Strategies through the real daemon: one `topiary serve`, table workers on a benchmark
table, one search per seed; scores the candidate each search's strategy recommends (what
`export --search` takes) by its true mean accuracy in the table.

    python3 bench/daemon_strategies.py [--config LABEL=STRATEGY[:k=v,...]]... [--seeds 10]
        [--budget 50] [--workers 2] [--space SearchSpaces/nas-bench-macro.yaml]
        [--csv ../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv] [--topiary PATH]

Unlike `topiary-bench strategies` (in-process, one trial at a time), trials here run on
`--workers` workers at once, the daemon draws ahead of the free slots, and results arrive
in whatever order the workers end: what a user of the daemon gets. The table must have the
columns `arch` (the space's benchmark key) and `mean_acc`.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from topiary_binary import topiary_binary  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_config(spec: str) -> tuple[str, str, str]:
    if "=" not in spec:
        sys.exit(f"error: --config {spec}: expected LABEL=STRATEGY[:key=value,...]")
    label, rest = spec.split("=", 1)
    strategy, _, options = rest.partition(":")
    if not label or not strategy:
        sys.exit(f"error: --config {spec}: name a label and a strategy")
    return label, strategy, options


def load_truth(path: str) -> dict[str, float]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"error: --csv {path}: {e.strerror}")
    if not rows or "arch" not in rows[0] or "mean_acc" not in rows[0]:
        sys.exit(f"error: --csv {path}: needs the columns arch and mean_acc")
    return {r["arch"]: float(r["mean_acc"]) for r in rows}


def run_config(topiary: str, label: str, strategy: str, options: str, args, truth: dict[str, float], port: int) -> list[float]:
    scores = []
    with tempfile.TemporaryDirectory(prefix=f"topiary-daemon-{label}-") as d:
        db = os.path.join(d, "t.db")
        ep, control = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}"
        procs = [subprocess.Popen([topiary, "serve", "--db", db, "--bind", ep, "--control", control, "--log-level", "error"],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "daemon.log"), "w"))]
        try:
            for i in range(args.workers):
                procs.append(subprocess.Popen([topiary, "worker", "--connect", ep, "--name", f"w{i}", "--slots", "1",
                                               "--trainer", f"table=table:{args.csv}", "--log-level", "error"],
                                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, f"w{i}.log"), "w")))
            for _ in range(100):
                if subprocess.run([topiary, "workers", "--control", control], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            for seed in range(args.seeds):
                cmd = [topiary, "search", "start", args.space, "--strategy", strategy, "--seed", str(seed),
                       "--budget", str(args.budget), "--control", control, "--follow"]
                if options:
                    cmd += ["--strategy-option", options]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit(f"error: {label} seed {seed}: search start failed:\n{r.stdout}{r.stderr}")
                sid = seed + 1
                out = subprocess.run([topiary, "leaderboard", "--db", db, "--search", str(sid), "--top", "1"],
                                     capture_output=True, text=True).stdout
                rec = next((line.split(":", 1)[1].split()[0] for line in out.splitlines()
                            if line.startswith(f"recommended by search {sid}'s strategy:")), None)
                if rec is None:  # no separate recommendation line: the top row is it
                    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
                    rec = rows[0][1]
                with sqlite3.connect(db) as c:
                    (cand,) = c.execute("select canonical_json from candidates where id = ?", (rec,)).fetchone()
                key = subprocess.run([topiary, "space", "encode", args.space, cand], capture_output=True, text=True).stdout.strip()
                if key not in truth:
                    sys.exit(f"error: {label} seed {seed}: recommended {rec} has key '{key}', not in {args.csv}")
                scores.append(truth[key])
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", action="append", default=[], help="LABEL=STRATEGY[:key=value,...] (repeatable)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--space", default=os.path.join(REPO, "SearchSpaces/nas-bench-macro.yaml"))
    ap.add_argument("--csv", default=os.path.normpath(os.path.join(REPO, "../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv")))
    ap.add_argument("--topiary")
    ap.add_argument("--port", type=int, default=27611)
    args = ap.parse_args()
    if args.seeds < 1 or args.budget < 1 or args.workers < 1:
        sys.exit("error: --seeds, --budget and --workers take positive integers")
    configs = [parse_config(c) for c in args.config] or [("random", "random", ""), ("bo", "bo", "")]
    topiary = topiary_binary(REPO, args.topiary)
    truth = load_truth(args.csv)
    print(f"through the daemon: {os.path.basename(args.space)}, {args.workers} table workers, budget {args.budget}, "
          f"{args.seeds} seeds; true mean_acc of the strategy's recommendation (optimum {max(truth.values()):.2f})")
    for i, (label, strategy, options) in enumerate(configs):
        t0 = time.time()
        s = run_config(topiary, label, strategy, options, args, truth, args.port + 2 * i)
        sd = statistics.stdev(s) / len(s) ** 0.5 if len(s) > 1 else 0.0
        print(f"  {label:<16} {statistics.mean(s):.3f} ± {sd:.3f}   (min {min(s):.2f}, {time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
