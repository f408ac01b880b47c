"""End to end: native stacks, the GIL and thread states, on every interpreter.

The target (targets/native_gil_target.py) runs two threads spinning in pure Python and parks
four others (time.sleep, Lock.acquire, select.select, socket.recv) plus main (time.sleep).
Once /proc shows the picture steady (one spinner running, the other asleep on a futex), the
test captures once per interpreter and checks what a user reads:

  - exactly one spinner holds the GIL, and it is the interpreter's gil.holder_tid;
  - the other is waiting_for_gil, with take_gil among its native frames (on a build whose
    python has no .symtab, such as Debian's stripped python3.11, the frame has no name: then
    the wait shows as pthread_cond_timedwait called from the python binary);
  - each parked thread is sleeping in its system call, at a `syscall` instruction;
  - native frames are merged with the Python ones: each _PyEval_EvalFrameDefault comes right
    after (outside) the Python frames it runs, and `analyze --native` shows Python frames in
    place of the eval loop, most recent call last.
"""

import json
import re
import struct
import subprocess
import time

import pytest

from e2e_util import (FREE_THREADED_GIL_REASON, TARGETS, TargetRunner, all_threads, describe,
                      free_threaded, need_analysis, run_pysnap)
import schema_util

E2E_WITH_OLD_PYENV = True  # 3.8-3.10 too: the issue asks for every supported interpreter

NATIVE_TARGET = TARGETS / "native_gil_target.py"
STEADY_TIMEOUT = 15.0

# x86-64 numbers, as /proc/PID/task/TID/syscall shows them.
NR = {"futex": 202, "clock_nanosleep": 230, "nanosleep": 35, "select": 23, "pselect6": 270,
      "recvfrom": 45, "restart_syscall": 219}


def sleep_syscalls(version_info):
    # time.sleep: clock_nanosleep since 3.11, select() before.
    return {"clock_nanosleep"} if tuple(version_info[:2]) >= (3, 11) else {"select", "pselect6"}


def expected_syscalls(role, version_info):
    return {"sleep": sleep_syscalls(version_info), "main": sleep_syscalls(version_info),
            "lock": {"futex"}, "select": {"select", "pselect6"}, "recv": {"recvfrom"}}[role]


def task_view(pid, tid):
    """(state letter, syscall number or None) of one thread, from /proc."""
    try:
        with open("/proc/%d/task/%d/stat" % (pid, tid), errors="replace") as f:
            stat = f.read()
        with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
            sc = f.read().split()
    except OSError:
        return None, None
    nr = int(sc[0]) if sc and sc[0].lstrip("-").isdigit() else None
    return stat[stat.rindex(")") + 2], nr


def wait_steady(pid, truth, no_gil=False):
    """Wait until one spinner runs and the other sleeps on a futex, and main sleeps in
    time.sleep's call, three polls in a row. Main raises the switch interval to an hour
    before that call, so from then on the picture lasts; until main is there, spinners
    trading the GIL every 5 ms can look the same, and main may still wait for the GIL.
    NO_GIL (a free-threaded build): both spinners run at once."""
    spinners = [t["tid"] for t in truth["threads"] if t["role"] == "spinner"]
    main_calls = set(NR[n] for n in expected_syscalls("main", truth["python"]["version_info"]))
    deadline = time.monotonic() + STEADY_TIMEOUT
    good = 0
    seen = None
    while good < 3:
        views = [task_view(pid, tid) for tid in spinners]
        running = [v for v in views if v[0] == "R"]
        waiting = [v for v in views if v[0] == "S" and v[1] == NR["futex"]]
        main = task_view(pid, truth["main_tid"])
        main_parked = main[0] == "S" and main[1] in main_calls
        want = (2, 0) if no_gil else (1, 1)
        good = good + 1 if (len(running), len(waiting)) == want and main_parked else 0
        seen = views + [main]
        if time.monotonic() > deadline:
            pytest.fail("spinners never settled (one R, one S on futex; then main): %s" % seen, pytrace=False)
        time.sleep(0.1)


