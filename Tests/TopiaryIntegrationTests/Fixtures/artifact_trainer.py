#!/usr/bin/env python3
"""A trainer for the artifact tests: writes `model.bin` (fidelity.size_mb MiB, content fixed by
the trial) and declares it for upload; with fidelity.sleep_s it takes that long first. Files
the job names (artifact_paths) are read: their total size and a checksum go in the metrics."""
import hashlib, json, os, sys, time

job = json.load(open(os.environ["TOPIARY_JOB"]))
fid = job.get("fidelity", {})
out = job["output_dir"]
os.makedirs(out, exist_ok=True)
time.sleep(float(fid.get("sleep_s", 0)))
size = int(float(fid.get("size_mb", 1)) * (1 << 20))
seed = hashlib.sha256(f"trial-{job['trial']}".encode()).digest()
block = (seed * (65536 // len(seed)))
with open(os.path.join(out, "model.bin"), "wb") as f:
    left = size
    while left > 0:
        n = min(left, len(block))
        f.write(block[:n])
        left -= n
inputs = job.get("artifact_paths", {})
total, digest = 0, hashlib.sha256()
for name in sorted(inputs):
    data = open(inputs[name], "rb").read()
    total += len(data)
    digest.update(data)
metrics = {"accuracy": 50 + (seed[0] % 40), "input_bytes": total, "input_digest_prefix": int(digest.hexdigest()[:8], 16)}
print(json.dumps({"event": "result", "metrics": metrics, "artifacts": {"model.bin": "model.bin"}}), flush=True)
