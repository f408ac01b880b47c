#!/usr/bin/env bash
# Make (once) and print the path of a bare Debian root for the tests that prove pysnap on other
# systems (the wheel and static binary in bullseye/bookworm/trixie, containers, chroots):
#
#   scripts/debian-root.sh RELEASE [PACKAGE...]
#
# debootstrap --variant=minbase RELEASE from the Debian archive, plus PACKAGE... (e.g. python3
# python3-venv), cached under ${PYSNAP_CACHE:-~/.cache/pysnap}/roots/RELEASE[-PKGS-HASH]. The
# root is built in a temporary directory and renamed when complete, under a lock, so concurrent
# callers and an interrupted run never see half a root. Callers must not modify the cached root:
# copy it (cp -a) or overlay it when a test writes into it.
# Exit status: 0 and the path on stdout; 1 with a one-line reason on stderr (not root, no
# debootstrap and it cannot be installed, the archive unreachable).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RELEASE [PACKAGE...]" >&2; exit 2; }
release=$1; shift
pkgs=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
[ "$(id -u)" -eq 0 ] || { echo "debian-root: debootstrap needs root" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends debootstrap >/dev/null 2>&1 ||
    { echo "debian-root: debootstrap is not installed and could not be installed" >&2; exit 1; }
fi
cache=${PYSNAP_CACHE:-$HOME/.cache/pysnap}/roots
name=$release
[ -z "$pkgs" ] || name=$release-$(printf '%s' "$pkgs" | md5sum | cut -c1-8)
root=$cache/$name
mkdir -p "$cache"
exec 9>"$cache/.$name.lock"
flock 9
if [ ! -f "$root/.pysnap-root-complete" ]; then
  rm -rf "$root" "$root.tmp"
  log=$cache/$name.log
  echo "debian-root: debootstrap $release${pkgs:+ (+$pkgs)} into $root (once; log $log)" >&2
  if ! debootstrap --variant=minbase ${pkgs:+--include="$pkgs"} "$release" "$root.tmp" \
       http://deb.debian.org/debian >"$log" 2>&1; then
    rm -rf "$root.tmp"
    echo "debian-root: debootstrap $release failed (see $log): $(tail -n 1 "$log")" >&2
    exit 1
  fi
  echo "$release $pkgs" >"$root.tmp/.pysnap-root-complete"
  mv "$root.tmp" "$root"
fi
echo "$root"
