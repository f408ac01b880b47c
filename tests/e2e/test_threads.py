"""End to end: thread truth on every interpreter: names, daemon flags, GC, subinterpreters.

Three targets, one capture each per interpreter (module-scoped fixtures):

  many_threads_target.py  200 named threading threads (names longer than an OS thread name
                          holds, some non-ASCII, even ones daemons), a _thread thread that
                          names itself through /proc (comm), a native pthread named with
                          pthread_setname_np: every one listed once, with its name, where
                          the name came from and the daemon flag; the pause stays short.
  gc_del_target.py        a thread parked inside __del__ during gc.collect(): the
                          interpreter shows a collection running, run by that thread where
                          the version or the symbols tell, and that thread's exact Python
                          stack (with __del__); in the 200-thread run no collection runs.
  subinterp_target.py     two subinterpreters (own GIL on 3.12+), one thread sleeping in
                          one, one spinning in the other: each is listed under its
                          interpreter id with its frames; the spinner holds its own
                          interpreter's GIL; text output groups threads by interpreter.
                          Skipped where the version has no interpreters module.
"""

import json
import os
import re

import pytest

from e2e_util import (FREE_THREADED_GIL_REASON, TARGETS, TargetRunner, all_threads, describe,
                      free_threaded, need_analysis, python_frames,
                      run_pysnap)
import schema_util
from test_native import elf_has_symtab

E2E_WITH_OLD_PYENV = True  # 3.8-3.10 too: the issue asks for every supported interpreter

MANY_TARGET = TARGETS / "many_threads_target.py"
GC_TARGET = TARGETS / "gc_del_target.py"
SUBINTERP_TARGET = TARGETS / "subinterp_target.py"

PAUSE_LIMIT_US = 1000000  # 200 threads frozen, walked and resumed within a second
# scripts/test.sh's ASan + UBSan pass sets PYSNAP_TEST_SLOWDOWN (instrumented code runs ~2-3x
# slower); the limit scales with it there and only there.
PAUSE_LIMIT_US *= float(os.environ.get("PYSNAP_TEST_SLOWDOWN", "1"))


class Run(object):
    pass


def capture_and_analyze(python, pysnap_bin, base, script, runner):
    proc, truth = runner(python, script)
    r = Run()
    r.python, r.proc, r.truth = python, proc, truth
    r.snap = base / (script.stem + ".snap")
    r.capture = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", r.snap)
    r.analysis = r.json_res = r.text_res = None
    if r.capture.returncode == 0:
        r.json_res = run_pysnap(pysnap_bin, "analyze", r.snap, "--json")
        r.text_res = run_pysnap(pysnap_bin, "analyze", r.snap)
        if r.json_res.returncode == 0:
            r.analysis = json.loads(r.json_res.stdout.decode("utf-8"))
    return r


@pytest.fixture(scope="module")
def runner(python, tmp_path_factory):
    python.info()
    r = TargetRunner(tmp_path_factory.mktemp("threads-%s" % python.label) / "targets")
    try:
        yield r
    finally:
        r.close()


def _run_fixture(python, pysnap_bin, tmp_path_factory, runner, script):
    base = tmp_path_factory.mktemp("%s-%s" % (script.stem, python.label))
    r = capture_and_analyze(python, pysnap_bin, base, script, runner)
    # The target is not needed after the capture: end it now (spinners cost CPU).
    r.proc.kill()
    r.proc.wait()
    return r


@pytest.fixture(scope="module")
def many(python, pysnap_bin, tmp_path_factory, runner):
    return _run_fixture(python, pysnap_bin, tmp_path_factory, runner, MANY_TARGET)


@pytest.fixture(scope="module")
def gcrun(python, pysnap_bin, tmp_path_factory, runner):
    return _run_fixture(python, pysnap_bin, tmp_path_factory, runner, GC_TARGET)


@pytest.fixture(scope="module")
def sub(python, pysnap_bin, tmp_path_factory, runner):
    return _run_fixture(python, pysnap_bin, tmp_path_factory, runner, SUBINTERP_TARGET)


def by_tid(analysis):
    out = {}
    for t in all_threads(analysis):
        out.setdefault(t["tid"], []).append(t)
    return out


def fmt_frames(frames):
    return "\n".join("  %s %s:%s" % f for f in frames)


# --- 200 named threads -------------------------------------------------------------------

def test_every_thread_listed_once(many):
    a = need_analysis(many)
    got = by_tid(a)
    want = set(t["tid"] for t in many.truth["threads"])
    assert len(want) == 203
    missing = sorted(want - set(got))
    twice = sorted(tid for tid, ts in got.items() if len(ts) > 1)
    assert not missing and not twice, "missing %s, listed twice %s" % (missing, twice)
    assert set(got) == want, "threads not in the truth: %s" % sorted(set(got) - want)


