"""The committed layout tables (analyze/python/pyoffsets_table.c) are what tools/gen-offsets generates.

gen-offsets.sh compiles tools/gen-offsets/probe.c against each CPython's own headers. Here it
writes into a temporary file with the headers this machine has (pyenv 3.6-3.13; Debian sid
3.14/3.15, whose headers scripts/test.sh unpacks with tools/fetch-sid-pythons.sh --dev; the
free-threaded 3.13t of tools/build-freethreaded.sh, which scripts/test.sh builds), and
every entry it generated must be, field for field, the committed entry of the same X.Y: a
probe.c change that was not regenerated, or a table edited by hand, fails. The patch release
in the entry's label may differ (Debian unstable moves on; a layout does not change within a
minor version, and if it did this test would say so). Versions whose headers are absent are
named in the output; with none at all the test skips.
"""

import re
import shutil
import subprocess

import pytest

from e2e_util import REPO

GEN = REPO / "tools" / "gen-offsets" / "gen-offsets.sh"
TABLE = REPO / "analyze" / "python" / "pyoffsets_table.c"


def entries(text):
    """{(major, minor): (label, body)} for every `    { /* LABEL */` block of a table source;
    body is the entry without its label line."""
    out = {}
    for block in re.split(r"(?m)^(?=    \{ /\* )", text)[1:]:
        label = re.match(r"    \{ /\* ([^ ,*]+)", block).group(1)
        body = block.split("\n};")[0].rstrip().rstrip(",")
        # a free-threaded build's entry (label 3.13.5t) is keyed apart from the GIL build's
        key = tuple(int(x) for x in label.rstrip("t").split(".")[:2]) + (
            ("t",) if label.endswith("t") else ())
        out[key] = (label, body.split("\n", 1)[1])
    return out


def test_committed_table_matches_the_probe(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("no gcc: gen-offsets.sh compiles its probe with the system compiler")
    out = tmp_path / "pyoffsets_table.c"
    res = subprocess.run(["sh", str(GEN), "--out", str(out)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 0, "gen-offsets.sh failed:\n" + err
    committed = entries(TABLE.read_text())
    generated = entries(out.read_text())
    if not generated:
        pytest.skip("no CPython headers here to regenerate any table from (%s)"
                    % "; ".join(l for l in err.splitlines() if "skipping" in l))
    for key in sorted(generated):
        label, body = generated[key]
        assert key in committed, (
            "gen-offsets generates %s, which analyze/python/pyoffsets_table.c lacks: regenerate it "
            "(tools/gen-offsets/README.md)" % label)
        assert body == committed[key][1], (
            "analyze/python/pyoffsets_table.c's %s entry differs from what probe.c generates from "
            "the %s headers: regenerate it (tools/gen-offsets/README.md)"
            % (committed[key][0], label))
    print("checked %s; not checked here (no headers): %s"
          % (", ".join(generated[k][0] for k in sorted(generated)),
             ", ".join(committed[k][0] for k in sorted(set(committed) - set(generated)))
             or "none"))
