"""How much faster the reference trainer's steps run with the batch laid out channels-last
(engine.channels_last) than in PyTorch's usual layout, on this machine, one thread.

    ~/.cache/topiary/venv/bin/python bench/channels_last.py [--steps 10] [--rounds 3] [--batch 128]

For each trainer test fixture's network (Workers/pytorch/fixtures: fashion, NAS-Bench-201,
NAS-Bench-Macro, MobileNetV3 spaces), timed training steps (forward, backward, AdamW) on the
same random batch in both layouts, alternating in rounds so that a shared machine's load falls
on both alike; per network the min and median seconds per step and the ratio usual /
channels-last (above 1: channels-last is faster). Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "Workers" / "pytorch"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import engine  # noqa: E402
from graph_model import GraphNet  # noqa: E402
from testkit import load_fixture  # noqa: E402

FIXTURES = ["fashion-fused-0", "fashion-fused-1", "fashion-mobilenet-0", "fashion-mobilenet-1", "nas-bench-201-0",
            "nas-bench-macro-0", "mobilenetv3-imagenet-0"]


def seconds_per_step(model, x, y, steps: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    model.train()
    for i in range(steps + 2):          # two warm-up steps (allocation, kernel choice)
        if i == 2:
            t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--fixtures", default=",".join(FIXTURES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in args.fixtures.split(","):
        graph = load_fixture(name)["graph"]
        c, h, w = graph["input"]
        batch = args.batch if h * w <= 32 * 32 else max(2, args.batch // 16)   # 224 px: a smaller batch
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(batch, c, h, w, generator=gen)
        with torch.no_grad():
            classes = GraphNet(graph).eval()(x[:2]).shape[-1]
        y = torch.randint(0, classes, (batch,), generator=gen)
        times = {"usual": [], "channels_last": []}
        for _ in range(args.rounds):
            for layout in times:
                torch.manual_seed(0)
                model = GraphNet(graph)
                xb = engine.channels_last(x) if layout == "channels_last" else x.contiguous()
                times[layout].append(seconds_per_step(model, xb, y, args.steps))
        row = {"network": name, "input": [c, h, w], "batch": batch}
        for layout, ts in times.items():
            row[layout] = {"min_ms": round(1000 * min(ts), 2), "median_ms": round(1000 * statistics.median(ts), 2)}
        row["speedup_min"] = round(min(times["usual"]) / min(times["channels_last"]), 3)
        row["speedup_median"] = round(statistics.median(times["usual"]) / statistics.median(times["channels_last"]), 3)
        rows.append(row)
        print(f"{name:24s} {c}x{h}x{w} batch {batch:3d}: usual {row['usual']['median_ms']:8.2f} ms/step, "
              f"channels-last {row['channels_last']['median_ms']:8.2f} ms/step (median of {args.rounds}); "
              f"speed-up {row['speedup_median']:.2f}x (min {row['speedup_min']:.2f}x)", flush=True)
    print(json.dumps({"threads": 1, "torch": torch.__version__, "networks": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
