#!/usr/bin/env bash
# Debian 12's source packages of libraries pysnap builds itself (capstone for the static binary,
# scripts/build-capstone.sh; libelf, capstone, zstd, zlib for WebAssembly,
# scripts/build-wasm-deps.sh), fetched once by a private apt configuration (nothing on the
# system changes) into ${PYSNAP_CACHE:-~/.cache/pysnap}/debian-src.
#
#   scripts/debian-source.sh PKG...          fetch what is missing; print each PKG's .dsc path
#   scripts/debian-source.sh -x DIR PKG...   and unpack each, Debian's patches applied, into DIR/PKG
#
# Needs: dpkg-dev (dpkg-source), network the first time (deb.debian.org).
set -euo pipefail
dest=""
if [ "${1:-}" = "-x" ]; then dest=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [-x DIR] PKG..." >&2; exit 2; }
src=${PYSNAP_CACHE:-$HOME/.cache/pysnap}/debian-src
mkdir -p "$src"
have() { local p; for p in "$@"; do ls "$src/${p}"_*.dsc >/dev/null 2>&1 || return 1; done; }
if ! have "$@"; then
  exec 9>"$src/.lock"; flock 9 # several builds at once wait for one another
  if ! have "$@"; then
    T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
    mkdir -p "$T/lists/partial" "$T/cache/archives"
    echo 'deb-src http://deb.debian.org/debian bookworm main' > "$T/sources.list"
    A=(-o Dir::Etc::SourceList="$T/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o Dir::State::Lists="$T/lists" -o Dir::Cache="$T/cache" -o APT::Sandbox::User=root)
    apt-get "${A[@]}" -qq update >&2
    (cd "$src" && apt-get "${A[@]}" -qq source --download-only "$@" >&2)
  fi
  exec 9>&-
fi
for p in "$@"; do
  dsc=$(ls "$src/${p}"_*.dsc | head -1)
  echo "$dsc"
  if [ -n "$dest" ]; then
    dpkg-source -x "$dsc" "$dest/$p" >"$dest/$p.log" 2>&1 || { cat "$dest/$p.log" >&2; exit 1; }
  fi
done
