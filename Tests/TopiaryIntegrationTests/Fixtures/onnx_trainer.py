#!/usr/bin/env python3
"""A trainer for the remote-worker test: builds the job's network as ONNX (with seeded random
weights; no training), writes model.onnx and declares it for upload. Needs numpy and onnx
(the Python environment of scripts/setup.sh --python)."""
import hashlib, json, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Workers", "onnxruntime"))
from onnx_builder import build_model  # noqa: E402

job = json.load(open(os.environ["TOPIARY_JOB"]))
out = job["output_dir"]
os.makedirs(out, exist_ok=True)
built = build_model(job["graph"], seed=int(job.get("seed", 0)) % (2**31))
with open(os.path.join(out, "model.onnx"), "wb") as f:
    f.write(built.model.SerializeToString())
accuracy = 50 + hashlib.sha256(json.dumps(job["candidate"], sort_keys=True).encode()).digest()[0] % 40
print(json.dumps({"event": "result", "metrics": {"accuracy": accuracy}, "artifacts": {"model.onnx": "model.onnx"}}), flush=True)
