#!/bin/sh
# Fetch Debian unstable's austin (a peer sampling profiler, for bench/sampling.py) into the
# cache, the way tools/fetch-sid-pythons.sh fetches the unstable interpreters: a private apt
# configuration, the .debs unpacked with dpkg-deb -x (nothing on the system changes), run
# through the loader unpacked next to it (sid's austin needs a newer glibc than Debian 12's).
#
# Usage: bench/fetch-sid-austin.sh        prints the command that runs austin, one line
# Exit status 0 with the line; 1 with "fetch-sid-austin: WHY" on stderr when it cannot.
set -eu
LC_ALL=C
export LC_ALL
me=fetch-sid-austin
cache=${PYSNAP_CACHE:-${HOME:-/root}/.cache/pysnap}/sid
dir=$cache/austin
root=$dir/root
die() { echo "$me: $*" >&2; exit 1; }

launcher() {
    echo "$root/usr/lib64/ld-linux-x86-64.so.2 --library-path" \
         "$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu $root/usr/bin/austin"
}

if [ ! -f "$dir/ok" ]; then
    for tool in apt-get dpkg-deb; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found (a Debian-like host is needed)"
    done
    mkdir -p "$cache" || die "cannot create $cache"
    apt_dir=$cache/apt
    # shellcheck disable=SC2086
    apt_opts="-q -o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/dev/null
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
        -o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir/cache
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Acquire::Check-Valid-Until=false"
    [ "$(id -u)" != 0 ] || apt_opts="$apt_opts -o APT::Sandbox::User=root"
    if ! ls "$apt_dir/lists"/*_Packages* >/dev/null 2>&1; then
        mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
        echo 'deb http://deb.debian.org/debian sid main' >"$apt_dir/sources.list"
        # shellcheck disable=SC2086
        apt-get $apt_opts update >"$apt_dir/update.log" 2>&1 ||
            die "apt-get update of Debian sid failed (see $apt_dir/update.log)"
    fi
    rm -rf "$dir"
    mkdir -p "$dir/debs" "$root"
    # shellcheck disable=SC2086
    (cd "$dir/debs" && apt-get $apt_opts download austin libc6 libsframe3 libunwind8 libzstd1 \
        zlib1g liblzma5) >"$dir/download.log" 2>&1 ||
        die "apt-get download failed: $(grep -E '^E:' "$dir/download.log" | head -n 1)"
    for deb in "$dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed"
    done
    rm -rf "$dir/debs"
    # shellcheck disable=SC2046
    $(launcher) --version >/dev/null 2>&1 || die "the unpacked austin does not run"
    : >"$dir/ok"
fi
launcher
