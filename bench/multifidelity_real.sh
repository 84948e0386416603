#!/usr/bin/env bash
# Multi-fidelity on real training: random search, ASHA and BOHB (ASHA with sampler=tpe) on
# fashion-mobilenet.yaml, every candidate trained for real on Fashion-MNIST (a fifth of the
# data), each strategy for the same wall time with two local one-thread workers (so
# CPU-minutes = 2 x wall minutes); prints the best validation accuracy any completed trial
# of each reached after every 5 CPU-minutes.
#
#   bash bench/multifidelity_real.sh [MINUTES_PER_STRATEGY (10)] [SEED (1)] [ARMS]
#
# Every candidate is planned for 9 epochs. Arms (default "random asha-stop bohb-bo-stop"):
#   random       random search, every candidate trained the full 9 epochs;
#   random-3     random search at 3 epochs a candidate (what a user might do by hand);
#   asha-stop    ASHA in stop mode: each trial reports its validation accuracy after every
#                epoch and is stopped at epoch 1 or 3 unless it ranks in the top third there
#                (rungs 1, 3, 9; nothing is trained twice);
#   bohb-stop    the same with new candidates from the TPE model (BOHB);
#   bohb-bo-stop the same with new candidates from bo's Gaussian process (sampler=bo);
#   asha, bohb   promote mode: a candidate promoted from 1 to 3 to 9 epochs is trained again
#                from the start at each rung.
# Candidates train their compressed architecture from the start (from_scratch=1, as the main
# job does): otherwise the per-epoch accuracy an early stop ranks is the uncompressed
# network's, which compression after training then changes (a low-rank 0.25 candidate went
# from 88.0% after 9 epochs to 53.3% after factorization and one fine-tuning epoch).
# One seed per run: trainings are noisy, repeat with other seeds before concluding.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
minutes=${1:-10}
seed=${2:-1}
arms=${3:-random asha-stop bohb-bo-stop}
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
        --fidelity teacher_data_fraction=0.2 --fidelity from_scratch=1 --control "$control" > "$dir/start.txt"
    sleep $((minutes * 60))
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    port=$((port + 2))
}

for arm in $arms; do
    case $arm in
        random) run random 9 random ;;
        random-3) run random-3 3 random ;;
        asha) run asha 9 asha "min_fidelity=1" ;;
        bohb) run bohb 9 asha "min_fidelity=1,sampler=tpe" ;;
        asha-stop) run asha-stop 9 asha "min_fidelity=1,mode=stop" ;;
        bohb-stop) run bohb-stop 9 asha "min_fidelity=1,mode=stop,sampler=tpe" ;;
        bohb-bo-stop) run bohb-bo-stop 9 asha "min_fidelity=1,mode=stop,sampler=bo" ;;
        *) echo "unknown arm '$arm' (random, random-3, asha, bohb, asha-stop, bohb-stop, bohb-bo-stop)" >&2; exit 2 ;;
    esac
done

"$venv/bin/python" - "$out" "$minutes" $arms <<'PY'
import os, sqlite3, sys
out, minutes, arms = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
marks = list(range(5, 2 * minutes + 1, 5))
print(f"best validation accuracy reached (any trial, any fidelity) after N CPU-minutes; 2 one-thread workers, {minutes} wall minutes each")
print("strategy   " + "".join(f"{m:>9}" for m in marks) + "   completed trials (by epochs), stopped early")
for label in arms:
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
    stopped = db.execute("SELECT COUNT(*) FROM trials WHERE state IN ('pruned', 'cancelled')").fetchone()[0]
    print(f"{label:<11}" + "".join(cells) + "   " + ", ".join(f"{c} x {f:g}" for f, c in sorted(counts.items())) + f", {stopped} stopped")
PY
