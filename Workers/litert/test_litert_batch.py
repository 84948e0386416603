"""Kernels of a LiteRT sweep converted as one file, a signature each (Workers/litert/batch.py):
each signature runs its own network, as a file of its own would, and a kernel the converter or
the model builder refuses costs only its own result."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pytorch"))

import tflite_export  # noqa: E402

WHY = tflite_export.available()
SWEEP = HERE.parent / "onnxruntime" / "sweep.py"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"t_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conv(channels: int, size: int, kernel: int, bits: int = 32) -> dict:
    return {"format": 1, "input": [channels, size, size], "output": 1, "activation_bits": bits,
            "nodes": [{"id": 0, "op": "input", "inputs": [], "shape": [channels, size, size], "label": "input"},
                      {"id": 1, "op": "conv", "in": channels, "out": channels, "kernel": kernel, "stride": 1,
                       "padding": kernel // 2, "groups": 1, "bias": True, "inputs": [0], "shape": [channels, size, size],
                       "label": "k", **({"weights": {"bits": bits}} if bits < 32 else {})}]}


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
@pytest.mark.parametrize("int8", [False, True])
def test_each_signature_runs_its_own_network(tmp_path, int8):
    import numpy as np
    import torch
    from graph_model import GraphNet

    graphs = [conv(4, 8, 3), conv(8, 6, 1), conv(4, 8, 5)]
    nets = []
    for g in graphs:
        torch.manual_seed(0)
        nets.append(GraphNet(g).eval())
    tflite_export.convert_many([(f"k{i}", n, tuple(n.input_shape)) for i, n in enumerate(nets)], tmp_path / "all.tflite", int8=int8)
    from ai_edge_litert.interpreter import Interpreter
    shared = Interpreter(model_path=str(tmp_path / "all.tflite"))
    for i, n in enumerate(nets):
        alone = tmp_path / f"k{i}.tflite"
        if int8:
            tflite_export.convert_int8(n, tuple(n.input_shape), torch.randn(64, *n.input_shape, generator=torch.Generator().manual_seed(1)), alone)
        else:
            tflite_export.convert_float(n, tuple(n.input_shape), alone)
        image = np.random.default_rng(i).standard_normal((1, *n.input_shape)).astype(np.float32)
        together = tflite_export.Runner(tmp_path / "all.tflite", signature=f"k{i}", interpreter=shared)(image)
        np.testing.assert_allclose(together, tflite_export.Runner(alone)(image), rtol=1e-5, atol=1e-5)
        if not int8:
            with torch.no_grad():
                np.testing.assert_allclose(together, n(torch.from_numpy(image)).numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
def test_a_kernel_that_cannot_be_built_costs_only_its_own_result():
    broken = conv(4, 8, 3)
    broken["nodes"][1]["op"] = "nonsense"
    out = load("batch").measure_many([conv(4, 8, 3), broken, conv(8, 6, 1)], "fp32", runs=5, warmup=1, min_seconds=0.01)
    assert isinstance(out[1], Exception)
    for r in (out[0], out[2]):
        assert isinstance(r, dict) and r["median_ms"] > 0 and r["runs"] >= 5


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
def test_the_sweep_script_batches_litert_kernels_in_order(tmp_path):
    kernels = [{"signature": "a", "precision": "fp32", "graph": conv(4, 8, 3)},
               {"signature": "b", "precision": "int8", "graph": conv(4, 8, 3, bits=8)},
               {"signature": "c", "precision": "fp32", "graph": conv(8, 6, 1)}]
    f = tmp_path / "k.jsonl"
    f.write_text("\n".join(json.dumps(k) for k in kernels) + "\n")
    r = subprocess.run([sys.executable, str(SWEEP), "--kernels", str(f), "--runtime", "litert", "--batch", "4", "--runs", "5",
                        "--min-seconds", "0.01"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    # A batch is split by precision: the float kernels first, then the int8 one.
    assert [o["signature"] for o in out] == ["a", "c", "b"]
    assert all(o["median_ms"] > 0 for o in out), out
    bad = subprocess.run([sys.executable, str(SWEEP), "--kernels", str(f), "--runtime", "litert", "--batch", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--batch" in bad.stderr
