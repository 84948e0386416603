"""scripts/time_onnx.py, which the main job uses to time the exported model.onnx."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx

from onnx_builder import build_model
from test_onnx_builder import load_graph

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts", "time_onnx.py")


def test_times_an_onnx_file_and_prints_one_json_line(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(build_model(load_graph("fashion-mobilenet-0")).model, str(path))
    out = subprocess.run([sys.executable, SCRIPT, str(path), "--seconds", "0.2", "--min-runs", "30"],
                         capture_output=True, text=True, check=True).stdout
    m = json.loads(out)
    assert m["runs"] >= 30 and m["threads"] == 1
    assert 0 < m["min_ms"] <= m["median_ms"] <= m["p90_ms"]


def test_a_file_that_is_not_a_model_is_named(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not onnx")
    r = subprocess.run([sys.executable, SCRIPT, str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and str(bad) in r.stderr and "cannot load" in r.stderr
