"""pysnap safety: the target is never left stopped, and hostile snapshots never crash analyze.

Contract tested (README, DESIGN "Hard rules"):
  * capture freezes with PTRACE_SEIZE + PTRACE_INTERRUPT: if pysnap dies in any way while the
    target is frozen (SIGKILL included), the kernel resumes every thread, and no file appears
    (neither the final name nor a temporary .NAME.tmp.XXXXXX: the file is written after the
    thaw);
  * SIGINT/SIGTERM/SIGHUP while frozen: the target resumes, pysnap exits non-zero, no file;
  * the same with 2000 threads: a capture keeps every thread, SIGKILL or SIGTERM while all
    are frozen resumes every one;
    the same signals while the file is written (after the thaw) remove the temporary file;
  * a target that exits (or churns threads) during capture gives a snapshot or one clear error
    line, never a hang; a target killed after the freeze, before the walk, gets "process N
    exited during the capture"; while native threads are born without pause, a held freeze
    stops every thread (no birth counted while frozen) and every Python thread of the
    snapshot was frozen;
  * a target already traced (strace) is refused with exit 1 and a message naming the tracer;
  * `pysnap analyze` on truncated, bit-flipped, zeroed, extended or foreign files never dies of
    a signal or hangs, exits 0, 1 or 2, and prints exactly one stderr line when it fails;
    truncated files, foreign files (random ELFs, other architectures, a newer format) and
    corrupt compressed streams exit 2, with a line that names the cause;
  * a thread in uninterruptible sleep gives a partial snapshot after --timeout; a zombie, a
    process whose main thread alone has exited, a target traced by gdb or strace, an existing output file (without --force), a full
    filesystem and an I/O error (EIO injected by strace into write or fsync) each give one
    clear error and leave no file; a permission error names root, CAP_SYS_PTRACE,
    --cap-add=SYS_PTRACE and kernel.yama.ptrace_scope; the file is mode 0600 under umask 0;
    a target in another mount namespace is captured through /proc/PID/root.

PYSNAP_TEST_HOLD_MS=N (test only) keeps the capture frozen N ms after its walk, and
PYSNAP_TEST_HOLD_BEFORE_WALK_MS=N before it, which gives a test time to act while the
target is stopped. PYSNAP_TEST_SLOWDOWN (sanitizer builds: 3) scales the native-churn test's
time limits. Runtime: about a minute and a half.
"""

import json
import os
import random
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from proc_util import extra_pythons
from safety_util import (Target, capture_output, check_one_error_line, describe, start_capture,
                         thread_states, tracer_pid)

KILL_ROUNDS = 20
SLOWDOWN = float(os.environ.get("PYSNAP_TEST_SLOWDOWN") or 1)  # sanitizer builds: 3
HOLD_MS = 2000
CAPTURE_TIMEOUT = 30.0   # a capture that is not killed must end by then (hold included)
ANALYZE_TIMEOUT = 20.0


def listing(d):
    return sorted(p.name for p in Path(d).iterdir())


def wait_exit(proc, timeout, what):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("%s: pysnap did not exit within %.0f s (hang)" % (what, timeout),
                    pytrace=False)


def freeze_or_fail(target, capture, workdir, what):
    if not target.wait_frozen(capture):
        if capture.poll() is None:
            capture.kill()
            capture.wait()
        out, err = capture_output(workdir)
        pytest.fail("%s: the target was never seen frozen (all threads in 't'); capture "
                    "exit %s, stderr %r" % (what, capture.returncode, err[-2000:]), pytrace=False)


# --- (a) SIGKILL while frozen ----------------------------------------------------------

def test_sigkill_while_frozen_resumes_target(pysnap_bin, target_python, spawn, tmp_path):
    target = Target(spawn, target_python, tmp_path / "target")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for i in range(KILL_ROUNDS):
        what = "round %d/%d" % (i + 1, KILL_ROUNDS)
        work = tmp_path / ("round%02d" % i)
        work.mkdir()
        capture = start_capture(pysnap_bin, target.pid, out_dir / "k.snap", work, hold_ms=HOLD_MS)
        try:
            freeze_or_fail(target, capture, work, what)
            # Frozen means frozen: the counter must not move while every thread is stopped.
            before = target.count()
            time.sleep(0.2)
            assert target.count() == before, "%s: the counter moved while frozen" % what
            assert capture.poll() is None, "%s: pysnap exited before the kill" % what
            capture.send_signal(signal.SIGKILL)
            rc = wait_exit(capture, 10, what)
        finally:
            if capture.poll() is None:
                capture.kill()
                capture.wait()
        assert rc == -signal.SIGKILL, "%s: pysnap exit %s, want killed by SIGKILL" % (what, rc)
        target.assert_not_stopped(what)
        target.assert_progress(what)
        assert tracer_pid(target.pid) == 0, "%s: the target is still traced" % what
        assert listing(out_dir) == [], "%s: files left in the output dir: %s" % (
            what, listing(out_dir))


# --- (b) SIGINT / SIGTERM while frozen -------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_while_frozen(pysnap_bin, target_python, spawn, tmp_path, sig):
    target = Target(spawn, target_python, tmp_path / "target")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    hold = 1000
    capture = start_capture(pysnap_bin, target.pid, out_dir / "s.snap", tmp_path, hold_ms=hold)
    try:
        freeze_or_fail(target, capture, tmp_path, sig.name)
        sent = time.monotonic()
        capture.send_signal(sig)
        # The signal waits for the thaw (it is blocked while frozen), then ends pysnap.
        rc = wait_exit(capture, hold / 1000.0 + 10, sig.name)
        took = time.monotonic() - sent
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait()
    out, err = capture_output(tmp_path)
    assert rc != 0, "%s: pysnap exited 0 (stdout %r)" % (sig.name, out)
    assert took < hold / 1000.0 + 5, "%s: pysnap took %.1f s to act on the signal" % (
        sig.name, took)
    target.assert_not_stopped(sig.name)
    target.assert_progress(sig.name)
    assert listing(out_dir) == [], "%s: files left in the output dir: %s" % (
        sig.name, listing(out_dir))


# --- (b2) the same at scale: 2000 threads ---------------------------------------------

MANY_THREADS = 2000
MANY_HOLD_MS = 4000  # room for reading 2000 threads' states twice while it is frozen


