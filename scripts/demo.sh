#!/usr/bin/env bash
# The main job: a real, small hardware-aware search on this machine.
#
# Installs what is missing (Debian packages, the Swift build, a Python venv with torch,
# onnx and onnxruntime — reused when present), starts the daemon and two local workers,
# searches fashion-fused.yaml for a Raspberry Pi 4 under a latency budget and 50,000
# parameters (every candidate trained for real on Fashion-MNIST, compressed as it asks),
# shows progress, trains the two candidates the strategy recommends again on all the data
# (the final phase, which also writes TFLite float32 and int8 files and tests the int8 one),
# prints the leaderboard and the
# Pareto front, exports the best final model, and
# stops everything. Settings: TOPIARY_DEMO_BUDGET (trials, 8), TOPIARY_DEMO_DIR (where the
# database, logs and export go), TOPIARY_DEMO_PORT (first of two ports, 25555).
set -euo pipefail
cd "$(dirname "$0")/.."

budget=${TOPIARY_DEMO_BUDGET:-8}
dir=${TOPIARY_DEMO_DIR:-$PWD/runs/demo-$(date +%Y%m%d-%H%M%S)}
port=${TOPIARY_DEMO_PORT:-25555}
source scripts/demo_lib.sh   # install, build; start_daemon, start_worker, measure_export, print_card

start_daemon
start_worker local-1 1
start_worker local-2 1
wait_for_workers 2

echo
echo "\$ topiary search start SearchSpaces/fashion-fused.yaml --target raspberry-pi-4 --constraint 'latency_ms<=0.8' --constraint 'params<=50000' --budget $budget --strategy evolution --finalists 2 …"
"$topiary" search start SearchSpaces/fashion-fused.yaml --target raspberry-pi-4 --strategy evolution --seed 1 \
    --budget "$budget" --constraint 'latency_ms<=0.8' --constraint 'params<=50000' \
    --fidelity epochs=1 --fidelity data_fraction=0.2 --fidelity finetune_epochs=1 --fidelity test_fraction=0.5 --fidelity teacher_epochs=1 --fidelity teacher_data_fraction=0.2 \
    --fidelity from_scratch=1 \
    --finalists 2 --final-fidelity epochs=20 --final-fidelity minutes=10 --final-fidelity finetune_epochs=1 --final-fidelity label_smoothing=0.1 \
    --final-fidelity data_fraction=1 --final-fidelity test_fraction=1 --final-fidelity tflite=1 \
    --deadline 900 --control "$control" --follow
echo
"$topiary" workers --control "$control"
echo
echo "\$ topiary leaderboard --target raspberry-pi-4 --top 5"
"$topiary" leaderboard --db "$db" --target raspberry-pi-4 --top 5
echo
echo "\$ topiary leaderboard --target raspberry-pi-4 --pareto   (accuracy up, latency down, size down)"
"$topiary" leaderboard --db "$db" --target raspberry-pi-4 --pareto
echo
"$topiary" export --db "$db" --candidate best --out "$dir/best"
echo
measure_export SearchSpaces/fashion-fused.yaml "$dir/best"
# Against the space's largest network trained alike, when it was trained on this machine
# before (bench/compression_outcome.py trains it once, about 10 minutes, and keeps it).
compare=("$venv/bin/python" bench/compression_outcome.py --export "$dir/best" --space SearchSpaces/fashion-fused.yaml --card)
if [ -f "${TOPIARY_CACHE:-$HOME/.cache/topiary}/reference/fashion-fused/result.json" ]; then
    "${compare[@]}" --rounds 3 --no-train > /dev/null 2> "$dir/compression_outcome.log" || echo "could not compare with the largest network: see $dir/compression_outcome.log"
else
    echo "(to compare with the space's largest network trained alike: ${compare[*]})"
fi
print_card "$dir/best"
echo
echo "database, logs and the exported model: $dir"
