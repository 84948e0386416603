"""The sweep script behind `topiary target profile`: one JSON line per kernel, errors
per kernel rather than for the sweep, a bad kernels file refused with its line."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "sweep.py")

RELU = {"format": 1, "input": [4, 8, 8], "output": 1, "activation_bits": 32,
        "nodes": [{"id": 0, "op": "input", "inputs": [], "shape": [4, 8, 8], "label": "input"},
                  {"id": 1, "op": "activation", "fn": "relu", "inputs": [0], "shape": [4, 8, 8], "label": "k"}]}


def run(tmp_path, lines, *extra):
    f = tmp_path / "k.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return subprocess.run([sys.executable, SCRIPT, "--kernels", str(f), "--seconds", "60", *extra], capture_output=True, text=True, timeout=120)


def test_each_kernel_gets_a_line_and_a_broken_one_an_error(tmp_path):
    broken = dict(RELU, nodes=[RELU["nodes"][0], dict(RELU["nodes"][1], fn="nonsense")])
    r = run(tmp_path, [json.dumps({"signature": "relu", "precision": "fp32", "graph": RELU}),
                       json.dumps({"signature": "bad", "precision": "fp32", "graph": broken}),
                       json.dumps({"signature": "relu8", "precision": "int8", "graph": dict(RELU, activation_bits=8)})])
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["signature"] for o in out] == ["relu", "bad", "relu8"]
    assert out[0]["median_ms"] > 0 and out[0]["runs"] >= 20
    assert "error" in out[1]
    assert out[2]["median_ms"] > 0


def test_the_budget_stops_the_sweep(tmp_path):
    lines = [json.dumps({"signature": f"k{i}", "precision": "fp32", "graph": RELU}) for i in range(50)]
    f = tmp_path / "k.jsonl"
    f.write_text("\n".join(lines) + "\n")
    r = subprocess.run([sys.executable, SCRIPT, "--kernels", str(f), "--seconds", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == ""


def test_a_bad_kernels_file_names_its_line(tmp_path):
    r = run(tmp_path, [json.dumps({"signature": "relu", "precision": "fp32", "graph": RELU}), "{not json"])
    assert r.returncode == 2 and "k.jsonl:2" in r.stderr
    r = run(tmp_path, [json.dumps({"signature": "relu", "precision": "fp16", "graph": RELU})])
    assert r.returncode == 2 and "precision (fp32 or int8)" in r.stderr
