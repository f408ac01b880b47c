#!/usr/bin/env bash
# Build the free-threaded CPython 3.13t (--disable-gil) from Debian's python3.13 source package
# (trixie; `apt-get source` with a private apt configuration: nothing on the system changes),
# once, into the cache, and print the interpreter's path.
#
#   tools/build-freethreaded.sh [--print-env]
#
# Cache: ${PYSNAP_CACHE:-~/.cache/pysnap}/ft/3.13t (prefix), built in a temporary directory
# and marked complete at the end, under a lock. A shared-library build with symbols, like the
# pyenv ones. Takes several minutes on 2 cores the first time; a second call prints the path.
# --print-env prints "3.13t=PATH" for PYSNAP_EXTRA_PYTHONS instead.
# Exit status: 0, or 1 with the reason on stderr (no network to the archive, build failure).
set -euo pipefail
me=build-freethreaded
mode=path
[ "${1:-}" = "--print-env" ] && mode=env
cache=${PYSNAP_CACHE:-${HOME:-/root}/.cache/pysnap}/ft
prefix=$cache/3.13t
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 3600 9 || { echo "$me: $cache is locked by another build" >&2; exit 1; }
out() { if [ $mode = env ]; then echo "3.13t=$prefix/bin/python3.13t"; else echo "$prefix/bin/python3.13t"; fi; }
if [ -f "$prefix/.complete" ]; then out; exit 0; fi

pkgs=(gcc make pkg-config libffi-dev zlib1g-dev libssl-dev libbz2-dev liblzma-dev libexpat1-dev dpkg-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "$me: cannot install ${missing[*]}" >&2; exit 1; }
fi

src=$cache/src
if [ ! -d "$src/python3.13" ]; then
  rm -rf "$src"; mkdir -p "$src/lists/partial" "$src/archives/partial"
  echo 'deb-src http://deb.debian.org/debian trixie main' >"$src/sources.list"
  A=(-o Dir::Etc::SourceList="$src/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State::Lists="$src/lists" -o Dir::Cache="$src")
  apt-get "${A[@]}" update >"$src/apt.log" 2>&1 ||
    { echo "$me: apt-get update of trixie's sources failed (see $src/apt.log)" >&2; exit 1; }
  (cd "$src" && apt-get "${A[@]}" source --download-only python3.13 >>"$src/apt.log" 2>&1) ||
    { echo "$me: apt-get source python3.13 failed (see $src/apt.log)" >&2; exit 1; }
  (cd "$src" && dpkg-source -x python3.13_*.dsc python3.13 >>"$src/apt.log" 2>&1) ||
    { echo "$me: dpkg-source -x failed (see $src/apt.log)" >&2; exit 1; }
fi

build=$cache/build
rm -rf "$build" "$prefix"; mkdir -p "$build"
log=$cache/build.log
echo "$me: building CPython 3.13 --disable-gil into $prefix (log $log)" >&2
# The run path goes to make, not configure: Debian's patched Makefile drops configure's LDFLAGS.
rpath="-Wl,-rpath,$prefix/lib"
(cd "$build" && "$src/python3.13/configure" --prefix="$prefix" --disable-gil --enable-shared \
   --without-ensurepip >"$log" 2>&1 &&
 make -j"$(nproc)" LDFLAGS="$rpath" >>"$log" 2>&1 && make install LDFLAGS="$rpath" >>"$log" 2>&1) ||
  { echo "$me: the build failed: $(tail -n 3 "$log" | tr '\n' ' ')" >&2; exit 1; }
"$prefix/bin/python3.13t" -c 'import sys; assert not sys._is_gil_enabled()' ||
  { echo "$me: the built interpreter runs with a GIL" >&2; exit 1; }
rm -rf "$build"
touch "$prefix/.complete"
out
