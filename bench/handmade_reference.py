"""The hand-made baseline of the main job: a network anyone would write for Fashion-MNIST
without a search, trained by the same recipe (Workers/pytorch/engine.py: AdamW, warm-up and
cosine decay, the same batch size and learning rate) for the same minutes, on one thread,
then converted to int8 TFLite and tested like the main job's finalists.

    ~/.cache/topiary/venv/bin/python bench/handmade_reference.py --minutes 12 [--net plain|plain-wide|mobile] [--epochs 30]

`plain` (default): four 3x3 convolutions with batch norm and ReLU (24, 24/2, 48, 48/2),
global average pooling and a linear classifier — 37K parameters, under the main job's 50K.
`plain-wide`: the same at 32/64 (66K). `mobile`: MobileNetV2-style inverted residuals (65K),
the reference the issue's first figure used. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "Workers" / "pytorch"))


def build(name: str):
    from torch import nn

    def cbr(i: int, o: int, stride: int = 1, groups: int = 1, k: int = 3, act: bool = True) -> list:
        return [nn.Conv2d(i, o, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(o)] + ([nn.ReLU()] if act else [])

    if name in ("plain", "plain-wide"):
        a, b = (24, 48) if name == "plain" else (32, 64)
        return nn.Sequential(*cbr(1, a), *cbr(a, a, 2), *cbr(a, b), *cbr(b, b, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(b, 10))

    class Inverted(nn.Module):
        def __init__(self, i: int, o: int, stride: int, t: int = 4):
            super().__init__()
            h = i * t
            self.body = nn.Sequential(*cbr(i, h, k=1), *cbr(h, h, stride, groups=h), *cbr(h, o, k=1, act=False))
            self.res = stride == 1 and i == o

        def forward(self, x):
            y = self.body(x)
            return x + y if self.res else y

    return nn.Sequential(*cbr(1, 16), Inverted(16, 24, 2), Inverted(24, 24, 1), Inverted(24, 40, 2), Inverted(40, 40, 1),
                         Inverted(40, 64, 2), *cbr(64, 128, k=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", choices=["plain", "plain-wide", "mobile"], default="plain")
    ap.add_argument("--minutes", type=float, default=12.0, help="training budget (the schedule is fitted to it)")
    ap.add_argument("--epochs", type=int, default=30, help="most epochs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch

    import data
    import engine
    import tflite_export

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    shape = (1, 28, 28)
    net = build(a.net)
    ds = data.load()
    start = time.monotonic()
    log = []

    def epoch_end(epoch: int, loss: float, seconds: float) -> bool:
        engine.recalibrate_bn(net, ds.train, shape)
        _, acc = engine.evaluate(net, ds.val, shape)
        log.append({"epoch": epoch, "loss": round(loss, 4), "val": round(acc, 2), "seconds": round(seconds, 1)})
        print(f"epoch {epoch}: loss {loss:.4f}, validation {acc:.2f}% ({seconds:.1f} s)", file=sys.stderr, flush=True)
        return True

    done = engine.train(net, ds.train, shape, engine.Schedule(epochs=a.epochs), seed=a.seed, epoch_end=epoch_end,
                        budget_s=a.minutes * 60.0)
    train_s = time.monotonic() - start
    _, val = engine.evaluate(net, ds.val, shape)
    _, test = engine.evaluate(net, ds.test, shape)
    out = {"net": a.net, "params": sum(p.numel() for p in net.parameters()), "epochs": done, "train_minutes": round(train_s / 60, 2),
           "val_accuracy": round(val, 2), "test_accuracy": round(test, 2), "threads": a.threads}
    if tflite_export.available() is None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "model_int8.tflite"
            tflite_export.convert_int8(net.eval(), shape, data.adapt(ds.train.images[:256], shape).contiguous(), path)
            out["int8_tflite_test_accuracy"] = round(tflite_export.accuracy(tflite_export.Runner(path), ds.test.images.contiguous(), ds.test.labels), 2)
    out["epoch_log"] = log
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
