#!/usr/bin/env bash
# Make a release in dist/, in one go, from a clean git checkout (meson dist packs the commit):
#   pysnap-VERSION-linux-x86_64             the static binary (scripts/build-static.sh)
#   pysnap-VERSION-py3-none-...x86_64.whl   the wheel around it (scripts/build-wheel.sh)
#   pysnap-VERSION.tar.xz                   the source (meson dist; it also builds that tarball
#                                           once, with the static build's options, as a check)
#   pysnap-viewer.html                      the viewer page (scripts/build-wasm.sh; the static
#                                           binary has it inside: pysnap viewer -o FILE)
#   pysnap-analyze-VERSION.tgz              the Node command (npm package; npm publish it)
#   SHA256SUMS                              `sha256sum -c SHA256SUMS` checks them
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "release: the git tree has uncommitted changes (meson dist packs the last commit)" >&2
  exit 1
fi
# The WebAssembly products first (needs emscripten: scripts/install-deps.sh --wasm): the static
# pysnap embeds the viewer page.
wasm_out=$(scripts/build-wasm.sh)
npm_tgz=$(sed -n 's/^npm: //p' <<<"$wasm_out")
export PYSNAP_VIEWER=$(sed -n 's/^viewer: //p' <<<"$wasm_out")
wheel=$(scripts/build-wheel.sh)
version=$(meson introspect build-static --projectinfo |
          python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
bin=dist/pysnap-$version-linux-x86_64
cp build-static/pysnap "$bin"
chmod 0755 "$bin"
rm -f build-static/meson-dist/*
meson dist -C build-static --formats xztar >&2
cp build-static/meson-dist/pysnap-"$version".tar.xz dist/
(cd dist && sha256sum "$(basename "$bin")" "$(basename "$wheel")" pysnap-"$version".tar.xz \
  pysnap-viewer.html "$(basename "$npm_tgz")" >SHA256SUMS)
echo "release $version ($(git describe --always --abbrev=12)) in dist/:"
(cd dist && ls -l "$(basename "$bin")" "$(basename "$wheel")" pysnap-"$version".tar.xz \
  pysnap-viewer.html "$(basename "$npm_tgz")" SHA256SUMS |
  awk '{print "  " $5 "\t" $9}')
