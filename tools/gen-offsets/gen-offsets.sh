#!/bin/sh
# Generate analyze/pyoffsets_table.c: one struct ps_pyoffsets per CPython 3.8 .. 3.13 found in
# pyenv, by compiling tools/gen-offsets/probe.c against each version's (internal) headers with
# the system gcc and running it. See tools/gen-offsets/README.md.
#
# Usage: tools/gen-offsets/gen-offsets.sh [options]
#   --pyenv DIR            where the installs live (default: $PYENV_ROOT/versions, else
#                          /root/.pyenv/versions); per 3.N the newest plain 3.N.P is used
#   --variant NAME=CFLAGS  also emit, for every version, an entry built with extra probe
#                          CFLAGS, e.g. --variant 'debug=-DPy_DEBUG -DPy_TRACE_REFS'
#                          (repeatable; entries follow the release one of the same version,
#                          labelled NAME in a comment; debug_build tells them apart)
#   --out FILE             write FILE instead of analyze/pyoffsets_table.c
#   --check                write nothing; exit 1 if the output file differs from what would
#                          be generated (reproducibility / staleness check)
#   --keep                 keep the temporary build directory (printed on stderr)
set -eu

LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

pyenv=${PYENV_ROOT:+$PYENV_ROOT/versions}
pyenv=${pyenv:-/root/.pyenv/versions}
variants=       # newline-separated NAME=CFLAGS
out=
check=0
keep=0
cc=${CC:-gcc}

usage() { sed -n '5,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
nl='
'

while [ $# -gt 0 ]; do
    case $1 in
    --pyenv) [ $# -ge 2 ] || usage; pyenv=$2; shift 2 ;;
    --variant)
        [ $# -ge 2 ] || usage
        case $2 in
        [A-Za-z0-9_]*=*) ;;
        *) echo "gen-offsets: --variant wants NAME=CFLAGS" >&2; exit 2 ;;
        esac
        case ${2%%=*} in
        release|*[!A-Za-z0-9_]*) echo "gen-offsets: bad variant name: ${2%%=*}" >&2; exit 2 ;;
        esac
        variants="$variants${variants:+$nl}$2"
        shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --check) check=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage ;;
    *) echo "gen-offsets: unknown argument: $1" >&2; usage ;;
    esac
done

[ -n "$out" ] || out=$root/analyze/pyoffsets_table.c

# Command line as recorded in the output (repo-relative; --pyenv/--out/--check left out).
cmdline="tools/gen-offsets/gen-offsets.sh"
if [ -n "$variants" ]; then
    cmdline="$cmdline$(echo "$variants" | while IFS= read -r v; do printf " --variant '%s'" "$v"; done)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-offsets.XXXXXX")
if [ "$keep" = 1 ]; then
    echo "gen-offsets: keeping $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

versions=
n=0
: >"$tmp/entries"
for minor in 8 9 10 11 12 13; do
    # Newest patch release of 3.$minor (plain CPython installs only: 3.13.0, not 3.13t-dev).
    cands=$(ls -d "$pyenv"/3."$minor".* 2>/dev/null | while read -r d; do
        case ${d##*/} in
        3."$minor".*[!0-9.]*) ;;
        *) [ -d "$d/include/python3.$minor" ] && echo "$d" ;;
        esac
    done | sort -V)
    if [ -z "$cands" ]; then
        echo "gen-offsets: no 3.$minor install under $pyenv, skipping 3.$minor" >&2
        continue
    fi
    prefix=$(echo "$cands" | tail -n 1)
    if [ "$(echo "$cands" | wc -l)" -gt 1 ]; then
        echo "gen-offsets: several 3.$minor installs, using ${prefix##*/}" >&2
    fi
    inc=$prefix/include/python3.$minor
    # Release first, then each variant in the order given.
    printf 'release=\n%s\n' "$variants" | while IFS= read -r v; do
        [ -n "$v" ] || continue
        name=${v%%=*}
        flags=${v#*=}
        exe=$tmp/probe-3.$minor-$name
        # shellcheck disable=SC2086 # $flags is a list of flags
        if ! "$cc" -std=gnu11 -O0 -Wall -DPy_BUILD_CORE -I"$inc" -I"$inc/internal" $flags \
            -o "$exe" "$here/probe.c"; then
            echo "gen-offsets: probe ($name) does not compile for ${prefix##*/}" >&2
            exit 1
        fi
        if ! "$exe" >"$exe.out"; then
            echo "gen-offsets: probe ($name) failed for ${prefix##*/}" >&2
            exit 1
        fi
        # The headers' idea of the version must match the install they came from.
        if ! head -n 1 "$exe.out" | grep -q "^    { /\* ${prefix##*/} \*/\$"; then
            echo "gen-offsets: ${prefix##*/}: headers report $(head -n 1 "$exe.out")" >&2
            exit 1
        fi
        if [ "$name" != release ]; then
            { printf '    { /* %s, variant %s: %s */\n' "${prefix##*/}" "$name" "$flags"
              tail -n +2 "$exe.out"; } >"$exe.tmp"
            mv "$exe.tmp" "$exe.out"
        fi
        [ ! -s "$tmp/entries" ] || printf ',\n' >>"$tmp/entries"
        cat "$exe.out" >>"$tmp/entries"
    done || exit 1
    versions="$versions${versions:+, }${prefix##*/}"
    n=$((n + 1))
done

if [ "$n" = 0 ]; then
    echo "gen-offsets: no CPython 3.8 .. 3.13 install found under $pyenv" >&2
    exit 1
fi

{
    echo "/* GENERATED FILE - DO NOT EDIT."
    echo " *"
    echo " * Generated by: $cmdline"
    echo " * From the headers of CPython $versions (pyenv installs, x86-64 Linux),"
    echo " * by compiling tools/gen-offsets/probe.c against each and running it."
    if [ -n "$variants" ]; then
        echo " * Variant entries (extra probe CFLAGS) follow each version's release entry:"
        echo "$variants" | sed 's/^\([^=]*\)=\(.*\)$/ *   \1: \2/'
    fi
    echo " * Change probe.c or gen-offsets.sh and rerun instead of editing this file;"
    echo " * see tools/gen-offsets/README.md. */"
    echo
    echo '#include "pysnap/pyoffsets.h"'
    echo
    echo "const struct ps_pyoffsets ps_pyoffsets_tables[] = {"
    cat "$tmp/entries"
    printf ',\n};\n'
    echo
    echo "const unsigned ps_pyoffsets_ntables = $(grep -c '^    { /\* ' "$tmp/entries");"
} >"$tmp/out.c"

if [ "$check" = 1 ]; then
    if cmp -s "$tmp/out.c" "$out"; then
        echo "gen-offsets: $out is up to date ($versions)" >&2
        exit 0
    fi
    echo "gen-offsets: $out differs from what the probe generates:" >&2
    diff -u "$out" "$tmp/out.c" >&2 || true
    exit 1
fi

mkdir -p "$(dirname "$out")"
cp "$tmp/out.c" "$out"
echo "gen-offsets: wrote $out: $(grep -c '^    { /\* ' "$tmp/entries") tables ($versions)" >&2
