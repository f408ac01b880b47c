#!/bin/sh
# Fetch Debian unstable's release builds of CPython 3.13, 3.14 and 3.15 into a cache outside
# the repository, and print how to run each one (for the e2e tests' PYSNAP_EXTRA_PYTHONS).
#
# Nothing on the system changes: apt runs with a private configuration (its own sources
# list, package lists and archive cache, all under the cache directory), the .debs are
# unpacked with dpkg -x, never installed. The interpreters need a newer glibc than the host
# may have, so each runs through the loader unpacked next to it (as the project notes on test interpreters describe).
#
# Usage: tools/fetch-sid-pythons.sh [options] [VERSION...]      (default: 3.13 3.14 3.15)
#   --cache DIR    cache root (default: ${PYSNAP_CACHE:-$HOME/.cache/pysnap}/sid)
#   --dev          also unpack the headers (libpythonX.Y-dev) into each root, for
#                  tools/gen-offsets (ROOT/usr/include/pythonX.Y)
#   --refresh      ignore the cache: update the package lists and fetch again
#   --print-env    print only the value for PYSNAP_EXTRA_PYTHONS ('label=command;...')
#   --root         print 'VERSION ROOT' lines instead of launchers
#   -h, --help
#
# Output (stdout), one line per available version:
#   sid-3.14=PYTHONHOME=R/usr R/usr/lib64/ld-linux-x86-64.so.2 --library-path R/... R/usr/bin/python3.14
# A version that cannot be provided (package gone from sid, no network, unpacked interpreter
# that does not run) is reported on stderr as "fetch-sid-pythons: 3.N: skipped: WHY" and is
# not an error. Idempotent: a version already in the cache is used as is, without network.
# Exit status: 0 (even when versions were skipped), 1 when the cache or the tools needed are
# unusable, 2 for a usage error.
#
# Example:
#   export PYSNAP_EXTRA_PYTHONS="$(tools/fetch-sid-pythons.sh --print-env)"
# shellcheck disable=SC2086 # $apt_opts and package lists are word lists by construction
set -eu

LC_ALL=C
export LC_ALL

me=fetch-sid-pythons
cache=${PYSNAP_CACHE:-${HOME:-/root}/.cache/pysnap}/sid
dev=0
refresh=0
mode="lines"
versions=

usage() { sed -n '10,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "$me: $*" >&2; exit 1; }
note() { echo "$me: $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
    --cache) [ $# -ge 2 ] || usage; cache=$2; shift 2 ;;
    --dev) dev=1; shift ;;
    --refresh) refresh=1; shift ;;
    --print-env) mode="env"; shift ;;
    --root) mode="root"; shift ;;
    -h|--help) usage ;;
    3.[0-9]|3.[0-9][0-9]) versions="$versions $1"; shift ;;
    *) echo "$me: unknown argument: $1" >&2; usage ;;
    esac
done
[ -n "$versions" ] || versions="3.13 3.14 3.15"

for tool in apt-get apt-cache dpkg-deb flock; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (a Debian-like host is needed)"
done

