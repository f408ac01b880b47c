"""Shared helpers of the pysnap CLI tests (imported by conftest.py and the tests).

Standard library and pytest only. Every wait here is bounded.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IDLE_TARGET = HERE / "targets" / "idle_target.py"
READY_TIMEOUT = 30.0
PYSNAP_TIMEOUT = 60.0

PYTHON_CANDIDATES = (
    "/root/.pyenv/versions/3.12.1/bin/python",
    "/root/.pyenv/versions/3.11.7/bin/python",
    "/root/.pyenv/versions/3.13.0/bin/python",
    "/usr/bin/python3.11",
)


def pysnap_path():
    return os.path.abspath(os.environ.get("PYSNAP_BIN") or str(REPO / "build" / "programs" / "pysnap"))


def choose_python():
    """$PYSNAP_CLI_PYTHON, else the first present of PYTHON_CANDIDATES, else None."""
    if os.environ.get("PYSNAP_CLI_PYTHON"):
        return os.environ["PYSNAP_CLI_PYTHON"]
    for p in PYTHON_CANDIDATES:
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def run_pysnap(binary, *args, **kwargs):
    """Run pysnap (or PREFIX + pysnap when binary is a list); bytes stdout/stderr."""
    kwargs.setdefault("timeout", PYSNAP_TIMEOUT)
    argv = list(binary) if isinstance(binary, (list, tuple)) else [binary]
    return subprocess.run([str(a) for a in argv] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def describe(res):
    return "exit %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        res.returncode, res.stdout.decode("utf-8", "replace")[-4000:],
        res.stderr.decode("utf-8", "replace")[-4000:])


def thread_states(pid):
    """tid -> state letter from /proc/PID/task/TID/stat ('S', 'R', 't', 'T', ...)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid), errors="replace") as f:
                data = f.read()
        except OSError:
            continue
        out[int(tid)] = data[data.rindex(")") + 2]
    return out


class Spawner(object):
    """spawn(argv, **popen_kwargs) -> Popen; close() kills all it started."""

    def __init__(self):
        self.procs = []

    def __call__(self, argv, **kwargs):
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("PYTHON"))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        kwargs.setdefault("env", env)
        proc = subprocess.Popen([str(a) for a in argv], **kwargs)
        self.procs.append(proc)
        return proc

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []


def start_idle_target(spawn, python, workdir):
    """Start idle_target.py and wait (bounded) until it runs; returns the Popen."""
    workdir = Path(workdir)
    ready = workdir / "idle.ready"
    with open(str(workdir / "idle.stderr"), "wb") as err:
        proc = spawn([python, IDLE_TARGET, ready], stderr=err, cwd=str(workdir))
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail("idle target exited with %s: %s" % (
                proc.returncode, (workdir / "idle.stderr").read_text(errors="replace")), pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail("idle target not ready within %.0f s" % READY_TIMEOUT, pytrace=False)
        time.sleep(0.02)
    # From writing the ready file to sleeping in idle() takes microseconds; wait for the
    # sleep (bounded) so that a capture sees the parked target.
    while thread_states(proc.pid).get(proc.pid) != "S" and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc
