#!/usr/bin/env bash
# Measures the leave-one-out sets of bench/data/loo and the kernel sweeps beside them:
# four spaces x runtime settings on this machine (ONNX Runtime fp32 1 thread, 2 threads,
# int8; LiteRT fp32 and int8), seed 31. Each set is one CSV named RUNTIME-SPACE.csv; a set
# already written is skipped (delete it to measure again); a sweep goes on from where it
# stopped. About 90 minutes on 2 cores (LiteRT converts each network: 4-18 s); keep the
# machine otherwise idle.
#     bash bench/latency_loo_measure.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$HOME/.cache/topiary/venv/bin/python}
D=bench/data/loo
set_() {  # NAME COUNT ARGS...
  local name=$1 count=$2; shift 2
  if [[ -s $D/$name.csv ]]; then echo "have $D/$name.csv"; return; fi
  echo "== $name ($(date +%T))"
  "$PY" bench/latency_validation.py --seed 31 --count "$count" --max-wait 60 --out "$D/$name.tmp.csv" "$@"
  mv "$D/$name.tmp.csv" "$D/$name.csv"
}
# ONNX Runtime, one thread: fp32 and int8.
set_ ort1-nas-bench-201 60 --spaces nas-bench-201
set_ ort1-mobilenetv3-imagenet 60 --spaces mobilenetv3-imagenet --precision fp32
set_ ort1-nas-bench-201-int8 60 --spaces $D/nas-bench-201-int8.yaml
set_ ort1-nas-bench-macro-int8 60 --spaces $D/nas-bench-macro-int8.yaml
set_ ort1-mobilenetv3-imagenet-int8 240 --spaces mobilenetv3-imagenet --precision int8
# ONNX Runtime, two threads, fp32.
for s in fashion-mobilenet nas-bench-macro nas-bench-201 mobilenetv3-imagenet; do
  set_ ort2-$s 60 --threads 2 --spaces $s --precision fp32
done
# LiteRT (XNNPACK), one thread: each candidate converted once, timed in two passes.
set_ litert-nas-bench-201 40 --runtime litert --passes 2 --spaces nas-bench-201
set_ litert-nas-bench-macro 30 --runtime litert --passes 2 --spaces nas-bench-macro
set_ litert-nas-bench-201-int8 25 --runtime litert --passes 2 --spaces $D/nas-bench-201-int8.yaml
# Kernel sweeps (topiary target profile, the release build).
mkdir -p $D/sweeps
.build/release/topiary target profile host-cpu --minutes 10 --python "$PY" --out $D/sweeps/ort1.kernels.csv
.build/release/topiary target profile host-cpu --minutes 4 --threads 2 --python "$PY" --out $D/sweeps/ort2.kernels.csv
# LiteRT: a sweep without the three families checked against it, then those families (and
# NAS-Bench-201) measured in the same hour (pairs-litert1.tsv; docs/HARDWARE.md, "A LiteRT kernel sweep").
.build/release/topiary target profile host-cpu --runtime litert --minutes 10 --space SearchSpaces/nas-bench-201.yaml \
    --space SearchSpaces/mobilenetv3-imagenet.yaml --python "$PY" --out $D/sweeps/litert1-batched.kernels.csv
set_ litert1-four-spaces 15 --runtime litert --passes 2 --seed 41 --spaces fashion-fused fashion-mobilenet nas-bench-macro nas-bench-201
echo "done ($(date +%T))"
