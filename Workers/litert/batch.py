"""Times many small networks in LiteRT with one conversion: the kernels of a sweep
(`topiary target profile T --runtime litert`, through Workers/onnxruntime/sweep.py).

Converting a network to .tflite has a cost per file (the converter starts, lowers and
writes); a kernel sweep converts thousands of one-layer networks, so `measure_many` puts a
batch of them of one precision in one file, a signature each (`tflite_export.convert_many`),
and times each signature as `measure_trainer.measure` times a network: the same
interpreter calls on its subgraph, the same seeded weights and input. A batch the converter
refuses is converted again one network at a time, so that one kernel the converter cannot
handle costs only its own result.
"""
from __future__ import annotations

import functools
import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pytorch"))


@functools.cache
def _measure_trainer():
    # Loaded by path: Workers/onnxruntime has a measure_trainer.py too, and sweep.py puts
    # that directory on sys.path.
    spec = importlib.util.spec_from_file_location("litert_measure_trainer", HERE / "measure_trainer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_many(graphs: list[dict[str, Any]], precision: str, runs: int = 50, warmup: int = 10, threads: int = 1,
                 min_seconds: float = 0.2, seed: int = 0) -> list[dict[str, Any] | Exception]:
    """Each graph of one precision ("fp32" or "int8") timed from one .tflite file: per graph,
    measure()'s figures (median_ms, min_ms, p90_ms, runs) or the exception that stopped it."""
    import numpy as np
    import torch

    import tflite_export
    from graph_model import GraphNet

    why = tflite_export.available()
    if why:
        raise RuntimeError(why)
    mt = _measure_trainer()
    results: list[dict[str, Any] | Exception | None] = [None] * len(graphs)
    nets: list[tuple[int, Any]] = []
    for i, g in enumerate(graphs):
        try:
            torch.manual_seed(seed)
            nets.append((i, GraphNet(g).eval()))
        except Exception as e:  # noqa: BLE001 - a graph the model builder refuses is that kernel's error
            results[i] = e
    with tempfile.TemporaryDirectory(prefix="topiary-litert-batch-") as tmp:
        path = Path(tmp) / "kernels.tflite"
        try:
            tflite_export.convert_many([(f"k{i}", net, tuple(net.input_shape)) for i, net in nets], path,
                                       int8=precision == "int8", calibration_seed=seed + 1)
        except Exception:  # noqa: BLE001 - the converter raises many kinds; one at a time says which kernel
            for i, _ in nets:
                try:
                    results[i] = mt.measure(graphs[i], precision=precision, runs=runs, warmup=warmup, threads=threads,
                                            min_seconds=min_seconds, seed=seed)
                except Exception as e:  # noqa: BLE001
                    results[i] = e
            return results
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        for i, net in nets:
            try:
                run = tflite_export.Runner(path, threads=threads, signature=f"k{i}", interpreter=interpreter)
                image = np.random.default_rng(seed).standard_normal((1, *net.input_shape)).astype(np.float32)
                results[i] = mt.time_runs(run, image, runs=runs, warmup=warmup, min_seconds=min_seconds)
            except Exception as e:  # noqa: BLE001
                results[i] = e
    return results
