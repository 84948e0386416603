#!/usr/bin/env bash
# Runs every test suite: the Swift tests and the Python tests of Workers/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
swift build --build-tests
swift test --skip-build
if compgen -G "Workers/*/test_*.py" >/dev/null || compgen -G "Workers/*/tests/test_*.py" >/dev/null; then
    venv=$(bash scripts/setup.sh --python | tail -n 1)
    "$venv/bin/python" -m pytest -q Workers
fi
