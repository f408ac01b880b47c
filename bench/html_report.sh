#!/usr/bin/env bash
# The HTML report of the benchmark target (bench/target.py: 20 parked threads with locals of
# every kind, 2 spinners): its size, and the time to first render in headless chromium
# (tests/browser/drive.js). Prints a markdown table.
#   bench/html_report.sh [--python PY] [--threads N]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=/root/.pyenv/versions/3.11.7/bin/python3.11
threads=20
while [ $# -gt 0 ]; do
  case $1 in
    --python) python=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: $0 [--python PY] [--threads N]" >&2; exit 2 ;;
  esac
done
[ -x "$python" ] || python=$(command -v python3)
pysnap=${PYSNAP_BIN:-$repo/build/programs/pysnap}
work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; [ -n "${KEEP:-}" ] && cp "$work"/t.* "$KEEP"/; rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -pthread -o "$work/hb.so" "$repo/bench/heartbeat.c"
: > "$work/hb"  # the heartbeat maps it (bench/heartbeat.c)
coproc TARGET { exec "$python" "$repo/bench/target.py" --threads "$threads" --spinners 2 --heap-mb 20 \
  --heartbeat "$work/hb.so" --hb-file "$work/hb" --max-seconds 120; }
exec 3>&"${TARGET[1]}"
read -r word pid <&"${TARGET[0]}"
[ "$word" = ready ] || { echo "bench: the target did not start" >&2; exit 1; }
"$pysnap" capture --pid "$pid" -o "$work/t.snap" >/dev/null
exec 3>&-; kill "$pid" 2>/dev/null || true
"$pysnap" analyze "$work/t.snap" -o "$work/t.html"
"$pysnap" analyze "$work/t.snap" --json > "$work/t.json"
size=$(stat -c %s "$work/t.html"); json=$(stat -c %s "$work/t.json"); gz=$(gzip -9c "$work/t.html" | wc -c)
rendered=- fcp=-
if nm=$("$repo/tests/browser/setup.sh" 2>/dev/null) && [ -x /usr/bin/chromium ]; then
  read -r rendered fcp < <(NODE_PATH=$nm node "$repo/tests/browser/drive.js" "$work/t.html" |
    /usr/bin/python3 -c 'import json,sys; t=json.load(sys.stdin)["timing"]; print("%.0f %.0f" % (t["rendered"], t["firstContentfulPaint"]))')
fi
echo "| threads | page bytes | gzip -9 | its --json document | rendered at ms | first contentful paint ms |"
echo "|---|---|---|---|---|---|"
echo "| $threads + 2 spinners + main | $size | $gz | $json | $rendered | $fcp |"