def elf_has_symtab(path):
    """Does the ELF file at PATH have a .symtab section? None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    if not shoff or shstrndx >= shnum:
        return False
    def section(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
    names_off = section(shstrndx)[4]
    for i in range(shnum):
        name_off, sh_type = section(i)[:2]
        end = data.index(b"\0", names_off + name_off)
        if data[names_off + name_off:end] == b".symtab" and sh_type == 2:
            return True
    return False


class Run(object):
    pass


@pytest.fixture(scope="module")
def run(python, pysnap_bin, tmp_path_factory):
    python.info()
    base = tmp_path_factory.mktemp("native-%s" % python.label)
    runner = TargetRunner(base / "targets")
    try:
        proc, truth = runner(python, NATIVE_TARGET)
        r = Run()
        r.python, r.proc, r.truth = python, proc, truth
        r.by_role = {}
        for t in truth["threads"]:
            r.by_role.setdefault(t["role"], []).append(t)
        r.no_gil = free_threaded(python)
        wait_steady(proc.pid, truth, r.no_gil)
        r.snap = base / "native.snap"
        r.capture = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", r.snap)
        r.json_res = r.text_res = r.analysis = None
        if r.capture.returncode == 0:
            r.json_res = run_pysnap(pysnap_bin, "analyze", r.snap, "--json")
            r.text_res = run_pysnap(pysnap_bin, "analyze", r.snap, "--native")
            if r.json_res.returncode == 0:
                r.analysis = json.loads(r.json_res.stdout.decode("utf-8"))
        yield r
    finally:
        runner.close()


def thread_of(analysis, tid):
    found = [t for t in all_threads(analysis) if t["tid"] == tid]
    assert len(found) == 1, "thread %d listed %d times" % (tid, len(found))
    return found[0]


def native_names(thread):
    return [f["function"] for f in thread["frames"] if f["kind"] == "native"]


def fmt_stack(thread):
    return "\n".join("  %s %s %s" % (f["kind"], f.get("function"),
                                     f.get("module") if f["kind"] == "native" else "%s:%s" % (f.get("file"), f.get("line")))
                     for f in thread["frames"])


def interp_of(analysis, tid):
    for interp in analysis["interpreters"]:
        if any(t["tid"] == tid for t in interp["threads"]):
            return interp
    return None


def test_capture_line_reports_the_pause(run):
    need_analysis(run)
    line = run.capture.stdout.decode("utf-8", "replace").strip()
    m = re.search(r"pause ([0-9.]+) ms", line)
    assert m, "no pause on the capture line: %r" % line
    print("%s: %s" % (run.python.label, line))


def test_json_matches_schema(run):
    """native frames, syscall, pc_instruction, states: exactly as doc/schema.json says."""
    schema_util.check(need_analysis(run))


def test_one_spinner_holds_the_gil(run):
    a = need_analysis(run)
    spinners = [thread_of(a, t["tid"]) for t in run.by_role["spinner"]]
    if run.no_gil:
        # Free-threaded: no GIL to hold; both spinners run Python at once, attached.
        interp = interp_of(a, spinners[0]["tid"])
        assert interp["gil"] is None and interp["gil_reason"] == FREE_THREADED_GIL_REASON, interp["gil"]
        assert [(t["state"], t["thread_state"], t["holds_gil"]) for t in spinners] == \
            [("running", "attached", False)] * 2, [(t["tid"], t["state"]) for t in spinners]
        return
    holders = [t for t in spinners if t["holds_gil"]]
    assert len(holders) == 1, "spinners holding the GIL: %s" % [(t["tid"], t["state"]) for t in spinners]
    holder = holders[0]
    gil = interp_of(a, holder["tid"])["gil"]
    assert gil and gil["locked"] and gil["holder_tid"] == holder["tid"], \
        "gil %r, holder spinner %d" % (gil, holder["tid"])
    assert holder["state"] == "running", "the GIL holder is %s" % holder["state"]
    others = [t for t in all_threads(a) if t["holds_gil"] and t["tid"] != holder["tid"]]
    assert not others, "other threads hold the GIL too: %s" % [t["tid"] for t in others]


def test_other_spinner_waits_for_the_gil(run):
    if run.no_gil:
        pytest.skip("%s is free-threaded: no spinner waits for a GIL (both run: "
                    "test_one_spinner_holds_the_gil checks that)" % run.python.label)
    a = need_analysis(run)
    spinners = [thread_of(a, t["tid"]) for t in run.by_role["spinner"]]
    waiters = [t for t in spinners if not t["holds_gil"]]
    assert len(waiters) == 1
    w = waiters[0]
    assert w["state"] == "waiting_for_gil", \
        "spinner %d is %s, not waiting_for_gil\n%s" % (w["tid"], w["state"], fmt_stack(w))
    # The GIL wait is a timed futex wait (5 ms slices). One that an earlier capture of this
    # target interrupted, and that was resumed after the thaw, is restart_syscall until its
    # slice ends: the kernel names no other call then (doc/native.md).
    assert w["syscall"] in ("futex", "restart_syscall") and w["pc_instruction"] == "syscall", \
        (w["syscall"], w["pc_instruction"])
    check_take_gil(w, a["target"]["python"]["path"])


def base_name(function):
    """A symbol without the compiler's clone suffix: take_gil.lto_priv.0 -> take_gil."""
    return function.split(".")[0] if function else function


