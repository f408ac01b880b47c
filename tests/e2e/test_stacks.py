"""End to end: capture the threads target with pysnap and compare the analysis with the
truth the target took of itself (sys._current_frames()), exactly.

One capture per interpreter (a module-scoped fixture); each test checks one promise.
"""

E2E_WITH_OLD_PYENV = True  # 3.6-3.10 too (frame objects)

import datetime
import difflib
import json
import os
import re
import shlex
import stat
import subprocess
from collections import Counter

import pytest

from e2e_util import (PYSNAP_TIMEOUT, THREADS_TARGET, TargetRunner, all_threads, describe,
                      proc_tids, python_frames, run_pysnap, thread_states, truth_frames,
                      wait_for_tids)
import schema_util


class Run(object):
    """Everything one capture of the threads target produced."""


@pytest.fixture(scope="module")
def run(python, pysnap_bin, tmp_path_factory):
    python.info()  # a present interpreter that does not run fails here, with the reason
    base = tmp_path_factory.mktemp("stacks-%s" % python.label)
    runner = TargetRunner(base / "targets")
    try:
        proc, truth = runner(python, THREADS_TARGET)
        r = Run()
        r.python, r.proc, r.truth = python, proc, truth
        r.truth_tids = set(truth["tids"])
        r.truth_by_tid = dict((t["tid"], t) for t in truth["threads"])
        # The reporter thread has exited once its tid is gone: only then capture.
        r.tasks_before = wait_for_tids(proc.pid, r.truth_tids)
        r.snap = base / "threads.snap"
        # umask 0: a 0600 snapshot must come from pysnap itself, not from our umask.
        r.capture = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", r.snap, umask=0)
        r.states_after = thread_states(proc.pid)
        r.tasks_after = proc_tids(proc.pid)
        r.alive_after = proc.poll() is None
        r.json_res = r.text_res = r.analysis = None
        if r.capture.returncode == 0 and r.snap.exists():
            r.json_res = run_pysnap(pysnap_bin, "analyze", r.snap, "--json")
            r.text_res = run_pysnap(pysnap_bin, "analyze", r.snap)
            if r.json_res.returncode == 0:
                try:
                    r.analysis = json.loads(r.json_res.stdout.decode("utf-8"))
                except ValueError as e:
                    r.analysis_error = "analyze --json printed no valid JSON: %s\n%s" % (e, describe(r.json_res))
        yield r
    finally:
        runner.close()


def need_capture(r):
    if r.capture.returncode != 0:
        pytest.fail("capture failed: %s" % describe(r.capture), pytrace=False)
    if not r.snap.exists():
        pytest.fail("capture exited 0 but wrote no %s" % r.snap, pytrace=False)


def need_analysis(r):
    need_capture(r)
    if r.json_res.returncode != 0:
        pytest.fail("analyze --json failed: %s" % describe(r.json_res), pytrace=False)
    if r.analysis is None:
        pytest.fail(r.analysis_error, pytrace=False)
    return r.analysis


def threads_by_tid(analysis):
    threads = all_threads(analysis)
    counts = Counter(t.get("tid") for t in threads)
    dups = sorted(tid for tid, n in counts.items() if n > 1)
    assert not dups, "threads listed more than once: %s" % dups
    return dict((t.get("tid"), t) for t in threads)


def fmt_frames(frames, lo, hi):
    return "\n".join("  [%d] %s  %s:%s" % (i, fn, fl, ln)
                     for i, (fn, fl, ln) in enumerate(frames) if lo <= i < hi)


def frames_mismatch(tid, name, want, got):
    """A readable account of where two frame lists first differ."""
    i = 0
    while i < min(len(want), len(got)) and want[i] == got[i]:
        i += 1
    return ("thread %s (%s): %d python frames expected, %d reported; first difference at [%d]\n"
            " expected:\n%s\n reported:\n%s" % (tid, name, len(want), len(got), i,
                                                 fmt_frames(want, i - 2, i + 3) or "  (none)",
                                                 fmt_frames(got, i - 2, i + 3) or "  (none)"))


