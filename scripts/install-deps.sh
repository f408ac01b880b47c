#!/usr/bin/env bash
# Installs what pysnap needs to build and test, from Debian's packages. Idempotent: does
# nothing when everything is there. Run as root (or with sudo available).
set -euo pipefail
# the static build (scripts/build-static.sh) links the .a archives these -dev packages ship, and
# those of zlib1g-dev, liblzma-dev, libbz2-dev (libdw's), and a capstone with x86 only built from
# Debian's source package (scripts/build-capstone.sh: cmake, dpkg-dev's dpkg-source);
# scdoc makes the man page; ncurses draws `pysnap top`
build_pkgs=(gcc meson ninja-build pkg-config libelf-dev libdw-dev libcapstone-dev libzstd-dev
            zlib1g-dev liblzma-dev libbz2-dev cmake dpkg-dev scdoc
            libncurses-dev)
run_pkgs=(python3 python3.11)
# tmux: tests/e2e/test_top.py drives `pysnap top` in it (send-keys, capture-pane)
# libpython3.11-dev: headers and the shared libpython3.11.so for the embedding test (tests/e2e/test_embed.py)
test_pkgs=(python3-pytest tmux python3-jsonschema zstd elfutils util-linux gdb strace valgrind python3.11-dbg
           libpython3.11-dev)
# the web sample (samples/webapp.py under gunicorn): samples/demo-web.sh and tests/e2e/test_web.py;
# Django and uvicorn: the servers of tests/e2e/test_requests.py
web_pkgs=(gunicorn python3-flask python3-django python3-uvicorn)
# the HTML report in a real browser (tests/browser): Debian's chromium and node; npm installs
# playwright-core (tests/browser/setup.sh, into the cache), which downloads no browser. npm only
# when there is none: a node from elsewhere (nodesource) brings its own.
browser_pkgs=(chromium nodejs)
# the container tests (tests/e2e/test_containers.py): a real container from the Debian root
# (podman import, no registry; skipped where podman cannot run containers)
container_pkgs=(podman)
# the WebAssembly build (scripts/build-wasm.sh: the Node command, the viewer page; release.sh
# and tests/wasm): Debian's emscripten, dpkg-dev (dpkg-source unpacks the source packages of
# libelf, capstone, zstd and zlib it builds; in build_pkgs too), node and npm (npm pack)
wasm_pkgs=(emscripten dpkg-dev nodejs)
want=("${build_pkgs[@]}" "${run_pkgs[@]}")
if [ "${1:-}" = "--tests" ]; then
  want+=("${test_pkgs[@]}" "${web_pkgs[@]}" "${browser_pkgs[@]}" "${container_pkgs[@]}" "${wasm_pkgs[@]}")
  command -v npm >/dev/null || want+=(npm)
fi
if [ "${1:-}" = "--wasm" ]; then
  want+=("${wasm_pkgs[@]}")
  command -v npm >/dev/null || want+=(npm)
fi
if [ "${1:-}" = "--demo" ]; then want+=("${web_pkgs[@]}"); fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