# The launcher is split on ';' and then like a shell does, and the library path on ':'.
# Rather than quote, refuse a cache path those would break.
case $cache in
/*) ;;
*) cache=$(pwd)/$cache ;;
esac
case $cache in
*[!A-Za-z0-9_./+@,-]*) die "cache path '$cache' has characters a launcher line cannot carry" ;;
esac
mkdir -p "$cache" || die "cannot create cache directory $cache"
[ -w "$cache" ] || die "cache directory $cache is not writable"

# One fetcher at a time per cache (e.g. two CI jobs sharing a cache).
exec 9>"$cache/.lock"
flock -w 600 9 || die "cache $cache is locked by another run (waited 600 s)"

# The private apt configuration, as a word list (the cache path has no blanks: checked).
# Check-Valid-Until off: mirrors in CI and in sandboxes serve frozen copies of sid whose
# Release file has expired; signatures are still checked.
apt_dir=$cache/apt
apt_opts="-q -o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/dev/null
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir/cache
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
    -o Acquire::Check-Valid-Until=false"
if [ "$(id -u)" = 0 ]; then
    # Root in CI: download as root rather than warn that _apt cannot write our directories.
    apt_opts="$apt_opts -o APT::Sandbox::User=root"
fi
apt_updated=0
apt_failed=

apt_update() {
    [ "$apt_updated" = 0 ] || return 0
    apt_updated=1
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    echo 'deb http://deb.debian.org/debian sid main' >"$apt_dir/sources.list"
    if ! apt-get $apt_opts update >"$apt_dir/update.log" 2>&1; then
        apt_failed="apt-get update of Debian sid failed: $(grep -E '^(E|W):' "$apt_dir/update.log" | head -n 1)"
        return 1
    fi
    # apt-get update can "succeed" with nothing fetched (e.g. a signature it cannot check).
    if ! ls "$apt_dir/lists"/*_Packages* >/dev/null 2>&1; then
        apt_failed="apt-get update of Debian sid fetched no package list: $(grep -E '^(E|W):' "$apt_dir/update.log" | head -n 1)"
        return 1
    fi
}

# The packages among PKG... that the package lists have no candidate version of (one
# apt-cache call: each builds its cache from the lists, which takes a second).
missing_pkgs() {
    apt-cache $apt_opts policy "$@" 2>/dev/null | awk -v want="$*" '
        /^[^ ].*:$/ { p = substr($0, 1, length($0) - 1) }
        /^ *Candidate:/ && $2 != "(none)" { ok[p] = 1 }
        END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }'
}

# Download PACKAGES into directory $1 and unpack them into root $2 (which gets a
# packages.txt beside it). On error sets $why and fails.
fetch_into() {
    _dir=$1 _root=$2
    shift 2
    _gone=$(missing_pkgs "$@")
    if [ -n "$_gone" ]; then
        why="not in Debian sid: $(echo "$_gone" | tr "\n" " " | sed "s/ $//")"
        return 1
    fi
    if ! (cd "$_dir" && apt-get $apt_opts download "$@") >"$_dir/download.log" 2>&1; then
        why="apt-get download failed: $(grep -E '^E:' "$_dir/download.log" | head -n 1)"
        return 1
    fi
    for _deb in "$_dir"/*.deb; do
        if ! dpkg-deb -x "$_deb" "$_root" 2>"$_dir/extract.log"; then
            why="dpkg-deb -x ${_deb##*/} failed: $(head -n 1 "$_dir/extract.log")"
            return 1
        fi
        echo "${_deb##*/}" >>"$_root/../packages.txt"
    done
    rm -f "$_dir"/*.deb
}

# The launcher words for the root R and version V (no quoting needed: the path is checked).
launcher() {
    _lp=
    for _d in "$1/lib/x86_64-linux-gnu" "$1/usr/lib/x86_64-linux-gnu"; do
        [ ! -d "$_d" ] || _lp="$_lp${_lp:+:}$_d"
    done
    echo "PYTHONHOME=$1/usr $1/usr/lib64/ld-linux-x86-64.so.2 --library-path $_lp $1/usr/bin/python$2"
}

# Runs the unpacked interpreter (root $1, version $2) once; sets $pyver (e.g. 3.14.10), or
# $why and fails.
check_runs() {
    # shellcheck disable=SC2046 # the launcher is a word list by construction
    _out=$(env -i PATH=/usr/bin:/bin $(launcher "$1" "$2") -S -c \
        'import sys; print("%d.%d %s" % (sys.version_info[0], sys.version_info[1], sys.version.split()[0]))' 2>&1) || {
        why="the unpacked python$2 does not run: $(echo "$_out" | tail -n 1)"
        return 1
    }
    case $_out in
    "$2 "*) pyver=${_out#* } ;;
    *) why="the unpacked python$2 reports version '$_out'"; return 1 ;;
    esac
}

# Package sets. The runtime is what interpreters.md names, plus libzstd1 (libssl3t64 needs
# it); -dev adds the headers. Package names can change in sid: a missing one skips the
# version with its name as the reason.
runtime_pkgs() {
    echo "python$1-minimal libpython$1-minimal libpython$1-stdlib libc6 libexpat1 zlib1g" \
         "libffi8 libssl3t64 libzstd1"
}
dev_pkgs() { echo "libpython$1-dev"; }

cached() { # whether version $1's root in the cache is complete
    [ -f "$cache/$1/runtime.ok" ] && [ -x "$cache/$1/root/usr/bin/python$1" ] &&
        [ -e "$cache/$1/root/usr/lib64/ld-linux-x86-64.so.2" ]
}

# Leftovers of runs that were killed half-way (we hold the lock: nobody else is building).
rm -rf "$cache"/.build-* "$cache"/.old-*

env_value=
for v in $versions; do
    vdir=$cache/$v
    root=$vdir/root
    why=
    if [ "$refresh" = 1 ] || ! cached "$v"; then
        # Build the new root beside the cache and swap it in only once it runs, so that a
        # failed --refresh (no network, package gone) keeps what was there.
        build=$cache/.build-$v.$$
        if ! apt_update; then
            why=$apt_failed
        else
            note "$v: fetching from Debian sid into $vdir"
            mkdir -p "$build/root" "$build/debs"
            # shellcheck disable=SC2046 # package lists are word lists
            if fetch_into "$build/debs" "$build/root" $(runtime_pkgs "$v") &&
               check_runs "$build/root" "$v"; then
                rm -rf "$build/debs"
                echo "$pyver" >"$build/runtime.ok"
                if [ -e "$vdir" ]; then mv "$vdir" "$cache/.old-$v.$$"; fi
                mv "$build" "$vdir"
                rm -rf "$cache/.old-$v.$$"
                note "$v: Python $pyver ready"
            fi
            rm -rf "$build"
        fi
        if ! cached "$v"; then
            note "$v: skipped: $why"
            continue
        fi
        if [ -n "$why" ]; then
            note "$v: refresh failed ($why); keeping the cached $(cat "$vdir/runtime.ok")"
        fi
    fi
    if [ "$dev" = 1 ] && [ ! -f "$vdir/dev.ok" ]; then
        if ! apt_update; then
            note "$v: headers skipped: $apt_failed"
        else
            mkdir -p "$vdir/debs"
            # shellcheck disable=SC2046
            if fetch_into "$vdir/debs" "$root" $(dev_pkgs "$v"); then
                rm -rf "$vdir/debs"
                : >"$vdir/dev.ok"
                note "$v: headers in $root/usr/include/python$v"
            else
                rm -rf "$vdir/debs"
                note "$v: headers skipped: $why"
            fi
        fi
    fi
    label=sid-$v
    case $mode in
    lines) echo "$label=$(launcher "$root" "$v")" ;;
    root) echo "$v $root" ;;
    env) env_value="$env_value${env_value:+;}$label=$(launcher "$root" "$v")" ;;
    esac
done

if [ "$mode" = env ]; then
    echo "$env_value"
fi
exit 0
