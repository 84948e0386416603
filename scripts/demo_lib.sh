# Shared by the demos (scripts/demo.sh, scripts/demo-two-targets.sh); sourced, not run.
# Installs what is missing, builds the release binary, and starts and stops a daemon and
# local workers under "$dir". Callers set: dir (where the database and logs go) and port
# (first of two ports).

bash scripts/setup.sh
venv=$(bash scripts/setup.sh --python | tail -n 1)
echo "building topiary (release)…"
swift build -c release --product topiary 2>&1 | tail -n 1
topiary="$PWD/.build/release/topiary"
repo=$PWD

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

start_daemon() {
    "$topiary" serve --db "$db" --bind "$workers_ep" --control "$control" --log-level notice > "$dir/daemon.log" 2>&1 &
    pids+=($!)
}

# start_worker NAME THREADS: a local worker with the PyTorch trainer; its pid is in $worker_pid.
start_worker() {
    "$topiary" worker --connect "$workers_ep" --name "$1" --slots 1 --threads "$2" --tags cpu \
        --trainer "pytorch=$venv/bin/python $repo/Workers/pytorch/trainer.py" \
        --work-dir "$dir/work-$1" --log-level notice > "$dir/worker-$1.log" 2>&1 &
    worker_pid=$!
    pids+=($worker_pid)
}

# wait_for_workers N: until the daemon lists N workers (up to 20 s).
wait_for_workers() {
    for _ in $(seq 1 100); do
        n=$("$topiary" workers --control "$control" --json 2>/dev/null | "$venv/bin/python" -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
        [ "$n" -ge "$1" ] && return 0
        sleep 0.2
    done
    echo "only $n of $1 workers registered; see $dir/worker-*.log" >&2
    return 1
}

# stop_worker PID: stops one worker (SIGTERM: it finishes nothing new and leaves).
stop_worker() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# measure_export SPACE EXPORT_DIR: the exported model timed on this machine (ONNX Runtime,
# one thread, batch 1) beside what the host-cpu profile predicts, added to its model card.
# A shared machine's load shows in the measurement; the prediction is for an idle one.
measure_export() {
    local space=$1 out=$2 measured predicted
    if measured=$("$venv/bin/python" scripts/time_onnx.py "$out/model.onnx" 2>&1); then
        predicted=$("$topiary" candidate latency "$out/candidate.json" --space "$space" --target host-cpu --json 2>/dev/null \
            | "$venv/bin/python" -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["milliseconds"])' || echo "-")
        "$venv/bin/python" - "$measured" "$predicted" "$(nproc)" >> "$out/MODEL_CARD.md" <<'PY'
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
}

# print_card EXPORT_DIR: the model card up to its list of files, then the measured section.
print_card() {
    sed -n '1,/^## Files/p' "$1/MODEL_CARD.md" | sed '$d'
    echo
    sed -n '/## On the machine that ran the search/,$p' "$1/MODEL_CARD.md"
}
