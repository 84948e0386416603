"""A `supernet` job of the reference trainer: trains a space's supernet (supernet.py) and
reports its checkpoint as the artifact `supernet.pt`.

The job is the trial of the space's largest network (`graph`) with a `supernet` object
(`largest`, `smallest`, `graphs`: the sampled networks the sandwich rule draws from, made by the
coordinator). Progress after every epoch is the largest network's validation accuracy with its
weights as they are then; the result reports the largest's, the smallest's and the sampled
networks' mean accuracy by inheritance (`accuracy`, `smallest_accuracy`, `sampled_accuracy`).
"""

from __future__ import annotations

import random
import time
from typing import Any

import torch

import engine
import supernet as S
import topiary_trial as trial
from graph_model import GraphNet, count_macs
from trainer import Clock, Job, JobError, load_data, log

# Networks of the pool whose accuracy by inheritance the result reports.
EVALUATED_SAMPLES = 4


def inherited_accuracy(net: S.Supernet, graph: dict[str, Any], ds, bn_images: int = 2048) -> float:
    """Validation accuracy of a network of the space with its weights cut from the supernet."""
    model = GraphNet(graph)
    net.load_into(model)
    shape = tuple(graph["input"])
    engine.recalibrate_bn(model, ds.train, shape, images=bn_images)
    return engine.evaluate(model, ds.val, shape)[1]


def run(job: Job, pool: Any, space: str) -> None:
    threads = trial.threads()
    torch.set_num_threads(threads)
    torch.manual_seed(job.seed)
    clock = Clock(job.deadline_s)
    try:
        largest, smallest, graphs, extra = S.check_pool(pool)
    except S.SupernetError as e:
        raise JobError(str(e)) from e
    if largest != job.graph:
        log("note: the job's graph is not supernet.largest; the supernet is shaped by supernet.largest")
    out_dir = job.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    net = S.Supernet(largest, extra)
    # Every graph the sandwich rule uses must be a slice of the largest (checked before training).
    try:
        for g in [smallest] + graphs:
            net.plan(g)
            net.sliced(g)
    except S.SupernetError as e:
        raise JobError(f"a sampled network is not a slice of the largest: {e}") from e
    shape = net.net.input_shape
    info: dict[str, Any] = {"trainer": "pytorch", "mode": "supernet", "torch": torch.__version__, "threads": threads,
                            "seed": job.seed, "pool": len(graphs)}
    ds = load_data(job, net.net, shape, info)
    device = engine.pick_device("auto" if job.gpu else "cpu")
    info["device"] = engine.describe(device)
    log(f"supernet: {net.param_count()} parameters; sandwich rule over the largest, the smallest and "
        f"2 of {len(graphs)} sampled networks per step")

    epoch_seconds: list[float] = []
    stopped = {"early": False}

    def epoch_end(epoch: int, loss: float, seconds: float) -> bool:
        epoch_seconds.append(seconds)
        t = time.monotonic()
        acc = inherited_accuracy(net, largest, ds)
        trial.report_progress(epoch, accuracy=round(acc, 4), loss=round(loss, 6), epoch=epoch,
                              epoch_seconds=round(seconds, 3), elapsed_s=round(clock.elapsed(), 3))
        log(f"supernet epoch {epoch}/{job.epochs}: loss {loss:.4f}, largest network {acc:.2f}% "
            f"({seconds:.1f} s, evaluated in {time.monotonic() - t:.1f} s)")
        if epoch < job.epochs and not clock.fits(seconds * 1.2):
            stopped["early"] = True
            log("stopping early: the next epoch would not finish before the deadline")
            return False
        return True

    t0 = time.monotonic()
    done = S.train(net, smallest, graphs, ds.train, epochs=job.epochs, lr=job.lr, batch_size=job.batch_size,
                   seed=job.seed, epoch_end=epoch_end, device=device) if job.epochs > 0 else 0
    train_seconds = time.monotonic() - t0

    largest_acc = inherited_accuracy(net, largest, ds)
    smallest_acc = inherited_accuracy(net, smallest, ds)
    rng = random.Random(job.seed + 7)
    sampled = rng.sample(graphs, min(EVALUATED_SAMPLES, len(graphs)))
    sampled_accs = [inherited_accuracy(net, g, ds) for g in sampled]
    figures = {"largest_accuracy": round(largest_acc, 4), "smallest_accuracy": round(smallest_acc, 4),
               "sampled_accuracy": round(sum(sampled_accs) / len(sampled_accs), 4)}
    settings = {"epochs": done, "data_fraction": job.data_fraction, "lr": job.lr, "batch_size": job.batch_size,
                "pool": len(graphs), "seed": job.seed, "dataset": job.dataset or "fashion-mnist", "rule": "sandwich+inplace-kd"}
    path = out_dir / "supernet.pt"
    S.save(net, path, space, settings, figures)
    info.update(settings=settings, figures=figures, checkpoint_bytes=path.stat().st_size, stopped_early=stopped["early"])
    metrics = {"accuracy": figures["largest_accuracy"], "smallest_accuracy": figures["smallest_accuracy"],
               "sampled_accuracy": figures["sampled_accuracy"], "params": net.param_count(),
               "macs": count_macs(net.net, shape), "train_seconds": round(train_seconds, 3),
               "seconds": round(clock.elapsed(), 3), "epochs_done": done}
    if epoch_seconds:
        metrics["epoch_seconds"] = round(sum(epoch_seconds) / len(epoch_seconds), 3)
    log(f"result: largest {largest_acc:.2f}%, smallest {smallest_acc:.2f}%, sampled mean {figures['sampled_accuracy']:.2f}% "
        f"by inheritance; checkpoint {path} ({path.stat().st_size} bytes)")
    trial.report_result(info=info, artifacts={"supernet.pt": str(path)}, **metrics)