# --- capture -----------------------------------------------------------------------------

def test_capture_prints_one_line_naming_the_file(run):
    need_capture(run)
    out = run.capture.stdout.decode("utf-8", "replace")
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n"), "capture must print exactly one line: %r" % out
    line = lines[0]
    assert str(run.snap) in line, "capture's line does not name %s: %r" % (run.snap, line)
    counts = set([len(run.truth_tids), sum(1 for t in run.truth["threads"] if t["python"])])
    assert any(re.search(r"(?<![\d.])%d(?![\d.])" % n, line) for n in counts), \
        "capture's line shows no thread count (%s): %r" % (" or ".join(map(str, sorted(counts))), line)
    assert "ms" in line, "capture's line shows no pause in ms: %r" % line


def test_snapshot_mode_is_0600(run):
    need_capture(run)
    st = os.stat(str(run.snap))
    assert stat.S_ISREG(st.st_mode), "%s is not a regular file" % run.snap
    assert stat.S_IMODE(st.st_mode) == 0o600, \
        "snapshot mode is %o, want 600 (capture ran with umask 0)" % stat.S_IMODE(st.st_mode)


def test_no_thread_stopped_after_capture(run):
    assert run.alive_after, "the target died during the capture (exit %s)" % run.proc.returncode
    assert run.tasks_after == run.truth_tids, \
        "the target's threads changed during the capture: %s -> %s" % (sorted(run.truth_tids), sorted(run.tasks_after))
    stopped = dict((tid, s) for tid, s in run.states_after.items() if s in "tT")
    assert not stopped, "threads left stopped after the capture (tid: state): %s" % stopped
    # and still not stopped a moment later
    stopped = dict((tid, s) for tid, s in thread_states(run.proc.pid).items() if s in "tT")
    assert not stopped, "threads stopped after the capture (tid: state): %s" % stopped


# --- analyze --json ----------------------------------------------------------------------

def test_target_metadata(run):
    a = need_analysis(run)
    assert isinstance(a.get("pysnap", {}).get("version"), str) and a["pysnap"]["version"], a.get("pysnap")
    target = a["target"]
    assert target["pid"] == run.proc.pid
    assert isinstance(target.get("host"), str) and target["host"], target.get("host")
    captured_at = target["captured_at"]
    try:
        datetime.datetime.fromisoformat(captured_at.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        pytest.fail("captured_at is not ISO-8601: %r" % (captured_at,))
    pause = target["pause_us"]
    assert isinstance(pause, int) and not isinstance(pause, bool) and 0 <= pause < 2000000, \
        "pause_us should be an int of microseconds under 2 s: %r" % (pause,)
    py = target["python"]
    want = run.truth["python"]
    plain = "%d.%d.%d" % tuple(want["version_info"][:3])
    assert py["version"] in (want["version"], plain), \
        "python version %r, the target says %r" % (py["version"], want["version"])
    assert py["implementation"] == "cpython"
    interps = a["interpreters"]
    assert interps, "no interpreters"
    ids = [i.get("id") for i in interps]
    assert 0 in ids and len(set(ids)) == len(ids), "interpreter ids %s" % ids


def test_json_matches_schema(run):
    schema_util.check(need_analysis(run))


def test_every_os_thread_once(run):
    a = need_analysis(run)
    assert run.tasks_before == run.truth_tids  # the fixture waited for this
    assert run.tasks_after == run.truth_tids, "/proc/PID/task after capture: %s" % sorted(run.tasks_after)
    got = threads_by_tid(a)
    assert set(got) == run.truth_tids, "tids: missing %s, extra %s" % (
        sorted(run.truth_tids - set(got)), sorted(set(got) - run.truth_tids))


def test_thread_names(run):
    got = threads_by_tid(need_analysis(run))
    bad = []
    for t in run.truth["threads"]:
        if not t["python"] or t["tid"] not in got:
            continue
        name = got[t["tid"]].get("name")
        if name != t["name"]:
            bad.append("tid %d: name %r, want %r" % (t["tid"], name, t["name"]))
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)
    main = got.get(run.truth["main_tid"], {})
    assert main.get("name") == "MainThread", main.get("name")


