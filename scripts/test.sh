#!/usr/bin/env bash
# Runs every test suite: the Swift tests and the Python tests of Workers/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The Python environment first: some Swift tests run Python trainers that need numpy, onnx
# and onnxruntime (they skip, saying so, without it).
venv=$(bash scripts/setup.sh --python | tail -n 1)
export TOPIARY_VENV="$venv"
swift build --build-tests
swift test --skip-build
if compgen -G "Workers/*/test_*.py" >/dev/null || compgen -G "Workers/*/tests/test_*.py" >/dev/null; then
    "$venv/bin/python" -m pytest -q Workers bench/test_landscape.py bench/test_compression_outcome.py bench/test_daemon_strategies.py
fi
