#!/bin/sh
# Fetch Debian bullseye's python2.7 (a release build: a static python stripped of .symtab,
# UCS-4) into a cache outside the repository, and print how to run it, for the 2.7 tests.
#
# Nothing on the system changes: apt runs with a private configuration (its own sources list,
# package lists and archive cache under the cache directory) and the .debs are unpacked with
# dpkg -x, never installed. bullseye's glibc (2.31) is older than the host's: it runs as is.
#
# Usage: tools/fetch-bullseye-python27.sh [--print-env]
#   prints the interpreter's command (PYTHONHOME=R/usr R/usr/bin/python2.7), or with
#   --print-env "debian-2.7=COMMAND" for PYSNAP_EXTRA_PYTHONS-style lists.
# Cache: ${PYSNAP_CACHE:-$HOME/.cache/pysnap}/bullseye27. Idempotent (no network once cached).
# Exit status: 0, or 1 with the reason on stderr (no network to the archive, package gone).
set -eu
me=fetch-bullseye-python27
cache=${PYSNAP_CACHE:-${HOME:-/root}/.cache/pysnap}/bullseye27
root=$cache/root
out() {
    cmd="PYTHONHOME=$root/usr $root/usr/bin/python2.7"
    if [ "${1:-}" = --print-env ]; then echo "debian-2.7=$cmd"; else echo "$cmd"; fi
}
if [ -f "$cache/ok" ]; then out "$@"; exit 0; fi
mkdir -p "$cache/lists/partial" "$cache/cache/archives/partial"
echo 'deb http://deb.debian.org/debian bullseye main' >"$cache/sources.list"
A="-o Dir::Etc::SourceList=$cache/sources.list -o Dir::Etc::SourceParts=/dev/null
   -o Dir::State::Lists=$cache/lists -o Dir::Cache=$cache/cache"
# shellcheck disable=SC2086 # $A is a list of options
if ! apt-get $A update >"$cache/update.log" 2>&1; then
    echo "$me: apt-get update failed (no network to deb.debian.org?): $(tail -n 1 "$cache/update.log")" >&2
    exit 1
fi
# shellcheck disable=SC2086
if ! (cd "$cache" && apt-get $A download python2.7-minimal libpython2.7-minimal \
        libpython2.7-stdlib >"$cache/download.log" 2>&1); then
    echo "$me: download failed: $(tail -n 1 "$cache/download.log")" >&2
    exit 1
fi
rm -rf "$root"
for d in "$cache"/*.deb; do dpkg -x "$d" "$root"; done
if ! PYTHONHOME=$root/usr "$root/usr/bin/python2.7" -c 'import threading' 2>"$cache/run.log"; then
    echo "$me: the unpacked python2.7 does not run: $(tail -n 1 "$cache/run.log")" >&2
    exit 1
fi
touch "$cache/ok"
out "$@"