def test_python_frames_exact(run):
    got = threads_by_tid(need_analysis(run))
    bad = []
    for t in run.truth["threads"]:
        if t["tid"] not in got:
            bad.append("thread %d (%s) missing" % (t["tid"], t["name"]))
            continue
        want, have = truth_frames(t), python_frames(got[t["tid"]])
        if want != have:
            bad.append(frames_mismatch(t["tid"], t["name"] or t["role"], want, have))
    if bad:
        pytest.fail("python frames differ from the truth:\n" + "\n".join(bad), pytrace=False)


def test_recursion_whole(run):
    got = threads_by_tid(need_analysis(run))
    depth = run.truth["recursion_depth"]
    rec = [t for t in run.truth["threads"] if t["role"] == "recursion"]
    assert len(rec) == 1
    tid = rec[0]["tid"]
    assert tid in got, "recursing thread %d missing" % tid
    frames = python_frames(got[tid])
    target_file = rec[0]["frames"][0]["file"]
    run_len = 0
    while run_len < len(frames) and frames[run_len][:2] == ("recurse", target_file):
        run_len += 1
    assert run_len == depth, "%d consecutive recurse frames innermost, want %d" % (run_len, depth)
    assert len(frames) == len(rec[0]["frames"]), "%d frames, want %d" % (len(frames), len(rec[0]["frames"]))


def test_threads_unknown_to_python_have_no_python_frames(run):
    native = [t for t in run.truth["threads"] if not t["python"]]
    if not native:
        pytest.skip("the target has no native-only thread (no ctypes?)")
    got = threads_by_tid(need_analysis(run))
    for t in native:
        assert t["tid"] in got, "native thread %d missing" % t["tid"]
        assert python_frames(got[t["tid"]]) == [], got[t["tid"]]


# --- analyze (text) ----------------------------------------------------------------------

def test_text_output(run):
    need_capture(run)
    res = run.text_res
    assert res.returncode == 0, "analyze failed: %s" % describe(res)
    text = res.stdout.decode("utf-8")
    bad = []
    for t in run.truth["threads"]:
        if not re.search(r"(?<!\d)%d(?!\d)" % t["tid"], text):
            bad.append("tid %d not shown" % t["tid"])
        if t["name"] is not None and t["name"] not in text:
            bad.append("name %r of tid %d not shown" % (t["name"], t["tid"]))
        if t["frames"]:
            f = t["frames"][0]
            line = 'File "%s", line %d, in %s' % (f["file"], f["line"], f["function"])
            if line not in text:
                bad.append("innermost frame of tid %d not shown as: %s" % (t["tid"], line))
    if bad:
        pytest.fail("\n".join(bad) + "\n--- analyze output (head) ---\n" + text[:3000], pytrace=False)


# --- capturing again ---------------------------------------------------------------------

