"""pysnap CLI: bad input, usage errors, help.

Contract: exit 0 success; 1 the target or the snapshot could not be captured/analyzed (a
non-Python pid, no such pid, permission denied); 2 usage error or a file that is not a
(valid) snapshot (truncated, foreign, empty). Every failure prints exactly one line to
stderr beginning with "pysnap: " and nothing to stdout; a permission error's line mentions
CAP_SYS_PTRACE.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cli_util import describe, run_pysnap, thread_states


def assert_fails(res, code):
    """Exit CODE (or one of a tuple of codes), nothing on stdout, exactly one 'pysnap: '
    line on stderr; returns that line."""
    codes = code if isinstance(code, tuple) else (code,)
    err = res.stderr.decode("utf-8", "replace")
    problems = []
    if res.returncode not in codes:
        problems.append("exit %s, want %s" % (res.returncode, " or ".join(map(str, codes))))
    if res.stdout:
        problems.append("stdout is not empty")
    if not (err.startswith("pysnap: ") and err.endswith("\n") and err.count("\n") == 1):
        problems.append("stderr is not exactly one line beginning with 'pysnap: '")
    if problems:
        pytest.fail("; ".join(problems) + "\n" + describe(res), pytrace=False)
    return err.rstrip("\n")


def assert_running_not_stopped(proc, what):
    for _ in range(2):  # right away, and a moment later
        assert proc.poll() is None, "%s died (exit %s)" % (what, proc.returncode)
        states = thread_states(proc.pid)
        assert states, "%s has no threads in /proc" % what
        stopped = dict((tid, s) for tid, s in states.items() if s in "tT")
        assert not stopped, "%s left stopped (tid: state): %s" % (what, stopped)
        time.sleep(0.2)


def free_pid():
    """A pid that no process or thread has right now."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 1000, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    pytest.skip("no free pid found")


# --- analyze: not a (valid) snapshot ---------------------------------------------------

def write(path, data):
    path.write_bytes(data)
    return path


FOREIGN = {
    "empty": lambda d: write(d / "empty.snap", b""),
    "text": lambda d: write(d / "notes.txt", b"this is not a snapshot\n" * 50),
    "zeros": lambda d: write(d / "zeros.snap", b"\0" * 8192),
    "elf-executable": lambda d: Path("/bin/true"),
}


