#!/usr/bin/env bash
# pysnap web demo: the high-CPU gunicorn case. Starts samples/webapp.py under gunicorn with
# two workers on a free local port, hangs one worker on /hang, keeps the other busy on /cpu
# from a bounded local client, captures the whole process tree with --children, prints the
# analysis, then three rounds and a --summary; stops everything on the way out.
#
#   samples/demo-web.sh
#
# GUNICORN    the gunicorn to run (default: /usr/bin/gunicorn, Debian's package "gunicorn";
#             Flask from "python3-flask")
# PYSNAP_BIN  the pysnap binary (default: <repo>/build/programs/pysnap)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
PYSNAP_BIN="${PYSNAP_BIN:-$repo/build/programs/pysnap}"
GUNICORN="${GUNICORN:-/usr/bin/gunicorn}"
CLIENT_PYTHON=/usr/bin/python3

if [[ ! -x "$GUNICORN" ]]; then
    echo "demo-web: $GUNICORN not found (apt-get install gunicorn python3-flask)" >&2
    exit 1
fi
if [[ ! -x "$PYSNAP_BIN" ]]; then
    echo "demo-web: pysnap binary not found: $PYSNAP_BIN (build it, or set PYSNAP_BIN)" >&2
    exit 1
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/pysnap-demo-web.XXXXXX")"
master="" client=""
cleanup() {
    [[ -n "$client" ]] && kill "$client" 2>/dev/null || true
    if [[ -n "$master" ]] && kill -0 "$master" 2>/dev/null; then
        local workers
        workers="$(ps -o pid= --ppid "$master" 2>/dev/null || true)"
        kill -QUIT "$master" 2>/dev/null || true  # gunicorn: quick shutdown
        for _ in $(seq 30); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
        # shellcheck disable=SC2086
        kill -KILL "$master" $workers 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$("$CLIENT_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "== gunicorn --workers 2 on 127.0.0.1:$port ($here/webapp.py)"
"$GUNICORN" --workers 2 --timeout 0 --graceful-timeout 1 --bind "127.0.0.1:$port" \
    --chdir "$here" --pid "$tmp/gunicorn.pid" --log-level warning webapp:app &
master=$!

url="http://127.0.0.1:$port"
for _ in $(seq 100); do  # 10 s at most
    "$CLIENT_PYTHON" -c "import urllib.request; urllib.request.urlopen('$url/', timeout=1)" \
        2>/dev/null && break
    kill -0 "$master" 2>/dev/null || { echo "demo-web: gunicorn exited" >&2; exit 1; }
    sleep 0.1
done

echo "== one request to /hang (it never answers), then /cpu in a loop for at most 20 s"
# The bounded client: /hang once (given up after a second; the worker stays stuck), then
# /cpu back to back until the time limit.
"$CLIENT_PYTHON" - "$url" <<'PY' &
import sys, time, urllib.request
url = sys.argv[1]
try:
    urllib.request.urlopen(url + "/hang", timeout=1)
except Exception:
    pass
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(url + "/cpu?n=300000", timeout=10).read()
    except Exception:
        time.sleep(0.1)
PY
client=$!
sleep 2

echo "== pysnap capture --pid $master --children -o $tmp/snaps"
"$PYSNAP_BIN" capture --pid "$master" --children -o "$tmp/snaps"
echo
echo "== pysnap analyze $tmp/snaps"
"$PYSNAP_BIN" analyze "$tmp/snaps"
echo
echo "== pysnap capture --pid $master --children --count 3 --interval 0.5 -o $tmp/rounds"
"$PYSNAP_BIN" capture --pid "$master" --children --count 3 --interval 0.5 -o "$tmp/rounds"
echo
echo "== pysnap analyze $tmp/rounds --summary"
"$PYSNAP_BIN" analyze "$tmp/rounds" --summary
