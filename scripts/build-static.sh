#!/usr/bin/env bash
# Build the static pysnap (meson -Dstatic=true, release, no unit tests) into build-static/ and
# a stripped copy at build-static/pysnap: one x86-64 executable that loads nothing at run time
# (libelf, libdw, capstone, zstd, zlib, lzma, bz2 and glibc linked in). build-static/ is kept
# between runs, so a second run only rebuilds what changed. Prints the binary's path and size.
# Fails when the result is not statically linked, still asks for a program interpreter, or
# carries a capstone architecture other than x86.
set -euo pipefail
cd "$(dirname "$0")/.."
b=build-static
# capstone with x86 only (scripts/build-capstone.sh, cached), not Debian's libcapstone.a with
# every architecture: meson finds its capstone.pc first (the other libraries are not there)
capstone_pc=$(scripts/build-capstone.sh)/lib/pkgconfig
if [ ! -f "$b/build.ninja" ]; then
  meson setup "$b" -Dstatic=true -Dtests=false --buildtype=release -Db_ndebug=true \
    -Dpkg_config_path="$capstone_pc" >/dev/null
fi
# PYSNAP_VIEWER=dist/pysnap-viewer.html (scripts/release.sh): `pysnap viewer` writes that page
meson configure "$b" -Dviewer="${PYSNAP_VIEWER:-}" -Dpkg_config_path="$capstone_pc" >/dev/null
nice ninja -C "$b" >/dev/null
strip --strip-all -o "$b/pysnap.tmp" "$b/programs/pysnap"
# A static executable has no PT_INTERP and no PT_DYNAMIC: nothing for ld.so to do, no library
# to find (`ldd` says "not a dynamic executable").
if readelf -lW "$b/pysnap.tmp" | grep -qE '^\s*(INTERP|DYNAMIC)\s'; then
  echo "build-static: $b/programs/pysnap is not fully static:" >&2
  readelf -lW "$b/pysnap.tmp" | grep -E '^\s*(INTERP|DYNAMIC)\s' >&2
  exit 1
fi
# capstone's architectures are its *_global_init functions (cs.c's table of them)
archs=$(nm "$b/programs/pysnap" | sed -n 's/.* T \(.*\)_global_init$/\1/p' | sort | tr '\n' ' ')
if [ "$archs" != "X86 " ]; then
  echo "build-static: $b/programs/pysnap has capstone architectures '$archs', not only X86" >&2
  exit 1
fi
mv "$b/pysnap.tmp" "$b/pysnap"
echo "built: $(pwd)/$b/pysnap ($(stat -c %s "$b/pysnap") bytes, stripped)"
