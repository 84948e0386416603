"""`topiary-worker`: a worker agent in Python with the Swift worker's behaviour and options —
HELLO with tags and trainers, heartbeats and reconnects (Paranoid Pirate), a trainer
subprocess per job (or the built-in table), progress, results kept until ACKed and resent
after a reconnect, CANCEL, deadlines, BYE on SIGTERM, CURVE with `topiary keys generate`'s
files, artifact upload (FETCH → CHUNK) and download (GET → PART). docs/PROTOCOL.md."""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import queue
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import zmq

from . import wire
from .keys import KeyError_, load_pair, load_public
from .table import Table, TableError
from .trainer import TrainerRun

log = logging.getLogger("topiary.worker")
Ref = Tuple[int, int]


class Rejected(Exception):
    """The coordinator refused this worker for good."""


@dataclass
class Held:
    job: Dict[str, Any]
    run: Optional[TrainerRun] = None
    metrics: Optional[Dict[str, float]] = None
    info: Any = None
    artifacts: List[Dict[str, Any]] = field(default_factory=list)
    outcome: Optional[Tuple[str, Dict[str, Any]]] = None  # RESULT or FAILED, until ACKed
    delayed: Optional[Tuple[Tuple[str, Dict[str, Any]], float]] = None
    fetching: Set[str] = field(default_factory=set)
    gpu: Optional[str] = None  # the GPU its trainer was given, while it runs


@dataclass
class Download:
    name: str
    sha: str
    size: int
    file: Any
    hasher: Any = field(default_factory=hashlib.sha256)
    received: int = 0
    requested: int = 0
    mismatches: int = 0
    waiting: Set[Ref] = field(default_factory=set)


def is_local(endpoint: str) -> bool:
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    host = endpoint.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


