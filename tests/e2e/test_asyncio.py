"""End to end: asyncio tasks. Capture the asyncio target, analyze the snapshot, and compare
every task with the truth the target took of itself (asyncio.all_tasks() and cr_await):
names, exact coroutine chains (function, file, line), what each awaits, which tasks wait for
which (gather children, a task awaiting a task), the running task, and a deadlock.

Interpreters: those of conftest.py (pyenv 3.11-3.13, Debian's 3.11, PYSNAP_EXTRA_PYTHONS such
as Debian sid's 3.13-3.15), plus pyenv's 3.8, 3.9 and 3.10.
"""

import json

import pytest

from e2e_util import (PYENV_ROOT, TARGETS, Interpreter, TargetRunner, describe,
                      interpreter_params, run_pysnap)
import schema_util

ASYNCIO_TARGET = TARGETS / "asyncio_target.py"
OLDER_PYENV = ("3.8.18", "3.9.18", "3.10.13")


def asyncio_interpreters():
    older = []
    for v in OLDER_PYENV:
        it = Interpreter("pyenv-" + v, ["%s/versions/%s/bin/python" % (PYENV_ROOT, v)], kind="pyenv")
        missing = it.missing()
        marks = [pytest.mark.skip(reason="%s: interpreter not found: %s" % (it.label, missing))] if missing else []
        older.append(pytest.param(it, id=it.label, marks=marks))
    return older + interpreter_params()


class Run(object):
    pass


def capture(interp, pysnap_bin, base, *args):
    runner = TargetRunner(base / "targets")
    proc, truth = runner(interp, ASYNCIO_TARGET, *args)
    r = Run()
    r.runner, r.truth, r.pid = runner, truth, proc.pid
    r.snap = base / "tasks.snap"
    r.capture = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", r.snap)
    r.json_res = r.text_res = r.analysis = None
    if r.capture.returncode == 0:
        r.json_res = run_pysnap(pysnap_bin, "analyze", r.snap, "--json")
        r.text_res = run_pysnap(pysnap_bin, "analyze", r.snap, "--tasks")
        if r.json_res.returncode == 0:
            r.analysis = json.loads(r.json_res.stdout.decode("utf-8"))
    return r


@pytest.fixture(scope="module", params=asyncio_interpreters())
def apython(request):
    request.param.info()  # a present interpreter that does not run fails here
    return request.param


@pytest.fixture(scope="module")
def tasks_run(apython, pysnap_bin, tmp_path_factory):
    r = capture(apython, pysnap_bin, tmp_path_factory.mktemp("tasks-%s" % apython.label))
    try:
        yield r
    finally:
        r.runner.close()


@pytest.fixture(scope="module")
def deadlock_run(apython, pysnap_bin, tmp_path_factory):
    r = capture(apython, pysnap_bin, tmp_path_factory.mktemp("deadlock-%s" % apython.label),
                "--deadlock")
    try:
        yield r
    finally:
        r.runner.close()


@pytest.fixture(scope="module")
def pure_run(apython, pysnap_bin, tmp_path_factory):
    r = capture(apython, pysnap_bin, tmp_path_factory.mktemp("pure-%s" % apython.label), "--pure")
    try:
        yield r
    finally:
        r.runner.close()


@pytest.fixture(scope="module")
def eager_run(apython, pysnap_bin, tmp_path_factory):
    r = capture(apython, pysnap_bin, tmp_path_factory.mktemp("eager-%s" % apython.label), "--eager")
    try:
        yield r
    finally:
        r.runner.close()


def tasks_of(r):
    if r.capture.returncode != 0:
        pytest.fail("capture failed: %s" % describe(r.capture), pytrace=False)
    if r.analysis is None:
        pytest.fail("analyze --json failed: %s" % describe(r.json_res), pytrace=False)
    interp = r.analysis["interpreters"][0]
    assert interp["tasks_error"] is None, interp["tasks_error"]
    tasks = interp["tasks"]
    names = [t["name"] for t in tasks]
    assert len(names) == len(set(names)), "task names repeat: %r" % names
    return dict((t["name"], t) for t in tasks), tasks


def chain(task):
    return [[f["function"], f["file"], f["line"]] for f in task["coroutine_chain"]]


def check_tasks(r, at_least=9):
    by_name, tasks = tasks_of(r)
    truth = r.truth
    assert len(truth["tasks"]) >= at_least
    assert sorted(by_name) == sorted(t["name"] for t in truth["tasks"])
    for want in truth["tasks"]:
        got = by_name[want["name"]]
        assert got["state"] == want["state"], want["name"]
        assert got["running"] == want["running"], want["name"]
        assert chain(got) == want["chain"], want["name"]
        assert got["thread_tid"] == want["tid"], want["name"]
        assert got["kind"] == want["kind"], want["name"]
        assert got["error"] is None, (want["name"], got["error"])
        for frame in got["coroutine_chain"]:  # locals of the coroutine frames, as repr() says
            for name, rep in want["locals"].get(frame["function"], {}).items():
                assert frame["locals"][name]["repr"] == rep, (want["name"], frame["function"], name)


