"""The distillation teacher: one fixed network, trained once and cached on disk.

A small VGG-style network (three 3x3 conv-BN-ReLU stages with max pooling, 32/64/128
channels, then a 256-unit hidden layer: 0.39M parameters, about 91-92% validation accuracy
after a few epochs) trained on the raw 1x28x28 images of the training split. Its logits for
all 60,000 training images are cached with it, so a student's distillation costs no teacher
forward passes. The cache key names the data set, the teacher's version, its epochs and its
data fraction; a lock file keeps two trainers from training the same teacher at once.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

import data
import engine

VERSION = 1
SHAPE = (1, 28, 28)


def teacher_net() -> nn.Module:
    def block(i: int, o: int) -> list[nn.Module]:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    return nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 128), nn.Flatten(),
                         nn.Linear(128 * 3 * 3, 256), nn.ReLU(inplace=True), nn.Dropout(0.25), nn.Linear(256, 10))


def cache_dir() -> Path:
    base = os.environ.get("TOPIARY_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "topiary")
    return Path(base) / "teachers"


def cache_key(epochs: int, data_fraction: float) -> str:
    return f"fashion-mnist-{'x'.join(map(str, SHAPE))}-vggxs-v{VERSION}-e{epochs}-f{data_fraction:g}"


def get_teacher(epochs: int, data_fraction: float = 1.0, indices: torch.Tensor | None = None,
                log: Callable[[str], None] = print, preset: str | None = None,
                device: torch.device | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """(logits for the 60,000 training images, info). Trains and caches the teacher on first
    use; logits are computed for the images in `indices` (all when None) when the cache does
    not have them yet, and cached too (rows not computed are NaN). `preset`: a teacher file
    sent with the job (`search start --artifact teacher=SHA256`, a cached teacher of these
    epochs and data fraction from another machine) is taken instead of training one here.
    `device`: where a teacher that must be trained trains (engine.train)."""
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    key = cache_key(epochs, data_fraction)
    path = d / f"{key}.pt"
    info: dict[str, Any] = {"path": str(path), "epochs": epochs, "data_fraction": data_fraction}
    with open(d / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if preset and not path.exists():
            given = torch.load(preset, map_location="cpu", weights_only=True)
            if given.get("epochs") != epochs or given.get("data_fraction") != data_fraction:
                raise ValueError(f"the teacher sent with the job was trained for {given.get('epochs')} epochs on "
                                 f"{given.get('data_fraction')} of the data; the job asks for {epochs} on {data_fraction}")
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            torch.save(given, tmp)
            os.replace(tmp, path)
            info["from_job"] = True
            log(f"teacher: taken from the job's artifact {preset}")
        torch.manual_seed(0)
        net = teacher_net()
        if path.exists():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(saved["state"])
            info.update(cached=True, val_accuracy=float(saved["val_accuracy"]))
        else:
            log(f"training the distillation teacher ({key})")
            t0 = time.monotonic()
            ds = data.load(data_fraction)
            engine.train(net, ds.train, SHAPE, engine.Schedule(epochs=epochs, lr=3e-3), seed=0, device=device,
                         epoch_end=lambda e, loss, s: log(f"teacher epoch {e}/{epochs}: loss {loss:.4f} ({s:.1f} s)") or True)
            _, acc = engine.evaluate(net, ds.val, SHAPE)
            seconds = time.monotonic() - t0
            saved = {"state": net.state_dict(), "logits": torch.full((data.TRAINING_IMAGES, 10), float("nan")),
                     "val_accuracy": acc, "epochs": epochs, "data_fraction": data_fraction, "seconds": seconds}
            log(f"teacher: validation accuracy {acc:.2f}% after {epochs} epochs ({seconds:.0f} s), cached in {path}")
            info.update(cached=False, val_accuracy=acc, train_seconds=round(seconds, 2))
        logits = saved["logits"]
        want = torch.arange(len(logits)) if indices is None else indices
        missing = want[torch.isnan(logits[want]).any(1)]
        if len(missing) or not path.exists():
            if len(missing):
                logits[missing] = engine.logits(net, data.all_training_images()[missing], SHAPE)
                info["logits_computed"] = len(missing)
            saved["logits"] = logits
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            torch.save(saved, tmp)
            os.replace(tmp, path)
        return logits, info
