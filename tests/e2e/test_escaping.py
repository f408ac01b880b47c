"""Every string from the target is escaped in the text output: a thread name, a file name,
a local's value and the command line holding ANSI escapes, BEL, a line break and a C1
control (and bytes of the command line that are not UTF-8) come out as \\xNN, so nothing
the target chose reaches the terminal as a control character or forges an output line. JSON
escapes them by its own rules (checked to parse)."""
import json
import subprocess
import sys

import pytest

from e2e_util import TARGETS, clean_env, describe, kill_all, run_pysnap

TARGET = TARGETS / "hostile_names_target.py"
PYTHON = "/usr/bin/python3"
EVIL = "\x1b[2J\x1b]0;owned\x07\nforged line\u009b31m"
RAW = b"raw\x9b31m\xff\xe2\x82"


@pytest.fixture
def target():
    import os
    if not os.access(PYTHON, os.X_OK):
        pytest.skip("%s is absent" % PYTHON)
    # the second argument is bytes that are not UTF-8 (a lone 0x9b is CSI on an 8-bit terminal)
    p = subprocess.Popen([PYTHON, str(TARGET), "arg" + EVIL, RAW], stdout=subprocess.PIPE,
                         env=clean_env())
    try:
        assert p.stdout.readline().strip() == b"ready"
        yield p
    finally:
        kill_all([p])


def check_clean(text):
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
    assert not bad, "control characters reached the output: %r" % sorted(set(bad))
    assert "\nforged line" not in text, text
    for part in ("thread\\x1b[2J\\x1b]0;owned\\x07\\x0aforged line\\x9b31m",
                 "file\\x1b[2J\\x1b]0;owned\\x07\\x0aforged line\\x9b31m.py"):
        assert part in text, (part, text)


@pytest.mark.parametrize("args", [[], ["--locals"], ["--native", "--locals"], ["--tasks"]])
def test_text_output_escapes_target_strings(pysnap_bin, target, tmp_path, args):
    snap = tmp_path / "evil.snap"
    res = run_pysnap(pysnap_bin, "capture", "--pid", target.pid, "-o", snap)
    assert res.returncode == 0, describe(res)
    for argv in (["analyze", snap], ["dump", "--pid", target.pid]):
        res = run_pysnap(pysnap_bin, *argv, *args)
        assert res.returncode == 0, describe(res)
        out = res.stdout.decode("utf-8")  # strict: no byte that is not UTF-8 got through
        check_clean(out)
        assert "raw\\x9b31m\\xff\\xe2\\x82" in out, out
        if "--locals" in args:
            assert "evil_local = '\\x1b[2J\\x1b]0;owned\\x07\\nforged line\\x9b31m'" in out, out
    # several files: the per-file line carries the command line; --summary the thread names
    for extra in ([], ["--summary"]):
        res = run_pysnap(pysnap_bin, "analyze", snap, snap, *extra)
        assert res.returncode == 0, describe(res)
        out = res.stdout.decode("utf-8")
        bad = [c for c in out if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
        assert not bad, (extra, sorted(set(bad)))
    doc = json.loads(run_pysnap(pysnap_bin, "analyze", snap, "--json").stdout)
    names = [t["name"] for i in doc["interpreters"] for t in i["threads"]]
    assert "thread" + EVIL in names, names
