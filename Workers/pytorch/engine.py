"""Training and evaluation loops shared by the trainer and the teacher."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from data import Split, adapt


@dataclass
class Schedule:
    epochs: int
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    warmup_fraction: float = 0.03
    # Label smoothing of the cross-entropy (0: hard labels; distillation's soft targets are
    # the teacher's and are not smoothed).
    label_smoothing: float = 0.0
    # Label-preserving augmentation of each training batch: mirror left-right (half the
    # images) and shift by up to `shift` pixels each way (the border filled with background).
    flip: bool = False
    shift: int = 0


@dataclass
class Distill:
    """Soft targets: loss = alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE."""
    logits: torch.Tensor          # teacher logits for all 60,000 training images, by index
    temperature: float
    alpha: float


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, t: float, alpha: float) -> torch.Tensor:
    kl = F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1), reduction="batchmean", log_target=True)
    return alpha * t * t * kl + (1 - alpha) * F.cross_entropy(student, labels)


class WeightAverage:
    """An exponential moving average of a model's parameters over its training steps
    (Polyak averaging, as timm's ModelEma): `update(model)` after each optimizer step,
    `swap(model)` to exchange the model's parameters with the average (again to undo).
    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first steps so that the
    average does not remember the initial weights. Batch-norm statistics are not averaged:
    recompute them (`recalibrate_bn`) after a swap."""

    def __init__(self, decay: float):
        self.decay = decay
        self.steps = 0
        self.shadow: list[torch.Tensor] | None = None

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        params = [p.detach() for p in model.parameters()]
        if self.shadow is None:
            # Made on the first step, where the parameters are (a GPU when training runs there).
            self.shadow = [p.clone() for p in params]
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for s, p in zip(self.shadow, params):
            s.lerp_(p.to(s.device), 1 - d)

    @torch.no_grad()
    def swap(self, model: nn.Module) -> None:
        assert self.shadow is not None, "nothing averaged yet"
        for s, p in zip(self.shadow, model.parameters()):
            held = p.detach().clone()
            p.copy_(s.to(p.device))
            s.copy_(held.to(s.device))


def augment(x: torch.Tensor, flip: bool, shift: int, pad: float, gen: torch.Generator) -> torch.Tensor:
    """A batch (N, C, H, W) mirrored left-right where a coin says so and shifted by a random
    whole number of pixels in [-shift, shift] on each axis, per image; draws from `gen` so a
    run repeats with its seed."""
    n, _, h, w = x.shape
    if flip:
        mirrored = torch.rand(n, generator=gen) < 0.5
        x = torch.where(mirrored[:, None, None, None], x.flip(3), x)
    if shift > 0:
        padded = F.pad(x, (shift, shift, shift, shift), value=pad)
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        rows = (dy[:, None] + torch.arange(h))[:, :, None]            # (N, H, 1)
        cols = (dx[:, None] + torch.arange(w))[:, None, :]            # (N, 1, W)
        x = padded[torch.arange(n)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    return x


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """The batch laid out channels-last in memory (N, H, W, C), its shape unchanged. Convolutions
    then run in oneDNN's channels-last kernels through the whole network: training steps 1.0-1.7x
    faster on one x86 core across the spaces' networks (bench/channels_last.py). Single-channel images
    need their strides set by hand: for them PyTorch counts the usual layout as channels-last too."""
    n, c, h, w = x.shape
    out = torch.empty_strided((n, c, h, w), (h * w * c, 1, w * c, c), dtype=x.dtype, device=x.device)
    return out.copy_(x)


def network_input(images: torch.Tensor, shape: tuple[int, int, int], pad: float) -> torch.Tensor:
    """A batch of a split's images as a network trains and is evaluated on them: fitted to its
    input shape (data.adapt), laid out channels-last."""
    return channels_last(adapt(images, shape, pad))


def pick_device(want: str = "auto") -> torch.device:
    """Where a job trains: `auto` takes the CUDA GPU the worker gave the job
    (CUDA_VISIBLE_DEVICES) when PyTorch can use one, else the CPU; `cpu` the CPU; `cuda`
    the GPU or an error saying there is none."""
    if want == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if want == "cuda":
        raise RuntimeError("the job asks for device=cuda, but PyTorch sees no CUDA GPU on this worker "
                           f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'})")
    return torch.device("cpu")


def describe(device: torch.device) -> dict[str, str]:
    """The device in the job's info: its kind and, for a GPU, its name."""
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device), "cuda": str(torch.version.cuda)}
    return {"type": device.type}


