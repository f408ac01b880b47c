#!/bin/sh
# pysnap benchmark: pause, capture time, size, analysis time and memory of pysnap against
# gcore, gdb + CPython's py-bt-full, eu-stack, austin and CPython's own remote tools, on one
# target process (bench/target.py), measured from inside the target by a C heartbeat.
# Not part of the pass/fail tests.
#
# Usage: bench/run.sh [options]
#   --python CMD       interpreter: a path, or sid-3.13|sid-3.14|sid-3.15 (Debian unstable
#                      builds, fetched by tools/fetch-sid-pythons.sh); default pyenv 3.11.7
#   --runs N           runs per tool (default 5; pysnap's too, unless --pysnap-runs)
#   --pysnap-runs N    runs of pysnap per target (default 15: they are cheap)
#   --threads N        parked threads in the target (default 20)
#   --heap-mb N        target heap (default 300)
#   --many-threads N   also a pysnap-only run with N parked threads (default 200; 0: skip)
#   --small-heap-mb N  also a pysnap-only run with an N MB heap (default 30; 0: skip)
#   --tools LIST       comma list of pysnap,gcore,gdb,eu-stack,austin,cpython (default all)
#   --pysnap PATH      pysnap binary (default: build build-bench, release, and use it)
#   --also-pysnap LABEL=PATH  another pysnap binary, run alternately with --pysnap on the
#                      main target (same load); repeatable
#   --static           --also-pysnap "pysnap static" with scripts/build-static.sh's binary
#   --json FILE        also write every figure as JSON
#   -h, --help
# Tools that are missing are installed where Debian has them (gdb, elfutils) or skipped with
# the reason in the table. Every tool run is bounded by a timeout; the default run takes a
# few minutes on 2 cores.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
python=
runs=5
pysnap_runs=
runs_given=
threads=20
heap_mb=300
many=200
small=30
tools=pysnap,gcore,gdb,eu-stack,austin,cpython
pysnap=
json=
also=
static=
cache=${PYSNAP_CACHE:-${HOME:-/root}/.cache/pysnap}

usage() { sed -n '7,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
note() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
    --python) python=$2; shift 2 ;;
    --runs) runs=$2; runs_given=1; shift 2 ;;
    --pysnap-runs) pysnap_runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --heap-mb) heap_mb=$2; shift 2 ;;
    --many-threads) many=$2; shift 2 ;;
    --small-heap-mb) small=$2; shift 2 ;;
    --tools) tools=$2; shift 2 ;;
    --pysnap) pysnap=$2; shift 2 ;;
    --also-pysnap) also="$also
$2"; shift 2 ;;
    --static) static=1; shift ;;
    --json) json=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "bench: unknown argument: $1" >&2; usage ;;
    esac
done

if [ -z "$pysnap_runs" ]; then
    pysnap_runs=${runs_given:+$runs}
    pysnap_runs=${pysnap_runs:-15}
fi

# Debian's python3 runs the driver (the pyenv shim may not be a python at all).
driver_py=/usr/bin/python3
[ -x "$driver_py" ] || driver_py=python3

# --- the interpreter under test -----------------------------------------------------------
label=
case $python in
"")
    python=/root/.pyenv/versions/3.11.7/bin/python3.11
    [ -x "$python" ] || python=$(command -v python3) ;;
