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
repo=$PWD

bash scripts/setup.sh
venv=$(bash scripts/setup.sh --python | tail -n 1)
echo "building topiary (release)…"
swift build -c release --product topiary 2>&1 | tail -n 1
topiary="$repo/.build/release/topiary"

budget=${TOPIARY_DEMO_BUDGET:-8}
dir=${TOPIARY_DEMO_DIR:-$repo/runs/demo-$(date +%Y%m%d-%H%M%S)}
port=${TOPIARY_DEMO_PORT:-25555}
workers_ep="tcp://127.0.0.1:$port"
control="tcp://127.0.0.1:$((port + 1))"
mkdir -p "$dir"
db="$dir/topiary.sqlite"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$topiary" serve --db "$db" --bind "$workers_ep" --control "$control" --log-level notice > "$dir/daemon.log" 2>&1 &
pids+=($!)
for i in 1 2; do
    "$topiary" worker --connect "$workers_ep" --name "local-$i" --slots 1 --threads 1 --tags cpu \
        --trainer "pytorch=$venv/bin/python $repo/Workers/pytorch/trainer.py" \
        --work-dir "$dir/work-$i" --log-level notice > "$dir/worker-$i.log" 2>&1 &
    pids+=($!)
done
for _ in $(seq 1 50); do "$topiary" workers --control "$control" > /dev/null 2>&1 && break; sleep 0.2; done

echo
echo "\$ topiary search start SearchSpaces/fashion-fused.yaml --target raspberry-pi-4 --constraint 'latency_ms<=0.8' --constraint 'params<=50000' --budget $budget --strategy evolution --finalists 2 …"
"$topiary" search start SearchSpaces/fashion-fused.yaml --target raspberry-pi-4 --strategy evolution --seed 1 \
    --budget "$budget" --constraint 'latency_ms<=0.8' --constraint 'params<=50000' \
    --fidelity epochs=1 --fidelity data_fraction=0.2 --fidelity finetune_epochs=1 --fidelity test_fraction=0.5 --fidelity teacher_epochs=1 --fidelity teacher_data_fraction=0.2 \
    --fidelity from_scratch=1 \
    --finalists 2 --final-fidelity epochs=20 --final-fidelity minutes=9 --final-fidelity finetune_epochs=1 --final-fidelity label_smoothing=0.1 \
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
# The exported model on this machine: measured (ONNX Runtime, one thread, batch 1) beside
# what the host-cpu profile predicts, added to the model card. A shared machine's load
# shows in the measurement; the prediction is for an idle one.
if measured=$("$venv/bin/python" scripts/time_onnx.py "$dir/best/model.onnx" 2>&1); then
    predicted=$("$topiary" candidate latency "$dir/best/candidate.json" --space SearchSpaces/fashion-fused.yaml --target host-cpu --json 2>/dev/null \
        | "$venv/bin/python" -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["milliseconds"])' || echo "-")
    "$venv/bin/python" - "$measured" "$predicted" "$(nproc)" >> "$dir/best/MODEL_CARD.md" <<'PY'
import json, sys
m, predicted, cores = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
print("\n## On the machine that ran the search\n")
print("| figure | value |\n|---|---|")
print(f"| measured: model.onnx, ONNX Runtime {m['onnxruntime']}, {m['threads']} thread, batch 1 | median {m['median_ms']:.4f} ms (min {m['min_ms']:.4f}, p90 {m['p90_ms']:.4f}; {m['runs']} runs) |")
print(f"| predicted: host-cpu profile (calibrated) | {predicted} ms |")
print(f"| cores | {cores} |")
PY
else
    echo "could not time the exported model: $measured"
fi
sed -n '1,/^## Files/p' "$dir/best/MODEL_CARD.md" | sed '$d'
echo
sed -n '/## On the machine that ran the search/,$p' "$dir/best/MODEL_CARD.md"
echo
echo "database, logs and the exported model: $dir"