def check_awaits(r):
    by_name, tasks = tasks_of(r)
    for want in r.truth["tasks"]:
        got = by_name[want["name"]]
        if want["awaiting_type"] is None:
            assert got["awaiting"] is None, want["name"]
            continue
        # tp_name: "_asyncio.Future" for the C type, "_GatheringFuture" for a Python class
        assert got["awaiting"]["type"].rsplit(".", 1)[-1] == want["awaiting_type"], want["name"]
        awaited = got["awaiting"]["task"]
        assert (tasks[awaited]["name"] if awaited is not None else None) == want["awaiting_task"]
        assert sorted(tasks[i]["name"] for i in got["waits_for"]) == sorted(want["waits_for"])
    # The shapes the target built, as the truth says them.
    assert by_name["gatherer"]["awaiting"]["type"] == "_GatheringFuture"
    assert sorted(tasks[i]["name"] for i in by_name["gatherer"]["waits_for"]) == [
        "gather-child-1", "gather-child-2"]
    assert [tasks[i]["name"] for i in by_name["awaited"]["awaited_by"]] == ["awaiter"]
    if "group-parent" in by_name:  # 3.11+ (TaskGroup)
        assert sorted(tasks[i]["name"] for i in by_name["group-parent"]["waits_for"]) == [
            "group-child-1", "group-child-2"]
        # a second level: group-child-2 is the parent of a TaskGroup of its own
        assert [tasks[i]["name"] for i in by_name["group-child-2"]["waits_for"]] == ["group-grandchild"]
        # each parent waits in its group's __aexit__ (3.13+: _aexit), on its own Future
        for parent in ("group-parent", "group-child-2"):
            assert chain(by_name[parent])[-1][0] in ("__aexit__", "_aexit"), parent
    # awaited_by is the other side of waits_for, for every task (gather and TaskGroup
    # children, the awaited task), as the truth's waits_for says it
    for want in r.truth["tasks"]:
        awaiters = sorted(w["name"] for w in r.truth["tasks"] if want["name"] in w["waits_for"])
        assert sorted(tasks[i]["name"] for i in by_name[want["name"]]["awaited_by"]) == awaiters, \
            want["name"]
    assert not any(t["deadlock"] for t in tasks)


def innermost(task):
    f = task["coroutine_chain"][-1]
    return f["function"], f["file"].rsplit("/", 1)[-1]


def test_every_task_listed_with_its_exact_chain(tasks_run):
    check_tasks(tasks_run)
    by_name, _ = tasks_of(tasks_run)
    # the parking places the issue names: sleeps (through two coroutines), an Event, a
    # Queue, a gather of two children, a task awaiting a task
    assert [f["function"] for f in by_name["napper"]["coroutine_chain"]] == ["nap_outer", "nap_inner", "sleep"]
    assert innermost(by_name["napper"]) == ("sleep", "tasks.py")
    assert innermost(by_name["event-waiter"]) == ("wait", "locks.py")
    assert innermost(by_name["queue-getter"]) == ("get", "queues.py")
    for child in ("gather-child-1", "gather-child-2"):
        assert innermost(by_name[child]) == ("sleep", "tasks.py")
    assert [f["function"] for f in by_name["awaiter"]["coroutine_chain"]] == ["await_other"]
    assert by_name["gather-child-2"]["coroutine_chain"][0]["locals"]["n"]["repr"] == "2"
    assert by_name["subclassed"]["type"] == "SubTask" and by_name["subclassed"]["kind"] == "c"
    side = [n for n, t in by_name.items() if t["thread_tid"] != tasks_run.truth["main_tid"]]
    assert sorted(side) == ["side-main", "side-napper"]
    assert ("group-parent" in by_name) == (tuple(tasks_run.truth["python"]["version_info"][:2]) >= (3, 11))
    assert set(t["kind"] for t in tasks_run.truth["tasks"]) == {"c"}


def test_what_each_task_awaits(tasks_run):
    check_awaits(tasks_run)


def test_pure_python_tasks(pure_run):
    check_tasks(pure_run)
    check_awaits(pure_run)
    # the main thread's tasks (the side thread's loop has no task factory: C tasks)
    kinds = dict((t["name"], t["kind"]) for t in pure_run.truth["tasks"]
                 if t["tid"] == pure_run.truth["main_tid"])
    assert kinds.pop("main") == "c" and set(kinds.values()) == {"python"}


def test_314_reads_the_interpreters_own_asyncio_debug_offsets(tasks_run):
    tasks_of(tasks_run)
    interp = tasks_run.analysis["interpreters"][0]
    # 3.14+ publish _Py_AsyncioModuleDebugOffsets (.AsyncioDebug); older versions do not.
    assert interp["tasks_debug_offsets"] == (tuple(tasks_run.truth["python"]["version_info"][:2]) >= (3, 14))


@pytest.mark.parametrize("which", ["tasks_run", "deadlock_run", "pure_run"])
def test_json_matches_schema(apython, request, which):
    """tasks (chains, awaiting, waits_for, awaited_by, deadlock): exactly as doc/schema.json says."""
    r = request.getfixturevalue(which)
    tasks_of(r)
    schema_util.check(r.analysis)


