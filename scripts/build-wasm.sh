#!/usr/bin/env bash
# The WebAssembly build of the analyzer: the libraries (scripts/build-wasm-deps.sh, cached),
# then the same meson tree cross-compiled with -Dcapture=false into build-wasm/ (or $1), then
# the Node package (wasm/npm) and the viewer page. Progress on stderr; on stdout the two
# products, "npm: PATH" and "viewer: PATH". Incremental: a second run costs seconds.
#   build-wasm/wasm/pysnap-analyze.js        the Node command (and its .wasm)
#   build-wasm/wasm/pysnap-analyze-web.js    the browser module
#   dist/pysnap-analyze-VERSION.tgz          the npm package (npm pack)
#   dist/pysnap-viewer.html                  the viewer page, self-contained
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${1:-build-wasm}
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
prefix=$(scripts/build-wasm-deps.sh)
# a build directory made over other libraries (an older prefix) starts again
if [ "$(cat "$build/.wasm-prefix" 2>/dev/null)" != "$prefix" ]; then rm -rf "$build"; fi
if [ ! -f "$build/build.ninja" ]; then
  rm -rf "$build"
  log=$(mktemp)
  meson setup "$build" --cross-file tools/wasm/emscripten.cross --cross-file "$prefix/meson.cross" \
    -Dcapture=false -Dtests=false -Dbuildtype=release >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
  echo "$prefix" > "$build/.wasm-prefix"
fi
ninja -C "$build" >&2

# The npm package: wasm/npm's files and the Node module, packed by npm (no network).
version=$(meson introspect "$build" --projectinfo |
          python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
stage=$build/npm-package
rm -rf "$stage"; mkdir -p "$stage/bin" "$stage/lib" dist
cp wasm/npm/README.md "$stage/"
cp wasm/npm/bin/pysnap-analyze.js "$stage/bin/"
cp "$build/wasm/pysnap-analyze.js" "$build/wasm/pysnap-analyze.wasm" "$stage/lib/"
python3 - "$version" wasm/npm/package.json "$stage/package.json" <<'PY'
import json, sys
version, src, dst = sys.argv[1:]
pkg = json.load(open(src))
pkg["version"] = version  # the project's (meson.build), one version for all
json.dump(pkg, open(dst, "w"), indent=2)
open(dst, "a").write("\n")
PY
tgz=$(cd "$stage" && npm pack --silent --pack-destination "$top/dist" --cache "${PYSNAP_CACHE:-$HOME/.cache/pysnap}/npm" 2>/dev/null | tail -1)
cp "$build/wasm/pysnap-viewer.html" dist/pysnap-viewer.html
echo "npm: $top/dist/$tgz"
echo "viewer: $top/dist/pysnap-viewer.html"
