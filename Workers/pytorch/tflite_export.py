"""TFLite (LiteRT) files of a trained network: what phones, Raspberry Pis and microcontrollers run.

    export(model, shape, out_dir, calibration)  ->  info for the trial's result

writes `model.tflite` (float32) and `model_int8.tflite` (int8 weights and activations, int8
input and output: post-training static quantization, per-channel weights, activations
calibrated on training images), runs each in the LiteRT interpreter on the same images as
PyTorch and reports how often the top class agrees. The converter is litert-torch (PyTorch →
TFLite through torch.export), the runtime ai-edge-litert (XNNPACK on x86 and ARM); both are
optional: without them `available()` says why and the trainer goes on without TFLite files.
"""
from __future__ import annotations

import contextlib
import io
import os
import time
import warnings
from pathlib import Path
from typing import Any

# TensorFlow's runtime logs a line per converter start; the trainer's log is for the user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # the converter's TensorFlow ops; says so on every start otherwise


def available() -> str | None:
    """None when both the converter and the runtime import, else what to install."""
    try:
        import litert_torch  # noqa: F401
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except Exception as e:  # noqa: BLE001 - a broken install raises more than ImportError
        return (f"TFLite export needs litert-torch and ai-edge-litert ({type(e).__name__}: {str(e).splitlines()[0][:160]}); "
                "install them with: bash scripts/setup.sh --python (Workers/requirements.txt)")
    return None


@contextlib.contextmanager
def _quiet():
    """The converter prints progress and deprecation warnings on standard output and error;
    a trainer's standard output carries its protocol lines."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield


def convert_float(model, shape: tuple[int, int, int], path: Path) -> None:
    """The float32 network as a .tflite file (batch 1)."""
    import torch

    import litert_torch

    model.eval()
    with _quiet(), torch.no_grad():
        litert_torch.convert(model, (torch.zeros(1, *shape),)).export(str(path))


def convert_int8(model, shape: tuple[int, int, int], calibration, path: Path) -> None:
    """The network quantized to int8 (weights per channel, activations per tensor, symmetric),
    calibrated on `calibration` (N x C x H x W float images), as a .tflite file whose input
    and output are int8 too (what integer-only runtimes such as TFLite Micro need)."""
    import torch

    import litert_torch

    model.eval()
    sample = (torch.zeros(1, *shape),)
    with _quiet():
        g, quant = _quantized(model, sample, calibration)
        litert_torch.convert(g, sample, quant_config=quant).export(str(path))


def _quantized(model, sample, calibration):
    """`model` prepared for int8 (weights per channel, activations per tensor, symmetric),
    calibrated on `calibration` and converted; with the converter's quantization config."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig

    quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    g = prepare_pt2e(torch.export.export_for_training(model, sample).module(), quantizer)
    with torch.no_grad():
        for i in range(0, len(calibration), 32):
            g(calibration[i:i + 32])
    return convert_pt2e(g, fold_quantize=False), QuantConfig(pt2e_quantizer=quantizer)


def convert_many(models: list[tuple[str, Any, tuple[int, int, int]]], path: Path, int8: bool = False,
                 calibration_seed: int = 1) -> None:
    """Several networks as one .tflite file, each its own signature (named as given), float32
    or int8 as `convert_float` and `convert_int8` make them (int8 calibrated on 64 seeded
    random images of each network's input). The converter's fixed cost per file is paid once:
    what lets a kernel sweep convert many small networks (Workers/litert/batch.py)."""
    import torch

    import litert_torch

    converter = None
    quant = None
    with _quiet():
        for name, model, shape in models:
            model.eval()
            sample = (torch.zeros(1, *shape),)
            if int8:
                images = torch.randn(64, *shape, generator=torch.Generator().manual_seed(calibration_seed))
                model, quant = _quantized(model, sample, images)
            converter = litert_torch.signature(name, model, sample) if converter is None else converter.signature(name, model, sample)
        if converter is None:
            raise ValueError("no networks to convert")
        with torch.no_grad():
            converter.convert(quant_config=quant).export(str(path))


