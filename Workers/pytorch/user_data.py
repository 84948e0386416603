"""The user's own image-classification data, for `search start --dataset PATH`.

Two layouts:
- a folder of class folders, `PATH/CLASS/IMAGE` (then a fixed 10% of each class is the
  test split), or `PATH/train/CLASS/IMAGE` with `PATH/test/CLASS/IMAGE` (and optionally
  `PATH/val/CLASS/IMAGE`); classes are the folder names in sorted order; images are
  anything Pillow reads (PNG, JPEG, BMP, ...), all of one size;
- a NumPy `.npz` with `x_train`, `y_train`, `x_test`, `y_test` (and optionally `x_val`,
  `y_val`): images (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1, 3, 4, as uint8
  (0-255) or floats; labels integers from 0.

Without a validation split, a fixed 10% of the training images (seed 0) is held out as
one; the search ranks on it and the test split is only for final reports, as with
Fashion-MNIST. Images are normalized by the training split's per-channel mean and
standard deviation. Every problem is a `DataError` naming the file and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from data import DataError, FashionMNIST, Split

_CACHE: dict[str, tuple] = {}
HELD_OUT = 0.1


def _images_array(x: np.ndarray, where: str) -> np.ndarray:
    """(N, C, H, W) float32 in [0, 1] (uint8) or as given (floats)."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            x = x.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{where}: images must be (N, H, W), (N, H, W, C) or (N, C, H, W); got shape {x.shape}")
    if x.shape[1] not in (1, 3, 4):
        raise DataError(f"{where}: images have {x.shape[1]} channels; expected 1, 3 or 4")
    if x.shape[1] == 4:
        x = x[:, :3]  # alpha dropped
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where}: images must be numbers, got {x.dtype}")
    return x.astype(np.float32)


def _labels_array(y: np.ndarray, n: int, where: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise DataError(f"{where}: {len(y)} labels for {n} images")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise DataError(f"{where}: labels must be whole numbers from 0")
    if len(y) and y.min() < 0:
        raise DataError(f"{where}: labels must be 0 or more, found {int(y.min())}")
    return y.astype(np.int64)


def _read_npz(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{path}: cannot read as a NumPy .npz archive: {e}") from e
    splits = {}
    for name in ("train", "val", "test"):
        xk, yk = f"x_{name}", f"y_{name}"
        if xk not in z.files and yk not in z.files and name == "val":
            continue
        for k in (xk, yk):
            if k not in z.files:
                raise DataError(f"{path}: no array '{k}' (it has {', '.join(z.files) or 'none'}); "
                                "save with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")
        x = _images_array(z[xk], f"{path}:{xk}")
        splits[name] = (x, _labels_array(z[yk], len(x), f"{path}:{yk}"))
    return splits


def _read_folder(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        from PIL import Image
    except ImportError as e:
        raise DataError("reading image folders needs Pillow: pip install pillow (bash scripts/setup.sh --python installs it)") from e
    layout = {n: root / n for n in ("train", "val", "test") if (root / n).is_dir()}
    if "train" not in layout:
        layout = {"all": root}
    classes = sorted(p.name for p in layout.get("train", root).iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class folders; expected {root}/CLASS/IMAGE or {root}/train/CLASS/IMAGE")
    size = None
    out = {}
    for split, folder in layout.items():
        here = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if here != classes:
            raise DataError(f"{folder}: class folders {here} differ from train's {classes}; give every split the same classes")
        images, labels = [], []
        for label, name in enumerate(classes):
            files = sorted(f for f in (folder / name).iterdir() if f.is_file() and not f.name.startswith("."))
            if not files:
                raise DataError(f"{folder / name}: no images in this class folder")
            for f in files:
                try:
                    with Image.open(f) as im:
                        im = im.convert("L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB")
                        a = np.asarray(im, dtype=np.uint8)
                except Exception as e:  # noqa: BLE001
                    raise DataError(f"{f}: cannot read this image ({e}); remove it or convert it to PNG or JPEG") from e
                shape = a.shape if a.ndim == 3 else a.shape + (1,)
                if size is None:
                    size = shape
                elif shape != size:
                    raise DataError(f"{f}: image is {shape[1]}x{shape[0]} with {shape[2]} channel(s) but the first was "
                                    f"{size[1]}x{size[0]} with {size[2]}; resize every image to one size")
                images.append(a.reshape(shape))
                labels.append(label)
        out[split] = (_images_array(np.stack(images), str(folder)), np.asarray(labels, dtype=np.int64))
    if "all" in out:
        x, y = out.pop("all")
        test = np.zeros(len(y), dtype=bool)
        rng = np.random.default_rng(1)
        for c in range(len(classes)):
            idx = np.flatnonzero(y == c)
            test[rng.permutation(idx)[: max(1, int(round(HELD_OUT * len(idx))))] if len(idx) > 1 else []] = True
        out["train"], out["test"] = (x[~test], y[~test]), (x[test], y[test])
    if "test" not in out:
        raise DataError(f"{root}: train/ without test/; add {root}/test/CLASS/IMAGE or put the class folders directly in {root}")
    return out


def _raw(path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    p = Path(path)
    key = f"{p}:{os.path.getmtime(p) if p.exists() else 0}"
    if key not in _CACHE:
        if not p.exists():
            raise DataError(f"{p}: no such file or folder (the dataset must be at this path on every worker)")
        splits = _read_npz(p) if p.is_file() else _read_folder(p)
        shapes = {k: v[0].shape[1:] for k, v in splits.items()}
        if len(set(shapes.values())) > 1:
            raise DataError(f"{p}: the splits' images differ in shape ({shapes}); give every split one image size")
        if len(splits["train"][1]) < 2:
            raise DataError(f"{p}: too few training images ({len(splits['train'][1])})")
        _CACHE[key] = splits
    return _CACHE[key]


def load(path: str, data_fraction: float = 1.0, val_fraction: float = 1.0, test_fraction: float = 1.0) -> FashionMNIST:
    splits = _raw(path)
    xtr, ytr = splits["train"]
    if "val" in splits:
        xval, yval = splits["val"]
        rest = np.random.default_rng(0).permutation(len(ytr))
    else:
        perm = np.random.default_rng(0).permutation(len(ytr))
        n_val = max(1, int(round(HELD_OUT * len(ytr))))
        val_idx, rest = np.sort(perm[:n_val]), perm[n_val:]
        xval, yval = xtr[val_idx], ytr[val_idx]
    xte, yte = splits["test"]
    mean = xtr.mean(axis=(0, 2, 3), keepdims=True)
    std = xtr.std(axis=(0, 2, 3), keepdims=True) + 1e-6

    def take(n: int, frac: float, seed: int | None = None, order: np.ndarray | None = None) -> np.ndarray:
        if not 0 < frac <= 1:
            raise ValueError(f"fractions must be in (0, 1], got {frac}")
        idx = order if order is not None else np.random.default_rng(seed).permutation(n)
        return np.sort(idx[: max(min(100, len(idx)), int(round(frac * len(idx))))])

    def split(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> Split:
        t = torch.from_numpy((x[idx] - mean) / std).float()
        # The background: what a zero (black) pixel becomes, averaged over channels.
        pad = float(((0 - mean) / std).mean())
        return Split(t, torch.from_numpy(y[idx]), torch.full((len(idx),), -1, dtype=torch.int64), pad)

    return FashionMNIST(split(xtr, ytr, take(len(ytr), data_fraction, order=rest)),
                        split(xval, yval, take(len(yval), val_fraction, seed=2)),
                        split(xte, yte, take(len(yte), test_fraction, seed=1)))
