#!/bin/sh
# meson dist script: record the commit the tarball is made from in its COMMIT file, so that a
# build from the tarball (no git there) still says which commit it is (scripts/git-commit.sh).
set -eu
git -C "$MESON_SOURCE_ROOT" rev-parse --short=12 HEAD >"$MESON_DIST_ROOT/COMMIT"
