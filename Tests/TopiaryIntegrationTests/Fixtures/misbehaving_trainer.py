#!/usr/bin/env python3
"""A trainer that misbehaves as the job's fidelity `mode` says, for TrainerMisbehaviourTests:

ok          one progress line, a log line, a result: a trainer that works
no_result   progress and log lines, then exit 0 without a result line
no_accuracy a result whose metrics lack the search's objective (accuracy)
garbage     binary junk, broken JSON and a result line whose metrics is not an object; exit 0
flood       8 MiB on stdout and 8 MiB on stderr (one 3 MiB line without a newline among them), then a result
crash       a traceback on stderr, exit status 3
segv        killed by SIGSEGV
hang        a progress line, then sleeps forever ignoring SIGTERM (only SIGKILL stops it)
hang_child  starts a child that inherits stdout and sleeps, then sleeps itself
gpu         (well-behaved) waits 2 s so that jobs overlap, then reports the GPU its worker gave it
            (CUDA_VISIBLE_DEVICES, -1 for none) as the metric `gpu`
"""
import json, os, signal, subprocess, sys, time

job = json.load(open(os.environ["TOPIARY_JOB"]))
mode = job.get("fidelity", {}).get("mode", "ok")


def say(obj):
    print(json.dumps(obj), flush=True)


say({"event": "progress", "step": 1, "metrics": {"accuracy": 0.5}})
print(f"misbehaving trainer: mode {mode}, trial {os.environ['TOPIARY_TRIAL']}", flush=True)

if mode == "ok":
    say({"event": "result", "metrics": {"accuracy": 0.9}})
elif mode == "gpu":
    time.sleep(2)
    say({"event": "result", "metrics": {"accuracy": 0.9, "gpu": int(os.environ.get("CUDA_VISIBLE_DEVICES") or -1)}})
elif mode == "no_result":
    print("finished training but forgot to report", file=sys.stderr, flush=True)
elif mode == "no_accuracy":
    say({"event": "result", "metrics": {"loss": 0.3}})
elif mode == "garbage":
    sys.stdout.buffer.write(b"\x00\xff\xfe binary junk \x80\x81\n{not json at all\n[1, 2, 3]\n")
    say({"event": "result", "metrics": "ninety percent"})
    say({"event": "unknown-event"})
    sys.stdout.flush()
elif mode == "flood":
    line = b"x" * 1023 + b"\n"
    for i in range(8 * 1024):
        sys.stdout.buffer.write(line)
        sys.stderr.buffer.write(line)
        if i == 4096:
            sys.stdout.buffer.write(b"y" * (3 << 20))  # one 3 MiB line, ended by the next write's newline
    sys.stdout.buffer.flush()
    print("flood end", file=sys.stderr, flush=True)
    say({"event": "result", "metrics": {"accuracy": 0.7}})
elif mode == "crash":
    print("Traceback (most recent call last):\n  File \"train.py\", line 1\nRuntimeError: CUDA out of memory (simulated)",
          file=sys.stderr, flush=True)
    sys.exit(3)
elif mode == "segv":
    print("about to crash hard", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)
elif mode == "hang":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("hanging, ignoring SIGTERM", file=sys.stderr, flush=True)
    while True:
        time.sleep(1)
elif mode == "hang_child":
    subprocess.Popen(["sleep", "600"])  # inherits stdout and stderr
    print("hanging with a child", file=sys.stderr, flush=True)
    time.sleep(600)
else:
    print(f"unknown mode {mode}", file=sys.stderr)
    sys.exit(2)
