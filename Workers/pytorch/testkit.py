"""Helpers of the PyTorch trainer's tests (fixtures come from the Swift CLI, see
fixtures/generate.py, so the tests need no Swift build)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "python"))

torch.set_num_threads(1)

# Small fidelities keep each trainer run to seconds on one core.
TINY = {"epochs": 1, "data_fraction": 0.02, "val_fraction": 0.05, "test_fraction": 0.02}


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture_names(prefix: str = "") -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob(f"{prefix}*.json"))


def make_job(fixture: str | dict[str, Any], out: Path, fidelity: dict[str, Any] | None = None, uncompressed: bool = True,
             seed: int = 1) -> dict[str, Any]:
    fx = load_fixture(fixture) if isinstance(fixture, str) else fixture
    job = {"trial": 7, "attempt": 1, "search": 1, "kind": "train", "trainer": "pytorch", "candidate": fx["candidate"],
           "graph": fx["graph"], "fidelity": dict(TINY if fidelity is None else fidelity), "seed": seed,
           "deadline_ms": 600_000, "output_dir": str(out)}
    if uncompressed:
        job["graph_uncompressed"] = fx["graph_uncompressed"]
    return job


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout, self.stderr = proc.stdout, proc.stderr
        self.events = []
        for line in proc.stdout.splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("event") in ("progress", "result"):
                self.events.append(obj)
        self.progress = [e for e in self.events if e["event"] == "progress"]
        results = [e for e in self.events if e["event"] == "result"]
        self.result = results[-1] if results else None
        self.results = results

    @property
    def metrics(self) -> dict[str, Any]:
        return self.result["metrics"]

    @property
    def info(self) -> dict[str, Any]:
        return self.result.get("info", {})
