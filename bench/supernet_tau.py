#!/usr/bin/env python3
"""How well does a supernet rank candidates? Kendall's tau between accuracy by inheritance and
accuracy trained stand-alone, on candidates the supernet never saw in its pool.

    python bench/supernet_tau.py --checkpoint supernet.pt --count 30 --jobs 2 --out tau.json

Draws `--count` candidates of the space (`topiary space sample`, seed `--seed`; compression off
unless `--with-compression`), and for each runs the reference trainer (Workers/pytorch/trainer.py,
the program a worker runs) twice: once inheriting the supernet's weights (epochs 0: batch norm
recalibrated, nothing trained), once from scratch at `--standalone` fidelity. Prints tau and
Spearman's rho for inheritance and for the zero-cost baselines a user has without a supernet
(parameters, MACs) and, with `--proxy`, for the short training a search without a supernet would
rank by, all against the stand-alone accuracy, and the time each evaluation took.
Results are kept in `--out` as they come, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from topiary_binary import topiary_binary  # noqa: E402

NO_COMPRESSION = {"distillation": {"enabled": False}, "low_rank": {"rank_ratio": 1.0}, "pruning": {"method": "none"},
                  "quantization": {"weight_bits": 32, "activation_bits": 32}, "weight_sharing": {"clusters": 0}}


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b (ties in either list counted as neither concordant nor discordant)."""
    n, conc, disc, ta, tb = len(a), 0, 0, 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            x, y = a[i] - a[j], b[i] - b[j]
            if x == 0 and y == 0:
                continue
            if x == 0:
                ta += 1
            elif y == 0:
                tb += 1
            elif (x > 0) == (y > 0):
                conc += 1
            else:
                disc += 1
    denom = ((conc + disc + ta) * (conc + disc + tb)) ** 0.5
    return (conc - disc) / denom if denom else 0.0


def ranks(v: list[float]) -> list[float]:
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va, vb = sum((x - ma) ** 2 for x in ra) ** 0.5, sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else 0.0