def test_many_threads_capture_kill_and_signal(pysnap_bin, target_python, spawn, tmp_path):
    """A target with 2000 more threads parked in time.sleep (a large thread pool): a capture
    stops and resumes every thread and keeps them all; SIGKILL of pysnap while it holds all
    of them frozen resumes every one; so does SIGTERM, which pysnap acts on after the thaw.
    Each with the freeze made by one tracer thread and by two (snap/freeze_split.c, forced
    with PYSNAP_FREEZE_SPLIT_MIN=0: a tracee belongs to the thread that seized it)."""
    target = Target(spawn, target_python, tmp_path / "target",
                    modes=("sleepers=%d" % MANY_THREADS,))
    nthreads = len(thread_states(target.pid))
    assert nthreads >= MANY_THREADS + 3, "the target has %d threads" % nthreads
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "many.snap"
    strategies = (("serial", "1000000000"), ("split", "0"))
    for name, split_min in strategies:
        what = "capture of %d threads (%s)" % (nthreads, name)
        work = tmp_path / name
        work.mkdir()
        capture = start_capture(pysnap_bin, target.pid, output, work,
                                env={"PYSNAP_FREEZE_SPLIT_MIN": split_min})
        rc = wait_exit(capture, CAPTURE_TIMEOUT, what)
        out, err = capture_output(work)
        assert rc == 0, "%s: exit %s, stderr %r" % (what, rc, err)
        summary = out.decode(errors="replace")
        assert (", %d threads," % nthreads) in summary and "PARTIAL" not in summary, summary
        res = subprocess.run([pysnap_bin, "analyze", str(output), "--json"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=ANALYZE_TIMEOUT * 3)
        assert res.returncode == 0, describe(res)
        tids = [th["tid"] for it in json.loads(res.stdout)["interpreters"]
                for th in it["threads"]]
        assert len(tids) == nthreads, "%s: the snapshot has %d Python threads of %d" % (
            what, len(tids), nthreads)
        target.assert_not_stopped(what)
        assert tracer_pid(target.pid) == 0, "%s: the target is still traced" % what
        target.assert_progress(what)
        output.unlink()
    rounds = [(sig, s) for s in strategies for sig in (signal.SIGKILL, signal.SIGTERM)]
    for i, (sig, (name, split_min)) in enumerate(rounds):
        what = "%d threads, %s while frozen (%s)" % (nthreads, sig.name, name)
        work = tmp_path / ("k%d" % i)
        work.mkdir()
        capture = start_capture(pysnap_bin, target.pid, output, work, hold_ms=MANY_HOLD_MS,
                                env={"PYSNAP_FREEZE_SPLIT_MIN": split_min})
        try:
            freeze_or_fail(target, capture, work, what)
            before = target.count()
            # One tracer thread of pysnap holds every thread, or two hold half each.
            tracers = set(tracer_pid(t) for t in thread_states(target.pid))
            assert len(tracers) == (2 if name == "split" else 1) and 0 not in tracers, (
                "%s: the threads' tracers are %s" % (what, sorted(tracers)))
            time.sleep(0.2)
            assert target.count() == before, "%s: the counter moved while frozen" % what
            capture.send_signal(sig)
            rc = wait_exit(capture, MANY_HOLD_MS / 1000.0 + 10, what)
        finally:
            if capture.poll() is None:
                capture.kill()
                capture.wait()
        assert rc == -sig, "%s: pysnap exit %s, want killed by %s" % (what, rc, sig.name)
        target.assert_not_stopped(what, timeout=10.0)
        target.assert_progress(what)
        for tid in [t for t in thread_states(target.pid)][:50] + [target.pid]:
            assert tracer_pid(tid) == 0, "%s: thread %d is still traced" % (what, tid)
        assert listing(out_dir) == [], "%s: files left: %s" % (what, listing(out_dir))


def strace_or_skip():
    """strace's path, or skip when it is absent or cannot trace here."""
    strace = shutil.which("strace")
    if not strace:
        pytest.skip("strace is not installed")
    probe = subprocess.run([strace, "-qq", "-o", "/dev/null", "true"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if probe.returncode != 0:  # e.g. ptrace forbidden by a seccomp profile
        pytest.skip("strace cannot trace here: %s" % probe.stderr.decode(errors="replace"))
    return strace


def env_for_strace():
    """pysnap's environment under strace: LeakSanitizer stops the process with ptrace at
    exit, which fails when strace traces it."""
    env = dict(os.environ)
    if env.get("ASAN_OPTIONS"):
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    return env


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_while_writing_removes_temp(pysnap_bin, target_python, spawn, tmp_path, sig):
    """A signal after the thaw, while the file is being written (strace delays fsync by 3 s
    with the temporary file complete): pysnap dies of the signal and removes its temporary
    file; nothing is left under the final name."""
    strace = strace_or_skip()
    target = Target(spawn, target_python, tmp_path / "target")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "w.snap"
    tracer = spawn([strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync", "-e",
                    "inject=fsync:delay_enter=3000000", pysnap_bin, "capture", "--pid",
                    target.pid, "-o", output], stderr=subprocess.PIPE, env=env_for_strace(),
                   start_new_session=False)
    deadline = time.monotonic() + 10 * SLOWDOWN
    while not [n for n in listing(out_dir) if n.startswith(".w.snap.tmp.")]:
        assert tracer.poll() is None, "pysnap ended before writing: %s" % (
            tracer.stderr.read().decode(errors="replace"))
        assert time.monotonic() < deadline, "no .w.snap.tmp.XXXXXX appeared: %s" % (
            listing(out_dir))
        time.sleep(0.01)
    kids = children_of(tracer.pid)
    assert len(kids) == 1, "strace's children: %s" % kids
    os.kill(kids[0], sig)
    try:
        tracer.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("pysnap did not end within 10 s of %s" % sig.name, pytrace=False)
    assert listing(out_dir) == [], "%s while writing left %s" % (sig.name, listing(out_dir))
    target.assert_not_stopped(sig.name)
    target.assert_progress(sig.name)


# --- (c) the target goes away, or churns, during capture -------------------------------

def check_capture_outcome(pysnap_bin, rc, work, output, what):
    """Exit 0 with a snapshot that analyze reads, or exit 1 with one error line."""
    out, err = capture_output(work)
    assert rc in (0, 1), "%s: capture exit %s, want 0 or 1; stderr %r" % (what, rc, err)
    tmp_left = [n for n in listing(output.parent) if ".tmp." in n]
    assert not tmp_left, "%s: temporary files left: %s" % (what, tmp_left)
    if rc == 1:
        check_one_error_line(err, what)
        assert not output.exists(), "%s: failed capture left %s" % (what, output)
        return None
    assert output.exists(), "%s: capture exit 0 but no %s" % (what, output)
    res = subprocess.run([pysnap_bin, "analyze", str(output), "--json"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=ANALYZE_TIMEOUT)
    assert res.returncode in (0, 1), "%s: analyze of the snapshot: %s" % (what, describe(res))
    if res.returncode == 1:
        check_one_error_line(res.stderr, what + " (analyze)")
    else:
        json.loads(res.stdout)
    return res


def kill_target_while_frozen(pysnap_bin, target, output, workdir, what, **start_kwargs):
    """Start a capture held frozen (START_KWARGS: hold_ms or env), SIGKILL the target while
    it is frozen, return pysnap's exit code."""
    capture = start_capture(pysnap_bin, target.pid, output, workdir, **start_kwargs)
    try:
        freeze_or_fail(target, capture, workdir, what)
        target.proc.kill()
        target.proc.wait(timeout=10)
        return wait_exit(capture, CAPTURE_TIMEOUT, what)
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait()


def test_target_killed_while_frozen(pysnap_bin, target_python, spawn, tmp_path):
    target = Target(spawn, target_python, tmp_path / "target")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    hold = 1500
    output = out_dir / "gone.snap"
    rc = kill_target_while_frozen(pysnap_bin, target, output, tmp_path,
                                  "target killed while frozen", hold_ms=hold)
    check_capture_outcome(pysnap_bin, rc, tmp_path, output, "target killed while frozen")


def test_target_exiting_by_itself(pysnap_bin, target_python, spawn, tmp_path):
    """Short-lived targets captured at staggered moments of their exit."""
    rng = random.Random(7)
    for i in range(8):
        what = "short-lived target %d" % i
        work = tmp_path / ("t%d" % i)
        target = Target(spawn, target_python, work / "target", lifetime=0.05 + 0.02 * i)
        time.sleep(rng.uniform(0.0, 0.06))
        output = work / "exit.snap"
        capture = start_capture(pysnap_bin, target.pid, output, work)
        rc = wait_exit(capture, CAPTURE_TIMEOUT, what)
        target.proc.wait(timeout=10)
        if rc == 1:
            # Nothing to capture any more is fine; a clear one-line error is required.
            check_one_error_line(capture_output(work)[1], what)
            assert not output.exists()
        else:
            check_capture_outcome(pysnap_bin, rc, work, output, what)


def test_thread_churn_during_capture(pysnap_bin, target_python, spawn, tmp_path):
    target = Target(spawn, target_python, tmp_path / "target", churn=True)
    for i in range(5):
        what = "churning target, capture %d" % i
        work = tmp_path / ("c%d" % i)
        work.mkdir()
        output = work / "churn.snap"
        capture = start_capture(pysnap_bin, target.pid, output, work)
        rc = wait_exit(capture, CAPTURE_TIMEOUT, what)
        check_capture_outcome(pysnap_bin, rc, work, output, what)
        target.assert_not_stopped(what)
        target.assert_progress(what)


def test_target_killed_before_walk(pysnap_bin, target_python, spawn, tmp_path):
    """SIGKILL still kills a ptrace-stopped process: a target killed after the freeze and
    before the walk makes the walk's reads fail. pysnap must say that the process exited,
    not report the failed read, and leave no file."""
    target = Target(spawn, target_python, tmp_path / "target")
    output = tmp_path / "gone.snap"
    env = {"PYSNAP_TEST_HOLD_BEFORE_WALK_MS": "1500"}
    rc = kill_target_while_frozen(pysnap_bin, target, output, tmp_path,
                                  "target killed before the walk", env=env)
    out, err = capture_output(tmp_path)
    assert rc == 1, "exit %s, want 1; stderr %r" % (rc, err)
    line = check_one_error_line(err, "target killed before the walk")
    assert ("process %d exited during the capture" % target.pid) in line, line
    assert listing(tmp_path).count("gone.snap") == 0 and not [
        n for n in listing(tmp_path) if ".tmp." in n], listing(tmp_path)


NATIVE_CHURN_ROUNDS = 10


def task_tracer(pid, tid):
    """TracerPid of one thread, or 0 (also when it is gone)."""
    try:
        with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def read_count(path):
    try:
        return int(Path(path).read_bytes().strip() or b"0")
    except (OSError, ValueError):
        return 0


def test_native_thread_churn_freeze_is_whole(pysnap_bin, target_python, spawn, tmp_path):
    """Chains of native threads, each creating its successor and ending (thread_churn.c):
    a thread is nearly always being born, and /proc/PID/task listings made meanwhile miss
    some. While the capture holds the freeze, no thread may run free (a thread born after
    the last listing and not attached would run through the walk, and its chain with it:
    births would go on); each capture ends in bounded time with a snapshot whose every
    Python thread was frozen, or one clear error."""
    so = build_helper(tmp_path, "thread_churn")
    target = Target(spawn, target_python, tmp_path / "target", modes=["native-churn=%s" % so])
    births_path = Path(str(target.counter) + ".births")
    hold = int(600 * SLOWDOWN)
    for i in range(NATIVE_CHURN_ROUNDS):
        what = "native churn, capture %d/%d" % (i + 1, NATIVE_CHURN_ROUNDS)
        work = tmp_path / ("n%d" % i)
        work.mkdir()
        output = work / "churn.snap"
        start = time.monotonic()
        capture = start_capture(pysnap_bin, target.pid, output, work, hold_ms=hold)
        try:
            # Once the main thread is stopped, wait half the hold (the freeze is long
            # complete by then) and look: every thread must be stopped.
            deadline = time.monotonic() + 10
            while thread_states(target.pid).get(target.pid) != "t":
                assert capture.poll() is None and time.monotonic() < deadline, (
                    "%s: the main thread was never seen stopped; capture exit %s, %r" % (
                        what, capture.poll(), capture_output(work)[1][-2000:]))
                time.sleep(0.002)
            time.sleep(hold / 4000.0)
            births = read_count(births_path)
            time.sleep(hold / 4000.0)
            states = thread_states(target.pid)
            births_later = read_count(births_path)
            assert capture.poll() is None, "%s: the capture ended before the hold did" % what
            # A thread born to a stopped parent is attached to pysnap before it first runs
            # (it stops at once): traced by the capture, it is not running free.
            running = dict((t, s) for t, s in states.items()
                           if s not in "tZX" and task_tracer(target.pid, t) != capture.pid)
            assert not running and births_later == births, (
                "%s: threads ran during the freeze: %d born in %.0f ms; not stopped (tid: "
                "state) %s of %d" % (what, births_later - births, hold / 4.0, running,
                                     len(states)))
            rc = wait_exit(capture, CAPTURE_TIMEOUT, what)
        finally:
            if capture.poll() is None:
                capture.kill()
                capture.wait()
        took = time.monotonic() - start
        # The default --timeout (2 s) bounds the stops; the hold and the writing add little.
        assert took < 2.0 + hold / 1000.0 + 8 * SLOWDOWN, "%s: capture took %.1f s" % (what, took)
        res = check_capture_outcome(pysnap_bin, rc, work, output, what)
        if res is not None and res.returncode == 0:
            report = json.loads(res.stdout)
            if not report["snapshot"].get("partial"):
                unfrozen = [th["tid"] for it in report["interpreters"] for th in it["threads"]
                            if th.get("tid") and th.get("os_state") is None]
                assert not unfrozen, "%s: Python threads not frozen: %s" % (what, unfrozen)
        target.assert_not_stopped(what)
        target.assert_progress(what)


# --- (d) already traced ----------------------------------------------------------------

def refused_capture(pysnap_bin, pid, output, what):
    """A capture of PID into OUTPUT that must fail: exit 1, one error line, no file. Returns
    (the line, the seconds it took)."""
    start = time.monotonic()
    res = subprocess.run([pysnap_bin, "capture", "--pid", str(pid), "-o", str(output)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=CAPTURE_TIMEOUT)
    took = time.monotonic() - start
    assert res.returncode == 1, describe(res)
    line = check_one_error_line(res.stderr, what)
    assert not output.exists(), "%s: %s was written" % (what, output)
    return line, took


def check_refused_as_traced(pysnap_bin, target, tracer, tmp_path, what):
    """A capture of TARGET, which TRACER traces, is refused naming the tracer's pid."""
    line, _ = refused_capture(pysnap_bin, target.pid, tmp_path / "traced.snap", what)
    assert str(tracer.pid) in line, "%s: the message does not name the tracer %d: %s" % (
        what, tracer.pid, line)


def test_already_traced_by_strace(pysnap_bin, target_python, spawn, tmp_path):
    strace = shutil.which("strace")
    if not strace:
        pytest.skip("strace is not installed")
    target = Target(spawn, target_python, tmp_path / "target")
    tracer = spawn([strace, "-f", "-qq", "-o", "/dev/null", "-p", str(target.pid)],
                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while tracer_pid(target.pid) != tracer.pid:
        if tracer.poll() is not None or time.monotonic() > deadline:
            pytest.skip("strace could not attach (exit %s)" % tracer.poll())
        time.sleep(0.01)
    check_refused_as_traced(pysnap_bin, target, tracer, tmp_path, "traced by strace")
    tracer.terminate()
    tracer.wait(timeout=10)
    target.assert_not_stopped("after strace detached")
    target.assert_progress("after strace detached")


# --- (e) hostile snapshot files ---------------------------------------------------------

EM_AARCH64 = 183


def elf_layout(data):
    """Offsets in an uncompressed snapshot: phdr table, segments, notes (best effort)."""
    lay = {"phoff": 0, "phnum": 0, "segs": [], "notes": [], "meta_desc": None, "strings": None}
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return lay
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phnum, = struct.unpack_from("<H", data, 0x38)
    lay["phoff"], lay["phnum"] = phoff, phnum
    for i in range(phnum):
        base = phoff + 56 * i
        if base + 56 > len(data):
            break
        p_type, _, off, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", data, base)
        lay["segs"].append((base, p_type, off, filesz))
        if p_type != 4:
            continue
        pos, end = off, off + filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            name = data[pos + 12:pos + 12 + namesz]
            desc = pos + 12 + ((namesz + 3) & ~3)
            lay["notes"].append(pos)
            if name == b"PYSNAP\0" and ntype == 0x5001:
                lay["meta_desc"] = desc
            if name == b"PYSNAP\0" and ntype == 0x5002:
                lay["strings"] = (desc, descsz)
            pos = desc + ((descsz + 3) & ~3)
    return lay


def patched(data, off, fmt, value):
    b = bytearray(data)
    if 0 <= off and off + struct.calcsize(fmt) <= len(b):
        struct.pack_into(fmt, b, off, value)
    return bytes(b)


def mutants(name, data, rng):
    """(label, bytes) mutants of one real snapshot."""
    n = len(data)
    raw = data[:4] == b"\x7fELF"
    out = []
    # Truncated at many points, and at the structure's boundaries.
    cuts = set(range(0, n, max(1, n // 40))) | set(range(0, 9)) | {n - 1, n - 2}
    if raw:
        lay = elf_layout(data)
        cuts |= {63, 64, lay["phoff"] + 56 * lay["phnum"] - 1, lay["phoff"] + 56 * lay["phnum"]}
        for _, _, off, filesz in lay["segs"][:6] + lay["segs"][-2:]:
            cuts |= {off, off + 1, off + filesz - 1}
    for c in sorted(x for x in cuts if 0 <= x < n):
        out.append(("%s-cut%d" % (name, c), data[:c]))
    # Bit flips, half of them in the first 2 KB (headers, notes).
    for i in range(120 if raw else 50):
        pos = rng.randrange(min(n, 2048)) if i % 2 else rng.randrange(n)
        b = bytearray(data)
        b[pos] ^= 1 << rng.randrange(8)
        out.append(("%s-flip%d@%d" % (name, i, pos), bytes(b)))
    # A few random bytes overwritten with random values, 0xff or 0x00.
    for i in range(30 if raw else 10):
        b = bytearray(data)
        pos = rng.randrange(n)
        k = rng.randint(1, 8)
        fill = rng.choice([None, 0xff, 0x00])
        for j in range(pos, min(n, pos + k)):
            b[j] = rng.randrange(256) if fill is None else fill
        out.append(("%s-bytes%d@%d" % (name, i, pos), bytes(b)))
    # Zeroed blocks.
    for i in range(20 if raw else 10):
        size = rng.choice([16, 64, 256, 1024, 4096])
        pos = rng.randrange(n)
        out.append(("%s-zero%d@%d+%d" % (name, i, pos, size),
                    data[:pos] + b"\0" * min(size, n - pos) + data[pos + size:]))
    # Junk appended.
    for label, junk in (("rand", bytes(rng.randrange(256) for _ in range(777))),
                        ("zeros", b"\0" * 4096), ("self", data),
                        ("zstdmagic", b"\x28\xb5\x2f\xfd" + b"\x01" * 64), ("elf", b"\x7fELF")):
        out.append(("%s-append-%s" % (name, label), data + junk))
    if not raw:
        return out
    # Targeted header and note fields.
    lay = elf_layout(data)
    for label, off, fmt, v in (
            ("phnum-max", 0x38, "<H", 0xffff), ("phnum-0", 0x38, "<H", 0),
            ("phoff-huge", 0x20, "<Q", 1 << 62), ("phoff-end", 0x20, "<Q", n - 10),
            ("phentsize-0", 0x36, "<H", 0), ("phentsize-1", 0x36, "<H", 1),
            ("phentsize-max", 0x36, "<H", 0xffff), ("shoff-huge", 0x28, "<Q", 1 << 62),
            ("shnum-max", 0x3c, "<H", 0xffff), ("type-exec", 0x10, "<H", 2)):
        out.append(("%s-%s" % (name, label), patched(data, off, fmt, v)))
    for idx, (base, p_type, off, filesz) in enumerate(lay["segs"][:5] + lay["segs"][-2:]):
        for label, field, fmt, v in (("off-huge", 8, "<Q", 1 << 63), ("off-end", 8, "<Q", n),
                                     ("size-max", 32, "<Q", (1 << 64) - 1),
                                     ("size-plus1", 32, "<Q", filesz + 1 if filesz else n),
                                     ("vaddr-wrap", 16, "<Q", (1 << 64) - 8),
                                     ("type-note", 0, "<I", 4), ("type-load", 0, "<I", 1)):
            out.append(("%s-seg%d-%s" % (name, idx, label), patched(data, base + field, fmt, v)))
    for idx, pos in enumerate(lay["notes"][:6]):
        for label, field, v in (("namesz-max", 0, 0xffffffff), ("descsz-max", 4, 0xffffffff),
                                ("descsz-0", 4, 0), ("namesz-0", 0, 0)):
            out.append(("%s-note%d-%s" % (name, idx, label), patched(data, pos + field, "<I", v)))
    m = lay["meta_desc"]
    if m is not None:
        for label, field, fmt, v in (("runtime-0", 32, "<Q", 0),
                                     ("runtime-max", 32, "<Q", (1 << 64) - 1),
                                     ("version-0", 40, "<I", 0),
                                     ("version-3.7", 40, "<I", 0x030700f0),
                                     ("version-3.99", 40, "<I", 0x036300f0),
                                     ("version-junk", 40, "<I", 0x0e0e0e0e),
                                     ("nthreads-max", 44, "<I", 0xffffffff),
                                     ("flags-all", 4, "<I", 0xffffffff)):
            out.append(("%s-meta-%s" % (name, label), patched(data, m + field, fmt, v)))
        for minor in (0, 8, 11, 12, 13, 14, 15):  # right memory, wrong version table
            out.append(("%s-meta-version-3.%d" % (name, minor),
                        patched(data, m + 40, "<I", 0x030000f0 | minor << 16)))
    if lay["strings"]:
        desc, size = lay["strings"]
        b = bytearray(data)
        for j in range(desc, min(n, desc + size)):  # every number in the strings at its max
            if chr(b[j]).isdigit():
                b[j] = ord("9")
        out.append(("%s-strings-9s" % name, bytes(b)))
        b = bytearray(data)
        for j in range(desc, min(n, desc + size)):  # no terminators: one unterminated record
            if b[j] == 0:
                b[j] = ord("x")
        out.append(("%s-strings-unterminated" % name, bytes(b)))
    return out


def foreign_files(raw):
    """(label, bytes, must_exit_2) inputs that are not pysnap snapshots at all."""
    items = [("empty", b"", True), ("elf-magic-only", b"\x7fELF", True),
             ("zstd-magic-only", b"\x28\xb5\x2f\xfd", True), ("text", b"hello\n" * 100, True)]
    true_bin = Path("/bin/true").read_bytes()
    items += [("bin-true", true_bin, True), ("bin-true-head", true_bin[:64], True)]
    if raw:
        items += [("other-arch", patched(raw, 0x12, "<H", EM_AARCH64), True),
                  ("other-arch-ppc64-be", patched(raw[:5] + b"\x02" + raw[6:], 0x12, ">H", 21),
                   True),
                  ("elfclass32", raw[:4] + b"\x01" + raw[5:], True),
                  ("big-endian", raw[:5] + b"\x02" + raw[6:], True)]
        m = elf_layout(raw)["meta_desc"]
        if m is not None:
            items.append(("format-major-99", patched(raw, m, "<H", 99), True))
            items.append(("format-major-2", patched(raw, m, "<H", 2), True))
    # Random ELF files: a random body behind a real header, and an x86-64 ET_CORE header
    # whose program headers are random.
    rng = random.Random(4242)
    for i in range(4):
        body = bytes(rng.randrange(256) for _ in range(rng.choice([64, 500, 4096, 20000])))
        items.append(("random-elf-%d" % i, true_bin[:16] + body[16:], True))
        hdr = bytearray(true_bin[:64])
        struct.pack_into("<HHIQQQIHHHHHH", hdr, 16, 4, 62, 1, 0, 64, 0, 0, 64, 56,
                         rng.randint(1, 40), 64, 0, 0)
        items.append(("random-elf-core-%d" % i, bytes(hdr) + body, True))
    zstd = shutil.which("zstd")
    if zstd:
        for label, payload in (("zstd-of-bin-true", true_bin),
                               ("zstd-of-text", b"not a snapshot\n" * 100)):
            res = subprocess.run([zstd, "-q", "-c"], input=payload, stdout=subprocess.PIPE,
                                 timeout=30)
            if res.returncode == 0:
                items.append((label, res.stdout, True))
    return items


def corrupt_streams(zstd_snap):
    """A real compressed snapshot with its stream damaged in the middle: the frame's content
    checksum (or the decoder) must reject it."""
    n = len(zstd_snap)
    out = []
    for frac in (0.25, 0.5, 0.75):
        pos = int(n * frac)
        b = bytearray(zstd_snap)
        for j in range(pos, min(n - 4, pos + 16)):
            b[j] ^= 0xff
        out.append(("zstd-corrupt-stream@%d" % pos, bytes(b), True))
    return out


def run_analyze(pysnap_bin, path, json_flag):
    argv = [pysnap_bin, "analyze", str(path)] + (["--json"] if json_flag else [])
    start = time.monotonic()
    try:
        res = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=ANALYZE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - start
    return res, time.monotonic() - start


def judge(res, json_flag):
    """Problems with one analyze result (empty list when fine)."""
    if res is None:
        return ["no exit within %.0f s (hang)" % ANALYZE_TIMEOUT]
    problems = []
    rc = res.returncode
    if rc < 0:
        problems.append("killed by signal %d" % -rc)
    elif rc not in (0, 1, 2):
        problems.append("exit %d, want 0, 1 or 2" % rc)
    err = res.stderr.decode("utf-8", "replace")
    if rc != 0 and rc >= 0:
        if err.count("\n") > 1 or not err.startswith("pysnap: "):
            problems.append("stderr is not one 'pysnap: ' line: %r" % err[:300])
        if res.stdout:
            problems.append("a failing analyze wrote to stdout")
    if rc == 0:
        if not res.stdout:
            problems.append("exit 0 with empty stdout")
        elif json_flag:
            try:
                json.loads(res.stdout.decode("utf-8"))
            except ValueError as e:
                problems.append("exit 0 but stdout is not JSON: %s" % e)
    return problems


def test_mutated_snapshots(pysnap_bin, real_snapshots, tmp_path):
    rng = random.Random(20261125)
    cases = []  # (label, bytes, must_exit_2)
    for name in sorted(real_snapshots):
        for label, data in mutants(name, real_snapshots[name], rng):
            # A cut anywhere leaves a file that cannot be a whole snapshot.
            cases.append((label, data, "-cut" in label))
    cases += foreign_files(real_snapshots.get("raw"))
    cases += corrupt_streams(real_snapshots["zstd"])
    assert len(cases) >= 300, "only %d mutants" % len(cases)
    mdir = tmp_path / "mutants"
    mdir.mkdir()
    paths = []
    for i, (label, data, _) in enumerate(cases):
        p = mdir / ("%04d-%s" % (i, label.replace("/", "_")))
        p.write_bytes(data)
        paths.append(p)

    jobs = [(i, j) for i in range(len(cases)) for j in (False, True)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda ij: run_analyze(pysnap_bin, paths[ij[0]], ij[1]), jobs))
    failures, slowest = [], (0.0, "")
    counts = {}
    for (i, json_flag), (res, took) in zip(jobs, results):
        label, _, must2 = cases[i]
        mode = "json" if json_flag else "text"
        problems = judge(res, json_flag)
        if must2 and res is not None and res.returncode != 2:
            problems.append("exit %d, want 2 (not a valid snapshot)" % res.returncode)
        if res is not None:
            counts[res.returncode] = counts.get(res.returncode, 0) + 1
        if took > slowest[0]:
            slowest = (took, "%s (%s)" % (label, mode))
        if problems:
            failures.append("%s [%s] %s: %s" % (paths[i].name, mode, label, "; ".join(problems)))
    print("%d files x 2 modes; exit codes %s; slowest %.2f s: %s" % (
        len(cases), dict(sorted(counts.items())), slowest[0], slowest[1]))
    if failures:
        pytest.fail("%d of %d analyze runs misbehaved (inputs kept in %s):\n  %s" % (
            len(failures), len(jobs), mdir, "\n  ".join(failures[:25])), pytrace=False)


def test_foreign_snapshot_messages(pysnap_bin, real_snapshots, tmp_path):
    """Another architecture, a newer format major, a corrupt compressed stream: exit 2 and a
    line that says which. A newer minor of the same major is read (FORMAT.md)."""
    raw = real_snapshots["raw"]
    meta = elf_layout(raw)["meta_desc"]
    assert meta is not None, "no PYSNAP meta note found in the real snapshot"
    z = bytearray(real_snapshots["zstd"])
    for j in range(len(z) // 2, len(z) // 2 + 16):
        z[j] ^= 0xff
    cases = [("aarch64", patched(raw, 0x12, "<H", EM_AARCH64), 2,
              ["another architecture", "183", "x86-64"]),
             ("elfclass32", raw[:4] + b"\x01" + raw[5:], 2, ["another architecture"]),
             ("major-99", patched(raw, meta, "<H", 99), 2, ["newer", "99", "upgrade"]),
             ("corrupt-zstd", bytes(z), 2, ["corrupt"]),
             ("minor-99", patched(raw, meta + 2, "<H", 99), 0, [])]
    for label, data, want, words in cases:
        path = tmp_path / label
        path.write_bytes(data)
        res = subprocess.run([pysnap_bin, "analyze", str(path)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=ANALYZE_TIMEOUT)
        assert res.returncode == want, "%s: %s" % (label, describe(res))
        if want:
            line = check_one_error_line(res.stderr, label)
            assert str(path) in line, "%s: the line does not name the file: %s" % (label, line)
            for w in words:
                assert w in line, "%s: %r not in %r" % (label, w, line)
            assert not res.stdout, "%s: a failing analyze wrote to stdout" % label


# --- (f) threads that cannot stop, zombies, gdb ------------------------------------------

SHORT_TIMEOUT_MS = 500   # --timeout for the captures that must give up on a thread


def children_of(pid):
    kids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


def build_helper(tmp_path, name):
    """targets/NAME.c built as a shared library the target loads with ctypes."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the %s helper (cc/gcc not found)" % name)
    so = tmp_path / ("%s.so" % name)
    src = Path(__file__).resolve().parent / "targets" / ("%s.c" % name)
    res = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-pthread", "-o", str(so), str(src)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    assert res.returncode == 0, "cannot build the %s helper: %s" % (name, describe(res))
    return so


def test_thread_in_uninterruptible_sleep(pysnap_bin, target_python, spawn, tmp_path):
    """A vfork parent waits for its child in state D: PTRACE_INTERRUPT cannot stop it. The
    capture gives up on it after --timeout with a snapshot marked partial (or one clear
    error), releases every other thread, and the D thread runs on once its child does."""
    so = build_helper(tmp_path, "vfork_hold")
    target = Target(spawn, target_python, tmp_path / "target", modes=["vfork-hold=%s" % so])
    deadline = time.monotonic() + 10
    while True:
        dthreads = [t for t, s in thread_states(target.pid).items() if s == "D"]
        kids = children_of(target.pid)
        if dthreads and kids:
            break
        assert time.monotonic() < deadline, "no thread in state D: %s" % thread_states(
            target.pid)
        time.sleep(0.01)
    child = kids[0]
    try:
        output = tmp_path / "d.snap"
        start = time.monotonic()
        capture = start_capture(pysnap_bin, target.pid, output, tmp_path,
                                extra=["--timeout", str(SHORT_TIMEOUT_MS)])
        rc = wait_exit(capture, CAPTURE_TIMEOUT, "D-state thread")
        took = time.monotonic() - start
        assert took < SHORT_TIMEOUT_MS / 1000.0 + 10, "capture took %.1f s" % took
        res = check_capture_outcome(pysnap_bin, rc, tmp_path, output, "D-state thread")
        if res is not None and res.returncode == 0:
            report = json.loads(res.stdout)
            assert report["snapshot"].get("partial") is True, "snapshot not marked partial: %s" % (
                report["snapshot"])
            seen = {th["tid"]: th["os_state"] for it in report["interpreters"]
                    for th in it["threads"]}
            assert all(seen.get(t) == "D" for t in dthreads), (
                "the D thread(s) %s are not reported in state D: %s" % (dthreads, seen))
        # Every thread but the D one runs (the D one never stopped).
        states = thread_states(target.pid)
        stopped = {t: s for t, s in states.items() if s in "tT"}
        assert not stopped, "threads left stopped: %s of %s" % (stopped, states)
        target.assert_progress("D-state thread")
        assert tracer_pid(target.pid) == 0, "the target is still traced"
    finally:
        os.kill(child, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while any(s == "D" for s in thread_states(target.pid).values()):
        assert time.monotonic() < deadline, "the vfork parent thread never left state D"
        time.sleep(0.01)
    target.assert_not_stopped("after the vfork child ran")
    target.assert_progress("after the vfork child ran")


def test_zombie_target(pysnap_bin, target_python, spawn, tmp_path):
    """An exited, unreaped process: one clear error, quickly, no file."""
    proc = spawn([target_python, "-c", "pass"])
    deadline = time.monotonic() + 10
    while True:
        st = thread_states(proc.pid)
        if st and all(s == "Z" for s in st.values()):
            break
        assert time.monotonic() < deadline, "the process never became a zombie: %s" % st
        time.sleep(0.01)
    line, took = refused_capture(pysnap_bin, proc.pid, tmp_path / "z.snap", "zombie")
    assert "zombie" in line and str(proc.pid) in line, line
    assert took < 5, "capture of a zombie took %.1f s" % took
    assert not [n for n in listing(tmp_path) if ".tmp." in n]
    assert thread_states(proc.pid), "the zombie was reaped by someone"  # still a zombie


LEADER_EXIT_SCRIPT = """
import ctypes, sys, threading, time
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
time.sleep(0.05)
sys.stdout.flush()
ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: the main thread alone ends
"""


def test_main_thread_exited(pysnap_bin, target_python, spawn, tmp_path):
    """The main thread has exited (raw exit(2)) while another still runs: the process's
    memory is no longer reachable through /proc/PID. One clear error, quickly, no file, and
    the thread left running is not stopped."""
    script = tmp_path / "leader_exit.py"
    script.write_text(LEADER_EXIT_SCRIPT)
    proc = spawn([target_python, script])
    deadline = time.monotonic() + 10
    while True:
        st = thread_states(proc.pid)
        if st.get(proc.pid) == "Z" and any(s != "Z" for t, s in st.items() if t != proc.pid):
            break
        assert proc.poll() is None and time.monotonic() < deadline, (
            "the main thread never exited alone: %s (exit %s)" % (st, proc.poll()))
        time.sleep(0.01)
    line, took = refused_capture(pysnap_bin, proc.pid, tmp_path / "leader.snap",
                                 "main thread exited")
    assert ("process %d's main thread has exited" % proc.pid) in line, line
    assert took < 5 * SLOWDOWN, "capture took %.1f s" % took
    assert not [n for n in listing(tmp_path) if ".tmp." in n]
    st = thread_states(proc.pid)
    assert not [s for s in st.values() if s in "tT"], "threads left stopped: %s" % st
    assert tracer_pid(proc.pid) == 0


def start_gdb(spawn, pid):
    gdb = shutil.which("gdb")
    if not gdb:
        pytest.skip("gdb is not installed")
    # Attach, then let the target run under gdb until the test ends.
    return spawn([gdb, "-q", "-nx", "-batch", "-p", str(pid), "-ex", "continue"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_already_traced_by_gdb(pysnap_bin, target_python, spawn, tmp_path):
    target = Target(spawn, target_python, tmp_path / "target")
    tracer = start_gdb(spawn, target.pid)
    deadline = time.monotonic() + 30
    while tracer_pid(target.pid) != tracer.pid:
        if tracer.poll() is not None or time.monotonic() > deadline:
            pytest.fail("gdb could not attach (exit %s)" % tracer.poll(), pytrace=False)
        time.sleep(0.01)
    # gdb stops every thread while it attaches; wait until it has let the target run.
    target.assert_progress("running under gdb", timeout=30)
    check_refused_as_traced(pysnap_bin, target, tracer, tmp_path, "traced by gdb")
    target.assert_progress("still running under gdb")


# --- (g) the output file ------------------------------------------------------------------

def test_refuses_to_overwrite_without_force(pysnap_bin, target_python, spawn, tmp_path):
    target = Target(spawn, target_python, tmp_path / "target")
    output = tmp_path / "exists.snap"
    output.write_bytes(b"precious\n")
    res = subprocess.run([pysnap_bin, "capture", "--pid", str(target.pid), "-o", str(output)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=CAPTURE_TIMEOUT)
    assert res.returncode == 2, describe(res)
    line = check_one_error_line(res.stderr, "existing output")
    assert "--force" in line and str(output) in line, line
    assert output.read_bytes() == b"precious\n", "the existing file was changed"
    assert not [n for n in listing(tmp_path) if ".tmp." in n]
    target.assert_not_stopped("after the refusal")
    # The refusal comes before any attach: a process that is not Python gets the same answer.
    other = spawn(["sleep", "60"])
    res = subprocess.run([pysnap_bin, "capture", "--pid", str(other.pid), "-o", str(output)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=CAPTURE_TIMEOUT)
    assert res.returncode == 2 and b"--force" in res.stderr, describe(res)
    # umask 0: a 0600 file must come from pysnap itself, not from the umask.
    res = subprocess.run([pysnap_bin, "capture", "--pid", str(target.pid), "-o", str(output),
                          "--force"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=CAPTURE_TIMEOUT, umask=0)
    assert res.returncode == 0, describe(res)
    assert output.read_bytes() != b"precious\n", "--force did not replace the file"
    assert (output.stat().st_mode & 0o777) == 0o600, oct(output.stat().st_mode)
    res = subprocess.run([pysnap_bin, "analyze", str(output), "--json"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=ANALYZE_TIMEOUT)
    assert res.returncode == 0, describe(res)
    assert json.loads(res.stdout)["target"]["pid"] == target.pid


def need_root(why):
    if os.geteuid() != 0:
        pytest.skip("%s needs root (mount/unshare); running as uid %d" % (why, os.geteuid()))


def test_enospc_leaves_no_file(pysnap_bin, target_python, spawn, tmp_path):
    need_root("the ENOSPC test (a 64 KB tmpfs)")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if res.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % res.stderr.decode(errors="replace").strip())
    try:
        # Leave about 8 KB free: far less than an uncompressed snapshot (~45 KB).
        with open(str(mnt / "filler"), "wb") as f:
            f.write(b"\0" * (56 * 1024))
        target = Target(spawn, target_python, tmp_path / "target")
        output = mnt / "full.snap"
        res = subprocess.run([pysnap_bin, "capture", "--pid", str(target.pid), "-o",
                              str(output), "--no-compress"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=CAPTURE_TIMEOUT)
        assert res.returncode == 1, describe(res)
        line = check_one_error_line(res.stderr, "ENOSPC")
        assert "space" in line.lower(), line
        assert listing(mnt) == ["filler"], "files left on the full filesystem: %s" % listing(mnt)
        target.assert_not_stopped("after ENOSPC")
        target.assert_progress("after ENOSPC")
    finally:
        subprocess.run(["umount", str(mnt)], stdin=subprocess.DEVNULL)


def sid_interpreter():
    """(env, prefix, python) of the first Debian-unstable interpreter in
    $PYSNAP_EXTRA_PYTHONS (LOADER --library-path DIR PYTHON), or None."""
    for label, env, argv in extra_pythons(os.environ.get("PYSNAP_EXTRA_PYTHONS", "")):
        if label.startswith("sid-"):
            return env, argv[:-1], argv[-1]
    return None


def test_capture_makes_no_network_requests(pysnap_bin, spawn, tmp_path):
    """With DEBUGINFOD_URLS set and a target whose libraries name separate debug files that
    are not installed (a Debian-unstable interpreter: its libc's .gnu_debuglink; elfutils'
    standard lookup then loads libdebuginfod), a capture with native stacks neither loads
    libdebuginfod nor opens a socket (strace: every openat, socket and connect of pysnap)."""
    strace = strace_or_skip()
    sid = sid_interpreter()
    if sid is None:
        pytest.skip("no Debian-unstable interpreter in $PYSNAP_EXTRA_PYTHONS "
                    "(scripts/test.sh fetches them with tools/fetch-sid-pythons.sh)")
    env, prefix, python = sid
    target = Target(spawn, python, tmp_path / "target", prefix=prefix, env=env)
    run_env = env_for_strace()
    run_env["DEBUGINFOD_URLS"] = "http://127.0.0.1:9/"
    trace = tmp_path / "strace.txt"
    output = tmp_path / "n.snap"
    res = subprocess.run([strace, "-f", "-qq", "-o", str(trace), "-e",
                          "trace=openat,socket,connect", pysnap_bin, "capture", "--pid",
                          str(target.pid), "-o", str(output)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=CAPTURE_TIMEOUT, env=run_env)
    assert res.returncode == 0 and output.exists(), describe(res)
    calls = trace.read_text(errors="replace").splitlines()
    # mapped files are opened through /proc/PID/map_files/START-END first (snap/mapped.c)
    assert any(os.path.basename(python) in c or "/%d/map_files/" % target.pid in c
               for c in calls), "the capture read no binary"
    assert not [c for c in calls if "debuginfod" in c], [c for c in calls if "debuginfod" in c]
    assert not [c for c in calls if " socket(" in c or " connect(" in c], calls
    target.assert_progress("a capture")


@pytest.mark.parametrize("syscall", ["write", "fsync"])
def test_eio_leaves_no_file(pysnap_bin, target_python, spawn, tmp_path, syscall):
    """An I/O error while the file is written (strace injects EIO into the first write, or
    into fsync): exit 1, one line naming the file and the error, neither the final name nor
    a temporary file left, the target running."""
    strace = strace_or_skip()
    target = Target(spawn, target_python, tmp_path / "target")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "eio.snap"
    res = subprocess.run([strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + syscall,
                          "-e", "inject=%s:error=EIO:when=1" % syscall, pysnap_bin, "capture",
                          "--pid", str(target.pid), "-o", str(output), "--no-compress"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=CAPTURE_TIMEOUT, env=env_for_strace())
    assert res.returncode == 1, describe(res)
    line = check_one_error_line(res.stderr, "EIO in " + syscall)
    assert str(output) in line and "Input/output error" in line, line
    assert listing(out_dir) == [], "files left after EIO: %s" % listing(out_dir)
    target.assert_not_stopped("after EIO")
    target.assert_progress("after EIO")


def test_permission_error_says_how(pysnap_bin, target_python, spawn, tmp_path):
    """pysnap run as an unprivileged user against a root-owned target: exit 1, one line that
    names the pid, what is missing (the target's uid, CAP_SYS_PTRACE), the way to get it (root)
    and yama's ptrace_scope; the target keeps running. (The container cases, where the flag
    --cap-add=SYS_PTRACE is the answer, are in tests/e2e/test_containers.py.)"""
    need_root("the permission test (runs pysnap as uid 65534)")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) is not installed")
    target = Target(spawn, target_python, tmp_path / "target")
    outdir = Path(tempfile.mkdtemp(prefix="pysnap-eperm-"))  # in /tmp: reachable by 65534
    try:
        os.chmod(str(outdir), 0o777)
        binary = outdir / "pysnap"  # a copy: the build tree may be closed to uid 65534
        shutil.copy2(pysnap_bin, str(binary))
        os.chmod(str(binary), 0o755)
        output = outdir / "x.snap"
        res = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                              "--", str(binary), "capture", "--pid", str(target.pid), "-o",
                              str(output)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=str(outdir), timeout=CAPTURE_TIMEOUT)
        assert res.returncode == 1, describe(res)
        line = check_one_error_line(res.stderr, "permission denied")
        for w in (str(target.pid), "Permission denied", "root", "CAP_SYS_PTRACE",
                  "uid 0", "uid 65534", "kernel.yama.ptrace_scope"):
            assert w in line, "%r not in the permission error: %s" % (w, line)
        assert not output.exists()
    finally:
        shutil.rmtree(str(outdir), ignore_errors=True)
    target.assert_not_stopped("after the permission error")
    target.assert_progress("after the permission error")


# --- (h) a target in another mount namespace ---------------------------------------------

def test_target_in_other_mount_namespace(pysnap_bin, target_python, spawn, tmp_path):
    """The interpreter and its libpython are visible only inside the target's private mount
    namespace (bind-mounted on an empty directory): capture must read them through
    /proc/PID/root, and the snapshot must show the target's own frames."""
    need_root("the mount namespace test")
    unshare = shutil.which("unshare")
    if not unshare:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run([unshare, "-m", "--propagation", "private", "true"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
    if probe.returncode != 0:  # e.g. inside a chroot or an unprivileged container
        pytest.skip("unshare -m is not permitted here: %s"
                    % probe.stderr.decode(errors="replace").strip())
    prefix = Path(target_python).resolve().parent.parent
    hidden = tmp_path / "hidden-prefix"
    hidden.mkdir()
    exe = hidden / "bin" / Path(target_python).resolve().name
    script = ('mount --bind "$1" "$2" && shift 2 && LD_LIBRARY_PATH="$PS_HIDDEN/lib" '
              'exec "$@"')
    target = Target(spawn, str(exe), tmp_path / "target",
                    prefix=[unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh",
                            str(prefix), str(hidden)],
                    env={"PS_HIDDEN": str(hidden)})
    assert not exe.exists(), "the bind mount leaked out of the target's namespace"
    with open("/proc/%d/maps" % target.pid) as f:
        assert str(hidden) in f.read(), "the target does not run from the hidden prefix"
    assert os.readlink("/proc/%d/ns/mnt" % target.pid) != os.readlink("/proc/self/ns/mnt")
    output = tmp_path / "ns.snap"
    res = subprocess.run([pysnap_bin, "capture", "--pid", str(target.pid), "-o", str(output)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=CAPTURE_TIMEOUT)
    assert res.returncode == 0, describe(res)
    res = subprocess.run([pysnap_bin, "analyze", str(output), "--json"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=ANALYZE_TIMEOUT)
    assert res.returncode == 0, describe(res)
    report = json.loads(res.stdout)
    funcs = set()
    for th in (th for it in report["interpreters"] for th in it["threads"]):
        for fr in th.get("frames", []):
            if fr.get("file", "").endswith("counter_target.py"):
                funcs.add(fr.get("function"))
    assert {"main", "sleeper", "blocked"} <= funcs, "frames seen: %s" % sorted(funcs)
    target.assert_not_stopped("namespace target")
    target.assert_progress("namespace target")
