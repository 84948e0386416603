#!/usr/bin/env bash
# Multi-fidelity on real training: random search, ASHA and BOHB (ASHA with sampler=tpe) on
# fashion-mobilenet.yaml, every candidate trained for real on Fashion-MNIST (a fifth of the
# data), each strategy for the same wall time with two local one-thread workers (so
# CPU-minutes = 2 x wall minutes); prints the best validation accuracy any trial of each
# reached after every 5 CPU-minutes.
#
#   bash bench/multifidelity_real.sh [MINUTES_PER_STRATEGY (10)] [SEED (1)]
#
# ASHA and BOHB: rungs of 1, 3 and 9 epochs (eta 3); random search: 3 epochs per candidate.
# One seed per run: trainings are noisy, repeat with other seeds before concluding.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
minutes=${1:-10}
seed=${2:-1}
venv=$(bash scripts/setup.sh --python | tail -n 1)
swift build -c release --product topiary 2>&1 | tail -n 1
topiary="$repo/.build/release/topiary"
out=${TOPIARY_BENCH_DIR:-$repo/runs/multifidelity-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
port=${TOPIARY_BENCH_PORT:-26555}

run() {  # LABEL EPOCHS STRATEGY [OPTIONS]
    local label=$1 epochs=$2 strategy=$3 options=${4:-}
    local dir="$out/$label" pids=()
    mkdir -p "$dir"
    local ep="tcp://127.0.0.1:$port" control="tcp://127.0.0.1:$((port + 1))"
    "$topiary" serve --db "$dir/topiary.sqlite" --bind "$ep" --control "$control" --log-level notice > "$dir/daemon.log" 2>&1 &
    pids+=($!)
    for i in 1 2; do
        "$topiary" worker --connect "$ep" --name "w$i" --slots 1 --threads 1 --tags cpu \
            --trainer "pytorch=$venv/bin/python $repo/Workers/pytorch/trainer.py" \
            --work-dir "$dir/work-$i" --log-level notice > "$dir/worker-$i.log" 2>&1 &
        pids+=($!)
    done
    for _ in $(seq 1 50); do "$topiary" workers --control "$control" > /dev/null 2>&1 && break; sleep 0.2; done
    local opt=()
    [ -n "$options" ] && opt=(--strategy-option "$options")
    "$topiary" search start SearchSpaces/fashion-mobilenet.yaml --strategy "$strategy" "${opt[@]}" --seed "$seed" --budget 10000 \
        --fidelity epochs="$epochs" --fidelity data_fraction=0.2 --fidelity finetune_epochs=1 --fidelity teacher_epochs=1 \
        --fidelity teacher_data_fraction=0.2 --control "$control" > "$dir/start.txt"
    sleep $((minutes * 60))
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    port=$((port + 2))
}

run random 3 random
run asha 9 asha "min_fidelity=1"
run bohb 9 asha "min_fidelity=1,sampler=tpe"

"$venv/bin/python" - "$out" "$minutes" <<'PY'
import os, sqlite3, sys
out, minutes = sys.argv[1], int(sys.argv[2])
marks = list(range(5, 2 * minutes + 1, 5))
print(f"best validation accuracy reached (any trial, any fidelity) after N CPU-minutes; 2 one-thread workers, {minutes} wall minutes each")
print("strategy  " + "".join(f"{m:>9}" for m in marks) + "   trials (by epochs)")
for label in ("random", "asha", "bohb"):
    db = sqlite3.connect(os.path.join(out, label, "topiary.sqlite"))
    t0 = db.execute("SELECT MIN(queued_at) FROM trials").fetchone()[0]
    rows = db.execute("SELECT finished_at, accuracy, fidelity FROM trials WHERE state = 'completed' AND accuracy IS NOT NULL").fetchall()
    cells = []
    for m in marks:
        done = [a for f, a, _ in rows if (f - t0) / 60 * 2 <= m]
        cells.append(f"{max(done):9.4f}" if done else f"{'-':>9}")
    counts = {}
    for _, _, fid in rows:
        counts[fid] = counts.get(fid, 0) + 1
    print(f"{label:<10}" + "".join(cells) + "   " + ", ".join(f"{c} x {f:g}" for f, c in sorted(counts.items())))
PY
