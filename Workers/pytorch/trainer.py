#!/usr/bin/env python3
"""Topiary's reference PyTorch trainer (docs/TRAINER.md).

    python Workers/pytorch/trainer.py < job.json        # or with TOPIARY_JOB=job.json

Reads a job (docs/PROTOCOL.md, "Trainer protocol"), builds the candidate's network from the
job's graph JSON, trains it on Fashion-MNIST at the job's fidelity, compresses it for real as
the candidate says, and reports JSON lines on stdout: a progress line per epoch and one result
line. Everything else (what it is doing, warnings) goes to stderr, which the worker keeps in
the trial log. Exit status 0 after the result; 2 for a job it cannot run (bad JSON, bad
graph), 1 for anything else.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "python"))

import topiary_trial as trial  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=r".*TypedStorage.*")


def log(msg: str) -> None:
    print(f"trainer: {msg}", file=sys.stderr, flush=True)


class JobError(ValueError):
    pass


# --- the job --------------------------------------------------------------------------------

FIDELITY_KEYS = {"epochs", "data_fraction", "val_fraction", "test_fraction", "finetune_epochs", "teacher_epochs",
                 "teacher_data_fraction", "batch_size", "lr", "tflite", "minutes", "from_scratch", "label_smoothing",
                 "flip", "shift", "gpu", "ema"}


@dataclass
class Job:
    graph: dict[str, Any]
    graph_uncompressed: dict[str, Any] | None
    compression: dict[str, Any]
    epochs: int = 1
    data_fraction: float = 1.0
    val_fraction: float = 1.0
    test_fraction: float = 1.0
    finetune_epochs: int | None = None
    teacher_epochs: int = 4
    teacher_data_fraction: float = 1.0
    # Files sent with the job (`artifact_paths`): name -> local path.
    artifact_paths: dict = field(default_factory=dict)
    batch_size: int = 128
    lr: float = 3e-3
    label_smoothing: float = 0.0
    # Training-batch augmentation: mirror left-right (flip=1) and shift up to `shift` pixels.
    flip: bool = False
    shift: int = 0
    # Exponential moving average of the main phase's weights (its decay; 0: none); the
    # average replaces the last weights where it scores higher on validation.
    ema: float = 0.0
    # Train on the CUDA GPU the worker gives the job, when there is one (fidelity gpu=0: the CPU).
    gpu: bool = True
    # Also write model.tflite and model_int8.tflite (fidelity tflite=1; a few seconds each).
    tflite: bool = False
    # Minutes for the main training phase (fidelity minutes): the epochs are re-planned to fit.
    minutes: float | None = None
    # Structurally compressed candidates (channel pruning, low rank) train their compressed
    # architecture from the start instead of being cut from a trained network (from_scratch=1).
    from_scratch: bool = False
    # The user's data (`search start --dataset`): a path on this machine; None: Fashion-MNIST.
    dataset: str | None = None
    seed: int = 0
    deadline_s: float | None = None
    output_dir: Path = Path(".")
    trial: Any = None
    attempt: Any = None
    notes: list[str] = field(default_factory=list)


def _number(fid: dict[str, Any], key: str, default: Any, lo: float, hi: float, integer: bool = False) -> Any:
    v = fid.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise JobError(f"fidelity.{key} must be a number, got {v!r}")
    if integer:
        if v != int(v):
            raise JobError(f"fidelity.{key} must be a whole number, got {v}")
        v = int(v)
    if not lo <= v <= hi:
        raise JobError(f"fidelity.{key} must be in [{lo}, {hi}], got {v}")
    return v


def _output_classes(model: Any, shape: tuple[int, int, int]) -> int | None:
    """The classes the network outputs (the width of its output for one image)."""
    import torch
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            return int(model(torch.zeros(1, *shape)).shape[-1])
    except Exception:  # noqa: BLE001
        return None
    finally:
        model.train(was)


def parse_job(raw: dict[str, Any]) -> Job:
    graph = raw.get("graph")
    if not isinstance(graph, dict):
        raise JobError("the job has no 'graph' object (the candidate's compressed network graph JSON)")
    gu = raw.get("graph_uncompressed")
    if gu is not None and not isinstance(gu, dict):
        raise JobError("'graph_uncompressed' must be a graph JSON object")
    cand = raw.get("candidate") or {}
    if not isinstance(cand, dict):
        raise JobError("'candidate' must be the candidate JSON object")
    comp = cand.get("compression") or {}
    if not isinstance(comp, dict):
        raise JobError("candidate.compression must be an object")
    dataset = raw.get("dataset", "fashion-mnist")
    if dataset is not None and not isinstance(dataset, str):
        raise JobError(f"'dataset' must be a path, got {dataset!r}")
    if dataset not in ("fashion-mnist", None, "") and not os.path.isabs(dataset):
        raise JobError(f"dataset {dataset!r}: give an absolute path to a folder of class folders or a .npz file")
    fid = raw.get("fidelity") or {}
    if not isinstance(fid, dict):
        raise JobError("'fidelity' must be an object")
    j = Job(graph=graph, graph_uncompressed=gu, compression=comp)
    j.dataset = None if dataset in ("fashion-mnist", None, "") else dataset
    j.epochs = _number(fid, "epochs", 1, 0, 1000, integer=True)
    j.data_fraction = _number(fid, "data_fraction", 1.0, 1e-4, 1.0)
    j.val_fraction = _number(fid, "val_fraction", 1.0, 1e-4, 1.0)
    j.test_fraction = _number(fid, "test_fraction", 1.0, 1e-4, 1.0)
    if "finetune_epochs" in fid:
        j.finetune_epochs = _number(fid, "finetune_epochs", 1, 0, 1000, integer=True)
    j.teacher_epochs = _number(fid, "teacher_epochs", 4, 1, 1000, integer=True)
    j.teacher_data_fraction = _number(fid, "teacher_data_fraction", 1.0, 1e-4, 1.0)
    paths = raw.get("artifact_paths") or {}
    if not isinstance(paths, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in paths.items()):
        raise JobError("artifact_paths must be an object of name -> path")
    j.artifact_paths = dict(paths)
    j.batch_size = _number(fid, "batch_size", 128, 2, 65536, integer=True)
    j.lr = _number(fid, "lr", 3e-3, 1e-7, 10.0)
    j.label_smoothing = _number(fid, "label_smoothing", 0.0, 0.0, 0.5)
    j.flip = _number(fid, "flip", 0, 0, 1, integer=True) == 1
    j.shift = _number(fid, "shift", 0, 0, 8, integer=True)
    j.tflite = _number(fid, "tflite", 0, 0, 1, integer=True) == 1
    j.gpu = _number(fid, "gpu", 1, 0, 1, integer=True) == 1
    j.ema = _number(fid, "ema", 0.0, 0.0, 0.99999)
    if 0 < j.ema < 0.9:
        raise JobError(f"fidelity.ema is the average's decay per step: 0 (none) or in [0.9, 0.99999], got {j.ema}")
    if "minutes" in fid:
        j.minutes = _number(fid, "minutes", 1, 0.0001, 100000)
    j.from_scratch = _number(fid, "from_scratch", 0, 0, 1, integer=True) == 1
    for k in fid:
        if k not in FIDELITY_KEYS:
            j.notes.append(f"fidelity.{k} is not used by this trainer")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise JobError(f"'seed' must be an integer, got {seed!r}")
    j.seed = seed
    dl = raw.get("deadline_ms")
    if dl is not None:
        if isinstance(dl, bool) or not isinstance(dl, (int, float)) or dl <= 0:
            raise JobError(f"'deadline_ms' must be a positive number, got {dl!r}")
        j.deadline_s = dl / 1000.0
    j.output_dir = Path(raw.get("output_dir") or os.environ.get("TOPIARY_OUTPUT_DIR") or ".")
    j.trial, j.attempt = raw.get("trial"), raw.get("attempt")
    return j


# --- the run --------------------------------------------------------------------------------

class Clock:
    """Wall time since start, and whether another epoch fits before the deadline (keeping a
    reserve for the final evaluation and export)."""

    def __init__(self, deadline_s: float | None):
        self.start = time.monotonic()
        self.deadline_s = deadline_s
        self.reserve = 15.0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def fits(self, seconds: float) -> bool:
        if self.deadline_s is None:
            return True
        return self.elapsed() + seconds + self.reserve < 0.9 * self.deadline_s


def load_data(job: Job, net, shape: tuple[int, int, int], info: dict[str, Any]):
    """The job's data set at its fractions, checked against the network's outputs and input
    channels; what was loaded goes into `info`."""
    import data
    try:
        ds = data.load(job.data_fraction, job.val_fraction, job.test_fraction, dataset=job.dataset)
    except (data.DataError, ValueError) as e:
        raise JobError(str(e)) from e
    classes = int(ds.train.labels.max()) + 1 if len(ds.train) else 0
    outputs = _output_classes(net, shape) if job.dataset else None
    if job.dataset and outputs is not None and classes > outputs:
        raise JobError(f"{job.dataset}: the data has {classes} classes but the network outputs {outputs}: "
                       f"use a space with classes: {classes}")
    if job.dataset and ds.train.images.shape[1] > shape[0]:
        raise JobError(f"{job.dataset}: the images have {ds.train.images.shape[1]} channels but the network takes {shape[0]}: "
                       f"use a space whose input has channels: {ds.train.images.shape[1]}")
    info["data"] = {"dataset": job.dataset or "fashion-mnist", "train_images": len(ds.train), "val_images": len(ds.val),
                    "test_images": len(ds.test), "input": list(shape)}
    log(f"{len(ds.train)} training, {len(ds.val)} validation, {len(ds.test)} test images; input {list(shape)}; "
        f"{info.get('threads', 1)} thread(s)")
    return ds


def run(raw: dict[str, Any]) -> None:
    import numpy as np
    import torch

    import compress as C
    import data
    import engine
    import pack
    from graph_model import GraphNet, count_macs

    job = parse_job(raw)
    if raw.get("kind") == "supernet":
        # supernet_job imports this file as `trainer`: the same module, not a second copy.
        sys.modules.setdefault("trainer", sys.modules[__name__])
        import supernet_job
        supernet_job.run(job, raw.get("supernet"), str((raw.get("candidate") or {}).get("space", "")))
        return
    threads = trial.threads()
    torch.set_num_threads(threads)
    torch.manual_seed(job.seed)
    np.random.seed(job.seed % (2 ** 32))
    clock = Clock(job.deadline_s)
    for note in job.notes:
        log(note)
    out_dir = job.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    cg = job.graph
    final_graph = GraphNet(cg)  # validates the graph (ops, shapes) before anything is trained
    shape = final_graph.input_shape
    classes = cg["nodes"][final_graph.output_id]["shape"][0]
    if job.dataset is None and classes != len(data.CLASSES):
        raise JobError(f"the graph has {classes} outputs; Fashion-MNIST has {len(data.CLASSES)} classes")
    if shape[0] not in (1, 3):
        raise JobError(f"the graph takes {shape[0]} input channels; Fashion-MNIST images have 1 (or 3, repeated)")

    comp = job.compression
    pruning = (comp.get("pruning") or {}).get("method", "none")
    distill_cfg = comp.get("distillation") or {}
    q = C.QuantSpec.from_candidate(comp)
    # The graph is authoritative for widths.
    wl = C.weight_layers(cg)
    q.weight_bits = int((wl[0].get("weights") or {}).get("bits", q.weight_bits)) if wl else q.weight_bits
    q.activation_bits = int(cg.get("activation_bits", q.activation_bits))
    clusters = max((int((n.get("weights") or {}).get("clusters", 0)) for n in wl), default=0)
    zeros_wanted = sum(int((n.get("weights") or {}).get("zeros", 0)) for n in wl)
    if zeros_wanted and pruning != "magnitude":
        pruning = "magnitude"

    info: dict[str, Any] = {"trainer": "pytorch", "torch": torch.__version__, "threads": threads, "seed": job.seed}
    # Training phases run on the GPU when the worker gave the job one; compression,
    # quantization, evaluation of the result and export run on the CPU.
    device = engine.pick_device("auto" if job.gpu else "cpu")
    info["device"] = engine.describe(device)
    if device.type != "cpu":
        log(f"training on {info['device'].get('name', device.type)}")
    gu = job.graph_uncompressed
    structural_wanted = pruning == "channel" or float((comp.get("low_rank") or {}).get("rank_ratio", 1.0)) < 1.0
    # Weights inherited from a supernet are cut like a trained network's: from_scratch does not apply.
    scratch = job.from_scratch and "supernet" not in job.artifact_paths
    structural = gu is not None and C.needs_structural(gu, cg) and not scratch
    if structural_wanted and scratch:
        # Trained as it is, the compressed architecture needs no cutting and no recovery
        # epochs; at a full budget it matches or beats pruning a trained network (Liu et al.,
        # "Rethinking the value of network pruning", 2019).
        info["structural"] = {"from": "scratch", "note": "from_scratch=1: the compressed architecture was trained from the start"}
        log(info["structural"]["note"])
    elif structural_wanted and gu is None:
        info["structural"] = {"from": "scratch", "note": "the job has no graph_uncompressed: the compressed architecture "
                                                         "was trained from scratch instead of pruned/factorized"}
        log(info["structural"]["note"])
    base = GraphNet(gu) if structural else final_graph
    needs_finetune = structural or pruning == "magnitude" or clusters > 0
    ft_epochs = job.finetune_epochs if job.finetune_epochs is not None else max(1, math.ceil(job.epochs / 4))
    if not (needs_finetune or q.qat):
        ft_epochs = 0
    inheriting = "supernet" in job.artifact_paths
    if inheriting and job.epochs == 0 and job.finetune_epochs is None:
        # Evaluation by inheritance: compression applied after training, nothing trained.
        ft_epochs = 0

    ds = load_data(job, final_graph, shape, info)
    if inheriting:
        import supernet
        try:
            net, ck = supernet.load(job.artifact_paths["supernet"])
            space = (raw.get("candidate") or {}).get("space")
            if space and ck.get("space") and space != ck["space"]:
                raise supernet.SupernetError(f"the supernet was trained for the space '{ck['space']}', the candidate is of '{space}'")
            values = net.load_into(base)
        except supernet.SupernetError as e:
            raise JobError(f"cannot inherit weights from the supernet: {e}") from e
        images = engine.recalibrate_bn(base, ds.train, shape)
        info["inherited"] = {"supernet_space": ck.get("space"), "values": values, "bn_images": images,
                             "supernet_settings": ck.get("settings"), "epochs_after": job.epochs}
        log(f"weights inherited from the supernet ({values} values), batch norm recalibrated on {images} images")

    distill = None
    if distill_cfg.get("enabled") and job.dataset:
        # The reference teacher and its cached logits are Fashion-MNIST's.
        info["teacher"] = {"skipped": "distillation needs a teacher for this data; trained without one"}
        log(info["teacher"]["skipped"])
    elif distill_cfg.get("enabled") and job.epochs == 0 and ft_epochs == 0:
        # Nothing is trained (evaluation by inheritance): no teacher to train or load. (Its
        # first use trains it, minutes that an evaluation of seconds would wait for.)
        info["teacher"] = {"skipped": "nothing is trained: distillation applies when the candidate trains"}
    elif distill_cfg.get("enabled"):
        import teacher
        logits, tinfo = teacher.get_teacher(job.teacher_epochs, job.teacher_data_fraction, ds.train.index, log,
                                            preset=job.artifact_paths.get("teacher"), device=device)
        distill = engine.Distill(logits, float(distill_cfg.get("temperature", 4.0)), float(distill_cfg.get("alpha", 0.5)))
        info["teacher"] = tinfo

    step = 0
    train_seconds = 0.0
    phases: list[dict[str, Any]] = []
    epoch_seconds: list[float] = []
    stopped = {"early": False}
    last_val = {}  # the validation accuracy after the latest epoch

    def epoch_end(phase: int, model, total: int, recalibrate: bool = True):
        def cb(epoch: int, loss: float, seconds: float) -> bool:
            nonlocal step, train_seconds
            step += 1
            if recalibrate:
                t = time.monotonic()
                engine.recalibrate_bn(model, ds.train, shape)
                seconds += time.monotonic() - t
            train_seconds += seconds
            epoch_seconds.append(seconds)
            vloss, vacc = engine.evaluate(model, ds.val, shape)
            last_val["accuracy"] = vacc
            trial.report_progress(step, accuracy=round(vacc, 4), loss=round(loss, 6), val_loss=round(vloss, 6),
                                  epoch=epoch, phase=phase, epoch_seconds=round(seconds, 3), elapsed_s=round(clock.elapsed(), 3))
            # The plan a time budget left, when it cut the main phase short.
            planned = info["budget"]["epochs_planned"] if phase == 0 and "budget" in info else total
            log(f"phase {phase} epoch {epoch}/{planned}: loss {loss:.4f}, validation {vacc:.2f}% ({seconds:.1f} s)")
            if epoch < planned and not clock.fits(seconds * 1.2):
                stopped["early"] = True
                log("stopping early: the next epoch would not finish before the deadline")
                return False
            return True
        return cb

    # What every training phase of the candidate shares: label smoothing, batch augmentation.
    loss_and_data = {"label_smoothing": job.label_smoothing, "flip": job.flip, "shift": job.shift}
    if job.flip or job.shift:
        info["augmentation"] = {"flip": job.flip, "shift_px": job.shift}
    sched = engine.Schedule(epochs=job.epochs, lr=job.lr, batch_size=job.batch_size, **loss_and_data)
    model = base
    t0 = time.monotonic()
    budget = None
    if job.minutes is not None:
        # The minutes cover every training phase: the main one gets the share of its planned
        # epochs among all planned (fine-tuning or QAT epochs come after it and are re-planned
        # to what is left).
        budget = job.minutes * 60.0 * (job.epochs / (job.epochs + ft_epochs) if job.epochs + ft_epochs > 0 else 1.0)
        info["budget"] = {"minutes": job.minutes, "epochs_planned": job.epochs}

    def replanned(epochs: int) -> None:
        info["budget"]["epochs_planned"] = epochs
        log(f"{job.minutes:g} minutes fit {epochs} of {job.epochs} epochs: the schedule now ends with epoch {epochs}")

    average = engine.WeightAverage(job.ema) if job.ema > 0 else None
    done = engine.train(model, ds.train, shape, sched, seed=job.seed, distill=distill,
                        after_step=(lambda: average.update(model)) if average else None,
                        epoch_end=epoch_end(0, model, job.epochs), budget_s=budget, replanned=replanned,
                        device=device) if job.epochs > 0 else 0
    if average is not None and average.shadow is not None:
        info["weight_average"] = keep_the_better(model, average, last_val.get("accuracy"), ds, shape, job.ema)
    phases.append({"name": "train", "graph": "uncompressed" if structural else "compressed", "epochs": done,
                   "seconds": round(time.monotonic() - t0, 2)})

    # Structural compression: the network of the compressed graph, weights from the trained one.
    if structural:
        model, rep = C.structural(model, cg)
        info["structural"] = {"from": "graph_uncompressed", "pruned": rep.pruned, "factorized": rep.factorized}
        log(f"structural compression: {len(rep.pruned)} layers pruned, {len(rep.factorized)} factorized")
    cons, wf = C.apply_weight_formats(model, pruning == "magnitude", clusters > 0)
    info["weight_formats"] = wf
    if structural or cons:
        # Pruned, factorized or shared weights change every layer's output statistics.
        engine.recalibrate_bn(model, ds.train, shape)
    if (structural or cons) and job.epochs > 0:
        vloss, vacc = engine.evaluate(model, ds.val, shape)
        info["before_finetune"] = {"accuracy": round(vacc, 4), "loss": round(vloss, 6)}

    pace = sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else 0.0  # the main phase's seconds per epoch
    if ft_epochs and job.minutes is not None and pace > 0:
        # What the time budget leaves for fine-tuning, at the main phase's pace (at least one
        # epoch: a compressed network is not left unrecovered for want of seconds).
        left = job.minutes * 60.0 - (time.monotonic() - t0)
        fit = max(1, min(ft_epochs, int(left / pace)))
        if fit < ft_epochs:
            log(f"{job.minutes:g} minutes leave {fit} of {ft_epochs} fine-tuning epochs")
            ft_epochs = fit
        info["budget"]["finetune_epochs_planned"] = ft_epochs
    if ft_epochs and not clock.fits(pace * 1.2):
        stopped["early"] = True
        log("no time left before the deadline to fine-tune")
        ft_epochs = 0
    # Fine-tuning a pruned, factorized or shared network needs the full learning rate to recover
    # in one epoch; quantization-aware training of an intact network a gentler one.
    ft_sched = engine.Schedule(epochs=ft_epochs, lr=job.lr, batch_size=job.batch_size, warmup_fraction=0.0, **loss_and_data)
    qat_lr = job.lr / 3 if needs_finetune else job.lr / 6

    def finetune_float(m) -> None:
        t = time.monotonic()
        # A network that lost little to its compression can lose more to a recovery epoch at
        # the full learning rate: the weights that score better on validation are kept.
        before = copy.deepcopy(m.state_dict()) if "before_finetune" in info else None
        last_val.clear()
        n = engine.train(m, ds.train, shape, ft_sched, seed=job.seed + 1, distill=distill,
                         after_step=(lambda: cons.project(lambda i: C.raw_weight(m.weight_module(i)))) if cons else None,
                         epoch_end=epoch_end(1, m, ft_epochs), device=device)
        phase = {"name": "finetune", "epochs": n, "seconds": round(time.monotonic() - t, 2)}
        if before is not None:
            after = last_val["accuracy"] if "accuracy" in last_val else engine.evaluate(m, ds.val, shape)[1]
            if after < info["before_finetune"]["accuracy"]:
                m.load_state_dict(before)
                phase["kept"] = "before"
                log(f"fine-tuning lowered validation accuracy ({info['before_finetune']['accuracy']:.2f}% -> {after:.2f}%): "
                    "the weights from before it are kept")
        phases.append(phase)

    qinfo: dict[str, Any] = {"weight_bits": q.weight_bits, "activation_bits": q.activation_bits}
    export_model = model
    if q.int8:
        qinfo.update(path="fx-int8", engine="x86", mode=q.mode, granularity="per_channel" if q.per_channel else "per_tensor")
        if q.qat and ft_epochs:
            prepared = C.fx_prepare(model, q)
            t = time.monotonic()

            def freeze() -> None:
                C.set_observers(prepared, False)
                C.freeze_bn(prepared)

            n = engine.train(prepared, ds.train, shape, engine.Schedule(epochs=ft_epochs, lr=qat_lr, batch_size=job.batch_size,
                                                                        warmup_fraction=0.0, **loss_and_data),
                             seed=job.seed + 1, distill=distill,
                             after_step=(lambda: cons.project(lambda i: C.fx_weight(prepared, i))) if cons else None,
                             at_fraction=(0.7, freeze), epoch_end=epoch_end(1, prepared, ft_epochs, False), device=device)
            phases.append({"name": "qat", "epochs": n, "seconds": round(time.monotonic() - t, 2)})
            C.fx_to_float(prepared, model)
        else:
            if q.qat:
                qinfo["note"] = "no epochs for quantization-aware training: post-training calibration instead"
            if ft_epochs:
                finetune_float(model)
            prepared = C.fx_prepare(model, q)
            qinfo["calibration_images"] = engine.calibrate(prepared, ds.train, shape)
        float_loss, float_acc = engine.evaluate(model, ds.val, shape)
        qinfo["float_accuracy"] = round(float_acc, 4)
        final = C.fx_convert(prepared)
        qinfo["int8_zero_weights"] = C.quantized_zero_count(final)
    elif q.active:
        qinfo.update(path="simulated", mode=q.mode if q.qat else "ptq", granularity="per_channel" if q.per_channel else "per_tensor",
                     note="weights computed on their quantization grid, activations through FakeQuantize: "
                          "numerically what integer kernels of these widths compute")
        if ft_epochs and not q.qat:
            finetune_float(model)
        float_loss, float_acc = engine.evaluate(model, ds.val, shape)
        qinfo["float_accuracy"] = round(float_acc, 4)
        C.simulate(model, q, cons)
        if q.qat and ft_epochs:
            t = time.monotonic()
            n = engine.train(model, ds.train, shape, engine.Schedule(epochs=ft_epochs, lr=qat_lr, batch_size=job.batch_size,
                                                                     warmup_fraction=0.0, **loss_and_data),
                             seed=job.seed + 1, distill=distill,
                             after_step=(lambda: cons.project(lambda i: C.raw_weight(model.weight_module(i)))) if cons else None,
                             at_fraction=(0.7, lambda: C.set_observers(model, False)), epoch_end=epoch_end(1, model, ft_epochs, False),
                             device=device)
            phases.append({"name": "qat", "epochs": n, "seconds": round(time.monotonic() - t, 2)})
        elif q.activation_bits < 32:
            qinfo["calibration_images"] = engine.calibrate(model, ds.train, shape)
        C.set_observers(model, False)
        final = model
    else:
        if ft_epochs:
            finetune_float(model)
        final = model
    if q.active:
        info["quantization"] = qinfo

    # The compressed model's figures.
    val_loss, val_acc = engine.evaluate(final, ds.val, shape)
    test_loss, test_acc = engine.evaluate(final, ds.test, shape)
    params = model.param_count()
    macs = count_macs(model, shape)
    zeros = cons.zeros()
    sparse_macs = 0
    for n in C.weight_layers(model.graph):
        m = model.weight_module(n["id"])
        w = C.raw_weight(m)
        layer_macs = w.numel() * (n["shape"][1] * n["shape"][2] if n["op"] == "conv" else 1)
        z = int((cons.layers[n["id"]].mask == 0).sum()) if n["id"] in cons.layers and cons.layers[n["id"]].mask is not None else 0
        sparse_macs += math.floor(layer_macs * (w.numel() - z) / w.numel() + 0.5)

    cons.to(torch.device("cpu"))  # the constraints followed the weights to the GPU, if they went there
    packed = pack.pack(model, out_dir / "model.tpym", cons)
    torch_path = out_dir / ("model_int8.pt" if q.int8 else "model.pt")
    torch.save(final.state_dict(), torch_path)
    onnx_info, onnx_model = export_onnx(final, export_model, q, shape, out_dir / "model.onnx")
    onnx_bytes = onnx_info.pop("onnx_bytes")
    info.update(onnx_info)
    if job.tflite:
        info.update(export_tflite(export_model if q.int8 else onnx_model, shape, ds, out_dir))
    info.update(packed=str(out_dir / "model.tpym"), torch_model=str(torch_path), torch_bytes=torch_path.stat().st_size,
                phases=phases, epochs=job.epochs, finetune_epochs=ft_epochs, data_fraction=job.data_fraction,
                stopped_early=stopped["early"])
    metrics = {
        "accuracy": round(val_acc, 4), "test_accuracy": round(test_acc, 4), "loss": round(val_loss, 6),
        "test_loss": round(test_loss, 6), "params": params, "nonzero_params": params - zeros, "bytes": packed["bytes"],
        "payload_bytes": packed["payload_bytes"], "macs": macs, "sparse_macs": sparse_macs,
        "train_seconds": round(train_seconds, 3), "seconds": round(clock.elapsed(), 3),
        "epochs_done": sum(p["epochs"] for p in phases),
    }
    metrics["onnx_bytes"] = onnx_bytes
    int8_file = info.get("tflite", {}).get("model_int8.tflite", {})
    if "test_accuracy" in int8_file:
        metrics["int8_tflite_test_accuracy"] = int8_file["test_accuracy"]
    if epoch_seconds:
        metrics["epoch_seconds"] = round(sum(epoch_seconds) / len(epoch_seconds), 3)
    if "val_accuracy" in info.get("teacher", {}):
        metrics["teacher_accuracy"] = round(info["teacher"]["val_accuracy"], 4)
    log(f"result: validation {val_acc:.2f}%, test {test_acc:.2f}%, {params} params, {macs} MACs, {packed['bytes']} bytes")
    # The files the worker uploads to the coordinator, so the model can be exported wherever
    # the search is queried from.
    artifacts = {"model.onnx": str(out_dir / "model.onnx"), "model.tpym": str(out_dir / "model.tpym"), torch_path.name: str(torch_path)}
    for name, made in info.get("tflite", {}).items():
        artifacts[name] = made["path"]
    trial.report_result(info=info, artifacts={k: v for k, v in artifacts.items() if Path(v).exists()}, **metrics)


def keep_the_better(model, average, last_accuracy, ds, shape, decay: float) -> dict[str, Any]:
    """The main phase's last weights or their moving average, whichever scores higher on
    validation (batch norm recomputed for each); the model is left with the one kept."""
    import engine
    if last_accuracy is None:
        last_accuracy = engine.evaluate(model, ds.val, shape)[1]
    average.swap(model)
    engine.recalibrate_bn(model, ds.train, shape)
    averaged = engine.evaluate(model, ds.val, shape)[1]
    kept = "average" if averaged > last_accuracy else "last"
    if kept == "last":
        average.swap(model)
        engine.recalibrate_bn(model, ds.train, shape)
    log(f"weight average (decay {decay:g}): validation {averaged:.2f}% against {last_accuracy:.2f}% for the last weights; "
        f"the {'average' if kept == 'average' else 'last weights'} kept")
    return {"decay": decay, "last_accuracy": round(last_accuracy, 4), "average_accuracy": round(averaged, 4), "kept": kept}


def export_onnx(final, float_model, q, shape, path: Path) -> tuple[dict[str, Any], Any]:
    """Exports the compressed model to ONNX: the int8 model as QDQ/QLinear operators where the
    exporter can; otherwise the float network with its compressed weights (quantization
    recorded in the result's info instead). Returns the info and the PyTorch model exported."""
    import copy

    import torch

    import compress as C

    x = torch.zeros(1, *shape)

    def go(m) -> None:
        m.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(m, (x,), str(path), input_names=["input"], output_names=["output"], opset_version=17,
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, dynamo=False)

    out: dict[str, Any] = {"onnx": str(path)}
    failures = []
    exported = final
    if q.int8:
        try:
            go(final)
            out["onnx_format"] = "int8"
        except Exception as e:  # noqa: BLE001 - the exporter raises many kinds
            failures.append(f"int8 export failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
    elif q.active:
        m = copy.deepcopy(final)
        C.bake_weights(m)
        exported = m
        try:
            go(m)
            out["onnx_format"] = "float weights on the quantization grid" + (", activations as QDQ" if len(m.act_fq) else "")
        except Exception as e:  # noqa: BLE001
            failures.append(f"QDQ export failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
            m.act_fq = torch.nn.ModuleDict()
            try:
                go(m)
                out["onnx_format"] = "float weights on the quantization grid (activation quantization not exported)"
            except Exception as e2:  # noqa: BLE001
                failures.append(f"float export failed ({type(e2).__name__}: {e2})")
    if "onnx_format" not in out:
        if failures:
            log("; ".join(failures) + ": exporting the float model")
        exported = float_model if q.int8 else final
        go(exported)
        out["onnx_format"] = "float" + (" (the int8 model could not be exported; quantization is in info.quantization)"
                                        if q.int8 else "")
    if failures:
        out["onnx_note"] = "; ".join(failures)
    out["onnx_bytes"] = path.stat().st_size
    out["onnx_check"] = onnx_check(exported, path, shape)
    return out, exported


def export_tflite(model, shape, ds, out_dir: Path) -> dict[str, Any]:
    """model.tflite (float32) and model_int8.tflite (int8 throughout) of the trained network,
    checked against PyTorch on 32 test images (tflite_export.py). `model` is the float network
    the compressed weights live in: the one model.onnx holds (weights baked on their grid),
    or for int8 candidates the float model their QAT or calibration started from."""
    import torch

    import data
    import tflite_export

    if len(getattr(model, "act_fq", ())):
        model.act_fq = torch.nn.ModuleDict()  # simulated activations: the int8 file quantizes them itself
    calibration = data.adapt(ds.train.images[:256], shape).contiguous()
    check = data.adapt(ds.test.images[:32], shape).contiguous()
    t = time.monotonic()
    out = tflite_export.export(model, shape, out_dir, calibration, check)
    made = out.get("tflite", {}).get("model_int8.tflite")
    if made:
        # The int8 file is what goes on the device: its own test accuracy, on the job's test split.
        e = time.monotonic()
        acc = tflite_export.accuracy(tflite_export.Runner(Path(made["path"])), data.adapt(ds.test.images, shape).contiguous(), ds.test.labels)
        made["test_accuracy"] = round(acc, 4)
        made["test_images"] = len(ds.test)
        log(f"model_int8.tflite: test {acc:.2f}% on {len(ds.test)} images ({time.monotonic() - e:.1f} s)")
    log(f"TFLite export in {time.monotonic() - t:.1f} s: " + (", ".join(
        f"{k} {v['bytes']} bytes, top-1 agreement {v['check']['top1_agreement']:.2%}" for k, v in out.get("tflite", {}).items())
        or "none") + (f" ({out['tflite_note']})" if "tflite_note" in out else ""))
    return out


def onnx_check(model, path: Path, shape) -> dict[str, Any] | None:
    """Runs the exported file in ONNX Runtime on a few images: largest logit difference and
    how often the top class agrees with PyTorch's."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import torch

    import data
    ds = data.load(test_fraction=0.01, val_fraction=0.01, data_fraction=0.001)
    x = data.adapt(ds.test.images[:32], shape).contiguous()
    try:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3  # QDQ graphs make ONNX Runtime warn about bias scale shapes
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        got = torch.from_numpy(sess.run(None, {"input": x.numpy()})[0])
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": f"{type(e).__name__}: {str(e)[:300]}"}
    with torch.no_grad():
        model.eval()
        want = model(x).float()
    return {"ok": True, "max_abs_diff": round(float((got - want).abs().max()), 6),
            "top1_agreement": round(float((got.argmax(1) == want.argmax(1)).float().mean()), 4)}


def main() -> int:
    try:
        raw = trial.get_job()
    except trial.JobError as e:
        print(f"trainer: error: {e}", file=sys.stderr, flush=True)
        return 2
    try:
        run(raw)
    except JobError as e:
        print(f"trainer: error: bad job: {e}", file=sys.stderr, flush=True)
        return 2
    except Exception as e:  # noqa: BLE001
        from graph_model import GraphError
        if isinstance(e, GraphError):
            print(f"trainer: error: bad graph: {e}", file=sys.stderr, flush=True)
            return 2
        traceback.print_exc(file=sys.stderr)
        print(f"trainer: error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
