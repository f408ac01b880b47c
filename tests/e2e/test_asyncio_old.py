"""End to end: asyncio tasks on CPython 3.6 and 3.7, whose tasks have no names (so the name-
matched checks of test_asyncio.py cannot apply). The target parks C tasks in known coroutine
chains and takes each task's chain (function, file, line, int locals) from the task objects;
the analysis must list exactly those tasks with exactly those chains.

3.6 registers its C tasks only in a static WeakSet of the _asyncio extension (all_tasks),
which capture finds by that file's symbols (doc/versions.md).
"""

import json

import pytest

from e2e_util import PYENV_ROOT, TARGETS, Interpreter, run_pysnap

TARGET = TARGETS / "asyncio_old_target.py"


def params():
    out = []
    for v in ("3.6.15", "3.7.16"):
        it = Interpreter("pyenv-" + v, ["%s/versions/%s/bin/python" % (PYENV_ROOT, v)], kind="pyenv")
        marks = []
        missing = it.missing()
        if missing:
            marks.append(pytest.mark.skip(reason="%s: interpreter not found: %s" % (it.label, missing)))
        out.append(pytest.param(it, id=it.label, marks=marks))
    return out


def frames(chain, with_locals):
    return [(f["function"], f["file"], f["line"]) + ((tuple(sorted(f["locals"].items())),)
                                                      if with_locals else ())
            for f in chain]


@pytest.mark.parametrize("interp", params())
def test_every_task_with_its_exact_chain(interp, pysnap_bin, run_target, tmp_path):
    proc, truth = run_target(interp, TARGET)
    snap = tmp_path / "t.snap"
    res = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap)
    assert res.returncode == 0, res.stderr
    res = run_pysnap(pysnap_bin, "analyze", "--json", snap)
    assert res.returncode == 0, res.stderr
    (interp,) = json.loads(res.stdout.decode("utf-8"))["interpreters"]
    got = sorted((t["state"], frames(t["coroutine_chain"], False)) for t in interp.get("tasks", []))
    want = sorted((t["state"], frames(t["chain"], False)) for t in truth["tasks"])
    # 3 tasks in middle > leaf (> sleep: a coroutine from 3.7 on, a generator in 3.6)
    assert len(want) == 5 and sum(len(c) >= 2 for _, c in want) == 3, want
    assert got == want, "tasks_error: %s" % interp.get("tasks_error")
    # The int locals of each frame, as the target's repr() gives them.
    got_locals = sorted([(f["function"], tuple(sorted((k, v["repr"]) for k, v in f["locals"].items()
                                                      if v["type"] == "int")))
                         for f in t["coroutine_chain"]] for t in interp["tasks"])
    want_locals = sorted([(f["function"], tuple(sorted(f["locals"].items())))
                          for f in t["chain"]] for t in truth["tasks"])
    assert got_locals == want_locals
    assert all(t["name"] is None for t in interp["tasks"])  # no task names before 3.8