def run_trainer(python: str, job: dict) -> dict:
    with tempfile.TemporaryDirectory() as d:
        job = dict(job, output_dir=d)
        path = Path(d) / "job.json"
        path.write_text(json.dumps(job))
        env = dict(os.environ, TOPIARY_JOB=str(path), TOPIARY_THREADS="1", OMP_NUM_THREADS="1")
        t = time.monotonic()
        p = subprocess.run([python, str(REPO / "Workers/pytorch/trainer.py")], env=env, capture_output=True, text=True)
        seconds = time.monotonic() - t
    result = None
    for line in p.stdout.splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(e, dict) and e.get("event") == "result":
            result = e
    if p.returncode != 0 or result is None:
        raise RuntimeError(f"trainer failed (rc {p.returncode}): {p.stderr[-1500:]}")
    m = result["metrics"]
    return {"accuracy": m["accuracy"], "test_accuracy": m.get("test_accuracy"), "seconds": round(seconds, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="the supernet checkpoint (supernet.pt; `topiary artifacts list --json` gives its path)")
    ap.add_argument("--space", default="SearchSpaces/fashion-mobilenet.yaml")
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--seed", type=int, default=100, help="the candidates' seed (pick one the supernet's pool did not use)")
    ap.add_argument("--standalone", default="epochs=2,data_fraction=0.5", help="fidelity of the stand-alone training, KEY=VALUE,...")
    ap.add_argument("--proxy", default="", help="also train each candidate at this low fidelity (what a search without a supernet "
                                                "ranks by, e.g. epochs=1,data_fraction=0.1) and rank by it")
    ap.add_argument("--eval", default="", help="extra fidelity of both evaluations, KEY=VALUE,... (e.g. val_fraction=1)")
    ap.add_argument("--with-compression", action="store_true", help="keep the sampled compression settings")
    ap.add_argument("--jobs", type=int, default=2, help="trainer processes at once (one thread each)")
    ap.add_argument("--python", default=os.environ.get("TOPIARY_VENV", os.path.expanduser("~/.cache/topiary/venv")) + "/bin/python")
    ap.add_argument("--topiary", help="the topiary binary (default: the newest build)")
    ap.add_argument("--out", required=True, help="results JSON (resumed when it exists)")
    a = ap.parse_args()
    cli = topiary_binary(str(REPO), a.topiary)

    def fid(text: str) -> dict:
        out = {}
        for kv in filter(None, text.split(",")):
            k, v = kv.split("=", 1)
            out[k] = json.loads(v)
        return out

    lines = subprocess.run([cli, "space", "sample", a.space, "--json", "--count", str(a.count), "--seed", str(a.seed)],
                           capture_output=True, text=True, check=True, cwd=REPO).stdout.splitlines()
    cands = [json.loads(line) for line in lines]
    if not a.with_compression:
        for c in cands:
            c["compression"] = NO_COMPRESSION
    out_path = Path(a.out)
    done = json.loads(out_path.read_text()) if out_path.exists() else {}

    def graph(c: dict, uncompressed: bool) -> dict:
        args = [cli, "candidate", "graph", "-", "--space", a.space] + (["--uncompressed"] if uncompressed else [])
        return json.loads(subprocess.run(args, input=json.dumps(c), capture_output=True, text=True, check=True, cwd=REPO).stdout)

    def cost(c: dict) -> dict:
        return json.loads(subprocess.run([cli, "candidate", "cost", "-", "--space", a.space, "--json"], input=json.dumps(c),
                                         capture_output=True, text=True, check=True, cwd=REPO).stdout)

    def evaluate(k: int, mode: str) -> None:
        key = f"{k}:{mode}"
        if key in done:
            return
        c = cands[k]
        job = {"trial": k + 1, "attempt": 1, "search": 1, "kind": "train", "trainer": "pytorch", "candidate": c,
               "graph": graph(c, False), "graph_uncompressed": graph(c, True), "seed": 1000 + k, "deadline_ms": 3_600_000}
        if mode == "inherited":
            job["fidelity"] = dict(fid(a.eval), epochs=0)
            job["artifact_paths"] = {"supernet": os.path.abspath(a.checkpoint)}
        elif mode == "proxy":
            job["fidelity"] = dict(fid(a.eval), **fid(a.proxy))
        else:
            job["fidelity"] = dict(fid(a.eval), **fid(a.standalone))
        r = run_trainer(a.python, job)
        r.update(cost(c))
        done[key] = r
        out_path.write_text(json.dumps(done, indent=1))
        print(f"{key}: {r['accuracy']:.2f}% in {r['seconds']:.1f} s", flush=True)

    modes = ("inherited", "standalone") + (("proxy",) if a.proxy else ())
    work = [(k, m) for m in modes for k in range(len(cands))]
    with ThreadPoolExecutor(a.jobs) as pool:
        for f in [pool.submit(evaluate, k, m) for k, m in work]:
            f.result()

    ks = [k for k in range(len(cands)) if all(f"{k}:{m}" in done for m in modes)]
    sa = [done[f"{k}:standalone"]["accuracy"] for k in ks]
    rows = {
        "inherited accuracy": [done[f"{k}:inherited"]["accuracy"] for k in ks],
        **({f"trained at {a.proxy} (baseline)": [done[f"{k}:proxy"]["accuracy"] for k in ks]} if a.proxy else {}),
        "parameters (baseline)": [done[f"{k}:standalone"]["params"] for k in ks],
        "MACs (baseline)": [done[f"{k}:standalone"]["macs"] for k in ks],
    }
    print(f"\n{len(ks)} candidates of {a.space} (seed {a.seed}{', compressed' if a.with_compression else ', compression off'}); "
          f"stand-alone: {a.standalone}; supernet {a.checkpoint}")
    print(f"stand-alone accuracy {min(sa):.2f}-{max(sa):.2f}%, median {sorted(sa)[len(sa) // 2]:.2f}%, median seconds "
          f"{sorted(done[f'{k}:standalone']['seconds'] for k in ks)[len(ks) // 2]:.1f}")
    width = max(len(n) for n in rows)
    print(f"{'ranking by':<{width}} {'Kendall tau':>11} {'Spearman':>9} {'median s':>9}")
    for (name, v), mode in zip(rows.items(), ["inherited"] + (["proxy"] if a.proxy else []) + [None, None]):
        secs = f"{sorted(done[f'{k}:{mode}']['seconds'] for k in ks)[len(ks) // 2]:.1f}" if mode else "0"
        print(f"{name:<{width}} {kendall_tau(v, sa):>11.3f} {spearman(v, sa):>9.3f} {secs:>9}")
    # Does the best by inheritance come near the best stand-alone?
    best_inh = max(ks, key=lambda k: done[f"{k}:inherited"]["accuracy"])
    print(f"best by inheritance: candidate {best_inh}, {done[f'{best_inh}:standalone']['accuracy']:.2f}% stand-alone "
          f"(best stand-alone {max(sa):.2f}%, rank {sorted(sa, reverse=True).index(done[f'{best_inh}:standalone']['accuracy']) + 1} of {len(ks)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