class Worker:
    def __init__(self, endpoint: str, name: str, slots: int, tags: List[str], trainers: Dict[str, str], work_dir: Path,
                 heartbeat_ms: int = 1000, liveness: int = 5, kill_grace: float = 5.0, max_log_bytes: int = 64 << 20,
                 curve: Optional[Tuple[bytes, bytes, bytes]] = None, threads: Optional[int] = None,
                 cache_dir: Optional[Path] = None, cache_bytes: int = 10 << 30, allow_plain_network: bool = False,
                 gpus: Optional[List[str]] = None):
        self.endpoint, self.name, self.slots, self.tags = endpoint, name, slots, tags
        self.trainers = trainers
        self.tables: Dict[str, Table] = {}
        for k, spec in trainers.items():
            if spec.startswith("table:"):
                self.tables[k] = Table(spec[len("table:"):])
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.heartbeat_ms, self.liveness, self.kill_grace, self.max_log_bytes = heartbeat_ms, liveness, kill_grace, max_log_bytes
        self.curve = curve
        self.threads = threads or max(1, (os.cpu_count() or 1) // max(1, slots))
        self.cache_dir = cache_dir or Path.home() / ".cache" / "topiary" / "artifacts"
        self.cache_bytes = cache_bytes
        self.allow_plain_network = allow_plain_network
        self.gpus = list(gpus or [])  # CUDA GPUs for the trainers, one per job
        self.context = zmq.Context.instance()
        self.socket: Optional[zmq.Socket] = None
        self.monitor: Optional[zmq.Socket] = None
        self.handshake_notes: Set[str] = set()
        self.jobs: Dict[Ref, Held] = {}
        self.events: "queue.Queue[tuple]" = queue.Queue()
        self.downloads: Dict[str, Download] = {}
        self.shelf_path = work_dir / "shelf.json"
        try:
            self.shelf: Dict[str, str] = {k: v for k, v in json.loads(self.shelf_path.read_text()).items() if wire.is_digest(k)}
        except (OSError, ValueError, AttributeError):
            self.shelf = {}
        self.last_heard = self.last_sent = 0.0
        self.backoff = 0.5
        self.stopping = False

    # -- connection ---------------------------------------------------------------------

    def connect(self) -> None:
        if self.socket is not None:
            self.socket.disable_monitor()
            self.socket.close(linger=0)
        if self.monitor is not None:
            self.monitor.close(linger=0)
        s = self.context.socket(zmq.DEALER)
        s.setsockopt(zmq.ROUTING_ID, f"{self.name}/{uuid.uuid4().hex[:8]}".encode())
        s.setsockopt(zmq.MAXMSGSIZE, wire.MAX_MESSAGE_BYTES)
        s.setsockopt(zmq.LINGER, 0)
        if self.curve:
            server, public, secret = self.curve
            s.curve_serverkey, s.curve_publickey, s.curve_secretkey = server, public, secret
        # Handshake failures arrive only as socket events: a refused key ends the worker.
        self.monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        s.connect(self.endpoint)
        self.socket = s
        self.last_heard = time.monotonic()
        running = [{"trial": r[0], "attempt": r[1]} for r, h in self.jobs.items() if h.outcome is None]
        self.send("HELLO", {"worker": self.name, "host": socket.gethostname(), "slots": self.slots, "tags": self.tags,
                            "trainers": sorted(self.trainers), "version": wire.VERSION, "running": running})
        log.info("connecting to %s (%d running)", self.endpoint, len(running))

    def check_handshake(self) -> None:
        from zmq.utils.monitor import recv_monitor_message

        while self.monitor is not None and self.monitor.poll(0):
            ev = recv_monitor_message(self.monitor)
            mine = self.curve[1].decode() if self.curve else "none"
            if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                raise Rejected(f"the coordinator at {self.endpoint} refused this worker's key {mine} (status {ev['value']}); "
                               "add this worker's .pub file to the coordinator's allow-list")
            why = ("the coordinator requires CURVE: give --key and --server-key" if not self.curve
                   else "the secure handshake failed; is --server-key the coordinator's public key (its .pub file)?")
            if why not in self.handshake_notes:
                self.handshake_notes.add(why)
                log.error("cannot connect to the coordinator: %s", why)

    def send(self, command: str, body: Dict[str, Any], payload: Optional[bytes] = None) -> None:
        if self.socket is None:
            return
        try:
            self.socket.send_multipart(wire.encode(command, body, payload), flags=zmq.NOBLOCK)
            self.last_sent = time.monotonic()
        except zmq.Again:
            pass

    def run(self) -> None:
        if not self.curve and not self.allow_plain_network and not is_local(self.endpoint):
            raise Rejected(f"refusing to dial {self.endpoint} in plain TCP: give --server-key (the coordinator's .pub) and --key "
                           "(this worker's .key), or pass --insecure")
        self.connect()
        while not self.stopping:
            busy = any(h.outcome is None and h.run is not None for h in self.jobs.values())
            self.check_handshake()
            if self.socket.poll(20 if busy else min(self.heartbeat_ms // 2, 100), zmq.POLLIN):
                while True:
                    try:
                        frames = self.socket.recv_multipart(flags=zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.last_heard = time.monotonic()
                    self.handle(frames)
            self.drain_events()
            self.release_delayed()
            self.enforce_deadlines()
            now = time.monotonic()
            if (now - self.last_sent) * 1000 >= self.heartbeat_ms:
                self.send("HEARTBEAT", {})
            if (now - self.last_heard) * 1000 > self.heartbeat_ms * self.liveness:
                log.warning("coordinator silent; reconnecting after %.1f s", self.backoff)
                time.sleep(self.backoff)
                self.backoff = min(self.backoff * 2, 30)
                self.connect()
        # Leaving: stop trainers, tell the coordinator (it requeues what was running).
        for h in self.jobs.values():
            if h.outcome is None and h.run is not None:
                h.run.terminate("worker shutting down")
        self.send("BYE", {"reason": "worker shutting down"})
        end = time.monotonic() + self.kill_grace
        while time.monotonic() < end and any(h.run is not None and h.run.running for h in self.jobs.values()):
            time.sleep(0.05)
        for h in self.jobs.values():
            if h.run is not None:
                h.run.kill()
        self.socket.close(linger=200)
        log.info("worker stopped")

    # -- messages -----------------------------------------------------------------------

    def handle(self, frames: List[bytes]) -> None:
        try:
            command, body, payload = wire.decode(frames)
        except wire.WireError as e:
            log.warning("dropped a malformed message: %s", e)
            return
        if command == "WELCOME":
            self.backoff = 0.5
            self.heartbeat_ms = max(50, int(body.get("heartbeat_ms", self.heartbeat_ms)))
            self.liveness = max(2, int(body.get("liveness", self.liveness)))
            for h in self.jobs.values():
                if h.outcome:
                    self.send(*h.outcome)
            for d in self.downloads.values():
                d.requested = d.received
            self.pump_downloads()
            log.info("connected as %s", self.name)
        elif command == "JOB":
            try:
                self.start(body)
            except (KeyError, TypeError, ValueError) as e:
                log.warning("dropped a bad JOB: %s", e)
        elif command == "CANCEL":
            ref = (body.get("trial"), body.get("attempt"))
            h = self.jobs.get(ref)
            if h and h.outcome is None:
                if h.run is not None:
                    h.run.terminate("cancelled: " + str(body.get("reason", "by the coordinator")))
                else:
                    del self.jobs[ref]
        elif command == "REJECT":
            raise Rejected(str(body.get("reason", "no reason given")))
        elif command == "BYE":
            self.last_heard = 0.0  # the coordinator goes away: reconnect, keep running jobs
        elif command == "ACK":
            ref = (body.get("trial"), body.get("attempt"))
            if ref in self.jobs and self.jobs[ref].outcome is not None:
                del self.jobs[ref]
        elif command == "FETCH":
            self.answer_fetch(body)
        elif command in ("STORED", "DISCARD"):
            if self.shelf.pop(str(body.get("sha256")), None) is not None:
                self.save_shelf()
        elif command == "PART":
            self.receive_part(body, payload or b"")
        elif command != "HEARTBEAT":
            log.warning("dropped an unexpected command %s", command)

    def start(self, job: Dict[str, Any]) -> None:
        ref = (int(job["trial"]), int(job["attempt"]))
        if ref in self.jobs:
            return  # a repeated JOB after a reconnect is already ours
        trainer = job["trainer"]
        if trainer not in self.trainers:
            return self.finish(ref, job, "FAILED", {"error": f"worker {self.name} has no trainer '{trainer}'", "retryable": True})
        if trainer in self.tables:
            key = job.get("benchmark_key")
            if not key:
                return self.finish(ref, job, "FAILED", {"error": "the table trainer needs a benchmark key; the search space declares no benchmark",
                                                        "retryable": False})
            m = self.tables[trainer].evaluate(key, int(job.get("seed", 0)))
            if m is None:
                return self.finish(ref, job, "FAILED", {"error": f"key {key} is not in {self.tables[trainer].path}", "retryable": False})
            result = ("RESULT", {"trial": ref[0], "attempt": ref[1], "metrics": m})
            sleep = float((job.get("fidelity") or {}).get("sleep_s", 0) or 0)
            if sleep > 0:
                self.jobs[ref] = Held(job=job, delayed=(result, time.monotonic() + min(sleep, 3600)))
            else:
                self.finish_outcome(ref, job, result)
            return
        if trainer == "table":
            return self.finish(ref, job, "FAILED", {"error": "a command trainer may not be named 'table' (table jobs carry no graph)",
                                                    "retryable": False})
        missing = [a for a in job.get("artifacts") or [] if not (self.cache_dir / a["sha256"]).exists()]
        if missing:
            self.jobs[ref] = Held(job=job, fetching={a["sha256"] for a in missing})
            for a in missing:
                self.begin_download(a, ref)
            return
        self.launch(job)

    def launch(self, job: Dict[str, Any]) -> None:
        ref = (int(job["trial"]), int(job["attempt"]))
        directory = self.work_dir / f"trial-{ref[0]}-{ref[1]}"
        body = dict(job, output_dir=str(directory))
        if job.get("artifacts"):
            body["artifact_paths"] = {a["name"]: str(self.cache_dir / a["sha256"]) for a in job["artifacts"]}
            for a in job["artifacts"]:
                os.utime(self.cache_dir / a["sha256"])  # used now (LRU)
        deadline = time.monotonic() + int(job["deadline_ms"]) / 1000
        gpu = least_busy(self.gpus, [h.gpu for h in self.jobs.values() if h.run is not None and h.gpu is not None])
        try:
            run = TrainerRun(ref, self.trainers[job["trainer"]], body, directory, deadline, self.threads, self.max_log_bytes, self.events,
                             gpu=gpu)
        except OSError as e:
            return self.finish(ref, job, "FAILED", {"error": f"cannot start trainer '{job['trainer']}': {e}", "retryable": True})
        self.jobs[ref] = Held(job=job, run=run, gpu=gpu)
        log.info("job %s started (pid %d)", ref, run.pid)

    def finish(self, ref: Ref, job: Dict[str, Any], command: str, fields: Dict[str, Any]) -> None:
        self.finish_outcome(ref, job, (command, dict({"trial": ref[0], "attempt": ref[1]}, **fields)))

    def finish_outcome(self, ref: Ref, job: Dict[str, Any], outcome: Tuple[str, Dict[str, Any]]) -> None:
        h = self.jobs.get(ref) or Held(job=job)
        h.run, h.delayed, h.outcome = None, None, outcome
        self.jobs[ref] = h
        self.send(*outcome)

    def drain_events(self) -> None:
        while True:
            try:
                e = self.events.get_nowait()
            except queue.Empty:
                return
            kind, ref = e[0], e[1]
            h = self.jobs.get(ref)
            if kind == "progress":
                if h:
                    self.send("PROGRESS", {"trial": ref[0], "attempt": ref[1], "step": e[2], "metrics": e[3]})
            elif kind == "result":
                if h:
                    h.metrics, h.info, h.artifacts = e[2], e[3], self.offer(e[4], ref)
            elif kind == "finished" and h:
                error, retryable = e[2], e[3]
                if error:
                    self.finish(ref, h.job, "FAILED", {"error": error, "retryable": retryable, "log": str(h.run.log_path) if h.run else ""})
                else:
                    body: Dict[str, Any] = {"trial": ref[0], "attempt": ref[1], "metrics": h.metrics or {}}
                    if h.info is not None:
                        body["info"] = h.info
                    if h.artifacts:
                        body["artifacts"] = h.artifacts
                    self.finish_outcome(ref, h.job, ("RESULT", body))
                log.info("job %s finished: %s", ref, error or "result")

    def release_delayed(self) -> None:
        now = time.monotonic()
        for ref, h in list(self.jobs.items()):
            if h.outcome is None and h.delayed and h.delayed[1] <= now:
                self.finish_outcome(ref, h.job, h.delayed[0])

    def enforce_deadlines(self) -> None:
        now = time.monotonic()
        for h in self.jobs.values():
            r = h.run
            if h.outcome is not None or r is None:
                continue
            if r.terminate_sent_at is not None:
                if now - r.terminate_sent_at > self.kill_grace:
                    r.kill()
            elif now > r.deadline:
                r.terminate(f"deadline of {int(h.job['deadline_ms']) // 1000} s passed")

    # -- artifacts ----------------------------------------------------------------------

    def save_shelf(self) -> None:
        tmp = self.shelf_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.shelf, sort_keys=True))
        os.replace(tmp, self.shelf_path)

    def offer(self, declared: List[Tuple[str, str]], ref: Ref) -> List[Dict[str, Any]]:
        directory = self.work_dir / f"trial-{ref[0]}-{ref[1]}"
        out: List[Dict[str, Any]] = []
        for name, path in declared[:32]:
            if not wire.is_plain_name(name) or any(a["name"] == name for a in out):
                log.warning("ignored artifact %r: not a plain file name", name[:60])
                continue
            p = Path(path) if os.path.isabs(path) else directory / path
            if not p.is_file():
                log.warning("artifact %s is not a file (%s); not offered", name, p)
                continue
            h, size = hashlib.sha256(), 0
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
                    size += len(block)
            self.shelf[h.hexdigest()] = str(p)
            out.append({"name": name, "sha256": h.hexdigest(), "bytes": size})
        if out:
            self.save_shelf()
        return out

    def answer_fetch(self, body: Dict[str, Any]) -> None:
        sha, offset, length = body.get("sha256"), body.get("offset"), body.get("length")
        if not isinstance(sha, str) or not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or not 0 < length <= wire.CHUNK_BYTES:
            log.warning("dropped a bad FETCH")
            return
        path = self.shelf.get(sha)
        data = b""
        if path:
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read(length)
            except OSError:
                data = b""
        if data:
            self.send("CHUNK", {"sha256": sha, "offset": offset}, data)
        else:
            self.send("CHUNK", {"sha256": sha, "offset": offset, "error": "not on this worker's shelf" if not path else "the file is gone or shorter"})

    def begin_download(self, a: Dict[str, Any], ref: Ref) -> None:
        sha = a["sha256"]
        if sha in self.downloads:
            self.downloads[sha].waiting.add(ref)
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.downloads[sha] = Download(a["name"], sha, int(a["bytes"]), open(self.cache_dir / f"{sha}.part", "wb"), waiting={ref})
        if int(a["bytes"]) == 0:
            self.complete_download(sha)
        else:
            self.pump_downloads()

    def pump_downloads(self) -> None:
        for sha, d in self.downloads.items():
            ref = next((r for r in d.waiting if r in self.jobs), None)
            if ref is None:
                continue
            while d.requested < d.size and d.requested - d.received < 4 * wire.CHUNK_BYTES:
                n = min(wire.CHUNK_BYTES, d.size - d.requested)
                self.send("GET", {"sha256": sha, "offset": d.requested, "length": n, "trial": ref[0], "attempt": ref[1]})
                d.requested += n

    def receive_part(self, body: Dict[str, Any], payload: bytes) -> None:
        sha = body.get("sha256")
        d = self.downloads.get(sha)
        if d is None:
            return
        if body.get("error"):
            d.file.close()
            self.downloads.pop(sha)
            return self.fail_waiting(d, f"the coordinator cannot send artifact {d.name}: {body['error']}")
        if body.get("offset") != d.received or not payload or d.received + len(payload) > d.size:
            return  # not the next piece: a stale one
        d.file.write(payload)
        d.hasher.update(payload)
        d.received += len(payload)
        if d.received == d.size:
            self.complete_download(sha)
        else:
            self.pump_downloads()

    def complete_download(self, sha: str) -> None:
        d = self.downloads[sha]
        d.file.close()
        part = self.cache_dir / f"{sha}.part"
        if d.hasher.hexdigest() != sha:
            d.mismatches += 1
            if d.mismatches >= 3:
                self.downloads.pop(sha)
                part.unlink(missing_ok=True)
                return self.fail_waiting(d, f"artifact {d.name} did not match its SHA-256 in 3 downloads")
            d.file, d.hasher, d.received, d.requested = open(part, "wb"), hashlib.sha256(), 0, 0
            return self.pump_downloads()
        self.downloads.pop(sha)
        os.replace(part, self.cache_dir / sha)
        self.evict(keep={a["sha256"] for h in self.jobs.values() for a in h.job.get("artifacts") or []})
        for ref in d.waiting:
            h = self.jobs.get(ref)
            if h and h.outcome is None:
                h.fetching.discard(sha)
                if not h.fetching:
                    self.launch(h.job)

    def evict(self, keep: Set[str]) -> None:
        files = [p for p in self.cache_dir.iterdir() if wire.is_digest(p.name)]
        files.sort(key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total <= self.cache_bytes:
                break
            if p.name not in keep:
                total -= p.stat().st_size
                p.unlink(missing_ok=True)

    def fail_waiting(self, d: Download, why: str) -> None:
        log.warning("a job's artifact cannot be fetched: %s", why)
        for ref in d.waiting:
            h = self.jobs.get(ref)
            if h and h.outcome is None and h.run is None:
                self.finish(ref, h.job, "FAILED", {"error": why, "retryable": False})


def parse_trainers(specs: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for s in specs:
        name, sep, command = s.partition("=")
        if not sep or not name or not command:
            raise SystemExit(f"error: --trainer '{s}': expected NAME=COMMAND or NAME=table:PATH.csv")
        out[name] = command
    return out


def parse_gpus(text: str) -> List[str]:
    """A CUDA_VISIBLE_DEVICES-style list ("0,1", "GPU-uuid"); CUDA stops at a negative id."""
    out: List[str] = []
    for g in (p.strip() for p in text.split(",")):
        if not g:
            continue
        if g.startswith("-"):
            break
        out.append(g)
    return out


def detect_gpus(driver_dir: str = "/proc/driver/nvidia/gpus") -> List[str]:
    """This machine's GPUs as CUDA_VISIBLE_DEVICES names them: the variable's own list when it
    is set, else one index per GPU the NVIDIA driver lists; empty without any."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return parse_gpus(os.environ["CUDA_VISIBLE_DEVICES"])
    try:
        return [str(i) for i in range(len(os.listdir(driver_dir)))]
    except OSError:
        return []


def least_busy(gpus: List[str], holding: List[str]) -> Optional[str]:
    """The GPU the fewest running jobs hold (the first on a tie); None without GPUs."""
    return min(gpus, key=lambda g: holding.count(g)) if gpus else None


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="topiary-worker", description="A Topiary worker: joins a coordinator and runs the jobs it is given.")
    p.add_argument("--connect", default="tcp://127.0.0.1:5555", help="coordinator endpoint")
    p.add_argument("--slots", type=int, help="jobs run at once (default: one per GPU --gpus gives, else 1)")
    p.add_argument("--tags", default="cpu", help="capability tags, comma-separated (e.g. cpu,raspberry-pi-4); cuda is added when the worker has GPUs")
    p.add_argument("--gpus", default="auto", help="CUDA GPUs for the trainers, one per job: auto (CUDA_VISIBLE_DEVICES, else the "
                                                  "NVIDIA driver's list), none, or ids (0,1)")
    p.add_argument("--trainer", action="append", default=[], help="NAME=COMMAND or NAME=table:PATH.csv; repeatable")
    p.add_argument("--name", help="worker name (default: host-pid)")
    p.add_argument("--work-dir", help="directory for job files, logs and outputs")
    p.add_argument("--threads", type=int, help="threads each job may use (default: cores / slots)")
    p.add_argument("--heartbeat-ms", type=int, default=1000, help="heartbeat interval in milliseconds")
    p.add_argument("--max-log-mb", type=float, default=64, help="MiB of trainer output kept in each job's trial.log")
    p.add_argument("--kill-grace", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL")
    p.add_argument("--cache", help="where files jobs need are cached (default ~/.cache/topiary/artifacts)")
    p.add_argument("--cache-gb", type=float, default=10.0, help="most GiB the cache may hold")
    p.add_argument("--key", help="this worker's CURVE key pair (.key file from `topiary keys generate`)")
    p.add_argument("--server-key", help="the coordinator's public key: its .pub file or the 40-character key")
    p.add_argument("--insecure", action="store_true", help="allow plain TCP to a non-loopback coordinator")
    p.add_argument("--log-level", default="info", help="debug, info, warning, error")
    a = p.parse_args(argv)
    logging.basicConfig(level=getattr(logging, a.log_level.upper(), logging.INFO), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def usage(msg: str) -> int:
        print(f"error: {msg}", file=sys.stderr)
        return 2

    if not a.trainer:
        return usage("give at least one --trainer NAME=COMMAND (or NAME=table:PATH.csv)")
    if a.gpus not in ("auto", "none") and not parse_gpus(a.gpus):
        return usage(f"--gpus must be auto, none or GPU ids such as 0,1; got {a.gpus!r}")
    gpus = detect_gpus() if a.gpus == "auto" else [] if a.gpus == "none" else parse_gpus(a.gpus)
    tags = [t for t in a.tags.split(",") if t]
    if gpus and "cuda" not in tags:
        tags.append("cuda")
    if a.slots is None:
        a.slots = max(1, len(gpus))
    if not 1 <= a.slots <= 1024:
        return usage("--slots must be 1...1024")
    if not 20 <= a.heartbeat_ms <= 60000:
        return usage("--heartbeat-ms must be 20...60000")
    if (a.key is None) != (a.server_key is None):
        return usage("--key and --server-key go together")
    curve = None
    if a.key:
        try:
            public, secret = load_pair(a.key)
            curve = (load_public(a.server_key), public, secret)
        except KeyError_ as e:
            return usage(str(e))
    name = a.name or f"{socket.gethostname()}-{os.getpid()}"
    work = Path(a.work_dir or os.path.join(os.environ.get("TMPDIR", "/tmp"), f"topiary-worker-{name}"))
    try:
        w = Worker(a.connect, name, a.slots, tags, parse_trainers(a.trainer), work, gpus=gpus,
                   heartbeat_ms=a.heartbeat_ms, kill_grace=a.kill_grace, max_log_bytes=int(a.max_log_mb * 1048576), curve=curve,
                   threads=a.threads, cache_dir=Path(a.cache) if a.cache else None, cache_bytes=int(a.cache_gb * (1 << 30)),
                   allow_plain_network=a.insecure)
    except TableError as e:
        return usage(str(e))

    def stop(*_: Any) -> None:
        w.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        w.run()
    except Rejected as e:
        print(f"error: the coordinator rejected this worker: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