sid-3.*)
    v=${python#sid-}
    line=$("$repo/tools/fetch-sid-pythons.sh" "$v" 2>/dev/null | grep "^sid-$v=" || true)
    [ -n "$line" ] || { echo "bench: $python is not available (tools/fetch-sid-pythons.sh $v)" >&2; exit 1; }
    label=$python
    python=${line#*=} ;;
esac
pyver=$(eval "$python -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'") ||
    { echo "bench: cannot run $python" >&2; exit 1; }

# --- pysnap (a release build of its own) --------------------------------------------------
if [ -z "$pysnap" ]; then
    b=$repo/build-bench
    [ -f "$b/build.ninja" ] || meson setup "$b" "$repo" --buildtype=release >/dev/null
    ninja -C "$b" >/dev/null
    pysnap=$b/programs/pysnap
fi

if [ -n "$static" ]; then
    "$repo/scripts/build-static.sh" >&2
    also="$also
pysnap static=$repo/build-static/pysnap"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pysnap-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# --- the heartbeat --------------------------------------------------------------------------
cc -O2 -shared -fPIC -pthread "$here/heartbeat.c" -o "$work/heartbeat.so"

# --- peers ----------------------------------------------------------------------------------
apt_install() {
    for _ in 1 2 3 4 5 6; do
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 && return 0
        sleep 5 # the dpkg lock may be held by someone else's apt-get
    done
    return 1
}
case ",$tools," in *,gcore,*|*,gdb,*)
    command -v gdb >/dev/null 2>&1 || apt_install gdb || note "gdb could not be installed" ;;
esac
case ",$tools," in *,eu-stack,*)
    command -v eu-stack >/dev/null 2>&1 || apt_install elfutils || note "elfutils could not be installed" ;;
esac

# CPython's gdb extension (libpython.py) for this minor version: Debian's (python3.X-dbg
# ships it for the distribution's own version), a pyenv install's, or a pyenv source tree's.
gdb_script="skip:no CPython gdb extension (libpython.py) for $pyver on this machine"
for f in /usr/share/gdb/auto-load/usr/bin/python$pyver-gdb.py \
         /root/.pyenv/versions/$pyver.*/bin/python$pyver-gdb.py \
         /root/.pyenv/sources/$pyver.*/Python-*/Tools/gdb/libpython.py; do
    if [ -f "$f" ]; then gdb_script=$f; break; fi
done
case $python in
*ld-linux*) gdb_script="skip:the Debian-unstable interpreter has no debug info here (py-bt needs DWARF types)" ;;
esac
if [ "$pyver" = 3.11 ] && [ ! -f /usr/share/gdb/auto-load/usr/bin/python3.11-gdb.py ] &&
   case $gdb_script in skip:*) true ;; *) false ;; esac; then
    apt_install python3.11-dbg && gdb_script=/usr/share/gdb/auto-load/usr/bin/python3.11-gdb.py || true
fi

# austin 3.7 from Debian unstable, unpacked (never installed) and run through that
# distribution's loader, as /work/shared/interpreters.md describes.
austin="skip:austin could not be fetched from Debian unstable"
case ",$tools," in *,austin,*)
    ar=$cache/sid/austin/root
    if [ ! -x "$ar/usr/bin/austin" ]; then
        t=$cache/sid/austin
        mkdir -p "$t/lists/partial" "$t/cache/archives" "$t/debs"
        echo 'deb http://deb.debian.org/debian sid main' > "$t/sources.list"
        A="-o Dir::Etc::SourceList=$t/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$t/lists -o Dir::Cache=$t/cache"
        # shellcheck disable=SC2086
        if apt-get $A update >/dev/null 2>&1 &&
           (cd "$t/debs" && apt-get $A download austin libc6 >/dev/null 2>&1); then
            for d in "$t"/debs/*.deb; do dpkg -x "$d" "$ar"; done
        fi
    fi
    if [ -x "$ar/usr/bin/austin" ]; then
        austin="$ar/usr/lib64/ld-linux-x86-64.so.2 --library-path $ar/usr/lib/x86_64-linux-gnu $ar/usr/bin/austin"
    fi ;;
esac

set -- --python "$python" --pysnap "$pysnap" --heartbeat "$work/heartbeat.so" --workdir "$work" \
    --runs "$runs" --pysnap-runs "$pysnap_runs" --threads "$threads" --heap-mb "$heap_mb" --many-threads "$many" \
    --small-heap-mb "$small" --tools "$tools" --gdb-script "$gdb_script" --austin "$austin"
[ -z "$json" ] || set -- "$@" --json "$json"
[ -z "$label" ] || set -- "$@" --python-label "$label"
while IFS= read -r a; do
    [ -z "$a" ] || set -- "$@" --also-pysnap "$a"
done <<EOF
$also
EOF
"$driver_py" "$here/bench.py" "$@"
