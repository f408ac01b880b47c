#!/bin/sh
# Generate analyze/python/pyoffsets_table.c: one struct ps_pyoffsets per CPython 2.7 and 3.6 .. 3.13 found in
# pyenv and per 3.14 .. 3.15 found in the Debian sid cache of tools/fetch-sid-pythons.sh (run
# it with --dev: the headers come from libpython3.N-dev), by compiling tools/gen-offsets/probe.c
# against each version's (internal) headers with the system gcc and running it. A sid build's
# own -D_Py_* core flags (e.g. the JIT's -D_Py_TIER2=3 -D_Py_JIT, read from its
# _sysconfigdata) are passed to the probe too. See tools/gen-offsets/README.md.
#
# Usage: tools/gen-offsets/gen-offsets.sh [options]
#   --pyenv DIR            where the installs live (default: $PYENV_ROOT/versions, else
#                          /root/.pyenv/versions); per 3.N the newest plain 3.N.P is used
#   --sid DIR              the fetch-sid-pythons.sh cache (default:
#                          ${PYSNAP_CACHE:-$HOME/.cache/pysnap}/sid); 3.N from DIR/3.N/root
#   --ft DIR               free-threaded builds of tools/build-freethreaded.sh (default:
#                          ${PYSNAP_CACHE:-$HOME/.cache/pysnap}/ft); 3.Nt from DIR/3.Nt,
#                          an entry labelled 3.N.Pt after the release entries of 3.N
#   --variant NAME=CFLAGS  also emit, for every version, an entry built with extra probe
#                          CFLAGS, e.g. --variant 'debug=-DPy_DEBUG -DPy_TRACE_REFS'
#                          (repeatable; entries follow the release one of the same version,
#                          labelled NAME in a comment; debug_build tells them apart)
#   --out FILE             write FILE instead of analyze/python/pyoffsets_table.c
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
sid=${PYSNAP_CACHE:-${HOME:-/root}/.cache/pysnap}/sid
ft=${PYSNAP_CACHE:-${HOME:-/root}/.cache/pysnap}/ft
variants=       # newline-separated NAME=CFLAGS
out=
check=0
keep=0
cc=${CC:-gcc}

