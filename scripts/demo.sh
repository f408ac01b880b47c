#!/usr/bin/env bash
# Command one of the README: install, build, then run the bundled sample app, capture it and
# analyze the snapshot; then the web sample (gunicorn + Flask, two workers) captured with
# --children and summarized over three rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
scripts/build.sh
export PYSNAP_BIN="$(pwd)/build/programs/pysnap"
samples/demo.sh
echo
exec samples/demo-web.sh
