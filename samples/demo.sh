#!/usr/bin/env bash
# pysnap demo: start samples/app.py, capture it with pysnap, analyze the snapshot, stop it.
#
#   samples/demo.sh
#
# PYTHON      the Python that runs the app (default: the first of python3.12, python3.11,
#             python3 found on PATH that runs)
# PYSNAP_BIN  the pysnap binary (default: <repo>/build/programs/pysnap)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
PYSNAP_BIN="${PYSNAP_BIN:-$repo/build/programs/pysnap}"

if [[ -z "${PYTHON:-}" ]]; then
    for candidate in python3.12 python3.11 python3; do
        # a pyenv shim exists for every installed version but runs only the selected ones
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            PYTHON="$(command -v "$candidate")"
            break
        fi
    done
fi
if [[ -z "${PYTHON:-}" ]]; then
    echo "demo: no python3.12, python3.11 or python3 found; set PYTHON" >&2
    exit 1
fi
if [[ ! -x "$PYSNAP_BIN" ]]; then
    echo "demo: pysnap binary not found: $PYSNAP_BIN (build it, or set PYSNAP_BIN)" >&2
    exit 1
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/pysnap-demo.XXXXXX")"
app_pid=""
cleanup() {
    local pid
    for pid in "$app_pid" "$(cat "$tmp/app.pid" 2>/dev/null || true)"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "$app_pid" ]]; then
        # SIGTERM ends the app within about a second; SIGKILL if it does not
        for _ in $(seq 50); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$app_pid" 2>/dev/null || true
        wait "$app_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== starting $here/app.py with $PYTHON"
"$PYTHON" "$here/app.py" --pidfile "$tmp/app.pid" &
app_pid=$!

for _ in $(seq 100); do  # 10 s at most
    [[ -s "$tmp/app.pid" ]] && break
    if ! kill -0 "$app_pid" 2>/dev/null; then
        echo "demo: the app exited before writing its pidfile" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ ! -s "$tmp/app.pid" ]]; then
    echo "demo: the app did not write its pidfile within 10 s" >&2
    exit 1
fi
pid="$(cat "$tmp/app.pid")"
sleep 0.5  # let the workers get busy

echo "== pysnap capture --pid $pid -o $tmp/app.snap"
"$PYSNAP_BIN" capture --pid "$pid" -o "$tmp/app.snap"
echo
echo "== pysnap analyze $tmp/app.snap"
"$PYSNAP_BIN" analyze "$tmp/app.snap"
