#!/bin/sh
# The commit pysnap is built from, for `pysnap --version` (meson's vcs_tag runs this with the
# source directory): git's, when that directory is a git checkout (a worktree too); else the
# COMMIT file that `meson dist` writes into the release tarball; else it fails, and vcs_tag
# puts its fallback, "unknown".
src=${1:-.}
if [ -e "$src/.git" ]; then
    exec git -C "$src" describe --always --dirty --abbrev=12
fi
if [ -s "$src/COMMIT" ]; then
    exec head -n 1 "$src/COMMIT"
fi
exit 1