def check_take_gil(w, python_path):
    """take_gil is among W's native frames: by name where the python has symbols (its
    .symtab, or detached debug info such as Debian's python3.11-dbg, which names the LTO
    clone take_gil.lto_priv.0); in a stripped python without debug info the function has no
    name: it is then the nameless frame of the python binary that called
    pthread_cond_timedwait, given as module + offset."""
    names = [base_name(n) for n in native_names(w)]
    if "take_gil" in names:
        return
    assert elf_has_symtab(python_path) is False, \
        "take_gil not among the native frames of %d:\n%s" % (w["tid"], fmt_stack(w))
    frames = w["frames"]
    i = next((k for k, f in enumerate(frames) if f["kind"] == "native" and
              f["function"] == "pthread_cond_timedwait"), None)
    assert i is not None and i + 1 < len(frames), "no pthread_cond_timedwait:\n%s" % fmt_stack(w)
    caller = frames[i + 1]
    assert caller["kind"] == "native" and caller["function"] is None and \
        caller["module"] == python_path and caller["offset"] > 0, \
        "the cond wait's caller:\n%s" % fmt_stack(w)
    # Where the test can read the detached debug info itself (python3.11-dbg), that
    # module + offset must be an address inside take_gil (or its .cold part).
    ranges = debug_symbol_ranges(python_path, "take_gil")
    if ranges:
        assert any(lo < caller["offset"] <= hi for lo, hi in ranges), \
            "the cond wait's caller at +%#x is not in take_gil %s" % (
                caller["offset"], ["%#x-%#x" % r for r in ranges])


