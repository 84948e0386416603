#!/usr/bin/env python3
"""A trainer for the daemon tests: follows the trainer protocol, takes time like real
training (fidelity.sleep_s, in `steps` progress reports), and answers with the benchmark
table's recorded accuracy for the job's key, so results can be checked against the table."""
import csv, json, os, sys, time

job = json.load(open(os.environ["TOPIARY_JOB"]))
table = os.environ["TOPIARY_TABLE"]
key = job["benchmark_key"]
fid = job.get("fidelity", {})
sleep_s = float(fid.get("sleep_s", 0.2))
steps = int(fid.get("steps", 2))
if fid.get("fail") == "always":
    print("this trainer was told to fail", file=sys.stderr)
    sys.exit(3)
for step in range(1, steps + 1):
    time.sleep(sleep_s / steps)
    print(json.dumps({"event": "progress", "step": step, "metrics": {"elapsed_s": sleep_s * step / steps}}), flush=True)
with open(table) as f:
    for row in csv.DictReader(f):
        if row["arch"] == key:
            print("log line that is not a report")
            print(json.dumps({"event": "result", "metrics": {"accuracy": float(row["mean_acc"]), "params": int(row["params"])}}), flush=True)
            sys.exit(0)
print(f"key {key} not in table", file=sys.stderr)
sys.exit(1)