def test_names_daemon_flags_and_name_source(many):
    got = by_tid(need_analysis(many))
    bad = []
    for w in many.truth["threads"]:
        t = got[w["tid"]][0]
        source = "threading" if w["kind"] == "threading" else "os"
        have = (t["name"], t["name_source"], t["daemon"])
        want = (w["name"], source, w["daemon"])
        if have != want:
            bad.append("tid %d (%s): %r, want %r" % (w["tid"], w["kind"], have, want))
    if bad:
        pytest.fail("%d of %d threads wrong:\n%s" % (len(bad), len(many.truth["threads"]),
                                                      "\n".join(bad[:20])), pytrace=False)


def test_names_in_text_output(many):
    need_analysis(many)
    assert many.text_res.returncode == 0, describe(many.text_res)
    text = many.text_res.stdout.decode("utf-8")
    heads = dict((int(m.group(1)), m.group(2)) for m in
                 re.finditer(r'(?m)^Thread (\d+) "(.*)"( daemon)? \(', text))
    daemon = set(int(m.group(1)) for m in re.finditer(r'(?m)^Thread (\d+) ".*" daemon \(', text))
    for w in many.truth["threads"]:
        assert heads.get(w["tid"]) == w["name"], "thread %d shows %r, want %r" % (
            w["tid"], heads.get(w["tid"]), w["name"])
        assert (w["tid"] in daemon) == bool(w["daemon"]), "thread %d daemon mark" % w["tid"]


def test_pause_with_200_threads(many):
    a = need_analysis(many)
    pause = a["target"]["pause_us"]
    print("%s: 203 threads, pause %.1f ms" % (many.python.label, pause / 1000.0))
    assert 0 < pause < PAUSE_LIMIT_US, "pause %d us with 203 threads" % pause


def test_no_collection_running_without_gc(many):
    a = need_analysis(many)
    gc = a["interpreters"][0]["gc"]
    assert gc == {"collecting": False, "collector_tid": None}, gc


# --- GC ----------------------------------------------------------------------------------

def test_collection_running_during_del(gcrun):
    a = need_analysis(gcrun)
    interp = [i for i in a["interpreters"] if any(t["tid"] == gcrun.truth["collector_tid"]
                                                 for t in i["threads"])]
    assert len(interp) == 1 and interp[0]["id"] == 0
    gc = interp[0]["gc"]
    assert gc["collecting"] is True, gc
    # Which thread collects: 3.15+ name the frame that started the collection; before, the
    # collector's native frames tell, when the python names them (.symtab or debug info).
    print("%s: gc %r" % (gcrun.python.label, gc))
    must_know = tuple(gcrun.truth["python"]["version_info"][:2]) >= (3, 15) or \
        elf_has_symtab(a["target"]["python"]["path"])
    if must_know:
        assert gc["collector_tid"] == gcrun.truth["collector_tid"], gc
    else:
        assert gc["collector_tid"] in (None, gcrun.truth["collector_tid"]), gc


def test_collector_stack_inside_del(gcrun):
    got = by_tid(need_analysis(gcrun))
    tid = gcrun.truth["collector_tid"]
    assert tid in got and len(got[tid]) == 1
    t = got[tid][0]
    want = [(f["function"], f["file"], f["line"]) for f in gcrun.truth["collector_frames"]]
    have = python_frames(t)
    assert have == want, "collector frames:\n%s\nwant:\n%s" % (fmt_frames(have), fmt_frames(want))
    assert "__del__" in [f[0] for f in have]
    assert t["name"] == "collector" and t["daemon"] is True
    assert t["state"] == "sleeping", t["state"]


def test_collection_in_text_output(gcrun):
    need_analysis(gcrun)
    text = gcrun.text_res.stdout.decode("utf-8")
    assert re.search(r"(?m)^GC: collecting(, in thread %d)?$" % gcrun.truth["collector_tid"], text), text[:2000]


# --- subinterpreters ---------------------------------------------------------------------

def need_subinterpreters(r):
    a = need_analysis(r)
    if r.truth.get("module") is None:
        pytest.skip("%s has no _interpreters/_xxsubinterpreters module" % r.python.label)
    return a


def need_running_thread_anchor(r, request):
    """3.8/3.9 run a subinterpreter's code on the interpreter's first thread state (the
    creating thread's ids) and keep nothing on the running thread's C stack that pysnap
    could match (3.10-3.12 have tstate->cframe; 3.13+ make a state per thread). The test
    still runs there, as a strict xfail: if it starts passing, that is news."""
    if tuple(r.truth["python"]["version_info"][:2]) < (3, 10):
        request.node.add_marker(pytest.mark.xfail(
            strict=True, reason="3.8/3.9: a subinterpreter's running thread cannot be told "
            "from the thread that created the interpreter (README: Subinterpreters)"))


