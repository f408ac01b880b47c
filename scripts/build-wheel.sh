#!/usr/bin/env bash
# Build the static binary (scripts/build-static.sh) and the wheel around it:
#   dist/pysnap-VERSION-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64.whl
# (scripts/make-wheel.py; the system python3, nothing from PyPI). Prints the wheel's path.
# Install it with `pip install dist/pysnap-*.whl`; doc/install.md has the details.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-static.sh >&2
version=$(meson introspect build-static --projectinfo |
          python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"
export SOURCE_DATE_EPOCH
mkdir -p dist
rm -f dist/pysnap-"$version"-*.whl
python3 scripts/make-wheel.py build-static/pysnap "$version" dist
