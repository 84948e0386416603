#!/usr/bin/env bash
# Installs what Topiary needs on a Debian machine, skipping what is already there:
# Debian packages (libzmq, SQLite, pkg-config, the Fashion-MNIST data set), with --test also
# Chromium (the dashboard's browser tests), and, with --python, a virtual environment for the
# Python workers (reused when present).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libzmq3-dev libsqlite3-dev pkg-config dataset-fashion-mnist python3-venv)
[[ "${1:-}" == "--test" ]] && packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: Swift 6.1 or newer must be on the PATH (swift.org/install)" >&2; exit 1; }

if [[ "${1:-}" == "--python" ]]; then
    venv="${TOPIARY_VENV:-$HOME/.cache/topiary/venv}"
    if [ ! -x "$venv/bin/python" ]; then
        echo "setup: creating the Python environment in $venv"
        mkdir -p "$(dirname "$venv")"
        python3 -m venv "$venv"
    fi
    want=$(cat Workers/requirements.txt 2>/dev/null | sort | sha256sum | cut -c1-16)
    if [ ! -f "$venv/.topiary-$want" ]; then
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q -r Workers/requirements.txt
        touch "$venv/.topiary-$want"
    fi
    echo "$venv"
fi
