#!/usr/bin/env bash
# Installs the browser tests' npm packages (package.json + package-lock.json here: only
# playwright-core, which downloads no browser) with `npm ci` into the cache, once per lock
# file; offline when npm's cache has them. Prints the node_modules directory (for NODE_PATH).
# Exits 1 when npm is absent or the install fails (the tests then skip, saying why).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PYSNAP_CACHE:-$HOME/.cache/pysnap}
command -v npm >/dev/null || { echo "setup.sh: npm not installed (apt-get install npm)" >&2; exit 1; }
key=$(sha256sum "$here/package-lock.json" | cut -c1-16)
dir="$cache/browser-node/$key"
if [ ! -f "$dir/.installed" ]; then
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --cache "$cache/npm" >&2)
  touch "$dir/.installed"
fi
echo "$dir/node_modules"
