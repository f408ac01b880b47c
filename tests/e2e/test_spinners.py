"""End to end: four threads running Python at once (spinners_target.py), each in its own call
chain on a one-line loop. Every spinner's stack must be exact (function, file, line, from the
target's own sys._current_frames()), with its name and its `n` argument.

On a free-threaded build (3.13t) the four really run in parallel: the test waits until /proc
shows all four running at the same moment, and the analysis must say that there is no GIL
and that each spinner is running, attached to its thread state. The freeze stops all threads
(ptrace, one interrupt per thread, the capture walks only once every thread is stopped), so
the snapshot is one consistent moment as for a GIL build: doc/versions.md. With a GIL (every
other interpreter) the spinners take turns: at most one holds it.
"""

import json
import time

import pytest

from e2e_util import (FREE_THREADED_GIL_REASON, TARGETS, all_threads, free_threaded,
                      python_frames, run_pysnap)
from test_native import task_view

E2E_WITH_OLD_PYENV = True  # every interpreter: the stacks must be exact on all of them

SPINNERS_TARGET = TARGETS / "spinners_target.py"
PARALLEL_TIMEOUT = 10.0


def wait_all_running(pid, tids):
    """Until /proc shows every tid of TIDS running (R) in the same poll, three polls in a
    row; fails after PARALLEL_TIMEOUT."""
    deadline = time.monotonic() + PARALLEL_TIMEOUT
    good, seen = 0, None
    while good < 3:
        seen = [task_view(pid, tid)[0] for tid in tids]
        good = good + 1 if all(s == "R" for s in seen) else 0
        if time.monotonic() > deadline:
            pytest.fail("the spinners never ran all at once: %s" % seen, pytrace=False)
        time.sleep(0.02)


def test_every_spinner_stack_exact(python, pysnap_bin, run_target, tmp_path):
    proc, truth = run_target(python, SPINNERS_TARGET)
    spinners = truth["spinners"]
    assert len(spinners) == 4 and all(s["stack"][0]["function"] == "spin" for s in spinners)
    no_gil = free_threaded(python)
    if no_gil:
        wait_all_running(proc.pid, [s["tid"] for s in spinners])
    snap = tmp_path / "spin.snap"
    res = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap)
    assert res.returncode == 0, res.stderr
    res = run_pysnap(pysnap_bin, "analyze", "--json", snap)
    assert res.returncode == 0, res.stderr
    a = json.loads(res.stdout.decode("utf-8"))
    by_tid = dict((t["tid"], t) for t in all_threads(a))
    for s in spinners:
        t = by_tid.get(s["tid"])
        assert t is not None, "spinner %d (%s) missing" % (s["tid"], s["name"])
        want = [(f["function"], f["file"], f["line"]) for f in s["stack"]]
        assert python_frames(t) == want, "spinner %s:\n want %s\n have %s" % (
            s["name"], want, python_frames(t))
        assert t["name"] == s["name"]
        spin = [f for f in t["frames"] if f.get("kind") == "python"][0]
        assert spin["locals"]["n"]["repr"] == str(s["n"]), spin["locals"]
    (interp,) = a["interpreters"]
    if no_gil:
        assert interp["gil"] is None and interp["gil_reason"] == FREE_THREADED_GIL_REASON
        got = [(by_tid[s["tid"]]["state"], by_tid[s["tid"]]["thread_state"]) for s in spinners]
        assert got == [("running", "attached")] * 4, got
    else:
        holders = [s["tid"] for s in spinners if by_tid[s["tid"]]["holds_gil"]]
        assert len(holders) <= 1, holders
