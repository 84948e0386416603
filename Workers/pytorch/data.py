"""Fashion-MNIST from Debian's `dataset-fashion-mnist` (IDX files, gzipped or not), or the
user's own image-classification data (`load(..., dataset=PATH)`, see `user_data`).

Splits: the last `VALIDATION` images of the 60,000 training images are the validation split
(what a search ranks on); the 10,000 test images are only for final reports. A job's
`data_fraction` takes a fixed (seed 0) subset of the remaining training images, the same for
every candidate, so that candidates at one fidelity see the same data.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
VALIDATION = 6000
TRAINING_IMAGES = 60000
MEAN, STD = 0.2860, 0.3530
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DataError(RuntimeError):
    pass


def data_dir() -> Path:
    return Path(os.environ.get("TOPIARY_FASHION_MNIST", DEFAULT_DIR))


def _read_idx(directory: Path, stem: str) -> np.ndarray:
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        p = directory / name
        if p.exists():
            with opener(p, "rb") as f:
                raw = f.read()
            break
    else:
        raise DataError(f"{directory / stem}(.gz) not found: install Debian's dataset-fashion-mnist "
                        "(bash scripts/setup.sh) or set TOPIARY_FASHION_MNIST")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise DataError(f"{p}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{p}: {data.size} bytes of data for dimensions {dims}")
    return data.reshape(dims)


@dataclass
class Split:
    """Images as normalized float tensors (N, C, H, W) and labels (N,); `index` holds
    each image's position in the 60,000 training images (for cached teacher logits; -1 for
    other data). `pad` is the value of the background in normalized units (what `adapt`
    pads with)."""
    images: torch.Tensor
    labels: torch.Tensor
    index: torch.Tensor
    pad: float = -MEAN / STD

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FashionMNIST:
    train: Split
    val: Split
    test: Split


_CACHE: dict[str, tuple[np.ndarray, ...]] = {}


STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _raw() -> tuple[np.ndarray, ...]:
    key = str(data_dir())
    if key not in _CACHE:
        _CACHE[key] = tuple(_read_idx(data_dir(), s) for s in STEMS)
    return _CACHE[key]


def _split(images: np.ndarray, labels: np.ndarray, index: np.ndarray) -> Split:
    x = torch.from_numpy(images[index].astype(np.float32) / 255.0).sub_(MEAN).div_(STD).unsqueeze(1)
    return Split(x, torch.from_numpy(labels[index].astype(np.int64)), torch.from_numpy(index.astype(np.int64)))


def load(data_fraction: float = 1.0, val_fraction: float = 1.0, test_fraction: float = 1.0,
         dataset: str | None = None) -> FashionMNIST:
    """The three splits; `data_fraction` of the training split, `val_fraction` of the
    validation split and `test_fraction` of the test set (fixed subsets, at least 100 images).
    `dataset` is a path to the user's data (`user_data`); None is Fashion-MNIST."""
    if dataset not in (None, "", "fashion-mnist"):
        import user_data
        return user_data.load(dataset, data_fraction, val_fraction, test_fraction)
    xtr, ytr, xte, yte = _raw()
    n = len(ytr)
    rest = np.random.default_rng(0).permutation(n - VALIDATION)

    def take(idx: np.ndarray, frac: float) -> np.ndarray:
        if not 0 < frac <= 1:
            raise ValueError(f"fractions must be in (0, 1], got {frac}")
        return np.sort(idx[: max(min(100, len(idx)), int(round(frac * len(idx))))])

    train = take(rest, data_fraction)
    val = take(np.arange(n - VALIDATION, n), val_fraction)
    test = take(np.random.default_rng(1).permutation(len(yte)), test_fraction)
    t = _split(xte, yte, test)
    t.index = torch.full_like(t.index, -1)
    return FashionMNIST(_split(xtr, ytr, train), _split(xtr, ytr, val), t)


def adapt(x: torch.Tensor, shape: tuple[int, int, int], pad: float = -MEAN / STD) -> torch.Tensor:
    """Fits (N, C0, H0, W0) images to a network's input shape (C, H, W): padded around with
    the background (`pad`, normalized units) up to twice the size, resized beyond; a grey
    channel repeated C times (NAS-Bench-201 and Macro networks take 3x32x32)."""
    c, h, w = shape
    _, c0, h0, w0 = x.shape
    if (h, w) != (h0, w0):
        if h0 <= h <= 2 * h0 and w0 <= w <= 2 * w0:
            top, left = (h - h0) // 2, (w - w0) // 2
            x = F.pad(x, (left, w - w0 - left, top, h - h0 - top), value=pad)
        else:
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    if c != c0:
        if c0 != 1:
            raise ValueError(f"the data has {c0} channels but the network takes {c}: use a space whose input has channels: {c0}")
        x = x.expand(-1, c, -1, -1)
    return x


def all_training_images() -> torch.Tensor:
    """The 60,000 training images (validation split included), normalized, by index."""
    xtr, _, _, _ = _raw()
    return torch.from_numpy(xtr.astype(np.float32) / 255.0).sub_(MEAN).div_(STD).unsqueeze(1)
