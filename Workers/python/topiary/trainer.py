"""One trainer subprocess per job (the trainer protocol, docs/PROTOCOL.md), as the Swift
worker runs it: `/bin/sh -c "exec COMMAND"` in its own process group, the job JSON on stdin
and in `job.json` (named by TOPIARY_JOB), JSON report lines on stdout, everything else in a
capped `trial.log`; SIGTERM then SIGKILL for deadlines and cancels."""
from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from .wire import finite_metrics

MAX_LINE = 1 << 20
DRAIN_AFTER_EXIT = 2.0


class CappedLog:
    """Writes up to `cap` bytes; past the cap counts what it drops and keeps the last 4 KiB of
    each stream, written at the end (as the Swift worker does)."""

    KEEP = 4096

    def __init__(self, path: Path, cap: int):
        self.f = open(path, "ab")
        self.cap, self.written, self.dropped = cap, 0, 0
        self.last = {"stdout": bytearray(), "stderr": bytearray()}

    def write(self, data: bytes, stream: str = "stdout") -> None:
        room = max(0, self.cap - self.written)
        if room:
            self.f.write(data[:room])
            self.written += min(room, len(data))
        rest = data[room:]
        if rest:
            self.dropped += len(rest)
            t = self.last[stream]
            t += rest[-self.KEEP:]
            del t[:-self.KEEP]

    def note(self, text: str) -> None:
        """A line from the worker itself, written even past the cap."""
        self.f.write(text.encode() + b"\n")

    def close(self) -> None:
        if self.dropped:
            self.note(f"\n[topiary: log truncated at {self.cap} bytes; {self.dropped} bytes dropped; the end of each stream follows]")
            for stream, tail in self.last.items():
                if tail:
                    self.note(f"[topiary: the last {len(tail)} bytes dropped from {stream}]")
                    self.f.write(bytes(tail))
                    if not tail.endswith(b"\n"):
                        self.note("")
        self.f.close()


def tail_of(path: Path) -> str:
    try:
        data = path.read_bytes()[-600:]
    except OSError:
        return ""
    return " | ".join(data.decode("utf-8", "replace").splitlines()[-5:])


class TrainerRun:
    """A running trainer; events go to `events` as ("progress", ref, step, metrics),
    ("result", ref, metrics, info, artifacts) and ("finished", ref, error, retryable)."""

    def __init__(self, ref: Tuple[int, int], command: str, job: Dict[str, Any], directory: Path, deadline: float,
                 threads: int, log_cap: int, events: "queue.Queue[tuple]", gpu: Optional[str] = None):
        self.ref, self.deadline, self.events = ref, deadline, events
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(job)
        (directory / "job.json").write_text(text)
        self.log_path = directory / "trial.log"
        self.log = CappedLog(self.log_path, log_cap)
        env = dict(os.environ, TOPIARY_JOB=str(directory / "job.json"), TOPIARY_OUTPUT_DIR=str(directory),
                   TOPIARY_TRIAL=str(ref[0]), TOPIARY_ATTEMPT=str(ref[1]), TOPIARY_THREADS=str(threads))
        for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.setdefault(k, str(threads))
        if gpu is not None:  # the one GPU this job may use
            env["CUDA_VISIBLE_DEVICES"] = gpu
        self.proc = subprocess.Popen(["/bin/sh", "-c", "exec " + command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.stop_reason: Optional[str] = None
        self.terminate_sent_at: Optional[float] = None
        threading.Thread(target=self._feed, args=(text,), daemon=True).start()
        threading.Thread(target=self._pump, daemon=True).start()

    def _feed(self, text: str) -> None:
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.close()
        except OSError:
            pass  # a trainer that does not read its stdin

    def _pump(self) -> None:
        out, err = self.proc.stdout, self.proc.stderr
        open_fds = {out.fileno(): out, err.fileno(): err}
        buffer, skipping = bytearray(), False
        saw_result, malformed = False, 0
        exited_at: Optional[float] = None

        def line(data: bytes) -> None:
            nonlocal saw_result, malformed
            if data[:1] == b"{":
                try:
                    v = json.loads(data)
                except ValueError:
                    v = None
                if isinstance(v, dict) and isinstance(v.get("event"), str):
                    m = v.get("metrics")
                    if v["event"] == "progress" and isinstance(m, dict):
                        step = v.get("step") if isinstance(v.get("step"), int) else 0
                        self.events.put(("progress", self.ref, step, finite_metrics(m)))
                        return
                    if v["event"] == "result" and not isinstance(m, dict):
                        malformed += 1
                        self.log.note('[topiary: ignored a result line whose "metrics" is not a JSON object]')
                    elif v["event"] == "result" and not saw_result:
                        saw_result = True
                        arts = v.get("artifacts") if isinstance(v.get("artifacts"), dict) else {}
                        self.events.put(("result", self.ref, finite_metrics(m), v.get("info"),
                                         [(k, p) for k, p in arts.items() if isinstance(p, str)]))
                        return
            self.log.write(data + b"\n")

        while open_fds:
            if exited_at is None and self.proc.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > DRAIN_AFTER_EXIT:
                self.log.note("[topiary: the trainer exited but a process it started still holds its output; stopped reading]")
                break
            ready, _, _ = select.select(list(open_fds), [], [], 0.2)
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    del open_fds[fd]
                    continue
                if fd != out.fileno():
                    self.log.write(chunk, "stderr")
                    continue
                buffer += chunk
                while True:
                    nl = buffer.find(b"\n")
                    if nl < 0:
                        if len(buffer) > MAX_LINE:
                            buffer.clear()
                            if not skipping:
                                self.log.note(f"[topiary: a stdout line longer than {MAX_LINE} bytes was dropped]")
                            skipping = True
                        break
                    data = bytes(buffer[:nl])
                    del buffer[:nl + 1]
                    if skipping:
                        skipping = False
                        continue
                    line(data)
        if buffer and not skipping:
            line(bytes(buffer))
        status = self.proc.wait()
        self.log.close()
        tail = tail_of(self.log_path)
        ends = "; the log is empty" if not tail else f"; log ends: {tail}"
        retryable = False
        if self.stop_reason:
            error: Optional[str] = self.stop_reason
            retryable = not self.stop_reason.startswith("deadline")
        elif status < 0:
            error = f"trainer killed by signal {-status} ({signal.Signals(-status).name})" + ends
            retryable = True
        elif status != 0:
            error = f"trainer exited with status {status}" + ends
        elif not saw_result:
            error = "trainer exited without a result line" + (f" ({malformed} malformed result lines were ignored)" if malformed else "") + ends
        else:
            error = None
        self.events.put(("finished", self.ref, error, retryable))

    def terminate(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.terminate_sent_at = time.monotonic()
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        if not self.running:
            return
        if self.terminate_sent_at is not None and self.stop_reason and "SIGKILL" not in self.stop_reason:
            self.stop_reason += f"; it ignored SIGTERM and was killed with SIGKILL after {round(time.monotonic() - self.terminate_sent_at)} s"
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    @property
    def running(self) -> bool:
        return self.proc.poll() is None
