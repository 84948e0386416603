"""The Python worker agent's GPUs: which it finds, how it hands them to jobs."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from topiary.worker import detect_gpus, least_busy, parse_gpus  # noqa: E402


def test_gpu_lists_read_as_cuda_reads_them():
    assert parse_gpus("0,1") == ["0", "1"]
    assert parse_gpus(" 2 , GPU-8a1b ") == ["2", "GPU-8a1b"]
    assert parse_gpus("") == [] and parse_gpus("-1") == []
    assert parse_gpus("0,-1,3") == ["0"], "CUDA stops at the first negative id"


def test_detection_takes_cuda_visible_devices_else_the_driver_list(tmp_path, monkeypatch):
    driver = tmp_path / "gpus"
    driver.mkdir()
    for bus in ("0000:17:00.0", "0000:65:00.0"):
        (driver / bus).mkdir()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert detect_gpus(str(driver)) == ["0", "1"]
    assert detect_gpus(str(tmp_path / "no-driver")) == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert detect_gpus(str(driver)) == ["1"], "a worker confined to some GPUs offers only those"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_gpus(str(driver)) == []


def test_a_new_job_gets_the_gpu_the_fewest_running_jobs_hold():
    assert least_busy([], []) is None
    assert least_busy(["0", "1"], []) == "0"
    assert least_busy(["0", "1"], ["0"]) == "1"
    assert least_busy(["0", "1"], ["0", "1", "1"]) == "0"
