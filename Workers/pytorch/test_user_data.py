"""The user's own data (`search start --dataset`): NumPy archives and image folders,
trained on for real, and every kind of bad data named clearly."""

from __future__ import annotations

import numpy as np
import pytest

import user_data
from data import DataError
from testkit import make_job

FID = {"epochs": 1, "data_fraction": 1.0, "val_fraction": 1.0, "test_fraction": 1.0, "batch_size": 32}


def squares(n: int, classes: int = 10, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A learnable task: class c is a bright 6x6 square at one of `classes` places, on noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = 2 + 6 * (c // 4), 2 + 6 * (c % 4)
        x[i, r:r + 6, col:col + 6] = 230
    return x, y


def write_folder(root, x, y, split=None, fmt="png"):
    from PIL import Image
    base = root / split if split else root
    for i, (img, label) in enumerate(zip(x, y)):
        d = base / f"class{label:02d}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i}.{fmt}")


def test_an_npz_archive_trains_well_above_chance(run_trainer, tmp_path):
    xtr, ytr = squares(1200)
    xte, yte = squares(300, seed=1)
    path = tmp_path / "squares.npz"
    np.savez(path, x_train=xtr[..., None], y_train=ytr, x_test=xte, y_test=yte)  # (N, H, W, 1) and (N, H, W)
    run = run_trainer(dict(make_job("fashion-none", tmp_path, FID), dataset=str(path)))
    assert run.rc == 0, run.stderr[-3000:]
    m, info = run.metrics, run.info
    assert info["data"]["dataset"] == str(path)
    assert info["data"]["train_images"] == 1080 and info["data"]["val_images"] == 120 and info["data"]["test_images"] == 300
    assert m["accuracy"] > 60 and m["test_accuracy"] > 60, m


def test_an_image_folder_trains_and_distillation_is_skipped_with_a_note(run_trainer, tmp_path):
    x, y = squares(600, seed=2)
    root = tmp_path / "folder"
    write_folder(root, x, y)
    job = make_job("fashion-distill", tmp_path, FID)
    job["dataset"] = str(root)
    run = run_trainer(job)
    assert run.rc == 0, run.stderr[-3000:]
    info = run.info
    # 10% of each class is the test split, 10% of the rest validation.
    assert info["data"]["test_images"] + info["data"]["val_images"] + info["data"]["train_images"] == 600
    assert 50 <= info["data"]["test_images"] <= 70
    assert "skipped" in info["teacher"]
    assert run.metrics["test_accuracy"] > 30, run.metrics


def test_train_and_test_folders_are_used_as_given(tmp_path):
    xtr, ytr = squares(200, classes=3)
    xte, yte = squares(60, classes=3, seed=1)
    write_folder(tmp_path, xtr, ytr, "train")
    write_folder(tmp_path, xte, yte, "test")
    ds = user_data.load(str(tmp_path))
    assert len(ds.test) == 60 and len(ds.train) + len(ds.val) == 200
    assert tuple(ds.train.images.shape[1:]) == (1, 28, 28)
    assert abs(float(ds.train.images.mean())) < 0.05  # normalized by the training split


def test_more_classes_than_the_network_outputs_is_refused(run_trainer, tmp_path):
    xtr, ytr = squares(200, classes=12)
    path = tmp_path / "twelve.npz"
    np.savez(path, x_train=xtr, y_train=ytr, x_test=xtr[:50], y_test=ytr[:50])
    run = run_trainer(dict(make_job("fashion-none", tmp_path, FID), dataset=str(path)))
    assert run.rc == 2 and run.result is None
    assert "12 classes" in run.stderr and "outputs 10" in run.stderr


def test_colour_images_for_a_grey_network_are_refused(run_trainer, tmp_path):
    xtr, ytr = squares(200)
    rgb = np.repeat(xtr[..., None], 3, axis=-1)
    path = tmp_path / "rgb.npz"
    np.savez(path, x_train=rgb, y_train=ytr, x_test=rgb[:50], y_test=ytr[:50])
    run = run_trainer(dict(make_job("fashion-none", tmp_path, FID), dataset=str(path)))
    assert run.rc == 2 and "3 channels" in run.stderr and "takes 1" in run.stderr


def test_a_relative_dataset_path_is_refused(run_trainer, tmp_path):
    run = run_trainer(dict(make_job("fashion-none", tmp_path, FID), dataset="data/squares.npz"))
    assert run.rc == 2 and "absolute path" in run.stderr


@pytest.mark.parametrize("make,needle", [
    (lambda p: np.savez(p / "d.npz", x_train=np.zeros((5, 8, 8), np.uint8), y_train=np.zeros(5, int)), "no array 'x_test'"),
    (lambda p: np.savez(p / "d.npz", x_train=np.zeros((5, 8, 8), np.uint8), y_train=np.zeros(4, int),
                        x_test=np.zeros((2, 8, 8), np.uint8), y_test=np.zeros(2, int)), "4 labels for 5 images"),
    (lambda p: np.savez(p / "d.npz", x_train=np.zeros((5, 8, 8), np.uint8), y_train=-np.ones(5, int),
                        x_test=np.zeros((2, 8, 8), np.uint8), y_test=np.zeros(2, int)), "0 or more"),
    (lambda p: (p / "d.npz").write_bytes(b"PK\x03\x04 not really"), "cannot read as a NumPy .npz"),
])
def test_bad_archives_are_named(tmp_path, make, needle):
    make(tmp_path)
    with pytest.raises(DataError) as e:
        user_data.load(str(tmp_path / "d.npz"))
    assert str(tmp_path / "d.npz") in str(e.value) and needle in str(e.value)


def test_bad_folders_are_named(tmp_path):
    from PIL import Image
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        user_data.load(str(tmp_path / "empty"))

    bad = tmp_path / "unreadable"
    x, y = squares(20, classes=2)
    write_folder(bad, x, y)
    (bad / "class00" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError) as e:
        user_data.load(str(bad))
    assert "broken.png" in str(e.value) and "cannot read this image" in str(e.value)

    sizes = tmp_path / "sizes"
    write_folder(sizes, x, y)
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(sizes / "class01" / "big.png")
    with pytest.raises(DataError) as e:
        user_data.load(str(sizes))
    assert "big.png" in str(e.value) and "30x30" in str(e.value) and "one size" in str(e.value)

    with pytest.raises(DataError, match="no such file or folder"):
        user_data.load(str(tmp_path / "missing"))
