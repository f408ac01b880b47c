"""End to end: CPython 2.7 (pyenv 2.7.18, with symbols; Debian bullseye's python2.7, static
and stripped, from tools/fetch-bullseye-python27.sh's cache, which scripts/test.sh fills: the
test says so when it is absent), whose objects, GIL and runtime roots differ from
every 3.x: the threads target of tests/e2e cannot run there, so py27_target.py (2.7 syntax)
parks two threads in known frames with locals of 2.7's own kinds and runs a spinner.

Checked against the target's own truth: every thread's exact stack (function, file, line)
and threading name; each local of the parked frame with exactly 2.7's type name and repr()
(u'...' escaping non-ASCII, 5L, set([3]), <type 'int'>, old-style <__main__.C instance at
0x...>); the GIL: 2.7's is a semaphore without a holder field, and pysnap reads its holder from
_PyThreadState_Current (doc/versions.md); the GC state. What record and top say of 2.7's GIL
(its share, from the same reading) is checked by test_record.py and test_top.py
(`test_*gil_share`, on both 2.7s).
"""

import json
import os

import pytest

from e2e_util import (BULLSEYE27 as BULLSEYE, PYENV_ROOT, TARGETS, Interpreter, TargetRunner,
                      all_threads, parse_extra_pythons, python_frames, run_pysnap)

TARGET = TARGETS / "py27_target.py"


def interpreters():
    pyenv = Interpreter("pyenv-2.7.18", ["%s/versions/2.7.18/bin/python" % PYENV_ROOT], kind="pyenv")
    debian = None
    if os.path.exists(os.path.join(BULLSEYE, "ok")):
        (debian,) = parse_extra_pythons("debian-2.7=PYTHONHOME=%s/root/usr %s/root/usr/bin/python2.7"
                                        % (BULLSEYE, BULLSEYE))
    return [pyenv, debian]


class Run(object):
    pass


@pytest.fixture(scope="module", params=interpreters(), ids=["pyenv-2.7.18", "debian-bullseye-2.7"])
def run(request, pysnap_bin, tmp_path_factory):
    py27 = request.param
    if py27 is None:
        pytest.skip("Debian bullseye's python2.7 not fetched (tools/fetch-bullseye-python27.sh; "
                    "scripts/test.sh runs it)")
    missing = py27.missing()
    if missing:
        pytest.skip("%s: interpreter not found: %s" % (py27.label, missing))
    base = tmp_path_factory.mktemp("py27")
    runner = TargetRunner(base / "targets")
    try:
        proc, truth = runner(py27, TARGET)
        r = Run()
        r.truth = truth
        snap = base / "py27.snap"
        res = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap)
        assert res.returncode == 0, res.stderr
        res = run_pysnap(pysnap_bin, "analyze", "--json", snap)
        assert res.returncode == 0, res.stderr
        r.analysis = json.loads(res.stdout.decode("utf-8"))
        r.text = run_pysnap(pysnap_bin, "analyze", "--locals", snap).stdout.decode("utf-8")
        yield r
    finally:
        runner.close()


def by_tid(a):
    return dict((t["tid"], t) for t in all_threads(a))


def test_version(run):
    assert run.analysis["target"]["python"]["version"] == "2.7.18"


def test_every_stack_exact_with_its_name(run):
    got = by_tid(run.analysis)
    assert run.truth["main_tid"] in got
    for t in run.truth["threads"]:
        have = got.get(t["tid"])
        assert have is not None, "thread %s missing" % t["name"]
        want = [(f["function"], f["file"], f["line"]) for f in t["frames"]]
        assert python_frames(have) == want, (t["name"], want, python_frames(have))
        assert have["name"] == t["name"] and have["daemon"] is True


def test_native_frames_merged(run):
    """2.7's eval loop is PyEval_EvalFrameEx: each Python frame takes its place among the
    native ones, as on 3.x."""
    got = by_tid(run.analysis)
    for t in run.truth["threads"]:
        have = got[t["tid"]]
        assert have["native_merged"] is True, (t["name"], have.get("native_cut"))
        kinds = [f["kind"] for f in have["frames"]]
        assert "native" in kinds and "python" in kinds


def test_locals_are_2_7_reprs(run):
    got = by_tid(run.analysis)
    checked = 0
    for t in run.truth["threads"]:
        if not t["locals"]:
            continue
        frame = [f for f in got[t["tid"]]["frames"] if f.get("function") == "hold"][0]
        have = dict((k, (v["type"], v["repr"])) for k, v in frame["locals"].items())
        want = dict((k, (v["type"], v["repr"])) for k, v in t["locals"].items())
        assert have == want
        checked += 1
    assert checked == 2
    text = run.text
    for needle in ("u'h\\xe9llo \\u65e5\\U0001f40d'", "l_small = 5L", "s_val = set([3])",
                   "typ = <type 'int'>", "instance at 0x"):
        assert needle in text, needle


def test_gil_holder_from_the_current_thread_state(run):
    (interp,) = run.analysis["interpreters"]
    gil = interp["gil"]
    assert gil is not None
    spinner = by_tid(run.analysis)[run.truth["spinner_tid"]]
    # The spinner is the only thread that runs Python: it holds the GIL unless the capture
    # caught it in the instant of its periodic release (then nobody does).
    assert gil["holder_tid"] in (run.truth["spinner_tid"], None), gil
    assert gil["locked"] == (gil["holder_tid"] is not None)
    if gil["holder_tid"] is not None:
        assert spinner["state"] == "running", spinner["state"]
    else:
        # in the release: it may be taking the semaphore again (a futex wait for a moment)
        assert spinner["state"] in ("running", "sleeping", "waiting_for_gil"), spinner["state"]
    others = [t for t in all_threads(run.analysis) if t["holds_gil"] and t["tid"] != spinner["tid"]]
    assert not others


def test_gc_state(run):
    (interp,) = run.analysis["interpreters"]
    if interp["gc"] is None:  # stripped (Debian's): the static `collecting` has no symbol
        assert "bullseye" in run.truth["executable"], interp
        return
    assert interp["gc"] == {"collecting": False, "collector_tid": None}