def device_of(model: nn.Module) -> torch.device:
    """The device of a model's parameters (the CPU for one without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@contextmanager
def on_device(model: nn.Module, device: torch.device | None):
    """The model moved to `device` for the block (nothing moves when it is None), and back
    where it was afterwards, whatever happens in it."""
    if device is None:
        yield
        return
    home = device_of(model)
    model.to(device)
    try:
        yield
    finally:
        model.to(home)


def optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=lr)


def optimizer_and_schedule(model: nn.Module, sched: Schedule, total_steps: int, plan: dict[str, int] | None = None):
    """AdamW and its learning rate per step: linear warm-up, then cosine decay to 0 at
    `plan["total"]` steps (`total_steps` unless the caller shortens the plan while training)."""
    plan = plan if plan is not None else {"total": total_steps}
    warm = max(1, int(sched.warmup_fraction * total_steps))
    opt = optimizer(model, sched.lr, sched.weight_decay)
    sch = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm
        else 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / max(1, plan["total"] - warm)))))
    return opt, sch


def epochs_that_fit(planned: int, done: int, elapsed_s: float, budget_s: float | None) -> int:
    """How many epochs in all a run can plan when `done` epochs took `elapsed_s` and it has
    `budget_s`: the planned count, or fewer when the rest at the mean pace would overrun."""
    if done <= 0 or budget_s is None:
        return planned
    pace = elapsed_s / done
    return max(done, min(planned, done + int((budget_s - elapsed_s) / pace)))


def train(model: nn.Module, split: Split, shape: tuple[int, int, int], sched: Schedule, *, seed: int,
          distill: Distill | None = None, after_step: Callable[[], None] | None = None,
          at_fraction: tuple[float, Callable[[], None]] | None = None,
          epoch_end: Callable[[int, float, float], bool] | None = None,
          budget_s: float | None = None, replanned: Callable[[int], None] | None = None,
          device: torch.device | None = None) -> int:
    """Trains `sched.epochs` epochs (AdamW, linear warm-up then cosine decay). `after_step`
    runs after every optimizer step (constraint projection); `at_fraction` = (f, fn) calls fn
    once when a fraction f of the steps is done; `epoch_end(epoch, mean train loss, seconds)`
    may return False to stop. With `budget_s`, the epochs are re-planned after each one so
    that the run ends within it, the cosine decay ending with the last epoch that fits (a
    schedule cut off at a high learning rate loses far more than a shorter one);
    `replanned(epochs)` hears of each change. With `device`, the model trains there and is
    moved back where it was when training ends (compression, quantization and export run
    on the CPU). Returns the epochs done."""
    with on_device(model, device):
        return _train(model, split, shape, sched, seed, distill, after_step, at_fraction, epoch_end, budget_s, replanned)


def _train(model, split, shape, sched, seed, distill, after_step, at_fraction, epoch_end, budget_s, replanned) -> int:
    n = len(split)
    dev = device_of(model)
    bs = sched.batch_size
    per_epoch = max(1, math.ceil(n / bs))
    epochs = sched.epochs
    plan = {"total": per_epoch * epochs}
    opt, sch = optimizer_and_schedule(model, sched, plan["total"], plan)
    gen = torch.Generator().manual_seed(seed)
    step = 0
    fired = False
    started = time.monotonic()
    epoch = 0
    while epoch < epochs:
        epoch += 1
        t0 = time.monotonic()
        model.train()
        perm = torch.randperm(n, generator=gen)
        running, seen = 0.0, 0
        for s in range(0, n, bs):
            idx = perm[s:s + bs]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            x = split.images[idx]
            if sched.flip or sched.shift:
                x = augment(x, sched.flip, sched.shift, split.pad, gen)
            x = network_input(x, shape, split.pad).to(dev)
            y = split.labels[idx].to(dev)
            out = model(x)
            if distill is not None:
                loss = distill_loss(out, distill.logits[split.index[idx]].to(dev), y, distill.temperature, distill.alpha)
            else:
                loss = F.cross_entropy(out, y, label_smoothing=sched.label_smoothing)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged (loss {loss.item()}) in epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sch.step()
            if after_step is not None:
                after_step()
            running += loss.item() * len(idx)
            seen += len(idx)
            step += 1
            if at_fraction is not None and not fired and step >= at_fraction[0] * plan["total"]:
                at_fraction[1]()
                fired = True
        if epoch_end is not None and epoch_end(epoch, running / max(1, seen), time.monotonic() - t0) is False:
            return epoch
        if budget_s is not None:
            fit = epochs_that_fit(epochs, epoch, time.monotonic() - started, budget_s)
            if fit < epochs:
                epochs = fit
                plan["total"] = per_epoch * epochs
                if replanned is not None:
                    replanned(epochs)
    return epochs


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, shape: tuple[int, int, int], batch_size: int = 500) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) on a split, in eval mode."""
    model.eval()
    dev = device_of(model)
    loss, correct = 0.0, 0
    for s in range(0, len(split), batch_size):
        x = network_input(split.images[s:s + batch_size], shape, split.pad).to(dev)
        y = split.labels[s:s + batch_size].to(dev)
        out = model(x).float()
        loss += F.cross_entropy(out, y, reduction="sum").item()
        correct += int((out.argmax(1) == y).sum())
    n = max(1, len(split))
    return loss / n, 100.0 * correct / n


@torch.no_grad()
def calibrate(model: nn.Module, split: Split, shape: tuple[int, int, int], images: int = 2048, batch_size: int = 256) -> int:
    """Runs up to `images` training images through a model with observers (eval mode)."""
    model.eval()
    dev = device_of(model)
    n = min(images, len(split))
    for s in range(0, n, batch_size):
        model(adapt(split.images[s:min(n, s + batch_size)], shape, split.pad).to(dev))
    return n


@torch.no_grad()
def logits(model: nn.Module, images: torch.Tensor, shape: tuple[int, int, int], batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    dev = device_of(model)
    return torch.cat([model(adapt(images[s:s + batch_size], shape).to(dev)).cpu() for s in range(0, len(images), batch_size)])


@torch.no_grad()
def recalibrate_bn(model: nn.Module, split: Split, shape: tuple[int, int, int], images: int = 2048, batch_size: int = 256) -> int:
    """Recomputes batch-norm running statistics as plain averages over up to `images` training
    images with the current weights. After short training the exponential averages still carry
    the statistics of earlier weights, and evaluation suffers for it (a standard step of
    weight-sharing NAS, e.g. Once-for-All). Returns the images used."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns:
        return 0
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    n = min(images, len(split))
    dev = device_of(model)
    try:
        for s in range(0, n, batch_size):
            if min(n, s + batch_size) - s >= 2:
                model(network_input(split.images[s:min(n, s + batch_size)], shape, split.pad).to(dev))
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        model.train(was)
    return n