def build_id(path):
    """The GNU build-id of the ELF file at PATH as hex, by readelf -n; None without one."""
    try:
        res = subprocess.run(["readelf", "-n", path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Build ID: ([0-9a-f]{8,})", res.stdout.decode("utf-8", "replace"))
    return m.group(1) if m else None


def debug_symbol_ranges(path, function):
    """[(start, end)] of FUNCTION and its compiler clones (take_gil.lto_priv.0, .cold) in the
    detached debug file of PATH under /usr/lib/debug/.build-id, by nm -S; [] without one.
    A return address lies in (start, end]."""
    bid = build_id(path)
    if not bid:
        return []
    debug = "/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2], bid[2:])
    try:
        res = subprocess.run(["nm", "-S", debug], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    out = []
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        words = line.split()
        if len(words) == 4 and words[2] in "tT" and base_name(words[3]) == function:
            start, size = int(words[0], 16), int(words[1], 16)
            out.append((start, start + size))
    return out


def dynamic_symbols(path):
    """Names the ELF file at PATH exports (.dynsym), by nm -D; None without nm."""
    try:
        res = subprocess.run(["nm", "-D", "--defined-only", path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    return set(line.split()[-1] for line in res.stdout.decode("utf-8", "replace").splitlines()
               if len(line.split()) >= 3)


def test_stripped_python_without_debug_info(run, pysnap_bin, tmp_path):
    """A python without .symtab, captured where no detached debug info can be found
    (/usr/lib/debug hidden in a private mount namespace): native frames of the python
    binary carry exported names (.dynsym) or none (then module + offset), and the GIL
    picture is the same: the waiter is found by its futex on the GIL; parked threads sleep
    in the same syscalls."""
    a = need_analysis(run)
    python_path = a["target"]["python"]["path"]
    if elf_has_symtab(python_path) is not False:
        pytest.skip("%s has a .symtab: not a stripped build" % python_path)
    exported = dynamic_symbols(python_path)
    if exported is None:
        pytest.skip("nm (binutils) not available to list %s's exported symbols" % python_path)
    snap = tmp_path / "nodebug.snap"
    script = ("mount -t tmpfs tmpfs /usr/lib/debug && exec \"$0\" capture --pid %d -o %s"
              % (run.proc.pid, snap))
    res = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                          pysnap_bin], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    if res.returncode != 0 and b"unshare" in res.stderr:
        pytest.skip("cannot hide /usr/lib/debug (unshare -m): %s" % res.stderr.decode()[-200:])
    assert res.returncode == 0, describe(res)
    out = run_pysnap(pysnap_bin, "analyze", snap, "--json")
    assert out.returncode == 0, describe(out)
    b = json.loads(out.stdout.decode("utf-8"))
    spinners = [thread_of(b, t["tid"]) for t in run.by_role["spinner"]]
    holders = [t for t in spinners if t["holds_gil"]]
    waiters = [t for t in spinners if not t["holds_gil"]]
    assert len(holders) == 1 and holders[0]["state"] == "running", [(t["tid"], t["state"]) for t in spinners]
    assert len(waiters) == 1 and waiters[0]["state"] == "waiting_for_gil", fmt_stack(waiters[0])
    assert interp_of(b, holders[0]["tid"])["gil"]["holder_tid"] == holders[0]["tid"]
    check_take_gil(waiters[0], python_path)
    # Parked threads: the same syscalls as with symbols (decoded from registers and the
    # instruction at the PC, no names needed).
    version = run.truth["python"]["version_info"]
    for role in ("sleep", "lock", "select", "recv", "main"):
        for truth_thread in run.by_role[role]:
            t = thread_of(b, truth_thread["tid"])
            assert t["state"] == "sleeping" and t["syscall"] in expected_syscalls(role, version) \
                and t["pc_instruction"] == "syscall", "%s thread %d: %s in %r at %r\n%s" % (
                    role, t["tid"], t["state"], t["syscall"], t["pc_instruction"], fmt_stack(t))
    named = nameless = 0
    for t in all_threads(b):
        for f in t["frames"]:
            if f["kind"] != "native" or f["module"] != python_path:
                continue
            if f["function"] is None:
                nameless += 1
                assert f["offset"] > 0, "a nameless frame without an offset: %r" % f
            else:
                named += 1
                assert f["function"] in exported, \
                    "%s is not exported by %s: debug info was not hidden?" % (f["function"], python_path)
    assert named and nameless, "python frames: %d named, %d nameless" % (named, nameless)
    text = run_pysnap(pysnap_bin, "analyze", snap, "--native")
    assert text.returncode == 0, describe(text)
    base = python_path.rsplit("/", 1)[-1]
    assert re.search(r"\(C\) \?\?\? \(%s\+0x[0-9a-f]+\)" % re.escape(base),
                     text.stdout.decode("utf-8")), "no module+offset frame in:\n%s" % text.stdout.decode()[:3000]


@pytest.mark.parametrize("role", ["sleep", "lock", "select", "recv", "main"])
def test_parked_thread_sleeps_in_its_syscall(run, role):
    a = need_analysis(run)
    version = run.truth["python"]["version_info"]
    for truth_thread in run.by_role[role]:
        t = thread_of(a, truth_thread["tid"])
        want = expected_syscalls(role, version)
        assert t["syscall"] in want, "%s thread %d: syscall %r, want one of %s\n%s" % (
            role, t["tid"], t["syscall"], sorted(want), fmt_stack(t))
        assert t["state"] == "sleeping", "%s thread %d is %s" % (role, t["tid"], t["state"])
        assert t["pc_instruction"] == "syscall", "%s thread %d at %r" % (role, t["tid"], t["pc_instruction"])


def test_native_frames_merged_with_python_frames(run):
    """Python frames keep their truth order; each eval-loop frame follows its Python frames;
    the stack starts in a thread start routine and ends in libc's system call wrapper."""
    a = need_analysis(run)
    for truth_thread in run.truth["threads"]:
        t = thread_of(a, truth_thread["tid"])
        frames = t["frames"]
        names = native_names(t)
        assert names, "thread %d has no native frames" % t["tid"]
        assert t["native_merged"], "thread %d: eval frames not matched:\n%s" % (t["tid"], fmt_stack(t))
        assert not t["native_cut"], "thread %d: native stack cut short:\n%s" % (t["tid"], fmt_stack(t))
        want = [(f["function"], f["file"], f["line"]) for f in truth_thread["frames"]]
        got = [(f["function"], f["file"], f["line"]) for f in frames if f["kind"] == "python"]
        if want:
            assert got == want, "thread %d python frames:\n%s\nwant %s" % (t["tid"], fmt_stack(t), want)
        # Every Python frame sits inside a native one (the eval-loop call running it); where
        # the eval loop has a name, each such frame runs Python frames.
        assert frames[-1]["kind"] == "native", "Python frames outermost:\n%s" % fmt_stack(t)
        evals = [k for k, f in enumerate(frames) if f["kind"] == "native" and
                 (f["function"] or "").startswith("_PyEval_EvalFrameDefault")]
        for k in evals:
            assert k > 0 and frames[k - 1]["kind"] == "python", \
                "eval-loop frame [%d] of thread %d runs no Python frame:\n%s" % (k, t["tid"], fmt_stack(t))
        # Unwound to the start: the thread's clone, or the program's _start (named, or
        # without a name in libc or a python binary when they have no .symtab).
        last = [f for f in frames if f["kind"] == "native"][-1]
        start = last["function"] in ("__clone3", "clone3", "__clone", "clone", "_start") or (
            last["function"] is None and re.search(r"/(libc\.so[.0-9]*|python[0-9.]*)$", last["module"] or ""))
        assert start, "thread %d not unwound to its start:\n%s" % (t["tid"], fmt_stack(t))
        if truth_thread["role"] != "spinner":
            assert frames[0]["kind"] == "native" and frames[0]["module"] and \
                "libc" in frames[0]["module"], "thread %d's innermost frame:\n%s" % (t["tid"], fmt_stack(t))


def test_native_text_view(run):
    """`analyze --native`: per thread, Python frames where the eval loop ran them, most
    recent call last; the syscall and the instruction; no eval-loop frame left."""
    need_analysis(run)
    assert run.text_res.returncode == 0, describe(run.text_res)
    text = run.text_res.stdout.decode("utf-8")
    blocks = dict((int(m.group(1)), m.group(0)) for m in
                  re.finditer(r"(?ms)^Thread (\d+) .*?(?=^Thread |\Z)", text))
    sleeper = run.by_role["sleep"][0]
    block = blocks.get(sleeper["tid"])
    assert block, "no block for the sleeper %d in:\n%s" % (sleeper["tid"], text)
    lines = block.splitlines()
    assert "sleeping in" in lines[0], lines[0]
    assert any("in system call" in l and "at instruction: syscall" in l for l in lines), block
    py = [i for i, l in enumerate(lines) if "(Python)" in l and "in park_sleep" in l]
    # time.sleep's C call: clock_nanosleep since 3.11, select before.
    c = [i for i, l in enumerate(lines) if "(C)" in l and ("nanosleep" in l or "select" in l)]
    assert py and c and py[0] < c[-1], "park_sleep must come before (above) the sleep call:\n%s" % block
    assert "_PyEval_EvalFrameDefault" not in text, "an eval-loop frame was not replaced:\n%s" % text
    for tid, b in blocks.items():
        assert "(C)" in b, "thread %d shows no native frame:\n%s" % (tid, b)


def test_no_native_stacks_with_max_stack_0(run, pysnap_bin, tmp_path):
    """--max-stack 0 copies no stacks: JSON has Python frames only, states come from /proc."""
    need_analysis(run)
    snap = tmp_path / "nostack.snap"
    res = run_pysnap(pysnap_bin, "capture", "--pid", run.proc.pid, "-o", snap, "--max-stack", "0")
    assert res.returncode == 0, describe(res)
    out = run_pysnap(pysnap_bin, "analyze", snap, "--json")
    assert out.returncode == 0, describe(out)
    a = json.loads(out.stdout.decode("utf-8"))
    for t in all_threads(a):
        assert not native_names(t), "thread %d has native frames" % t["tid"]
    bad = run_pysnap(pysnap_bin, "capture", "--pid", run.proc.pid, "-o", snap, "--max-stack", "1G")
    assert bad.returncode == 2, describe(bad)
