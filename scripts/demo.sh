#!/usr/bin/env bash
# Command one of the README: install, build, then run the bundled sample app, capture it and
# analyze the snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
export PYSNAP_BIN="$(pwd)/build/programs/pysnap"
exec samples/demo.sh
