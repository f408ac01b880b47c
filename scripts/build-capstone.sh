#!/usr/bin/env bash
# capstone for the static binary (scripts/build-static.sh): Debian 12's source package
# (scripts/debian-source.sh), built natively by its own cmake with x86 only
# (CAPSTONE_ARCHITECTURE_DEFAULT=OFF, CAPSTONE_X86_SUPPORT=ON), Intel syntax only, static, no
# tools. pysnap disassembles x86-64 only (analyze/native/disasm.c: CS_ARCH_X86, CS_MODE_64);
# Debian's libcapstone.a has every architecture, whose tables were 3.3 MB of the 7.9 MB binary.
# Prints the prefix: lib/libcapstone.a, include/capstone/, lib/pkgconfig/capstone.pc.
#
# Cached under ${PYSNAP_CACHE:-~/.cache/pysnap}/capstone/prefix-KEY/, KEY made of this script
# (the options), the source package's version and the compiler's and cmake's versions: a second
# run costs nothing, a change to any of them rebuilds. Needs: cmake, gcc, dpkg-dev, network once.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here"/scripts/cache-prefix.sh
for t in cmake cc dpkg-source; do
  command -v $t >/dev/null || { echo "build-capstone: $t not found (scripts/install-deps.sh)" >&2; exit 3; }
done
dsc=$("$here"/scripts/debian-source.sh capstone)
key=$( (cat "$0"; basename "$dsc"; cc --version | head -1; cmake --version | head -1) | sha256sum | cut -c1-12)
cache_enter "${PYSNAP_CACHE:-$HOME/.cache/pysnap}/capstone" "$key"
"$here"/scripts/debian-source.sh -x "$work" capstone >/dev/null
echo "build-capstone: $(basename "$dsc" .dsc), x86 only" >&2
# Release: -O3, as Debian builds it. CAPSTONE_USE_DEFAULT_ALLOC (on): malloc and vsnprintf, as
# Debian's. No AT&T printer (CAPSTONE_X86_ATT_DISABLE, 0.1 MB): pysnap prints capstone's default,
# Intel syntax, and never asks for another (cs_option is not called).
cmake -S "$work/capstone" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DCAPSTONE_ARCHITECTURE_DEFAULT=OFF -DCAPSTONE_X86_SUPPORT=ON -DCAPSTONE_X86_ATT_DISABLE=ON \
  -DCAPSTONE_BUILD_STATIC=ON -DCAPSTONE_BUILD_SHARED=OFF \
  -DCAPSTONE_BUILD_TESTS=OFF -DCAPSTONE_BUILD_CSTOOL=OFF \
  -Wno-dev >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; exit 1; }
nice cmake --build "$work/build" --target capstone-static -j "$(nproc)" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; exit 1; }

mkdir -p "$P"/{lib/pkgconfig,include/capstone}
cp "$work/build/libcapstone.a" "$P/lib/"
cp "$work/capstone/include/capstone/"*.h "$P/include/capstone/"
version=$(basename "$dsc" .dsc); version=${version#capstone_}; version=${version%%-*}
# Cflags as Debian's capstone.pc: both <capstone/capstone.h> and <capstone.h> work
printf 'prefix=%s\nName: capstone\nDescription: capstone, x86 only (pysnap)\nVersion: %s\nLibs: -L${prefix}/lib -lcapstone\nCflags: -I${prefix}/include -I${prefix}/include/capstone\n' \
  "$prefix" "$version" > "$P/lib/pkgconfig/capstone.pc"
cache_publish