class Runner:
    """A .tflite file in the LiteRT interpreter, one image at a time; float in, float out
    (an int8 model's input is quantized and its output dequantized with the file's own scales).
    `signature`: which network of a file of several (`convert_many`) to run; `interpreter`: one
    already made for the file (its networks' runners share it, and the weights it packed)."""

    def __init__(self, path: Path, threads: int = 1, signature: str | None = None, interpreter=None):
        from ai_edge_litert.interpreter import Interpreter

        self.it = interpreter or Interpreter(model_path=str(path), num_threads=threads)
        self.it.allocate_tensors()
        if signature is None:
            self.subgraph = 0
            self.inp = self.it.get_input_details()[0]
            self.out = self.it.get_output_details()[0]
        else:
            runner = self.it.get_signature_runner(signature)
            self.subgraph = runner._subgraph_index  # noqa: SLF001 - the public calls below run subgraph 0 only
            self.it._interpreter.AllocateTensors(self.subgraph)  # noqa: SLF001 - allocate_tensors() does subgraph 0
            self.inp = next(iter(runner.get_input_details().values()))
            self.out = next(iter(runner.get_output_details().values()))

    def __call__(self, image):
        """`image`: a float NumPy array of the input's shape (1 x C x H x W)."""
        import numpy as np

        x = image
        if self.inp["dtype"] != np.float32:
            scale, zero = self.inp["quantization"]
            info = np.iinfo(self.inp["dtype"])
            x = np.clip(np.round(image / scale + zero), info.min, info.max).astype(self.inp["dtype"])
        if self.subgraph == 0:
            self.it.set_tensor(self.inp["index"], x)
            self.it.invoke()
            y = self.it.get_tensor(self.out["index"])
        else:
            # The same calls as set_tensor, invoke and get_tensor make, on another subgraph.
            w = self.it._interpreter  # noqa: SLF001
            w.SetTensor(self.inp["index"], x, self.subgraph)
            w.Invoke(self.subgraph)
            y = w.GetTensor(self.out["index"], self.subgraph)
        if self.out["dtype"] != np.float32:
            scale, zero = self.out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y

    def int8_weights(self) -> int:
        """How many int8 constant tensors of two or more dimensions (convolution and linear
        weights) the file holds."""
        import numpy as np

        n = 0
        for d in self.it.get_tensor_details():
            if d["dtype"] == np.int8 and len(d["shape"]) >= 2:
                try:
                    self.it.get_tensor(d["index"])
                except ValueError:
                    continue  # an activation, not a constant
                n += 1
        return n


def agreement(model, run: Runner, images) -> dict[str, Any]:
    """Top-1 agreement and largest logit difference between PyTorch and a .tflite file on
    `images` (N x C x H x W)."""
    import numpy as np
    import torch

    model.eval()
    with torch.no_grad():
        want = model(images).float().numpy()
    got = np.concatenate([run(images[i:i + 1].numpy().astype(np.float32)) for i in range(len(images))])
    return {"images": int(len(images)), "top1_agreement": round(float((got.argmax(1) == want.argmax(1)).mean()), 4),
            "max_abs_diff": round(float(np.abs(got - want).max()), 6)}


def accuracy(run: Runner, images, labels) -> float:
    """Top-1 accuracy in % of a .tflite file on `images` (N x C x H x W, float) and `labels`:
    what the deployed file scores, not the PyTorch model it came from."""
    import numpy as np

    x = images.numpy().astype(np.float32)
    y = labels.numpy()
    correct = sum(int(run(x[i:i + 1]).argmax() == y[i]) for i in range(len(y)))
    return 100.0 * correct / max(1, len(y))


def export(model, shape: tuple[int, int, int], out_dir: Path, calibration, check_images) -> dict[str, Any]:
    """Writes model.tflite and model_int8.tflite for `model` (a float PyTorch network) and checks
    both against it on `check_images`. Returns what goes into the result's info; a file that
    cannot be made is said in `tflite_note`, the other is still written."""
    why = available()
    if why:
        return {"tflite_note": why}
    out: dict[str, Any] = {}
    notes = []
    for name, make in (("model.tflite", lambda p: convert_float(model, shape, p)),
                       ("model_int8.tflite", lambda p: convert_int8(model, shape, calibration, p))):
        path = out_dir / name
        t = time.monotonic()
        try:
            make(path)
            run = Runner(path)
            check = agreement(model, run, check_images)
            if name == "model_int8.tflite":
                check["int8_weight_tensors"] = run.int8_weights()
            out[name] = {"path": str(path), "bytes": path.stat().st_size, "seconds": round(time.monotonic() - t, 2), "check": check}
        except Exception as e:  # noqa: BLE001 - the converter raises many kinds
            path.unlink(missing_ok=True)
            notes.append(f"{name} could not be made ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})")
    result: dict[str, Any] = {"tflite": out}
    if notes:
        result["tflite_note"] = "; ".join(notes)
    return result