def test_second_capture_gives_the_same_stacks(python, pysnap_bin, run_target, tmp_path):
    """Two captures in a row of a fresh target: both exact, the target unharmed between."""
    proc, truth = run_target(python, THREADS_TARGET, "--no-native-thread")
    wait_for_tids(proc.pid, truth["tids"])
    want = dict((t["tid"], (t["name"], truth_frames(t))) for t in truth["threads"])
    for i in (1, 2):
        snap = tmp_path / ("again%d.snap" % i)
        res = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap)
        assert res.returncode == 0, "capture %d: %s" % (i, describe(res))
        stopped = dict((tid, s) for tid, s in thread_states(proc.pid).items() if s in "tT")
        assert not stopped, "capture %d left threads stopped: %s" % (i, stopped)
        res = run_pysnap(pysnap_bin, "analyze", snap, "--json")
        assert res.returncode == 0, "analyze %d: %s" % (i, describe(res))
        got = dict((tid, (t.get("name"), python_frames(t)))
                   for tid, t in threads_by_tid(json.loads(res.stdout.decode("utf-8"))).items())
        if got != want:
            bad = [frames_mismatch(tid, want[tid][0], want[tid][1], got.get(tid, (None, []))[1])
                   for tid in sorted(want) if want[tid] != got.get(tid)]
            pytest.fail("capture %d differs from the truth (tids %s vs %s):\n%s"
                        % (i, sorted(got), sorted(want), "\n".join(bad)), pytrace=False)
    assert proc_tids(proc.pid) == set(truth["tids"])


# --- offline: the snapshot alone is enough -----------------------------------------------

_unshare_flags = {}


def unshare_flags():
    """The unshare flags this host permits: a mount namespace plus, where allowed, a PID
    namespace with its own /proc (so the live target is out of sight). None if neither."""
    if "flags" not in _unshare_flags:
        _unshare_flags["flags"], _unshare_flags["why"] = None, ""
        for flags in (["-m", "-p", "-f", "--mount-proc"], ["-m"]):
            try:
                res = subprocess.run(["unshare"] + flags + ["sh", "-c", "mount -t tmpfs none /mnt"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, timeout=20)
            except (OSError, subprocess.TimeoutExpired) as e:
                _unshare_flags["why"] = str(e)
                continue
            if res.returncode == 0:
                _unshare_flags["flags"] = flags
                break
            _unshare_flags["why"] = res.stderr.decode("utf-8", "replace").strip()
    return _unshare_flags["flags"], _unshare_flags["why"]


def test_offline_analysis_same_json(run, pysnap_bin, tmp_path):
    a = need_analysis(run)
    flags, why = unshare_flags()
    if flags is None:
        pytest.skip("unshare -m is not permitted here: %s" % why)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    script = ["set -e"]
    for op, path in run.python.hide_plan():
        q = shlex.quote(path)
        if op == "tmpfs":
            script.append("mount -t tmpfs pysnap-offline %s" % q)
            script.append('test -z "$(ls -A %s)" || { echo "offline-setup: %s still visible" >&2; exit 97; }' % (q, q))
        else:
            script.append("mount --bind %s %s" % (shlex.quote(str(empty)), q))
            script.append('test ! -s %s || { echo "offline-setup: %s still visible" >&2; exit 97; }' % (q, q))
    if "-p" in flags:  # own PID namespace and /proc: the live target is out of reach
        script.append('test ! -e /proc/%d || { echo "offline-setup: target %d still visible" >&2; exit 97; }'
                      % (run.proc.pid, run.proc.pid))
    script.append('exec "$@"')
    cmd = ["unshare"] + flags + ["sh", "-c", "\n".join(script), "sh",
                                 pysnap_bin, "analyze", str(run.snap), "--json"]
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=PYSNAP_TIMEOUT, cwd=str(tmp_path))
    assert res.returncode != 97, "could not hide the interpreter: %s" % describe(res)
    assert res.returncode == 0, "offline analyze failed (hid %s; unshare %s): %s" % (
        run.python.hide_plan(), " ".join(flags), describe(res))
    offline = json.loads(res.stdout.decode("utf-8"))
    if offline != a:
        diff = difflib.unified_diff(json.dumps(a, indent=1, sort_keys=True).splitlines(),
                                    json.dumps(offline, indent=1, sort_keys=True).splitlines(),
                                    "online", "offline", lineterm="", n=2)
        pytest.fail("offline analysis differs (hid %s):\n%s" % (run.python.hide_plan(), "\n".join(list(diff)[:80])),
                    pytrace=False)