def interp_by_id(a, ident):
    found = [i for i in a["interpreters"] if i["id"] == ident]
    assert len(found) == 1, "interpreter %d listed %d times (ids %s)" % (
        ident, len(found), [i["id"] for i in a["interpreters"]])
    return found[0]


def test_every_interpreter_listed(sub):
    a = need_subinterpreters(sub)
    ids = sorted(i["id"] for i in a["interpreters"])
    want = sorted([0, sub.truth["sleepy"]["id"], sub.truth["spinny"]["id"]])
    assert ids == want, "interpreter ids %s, want %s" % (ids, want)


def test_subinterpreter_thread_listed_under_its_interpreter(sub, request):
    a = need_subinterpreters(sub)
    need_running_thread_anchor(sub, request)
    s = sub.truth["sleepy"]
    interp = interp_by_id(a, s["id"])
    mine = [t for t in interp["threads"] if t["tid"] == s["tid"]]
    assert len(mine) == 1, "interpreter %d threads: %s" % (
        s["id"], [(t["tid"], t["name"]) for t in interp["threads"]])
    t = mine[0]
    want = [(f["function"], f["file"], f["line"]) for f in s["frames"]]
    assert python_frames(t) == want, "frames in the subinterpreter:\n%s" % fmt_frames(python_frames(t))
    assert t["name"] == "sub-sleeper", t["name"]
    assert t["state"] == "sleeping" and not t["holds_gil"], (t["state"], t["holds_gil"])
    # The same OS thread, in the main interpreter: the call that entered the subinterpreter.
    main = interp_by_id(a, 0)
    outer = [t for t in main["threads"] if t["tid"] == s["tid"]]
    assert len(outer) == 1
    assert python_frames(outer[0])[0][0] == sub.truth["runner_function"], python_frames(outer[0])
    # No thread state of a subinterpreter carries the main thread's tid.
    for i in a["interpreters"]:
        if i["id"] != 0:
            assert sub.truth["main_tid"] not in [x["tid"] for x in i["threads"]], \
                "interpreter %d lists the main thread" % i["id"]


def test_each_interpreter_gil(sub, request):
    a = need_subinterpreters(sub)
    need_running_thread_anchor(sub, request)
    p = sub.truth["spinny"]
    spinny = interp_by_id(a, p["id"])
    spinner = [t for t in spinny["threads"] if t["tid"] == p["tid"]]
    assert len(spinner) == 1
    assert python_frames(spinner[0])[0][0] == p["function"], python_frames(spinner[0])
    own_gil = tuple(sub.truth["python"]["version_info"][:2]) >= (3, 12)
    gils = dict((i["id"], i["gil"]) for i in a["interpreters"])
    if free_threaded(sub.python):
        # No GIL at all: each interpreter says so, and the spinner runs.
        assert all(g is None for g in gils.values()), gils
        assert all(i.get("gil_reason") == FREE_THREADED_GIL_REASON for i in a["interpreters"])
        assert spinner[0]["state"] == "running" and not spinner[0]["holds_gil"], spinner[0]
        assert spinner[0]["thread_state"] == "attached", spinner[0]
        return
    assert all(g is not None for g in gils.values()), gils
    for ident, g in gils.items():
        assert g["shared"] is (not own_gil), "interpreter %d gil %r" % (ident, g)
    if own_gil:
        # Nothing else competes for the spinner's own GIL: it holds it.
        assert spinny["gil"]["locked"] and spinny["gil"]["holder_tid"] == p["tid"], spinny["gil"]
        assert spinner[0]["holds_gil"] and spinner[0]["state"] == "running"
        assert interp_by_id(a, 0)["gil"]["holder_tid"] != p["tid"]
    else:
        # One GIL for all (the target's second thread rests there, see the target): whoever
        # holds it is named the same in every interpreter.
        assert len(set(json.dumps(g, sort_keys=True) for g in gils.values())) == 1, gils


def test_text_groups_threads_by_interpreter(sub, request):
    need_subinterpreters(sub)
    need_running_thread_anchor(sub, request)
    text = sub.text_res.stdout.decode("utf-8")
    blocks = dict((int(m.group(1)), m.group(0)) for m in
                  re.finditer(r"(?ms)^Interpreter (\d+).*?(?=^Interpreter |\Z)", text))
    s = sub.truth["sleepy"]
    block = blocks.get(s["id"])
    assert block, "no block for interpreter %d in:\n%s" % (s["id"], text)
    assert re.search(r'(?m)^Thread %d "sub-sleeper"' % s["tid"], block), block
    assert "in park_in_subinterp" in block, block
    assert "in park_in_subinterp" not in blocks.get(0, ""), blocks.get(0)


# --- JSON schema -------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["many", "gcrun", "sub"])
def test_json_matches_schema(python, request, which):
    """names, daemon, name_source, gc, per-interpreter gil: exactly as doc/schema.json says."""
    schema_util.check(need_analysis(request.getfixturevalue(which)))
