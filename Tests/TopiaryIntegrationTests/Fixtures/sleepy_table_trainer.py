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
steps = int(fid.get("epochs", fid.get("steps", 2)))
if fid.get("fail") == "always":
    print("this trainer was told to fail", file=sys.stderr)
    sys.exit(3)
row = None
with open(table) as f:
    for r in csv.DictReader(f):
        if r["arch"] == key:
            row = r
if row is None:
    print(f"key {key} not in table", file=sys.stderr)
    sys.exit(1)
final = float(row["mean_acc"])
for step in range(1, steps + 1):
    time.sleep(sleep_s / steps)
    # A learning curve that rises towards the recorded accuracy.
    print(json.dumps({"event": "progress", "step": step,
                      "metrics": {"elapsed_s": sleep_s * step / steps, "accuracy": final * (0.5 + 0.5 * step / steps)}}), flush=True)
print("log line that is not a report")
print(json.dumps({"event": "result", "metrics": {"accuracy": final, "params": int(row["params"])}}), flush=True)