@pytest.mark.parametrize("json_flag", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_analyze_foreign_or_empty_file(pysnap_bin, tmp_path, kind, json_flag):
    path = FOREIGN[kind](tmp_path)
    res = run_pysnap(pysnap_bin, "analyze", path, *(["--json"] if json_flag else []))
    assert_fails(res, 2)


# A missing FILE is both "could not be analyzed" (1) and "not a snapshot" (2) by the
# contract's words: either is accepted until the contract pins one (then put it here alone).
MISSING_FILE_EXIT = (1, 2)


@pytest.mark.parametrize("json_flag", [False, True], ids=["text", "json"])
def test_analyze_missing_file(pysnap_bin, tmp_path, json_flag):
    res = run_pysnap(pysnap_bin, "analyze", tmp_path / "no-such.snap", *(["--json"] if json_flag else []))
    assert_fails(res, MISSING_FILE_EXIT)


def test_full_snapshot_analyzes(pysnap_bin, real_snapshot, tmp_path):
    """The untruncated snapshot is fine: the truncated ones below fail for the cut alone."""
    snap = write(tmp_path / "full.snap", real_snapshot)
    for args in ([], ["--json"]):
        res = run_pysnap(pysnap_bin, "analyze", snap, *args)
        assert res.returncode == 0, describe(res)


@pytest.mark.parametrize("json_flag", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("cut", ["16-bytes", "half", "all-but-one"])
def test_analyze_truncated_snapshot(pysnap_bin, real_snapshot, tmp_path, cut, json_flag):
    size = {"16-bytes": 16, "half": len(real_snapshot) // 2, "all-but-one": len(real_snapshot) - 1}[cut]
    snap = write(tmp_path / "cut.snap", real_snapshot[:size])
    res = run_pysnap(pysnap_bin, "analyze", snap, *(["--json"] if json_flag else []))
    assert_fails(res, 2)


# --- capture: targets that cannot be captured ------------------------------------------

def test_capture_non_python_process(pysnap_bin, spawn, tmp_path):
    proc = spawn(["sleep", "60"])
    deadline = time.monotonic() + 10
    while True:  # wait for the exec: until then the child is still a copy of us (Python)
        try:
            if os.path.basename(os.readlink("/proc/%d/exe" % proc.pid)) == "sleep":
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "sleep did not start"
        time.sleep(0.01)
    res = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", tmp_path / "sleep.snap")
    assert_fails(res, 1)
    assert_running_not_stopped(proc, "the non-Python target")


def test_capture_no_such_pid(pysnap_bin, tmp_path):
    res = run_pysnap(pysnap_bin, "capture", "--pid", free_pid(), "-o", tmp_path / "x.snap")
    assert_fails(res, 1)


def test_capture_without_permission(pysnap_bin, python_target):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    if os.geteuid() != 0:
        pytest.skip("needs root to run pysnap as uid 65534 against a root-owned target")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    outdir = tempfile.mkdtemp(prefix="pysnap-noperm-")  # in /tmp: reachable by uid 65534
    try:
        os.chmod(outdir, 0o777)
        binary = pysnap_bin
        ok = subprocess.run(as_nobody + ["sh", "-c", 'test -x "$1"', "sh", binary], timeout=30)
        if ok.returncode != 0:  # a directory on its path is closed to uid 65534: use a copy
            binary = os.path.join(outdir, "pysnap")
            shutil.copy2(pysnap_bin, binary)
            os.chmod(binary, 0o755)
            ok = subprocess.run(as_nobody + [binary, "--version"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=30)
            if ok.returncode != 0:
                pytest.skip("uid 65534 cannot run %s (nor a copy of it)" % pysnap_bin)
        res = run_pysnap(as_nobody + [binary], "capture", "--pid", python_target.pid,
                         "-o", os.path.join(outdir, "x.snap"), cwd=outdir)
        line = assert_fails(res, 1)
        assert "CAP_SYS_PTRACE" in line, "the permission error does not mention CAP_SYS_PTRACE: %r" % line
        assert_running_not_stopped(python_target, "the Python target")
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


# --- usage errors ------------------------------------------------------------------------

USAGE_ERRORS = {
    "no-args": [],
    "unknown-command": ["frobnicate"],
    "capture-no-pid": ["capture"],
    "capture-pid-no-value": ["capture", "--pid"],
    "capture-pid-abc": ["capture", "--pid", "abc"],
    "capture-pid-trailing-junk": ["capture", "--pid", "12abc"],
    "capture-pid-zero": ["capture", "--pid", "0"],
    "capture-pid-negative": ["capture", "--pid", "-5"],
    "capture-unknown-option": ["capture", "--pid", "FREE", "--no-such-option"],
    "capture-o-no-value": ["capture", "--pid", "FREE", "-o"],
    "analyze-no-file": ["analyze"],
    "analyze-unknown-option": ["analyze", "--no-such-option", "/nonexistent/x.snap"],
}


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_usage_error(pysnap_bin, case, tmp_path):
    # FREE: a pid that does not exist, so that a CLI that parses lazily fails with 1, not 2.
    args = [str(free_pid()) if a == "FREE" else a for a in USAGE_ERRORS[case]]
    res = run_pysnap(pysnap_bin, *args, cwd=str(tmp_path))
    assert_fails(res, 2)


# --- help and version --------------------------------------------------------------------

def test_version(pysnap_bin):
    res = run_pysnap(pysnap_bin, "--version")
    assert res.returncode == 0, describe(res)
    out = res.stdout.decode("utf-8")
    assert len(out.splitlines()) == 1 and "pysnap" in out, "want one line naming pysnap: %r" % out
    assert res.stderr == b"", describe(res)


@pytest.mark.parametrize("args,mentions", [
    (["help"], ["capture", "analyze"]),
    (["capture", "--help"], ["--pid", "-o"]),
    (["analyze", "--help"], ["--json"]),
], ids=["help", "capture-help", "analyze-help"])
def test_help(pysnap_bin, args, mentions):
    res = run_pysnap(pysnap_bin, *args)
    assert res.returncode == 0, describe(res)
    out = res.stdout.decode("utf-8")
    assert re.search(r"usage", out, re.I), "no usage on stdout:\n" + describe(res)
    assert re.search(r"exit\s+(code|status)", out, re.I), "usage does not mention exit codes:\n" + out
    for word in mentions:
        assert word in out, "usage does not mention %s:\n%s" % (word, out)
    assert res.stderr == b"", describe(res)


# --- capture with the default output file ------------------------------------------------

def test_capture_default_output_file(pysnap_bin, python_target, tmp_path):
    """Without -o, capture writes a 0600 file somewhere and its line names that file."""
    work = tmp_path / "cwd"
    work.mkdir()
    res = run_pysnap(pysnap_bin, "capture", "--pid", python_target.pid, cwd=str(work), umask=0)
    assert res.returncode == 0, describe(res)
    out = res.stdout.decode("utf-8")
    assert len(out.splitlines()) == 1, "capture must print exactly one line: %r" % out
    found = []
    for token in out.split():
        token = token.strip("\"'`,;:()[]{}<>")
        if token:
            p = Path(token) if os.path.isabs(token) else work / token
            if p.is_file():
                found.append(p)
    assert found, "capture's line names no file that exists: %r" % out
    snap = found[0]
    try:
        assert stat.S_IMODE(os.stat(str(snap)).st_mode) == 0o600, "mode %o" % stat.S_IMODE(os.stat(str(snap)).st_mode)
        res = run_pysnap(pysnap_bin, "analyze", snap, "--json")
        assert res.returncode == 0, describe(res)
    finally:
        if work.resolve() not in snap.resolve().parents:
            snap.unlink()
    assert_running_not_stopped(python_target, "the Python target")
