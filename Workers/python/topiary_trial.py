"""The trial side of Topiary's trainer protocol, for any Python trainer (docs/PROTOCOL.md).

Three calls, in the spirit of NNI's trial API:

    import topiary_trial as trial

    job = trial.get_job()                      # the job JSON: candidate, graph, fidelity, seed, ...
    for epoch in range(1, job["fidelity"].get("epochs", 1) + 1):
        ...
        trial.report_progress(epoch, accuracy=acc, loss=loss)
    trial.report_result(accuracy=acc, params=n, info={"onnx": path})

`get_job` reads the file named by `TOPIARY_JOB` (the worker writes it there and on stdin), or
standard input when that is unset. Reports are single JSON lines on standard output, flushed
at once; every other line a trainer prints goes to the trial log. A trainer fails by exiting
with a non-zero status (what it wrote to stderr ends up in the failure message); success is
exit status 0 after `report_result`.

Standard library only; Python 3.8 or newer.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from typing import Any, Dict, Optional

__all__ = ["get_job", "report_progress", "report_result", "output_dir", "threads", "JobError"]

_lock = threading.Lock()
_job: Optional[Dict[str, Any]] = None


class JobError(ValueError):
    """The job could not be read or is not a JSON object."""


def get_job(path: Optional[str] = None) -> Dict[str, Any]:
    """The job as a dict, read once (from `path`, else $TOPIARY_JOB, else stdin) and cached."""
    global _job
    if _job is not None and path is None:
        return _job
    source = path or os.environ.get("TOPIARY_JOB")
    try:
        if source:
            with open(source, encoding="utf-8") as f:
                text = f.read()
            _drain_stdin()
        else:
            source = "<stdin>"
            text = sys.stdin.read()
    except OSError as e:
        raise JobError(f"cannot read the job from {source}: {e}") from e
    if not text.strip():
        raise JobError(f"the job from {source} is empty")
    try:
        job = json.loads(text)
    except json.JSONDecodeError as e:
        raise JobError(f"the job from {source} is not JSON: {e}") from e
    if not isinstance(job, dict):
        raise JobError(f"the job from {source} must be a JSON object, got {type(job).__name__}")
    if path is None:
        _job = job
    return job


def _drain_stdin() -> None:
    """Reads the copy of the job the worker also writes to stdin, in the background, so that a
    large job never leaves the worker blocked on (or broken by) a pipe nobody reads. Raw reads
    of the descriptor: a daemon thread holding no Python I/O lock can be left behind at exit."""
    try:
        fd = sys.stdin.fileno()
        if os.isatty(fd):
            return
    except (AttributeError, ValueError, OSError):
        return

    def drain() -> None:
        try:
            while os.read(fd, 1 << 16):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, name="topiary-stdin", daemon=True).start()


def output_dir() -> str:
    """Where the trial may write files: the job's `output_dir`, $TOPIARY_OUTPUT_DIR, or '.'."""
    job = _job or {}
    return str(job.get("output_dir") or os.environ.get("TOPIARY_OUTPUT_DIR") or ".")


def threads() -> int:
    """Cores this trial may use ($TOPIARY_THREADS, set by the worker per slot; default 1)."""
    try:
        return max(1, int(os.environ.get("TOPIARY_THREADS", "1")))
    except ValueError:
        return 1


def _metrics(metrics: Dict[str, Any]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for k, v in metrics.items():
        if not isinstance(v, (int, float)) and hasattr(v, "item"):  # numpy / torch scalars
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"metric {k!r} must be a number, got {type(v).__name__}")
        if not math.isfinite(v):
            raise ValueError(f"metric {k!r} must be finite, got {v}")
        out[k] = v
    return out


def _emit(obj: Dict[str, Any]) -> None:
    line = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def report_progress(step: int, **metrics: Any) -> None:
    """An intermediate report (e.g. per epoch): `{"event":"progress","step":N,"metrics":{...}}`."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    _emit({"event": "progress", "step": step, "metrics": _metrics(metrics)})


def report_result(info: Optional[Dict[str, Any]] = None, artifacts: Optional[Dict[str, str]] = None, **metrics: Any) -> None:
    """The final report: `{"event":"result","metrics":{...},"info":{...},"artifacts":{...}}`.
    `accuracy` is what a search ranks on; `info` is any JSON (paths to exported models, notes);
    `artifacts` names files for the worker to upload to the coordinator, name -> path (relative
    to the job's output directory, or absolute), e.g. {"model.onnx": "model.onnx"}."""
    obj: Dict[str, Any] = {"event": "result", "metrics": _metrics(metrics)}
    if info is not None:
        json.dumps(info, allow_nan=False)  # fails here, not half-written
        obj["info"] = info
    if artifacts:
        for name, path in artifacts.items():
            if not isinstance(name, str) or not isinstance(path, str) or "/" in name or name in (".", ".."):
                raise ValueError(f"artifact {name!r}: names are plain file names and paths are text")
        obj["artifacts"] = dict(artifacts)
    _emit(obj)
