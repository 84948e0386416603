#!/usr/bin/env bash
# One supernet, two targets: trains fashion-fused.yaml's weight-sharing supernet once, then
# searches it for a Raspberry Pi 4 (under a latency budget and 50,000 parameters) and for a
# Cortex-M7 microcontroller (under its flash, SRAM and latency limits). Candidates are
# evaluated by inheriting the supernet's weights (seconds each, no training); each search's
# finalists are fine-tuned from them, and each search exports its best int8 model with its
# model card. The supernet trains on one worker with both cores; two one-thread workers
# then replace it (workers may join and leave at any time).
#
# Settings: TOPIARY_DEMO_DIR, TOPIARY_DEMO_PORT (25565), TOPIARY_DEMO_BUDGET (inherited
# evaluations per search, 24), TOPIARY_SUPERNET_EPOCHS (1), TOPIARY_SUPERNET_DATA (share of
# the training images per epoch, 1), TOPIARY_FINAL_MINUTES (fine-tuning per finalist, 5).
set -euo pipefail
cd "$(dirname "$0")/.."

space=SearchSpaces/fashion-fused.yaml
budget=${TOPIARY_DEMO_BUDGET:-24}
epochs=${TOPIARY_SUPERNET_EPOCHS:-1}
share=${TOPIARY_SUPERNET_DATA:-1}
final_minutes=${TOPIARY_FINAL_MINUTES:-5}
dir=${TOPIARY_DEMO_DIR:-$PWD/runs/two-targets-$(date +%Y%m%d-%H%M%S)}
port=${TOPIARY_DEMO_PORT:-25565}
source scripts/demo_lib.sh   # install, build; start_daemon, start_worker, measure_export, print_card

t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t0 )) s"; }
start_daemon
start_worker supernet-trainer 2
wait_for_workers 1

echo
echo "\$ topiary supernet train $space --epochs $epochs --data-fraction $share --follow"
"$topiary" supernet train "$space" --epochs "$epochs" --data-fraction "$share" --seed 1 --control "$control" --follow
"$topiary" supernet list --db "$db"
echo "supernet trained after $(elapsed)"
stop_worker "$worker_pid"
start_worker local-1 1
start_worker local-2 1
wait_for_workers 2

# search TARGET LOG CONSTRAINT...: a search by inheritance whose finalists are fine-tuned
# from the supernet; prints its log to LOG too (for the search id).
search() {
    local target=$1 log=$2
    shift 2
    local constraints=()
    for c in "$@"; do constraints+=(--constraint "$c"); done
    echo
    echo "\$ topiary search start $space --target $target ${*/#/--constraint } --evaluator supernet --budget $budget --finalists 2 …"
    # Final settings as the main job's (scripts/demo.sh); finalists that ask for distillation
    # get the full teacher (trained once, about 5 minutes, then cached).
    "$topiary" search start "$space" --target "$target" "${constraints[@]}" --evaluator supernet --strategy evolution --seed 1 \
        --budget "$budget" --finalists 2 --final-fidelity epochs=20 --final-fidelity "minutes=$final_minutes" --final-fidelity finetune_epochs=1 \
        --final-fidelity label_smoothing=0.1 --final-fidelity data_fraction=1 --final-fidelity test_fraction=1 --final-fidelity tflite=1 \
        --deadline 1200 --control "$control" --follow | tee "$log"
}

exports=()
for spec in "raspberry-pi-4|latency_ms<=0.8|params<=50000" "cortex-m7|latency_ms<=10|memory_kb<=32|size_kb<=32"; do
    IFS='|' read -r target c1 c2 c3 <<< "$spec"
    # shellcheck disable=SC2086
    search "$target" "$dir/search-$target.log" $c1 $c2 ${c3:-}
    id=$(grep -m1 -o 'search [0-9]* started' "$dir/search-$target.log" | awk '{print $2}')
    echo "search $id for $target ended after $(elapsed)"
    "$topiary" leaderboard --db "$db" --search "$id" --top 3
    "$topiary" export --db "$db" --candidate best --search "$id" --out "$dir/$target"
    measure_export "$space" "$dir/$target"
    exports+=("$dir/$target")
done

for out in "${exports[@]}"; do
    echo
    print_card "$out"
done
echo
echo "one supernet, two targets: $(elapsed) after the build; database, logs and the exported models: $dir"
