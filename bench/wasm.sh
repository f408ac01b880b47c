#!/usr/bin/env bash
# The analyzer compiled to WebAssembly against the native one, on the benchmark target's
# snapshot (bench/target.py: 20 parked threads with locals of every kind, 2 spinners): the
# module sizes, and the time to analyze (--json, and the HTML page) natively, with the Node
# command, and in the viewer page in headless chromium. Medians of RUNS runs, alternated in
# the same loop (same machine load). Prints a markdown table.
#   bench/wasm.sh [--python PY] [--threads N] [--runs N]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=/root/.pyenv/versions/3.11.7/bin/python3.11
threads=20 runs=10
while [ $# -gt 0 ]; do
  case $1 in
    --python) python=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--python PY] [--threads N] [--runs N]" >&2; exit 2 ;;
  esac
done
[ -x "$python" ] || python=$(command -v python3)
pysnap=${PYSNAP_BIN:-$repo/build/programs/pysnap}
"$repo/scripts/build-wasm.sh" >/dev/null
node_js=$repo/build-wasm/wasm/pysnap-analyze.js
viewer=$repo/dist/pysnap-viewer.html
work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -pthread -o "$work/hb.so" "$repo/bench/heartbeat.c"
: > "$work/hb"
coproc TARGET { exec "$python" "$repo/bench/target.py" --threads "$threads" --spinners 2 --heap-mb 20 \
  --heartbeat "$work/hb.so" --hb-file "$work/hb" --max-seconds 120; }
exec 3>&"${TARGET[1]}"
read -r word pid <&"${TARGET[0]}"
[ "$word" = ready ] || { echo "bench: the target did not start" >&2; exit 1; }
"$pysnap" capture --pid "$pid" -o "$work/t.snap" >/dev/null
exec 3>&-; kill "$pid" 2>/dev/null || true

# one line per run (us): native-json node-json native-html node-html node-startup, then
# native and node analyzing the snapshot 11 times in one process (--json of 11 files): the
# difference from one, over 10, is what one more snapshot costs without any start-up
t() { local s=$(date +%s%N); "$@" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000 )); }
eleven=(); for i in $(seq 11); do eleven+=("$work/t.snap"); done
for i in $(seq "$runs"); do
  echo "$(t "$pysnap" analyze --json "$work/t.snap") $(t node "$node_js" --json "$work/t.snap")" \
       "$(t "$pysnap" analyze --html "$work/t.snap") $(t node "$node_js" --html "$work/t.snap")" \
       "$(t node -e 0)" \
       "$(t "$pysnap" analyze --json "${eleven[@]}") $(t node "$node_js" --json "${eleven[@]}")"
done > "$work/times"
cmp <("$pysnap" analyze --json "$work/t.snap") <(node "$node_js" --json "$work/t.snap") >/dev/null ||
  echo "bench: the Node command's --json differs from native's" >&2
browser="-"
if nm=$("$repo/tests/browser/setup.sh" 2>/dev/null) && [ -x /usr/bin/chromium ]; then
  rounds=(); for i in $(seq "$runs"); do rounds+=("$work/t.snap"); done
  NODE_PATH=$nm node "$repo/tests/wasm/drive_viewer.js" "$viewer" "${rounds[@]}" > "$work/browser.json"
  browser=$(/usr/bin/python3 -c '
import json, re, statistics, sys
d = json.load(open(sys.argv[1]))
ms = [int(re.search(r"analyzed in (\d+) ms", r["status"]).group(1)) for r in d["rounds"]]
print("%d (first %d)" % (statistics.median(ms[1:] or ms), ms[0]))' "$work/browser.json")
fi
/usr/bin/python3 - "$work/times" "$repo" "$browser" "$(stat -c %s "$work/t.snap")" "$threads" <<'PY'
import gzip, statistics, sys
from pathlib import Path
times, repo, browser, snap_bytes, threads = sys.argv[1:]
rows = [list(map(int, l.split())) for l in open(times)]
med = [statistics.median(c) / 1000 for c in zip(*rows)]
wasm = Path(repo, "build-wasm/wasm/pysnap-analyze-web.wasm").read_bytes()
node_js = Path(repo, "build-wasm/wasm/pysnap-analyze.js").read_bytes()
viewer = Path(repo, "dist/pysnap-viewer.html").read_bytes()
gz = lambda b: len(gzip.compress(b, 9))
print("| module | bytes | gzip -9 |")
print("|---|---|---|")
print("| analyzer .wasm (page's) | %d | %d |" % (len(wasm), gz(wasm)))
node_wasm = Path(repo, "build-wasm/wasm/pysnap-analyze.wasm").read_bytes()
print("| Node command (.js + .wasm) | %d | %d |" % (len(node_js) + len(node_wasm), gz(node_js) + gz(node_wasm)))
print("| viewer page (all inlined) | %d | %d |" % (len(viewer), gz(viewer)))
print()
print("Snapshot of bench/target.py (%s threads + 2 spinners + main), %s bytes; median of %d runs, ms:"
      % (threads, snap_bytes, len(rows)))
print()
print("| analyze | native | Node (whole process) | Node minus its own start-up (%.0f ms) | ratio | browser viewer (in-page, incl. module start) |"
      % med[4])
print("|---|---|---|---|---|---|")
print("| --json | %.0f | %.0f | %.0f | %.1fx | |" % (med[0], med[1], med[1] - med[4], (med[1] - med[4]) / med[0]))
print("| -o report.html | %.0f | %.0f | %.0f | %.1fx | %s |" % (med[2], med[3], med[3] - med[4], (med[3] - med[4]) / med[2], browser))
one_native, one_node = (med[5] - med[0]) / 10, (med[6] - med[1]) / 10
print("| --json, one more snapshot in the same process (no start-up) | %.1f | %.1f | | %.1fx | |"
      % (one_native, one_node, one_node / one_native if one_native > 0 else float("nan")))
PY
