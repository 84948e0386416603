"""TFLite export (tflite_export.py): with fidelity tflite=1 the trainer writes model.tflite
(float32) and model_int8.tflite (int8 weights, activations, input and output); each runs in
the LiteRT interpreter and agrees with PyTorch on 32 test images."""

from __future__ import annotations

import os

import pytest

import tflite_export
from testkit import TINY, load_fixture, make_job

WHY = tflite_export.available()
needs_litert = pytest.mark.skipif(WHY is not None, reason=WHY or "")


@needs_litert
@pytest.mark.parametrize("name", ["fashion-none", "fashion-int8qat", "fashion-w4a8"])
def test_the_trainer_writes_float_and_int8_files_that_agree_with_pytorch(run_trainer, tmp_path, name):
    run = run_trainer(make_job(name, tmp_path, {**TINY, "data_fraction": 0.05, "tflite": 1}))
    assert run.rc == 0, run.stderr[-3000:]
    made = run.info["tflite"]
    assert set(made) == {"model.tflite", "model_int8.tflite"}, run.info.get("tflite_note")
    fp32, int8 = made["model.tflite"], made["model_int8.tflite"]
    for m in (fp32, int8):
        assert m["check"]["images"] == 32 and os.path.getsize(m["path"]) == m["bytes"] > 0
    print(f"{name}: top-1 agreement with PyTorch: float32 {fp32['check']['top1_agreement']:.2%}, "
          f"int8 {int8['check']['top1_agreement']:.2%}; {fp32['bytes']} and {int8['bytes']} bytes")
    assert fp32["check"]["top1_agreement"] >= 0.97 and fp32["check"]["max_abs_diff"] < 1e-2
    assert int8["check"]["top1_agreement"] >= 0.75
    # Every convolution and linear layer keeps its weights in int8.
    layers = sum(1 for n in load_fixture(name)["graph"]["nodes"] if "weights" in n)
    assert int8["check"]["int8_weight_tensors"] >= layers
    assert int8["bytes"] < fp32["bytes"]
    # The int8 file's own accuracy on the test split, beside the PyTorch model's.
    assert int8["test_images"] == run.info["data"]["test_images"]
    assert run.metrics["int8_tflite_test_accuracy"] == int8["test_accuracy"]
    assert abs(int8["test_accuracy"] - run.metrics["test_accuracy"]) < 10, (int8["test_accuracy"], run.metrics)
    # The worker uploads them with the rest (and `topiary export` copies them).
    assert {"model.tflite", "model_int8.tflite"} <= set(run.result["artifacts"])


def test_without_the_packages_the_trainer_says_so_and_goes_on(run_trainer, tmp_path):
    # An interpreter that cannot import them: a directory of empty packages in front of the path.
    fake = tmp_path / "nolitert"
    for pkg in ("litert_torch", "ai_edge_litert"):
        (fake / pkg).mkdir(parents=True)
        (fake / pkg / "__init__.py").write_text("raise ImportError('not installed here')\n")
    run = run_trainer(make_job("fashion-none", tmp_path / "out", {**TINY, "tflite": 1}),
                      env={"PYTHONPATH": str(fake)})
    assert run.rc == 0, run.stderr[-3000:]
    assert "tflite" not in run.info or not run.info["tflite"]
    assert "litert-torch" in run.info["tflite_note"] and "setup.sh" in run.info["tflite_note"]
    assert "model.tflite" not in run.result["artifacts"]


def test_tflite_is_off_unless_asked_and_checked(run_trainer, tmp_path):
    run = run_trainer(make_job("fashion-none", tmp_path / "a"))
    assert run.rc == 0 and "tflite" not in run.info and "tflite_note" not in run.info
    bad = run_trainer(make_job("fashion-none", tmp_path / "b", {**TINY, "tflite": 2}))
    assert bad.rc == 2 and "fidelity.tflite" in bad.stderr