def test_tasks_text(tasks_run):
    by_name, _ = tasks_of(tasks_run)
    res = tasks_run.text_res
    assert res.returncode == 0, describe(res)
    text = res.stdout.decode("utf-8")
    assert "DEADLOCK" not in text
    for want in tasks_run.truth["tasks"]:
        head = 'Task "%s" (%s%s) on thread %d\n' % (want["name"], want["state"],
                                                      ", running" if want["running"] else "",
                                                      want["tid"])
        lines = "".join('      File "%s", line %d, in %s\n' % (f, l, fn) for fn, f, l in want["chain"])
        assert head + lines in text, want["name"]
    assert waits_lines(text, "gatherer") == ['    waits for task "gather-child-1"',
                                             '    waits for task "gather-child-2"']
    assert waits_lines(text, "awaiter") == ['    waits for task "awaited"']
    if "group-parent" in by_name:  # the TaskGroup tree (the group's set has no order)
        assert sorted(waits_lines(text, "group-parent")) == [
            '    waits for task "group-child-1"', '    waits for task "group-child-2"']
        assert waits_lines(text, "group-child-2") == ['    waits for task "group-grandchild"']


def waits_lines(text, name):
    """The `waits for task` lines of task NAME's block in the --tasks text."""
    head = '\nTask "%s" (' % name
    assert head in text, name
    block = text[text.index(head) + 1:]
    block = block[:block.index("\n\n")] if "\n\n" in block else block
    return [l for l in block.splitlines() if l.startswith("    waits for task ")]


def task_text(want):
    head = 'Task "%s" (%s%s) on thread %d\n' % (want["name"], want["state"],
                                              ", running" if want["running"] else "", want["tid"])
    return head + "".join('      File "%s", line %d, in %s\n' % (f, l, fn) for fn, f, l in want["chain"])


def test_dump_tasks_of_the_live_process(tasks_run, pysnap_bin):
    tasks_of(tasks_run)
    res = run_pysnap(pysnap_bin, "dump", "--pid", tasks_run.pid, "--tasks")
    assert res.returncode == 0, describe(res)
    text = res.stdout.decode("utf-8")
    for want in tasks_run.truth["tasks"]:
        assert task_text(want) in text, want["name"]


def test_tasks_wants_one_snapshot(tasks_run, pysnap_bin):
    tasks_of(tasks_run)
    res = run_pysnap(pysnap_bin, "analyze", tasks_run.snap, tasks_run.snap, "--tasks")
    assert res.returncode == 2 and res.stderr.decode().startswith("pysnap: --tasks"), describe(res)


def test_await_cycle_is_a_deadlock(deadlock_run):
    by_name, tasks = tasks_of(deadlock_run)
    truth = deadlock_run.truth
    assert truth["deadlock"] == ["deadlock-a", "deadlock-b"]
    assert sorted(t["name"] for t in tasks if t["deadlock"]) == truth["deadlock"]
    for want in truth["tasks"]:
        assert chain(by_name[want["name"]]) == want["chain"], want["name"]
    a, b = by_name["deadlock-a"], by_name["deadlock-b"]
    assert [tasks[i]["name"] for i in a["waits_for"]] == ["deadlock-b"]
    assert [tasks[i]["name"] for i in b["waits_for"]] == ["deadlock-a"]
    text = deadlock_run.text_res.stdout.decode("utf-8")
    assert 'Task "deadlock-a" (pending, DEADLOCK)' in text
    assert "DEADLOCK: 2 tasks wait for each other in a cycle:" in text


MAX_TASKS = 4096  # analyze/python/tasks.c


def test_task_limit_is_reported(apython, pysnap_bin, tmp_path):
    r = capture(apython, pysnap_bin, tmp_path, "--many", MAX_TASKS + 500)
    try:
        if r.analysis is None:
            pytest.fail("capture or analyze failed: %s" % describe(r.json_res or r.capture), pytrace=False)
        interp = r.analysis["interpreters"][0]
        assert len(r.truth["tasks"]) == MAX_TASKS + 501
        assert interp["tasks_error"] == "a walk limit was reached"
        assert len(interp["tasks"]) == MAX_TASKS
        assert all(t["name"] == "main" or (t["name"].startswith("many-") and len(t["coroutine_chain"]) == 3)
                   for t in interp["tasks"])
    finally:
        r.runner.close()


def test_running_task_is_not_main(eager_run):
    """3.12+: an eager task (in asyncio.tasks._eager_tasks) runs; before, a plain one."""
    check_tasks(eager_run, at_least=3)
    by_name, _ = tasks_of(eager_run)
    # 3.12-3.13 name an eager task only after its first step, which never ends here: its
    # name is then the default "Task-N", in the truth as in the snapshot.
    running = [n for n, t in by_name.items() if t["running"]]
    assert len(running) == 1 and running[0] != "main"
    assert [f["function"] for f in by_name[running[0]]["coroutine_chain"]] == ["blocker"]
