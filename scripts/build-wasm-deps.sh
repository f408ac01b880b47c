#!/usr/bin/env bash
# Static WebAssembly builds of the analyzer's libraries: libelf (elfutils 0.188), capstone 4.0.2
# (x86 only), zstd 1.5.4 (decompression only: the analyzer reads snapshots, it never writes
# one) and zlib 1.2.13 (libelf's elf_compress.c needs it), all from Debian 12's source
# packages, compiled with Debian's emcc. Prints the prefix (lib/, include/, lib/pkgconfig/).
#
# Cached under ${PYSNAP_CACHE:-~/.cache/pysnap}/wasm/prefix-KEY/ (the libraries; KEY changes with
# this script and with emcc's version, so a change rebuilds); the source packages are
# scripts/debian-source.sh's, shared with scripts/build-capstone.sh. A second run costs nothing.
# Needs: emscripten, dpkg-dev, network once (deb.debian.org).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here"/scripts/cache-prefix.sh
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs} # Debian's emcc imports node-acorn from there
command -v emcc >/dev/null || { echo "build-wasm-deps: emcc not found (apt-get install emscripten)" >&2; exit 3; }
emcc_version=$(emcc --version) # whole: emcc dies of a broken pipe under `| head`
key=$( (cat "$0" "$here"/tools/wasm/patches/* 2>/dev/null; echo "${emcc_version%%$'\n'*}") | sha256sum | cut -c1-12)
cache_enter "${PYSNAP_CACHE:-$HOME/.cache/pysnap}/wasm" "$key"
"$here"/scripts/debian-source.sh -x "$work" elfutils capstone libzstd zlib >/dev/null
# Ours, if ever needed: tools/wasm/patches/PKG-WHAT.patch (-p1, its reason at its top). None is
# today: the four build for wasm as Debian ships them.
for f in "$here"/tools/wasm/patches/*.patch; do
  [ -e "$f" ] || continue
  p=$(basename "$f"); p=${p%%-*}
  patch -s -d "$work/$p" -p1 < "$f"
done

mkdir -p "$P"/{lib/pkgconfig,include}
CFLAGS=(-O2 -g0 -w) # their code, their warnings: not ours to read here
# One static library from sources; objects named after their directory and file (unique).
archive() {
  local name=$1; shift
  local dir=$work/obj-$name objs=() s o
  mkdir -p "$dir"
  for s in "${srcs[@]}"; do
    o=$dir/$(echo "$s" | tr / _).o
    emcc "${CFLAGS[@]}" "$@" -c "$s" -o "$o"
    objs+=("$o")
  done
  emar rcs "$P/lib/lib$name.a" "${objs[@]}"
}

echo "build-wasm-deps: zlib" >&2
cd "$work/zlib"
srcs=(adler32.c crc32.c deflate.c inffast.c inflate.c inftrees.c trees.c zutil.c compress.c uncompr.c)
archive z -DHAVE_UNISTD_H -DHAVE_STDARG_H
cp zlib.h zconf.h "$P/include/"

echo "build-wasm-deps: zstd (decompression)" >&2
cd "$work/libzstd/lib"
srcs=(common/*.c decompress/*.c)
archive zstd -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=0 -DZSTD_NO_TRACE -DXXH_NAMESPACE=ZSTD_
cp zstd.h zstd_errors.h "$P/include/"
zv=$(sed -n 's/^Version: *//p' "$work/libzstd/debian/changelog" 2>/dev/null || true)

echo "build-wasm-deps: capstone (x86)" >&2
cd "$work/capstone"
srcs=(cs.c MCInst.c MCInstrDesc.c MCRegisterInfo.c SStream.c utils.c arch/X86/*.c)
archive capstone -Iinclude -DCAPSTONE_HAS_X86 -DCAPSTONE_USE_SYS_DYN_MEM
mkdir -p "$P/include/capstone"; cp include/capstone/*.h "$P/include/capstone/"

echo "build-wasm-deps: libelf" >&2
cd "$work/elfutils"
mkdir -p wasm-config
# What configure would say for a 32-bit musl-like target (emscripten's libc).
cat > wasm-config/config.h <<'H'
#define HAVE_ERR_H 1
#define HAVE_DECL_MEMRCHR 1
#define HAVE_DECL_RAWMEMCHR 0
#define HAVE_DECL_POWEROF2 1
#define HAVE_DECL_MEMPCPY 1
#define HAVE_DECL_REALLOCARRAY 1
#define PACKAGE_NAME "elfutils"
#define PACKAGE_URL "http://elfutils.org/"
#define PACKAGE_VERSION "0.188"
#define SIZEOF_LONG 4
#include <eu-config.h>
H
cd libelf
srcs=(*.c)
archive elf -I../wasm-config -I. -I../lib -I"$P/include" -DHAVE_CONFIG_H -D_GNU_SOURCE \
  -std=gnu99 -Wno-unused-command-line-argument -Wno-macro-redefined
cp libelf.h gelf.h nlist.h elf.h "$P/include/"

ver() { sed -n '1s/^[^(]*(\([^)-]*\).*/\1/p' "$work/$1/debian/changelog" | sed 's/^[0-9]*://; s/+.*//; s/\.dfsg.*//'; }
pc() { # name version libs
  printf 'prefix=%s\nName: %s\nDescription: %s for wasm (pysnap)\nVersion: %s\nLibs: -L${prefix}/lib %s\nCflags: -I${prefix}/include\n' \
    "$prefix" "$1" "$1" "$2" "$3" > "$P/lib/pkgconfig/$1.pc"
}
pc libelf "$(ver elfutils)" "-lelf -lz"
pc libzstd "$(ver libzstd)" "-lzstd"
pc capstone "$(ver capstone)" "-lcapstone"
pc zlib "$(ver zlib)" "-lz"
# the meson cross file that names this prefix (scripts/build-wasm.sh adds it to
# tools/wasm/emscripten.cross)
printf "# made by scripts/build-wasm-deps.sh: where the wasm libraries are\n[properties]\npkg_config_libdir = ['%s/lib/pkgconfig']\n" \
  "$prefix" > "$P/meson.cross"
cache_publish