usage() { sed -n '9,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
nl='
'

while [ $# -gt 0 ]; do
    case $1 in
    --pyenv) [ $# -ge 2 ] || usage; pyenv=$2; shift 2 ;;
    --sid) [ $# -ge 2 ] || usage; sid=$2; shift 2 ;;
    --ft) [ $# -ge 2 ] || usage; ft=$2; shift 2 ;;
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

[ -n "$out" ] || out=$root/analyze/python/pyoffsets_table.c

# Command line as recorded in the output (repo-relative; --pyenv/--sid/--out/--check left out).
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

# The -D_Py_* flags a sid build compiled its core with (PY_CORE_CFLAGS of its
# _sysconfigdata), e.g. -D_Py_TIER2=3 -D_Py_JIT: they change structure layouts.
sid_core_flags() {
    for f in "$1"/usr/lib/python3."$2"/_sysconfigdata_*x86_64-linux-gnu.py; do
        [ -f "$f" ] || continue
        sed -n "s/^ *'PY_CORE_CFLAGS': '\(.*\)',\{0,1\}\$/\1/p" "$f" | tr ' ' '\n' |
            grep -E '^-D_Py_[A-Za-z0-9_]+(=[A-Za-z0-9_]+)?$' | tr '\n' ' '
        return 0
    done
}

versions=
pyenv_versions=
sid_versions=
ft_versions=
n=0
: >"$tmp/entries"
for ver in 2.7 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13 3.14 3.15; do
    major=${ver%%.*}
    minor=${ver#*.}
    if [ "$major" = 2 ] || [ "$minor" -le 13 ]; then
        # Newest patch release of $ver (plain CPython installs only: 3.13.0, not 3.13t-dev).
        cands=$(ls -d "$pyenv"/"$ver".* 2>/dev/null | while read -r d; do
            case ${d##*/} in
            "$ver".*[!0-9.]*) ;;
            *) { [ -d "$d/include/python$ver" ] || [ -d "$d/include/python${ver}m" ]; } &&
                echo "$d" ;;
            esac
        done | sort -V)
        if [ -z "$cands" ]; then
            echo "gen-offsets: no $ver install under $pyenv, skipping $ver" >&2
            continue
        fi
        prefix=$(echo "$cands" | tail -n 1)
        if [ "$(echo "$cands" | wc -l)" -gt 1 ]; then
            echo "gen-offsets: several $ver installs, using ${prefix##*/}" >&2
        fi
        label=${prefix##*/}
        inc=$prefix/include/python$ver
        # 3.6 and 3.7 install their headers under python3.Nm (the pymalloc ABI flag).
        [ -d "$inc" ] || inc=${inc}m
        incflags="-I$inc -I$inc/internal"
        coreflags=
    else
        # Debian sid's release build, unpacked by tools/fetch-sid-pythons.sh --dev.
        sroot=$sid/3.$minor/root
        inc=$sroot/usr/include/python3.$minor
        if [ ! -f "$sid/3.$minor/runtime.ok" ] || [ ! -f "$inc/internal/pycore_frame.h" ]; then
            echo "gen-offsets: no 3.$minor headers under $sid (tools/fetch-sid-pythons.sh --dev 3.$minor), skipping 3.$minor" >&2
            continue
        fi
        label=$(cat "$sid/3.$minor/runtime.ok")
        # Debian's multiarch pyconfig.h lives in usr/include/x86_64-linux-gnu/python3.N.
        incflags="-I$sroot/usr/include -I$inc -I$inc/internal"
        coreflags=$(sid_core_flags "$sroot" "$minor")
    fi
    # Release first, then each variant in the order given.
    printf 'release=\n%s\n' "$variants" | while IFS= read -r v; do
        [ -n "$v" ] || continue
        name=${v%%=*}
        flags=${v#*=}
        exe=$tmp/probe-$ver-$name
        # shellcheck disable=SC2086 # $incflags, $coreflags and $flags are lists of flags
        if ! "$cc" -std=gnu11 -O0 -Wall -DPy_BUILD_CORE $incflags $coreflags $flags \
            -o "$exe" "$here/probe.c"; then
            echo "gen-offsets: probe ($name) does not compile for $label" >&2
            exit 1
        fi
        if ! "$exe" >"$exe.out"; then
            echo "gen-offsets: probe ($name) failed for $label" >&2
            exit 1
        fi
        # The headers' idea of the version must match the install they came from.
        if ! head -n 1 "$exe.out" | grep -q "^    { /\* $label \*/\$"; then
            echo "gen-offsets: $label: headers report $(head -n 1 "$exe.out")" >&2
            exit 1
        fi
        if [ "$name" != release ]; then
            { printf '    { /* %s, variant %s: %s */\n' "$label" "$name" "$flags"
              tail -n +2 "$exe.out"; } >"$exe.tmp"
            mv "$exe.tmp" "$exe.out"
        fi
        [ ! -s "$tmp/entries" ] || printf ',\n' >>"$tmp/entries"
        cat "$exe.out" >>"$tmp/entries"
    done || exit 1
    # The free-threaded build of 3.$minor (its pyconfig.h defines Py_GIL_DISABLED).
    ftinc=$ft/3.${minor}t/include/python3.${minor}t
    if [ "$major" = 3 ] && [ "$minor" -ge 13 ] && [ -f "$ftinc/internal/pycore_frame.h" ]; then
        exe=$tmp/probe-3.${minor}t
        # shellcheck disable=SC2086 # $coreflags is a list of flags
        if ! "$cc" -std=gnu11 -O0 -Wall -DPy_BUILD_CORE -I"$ftinc" -I"$ftinc/internal" \
            -o "$exe" "$here/probe.c" || ! "$exe" >"$exe.out"; then
            echo "gen-offsets: probe fails for the free-threaded 3.${minor}t of $ft" >&2
            exit 1
        fi
        ftlabel=$(head -n 1 "$exe.out" | sed -n 's|^    { /\* \([0-9.]*\) \*/$|\1|p')t
        { printf '    { /* %s, free-threaded */\n' "$ftlabel"; tail -n +2 "$exe.out"; } >>"$tmp/entries.ft"
        printf ',\n' >>"$tmp/entries"
        cat "$tmp/entries.ft" >>"$tmp/entries"
        rm -f "$tmp/entries.ft"
        ft_versions="$ft_versions${ft_versions:+, }$ftlabel"
    elif [ "$major" = 3 ] && [ "$minor" -ge 13 ]; then
        echo "gen-offsets: no free-threaded 3.${minor}t headers under $ft (tools/build-freethreaded.sh), no 3.${minor}t entry" >&2
    fi
    versions="$versions${versions:+, }$label"
    if [ "$major" = 2 ] || [ "$minor" -le 13 ]; then
        pyenv_versions="$pyenv_versions${pyenv_versions:+, }$label"
    else
        sid_versions="$sid_versions${sid_versions:+$nl}$label (Debian sid libpython3.$minor-dev${coreflags:+; core flags ${coreflags% }}),"
    fi
    n=$((n + 1))
done

if [ "$n" = 0 ]; then
    echo "gen-offsets: no CPython 2.7, 3.6 .. 3.15 headers found under $pyenv or $sid" >&2
    exit 1
fi

{
    echo "/* GENERATED FILE - DO NOT EDIT."
    echo " *"
    echo " * Generated by: $cmdline"
    echo " * From the headers of CPython (x86-64 Linux)"
    [ -z "$pyenv_versions" ] || echo " *   $pyenv_versions (pyenv installs),"
    [ -z "$sid_versions" ] || echo "$sid_versions" | sed 's/^/ *   /'
    [ -z "$ft_versions" ] || echo " *   $ft_versions (free-threaded builds of tools/build-freethreaded.sh),"
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
