"""pytest fixtures of the PyTorch trainer's tests (helpers in testkit.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testkit import HERE, Run  # noqa: E402


@pytest.fixture
def run_trainer(tmp_path_factory):
    """Runs trainer.py as a worker does: the job on stdin and in $TOPIARY_JOB."""
    cache = tmp_path_factory.getbasetemp() / "topiary-cache"

    def go(job: dict[str, Any] | str, env: dict[str, str] | None = None, via_file: bool = True, timeout: float = 300) -> Run:
        text = job if isinstance(job, str) else json.dumps(job)
        e = dict(os.environ, TOPIARY_THREADS="1", OMP_NUM_THREADS="1", TOPIARY_CACHE=str(cache))
        if via_file:
            d = tmp_path_factory.mktemp("job")
            (d / "job.json").write_text(text)
            e["TOPIARY_JOB"] = str(d / "job.json")
        else:
            e.pop("TOPIARY_JOB", None)
        e.update(env or {})
        proc = subprocess.run([sys.executable, str(HERE / "trainer.py")], input=text, capture_output=True, text=True,
                              env=e, timeout=timeout)
        return Run(proc)

    return go


def pytest_configure(config):
    # torch.ao.quantization announces its own deprecation (docs/TRAINER.md, "Versions").
    config.addinivalue_line("filterwarnings", "ignore:.*torch.ao.quantization is deprecated:DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore:.*reduce_range will be deprecated:UserWarning")
