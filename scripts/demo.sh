#!/usr/bin/env bash
# The main job: sets up what is missing, builds Topiary, and walks through a search
# space: validate, describe, sample candidates with their costs, and decode benchmark keys.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product topiary
topiary=.build/release/topiary
run() { echo; echo "\$ topiary $*"; "$topiary" "$@"; }

run space validate SearchSpaces/*.yaml
run space describe SearchSpaces/fashion-mobilenet.yaml
run space sample SearchSpaces/fashion-mobilenet.yaml --count 8 --seed 1
"$topiary" space sample SearchSpaces/fashion-mobilenet.yaml --count 1 --seed 7 --json > /tmp/topiary-demo-candidate.json
run candidate cost /tmp/topiary-demo-candidate.json --space SearchSpaces/fashion-mobilenet.yaml
run space decode SearchSpaces/nas-bench-201.yaml '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'
"$topiary" space decode SearchSpaces/nas-bench-macro.yaml 12021102 > /tmp/topiary-demo-macro.json
run candidate cost /tmp/topiary-demo-macro.json --space SearchSpaces/nas-bench-macro.yaml
