"""Helpers of the safety tests: starting the counting target and watching its threads, starting
a capture. The plumbing common to the test directories (finding pysnap and a Python,
spawning, /proc views) is in tests/common/proc_util.py. Standard library and pytest only;
every wait is bounded."""

import subprocess
import time
from pathlib import Path

import pytest

# conftest.py put tests/common on sys.path; the tests import these from here.
import proc_util
from proc_util import thread_states, tracer_pid  # noqa: F401

HERE = Path(__file__).resolve().parent
COUNTER_TARGET = HERE / "targets" / "counter_target.py"
READY_TIMEOUT = 30.0

PYTHON_ENV = "PYSNAP_SAFETY_PYTHON"
PYTHON_CANDIDATES = (
    "/root/.pyenv/versions/3.12.1/bin/python",
    "/root/.pyenv/versions/3.11.7/bin/python",
    "/root/.pyenv/versions/3.13.0/bin/python",
    "/root/.pyenv/versions/3.10.13/bin/python",
    "/root/.pyenv/versions/3.9.18/bin/python",
    "/root/.pyenv/versions/3.8.18/bin/python",
    # A fresh Debian 12 (CI without pyenv): Debian's own static interpreter.
    "/usr/bin/python3.11",
    "/usr/bin/python3",
)


def clean_env(**extra):
    """The environment of what the safety tests start: proc_util.clean_env, less the
    PYSNAP_TEST_HOLD* knobs too (a test sets them only where it means to)."""
    return proc_util.clean_env(extra, drop=("PYTHON", "PYSNAP_TEST_HOLD"))


def describe(res):
    """proc_util.describe, with the last 3000 characters of stdout and of stderr."""
    return proc_util.describe(res, tail=3000)


class Target(object):
    """A running counter_target.py: .proc, .pid, .counter (path)."""

    def __init__(self, spawn, python, workdir, churn=False, lifetime=120, modes=(),
                 prefix=(), env=None):
        """MODES: extra words for counter_target.py (e.g. "vfork-hold=LIB"); PREFIX: argv
        words before the python (a wrapper that execs it, so the pid stays the same)."""
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        ready = workdir / "target.ready"
        self.counter = workdir / "target.counter"
        args = (list(prefix) + [python, COUNTER_TARGET, ready, self.counter]
                + (["churn"] if churn else []) + list(modes))
        args.append(str(lifetime))
        kw = {"env": clean_env(**env)} if env else {}
        with open(str(workdir / "target.stderr"), "wb") as err:
            self.proc = spawn(args, stderr=err, cwd=str(workdir), **kw)
        self.pid = self.proc.pid
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None:
                pytest.fail("target exited with %s: %s" % (
                    self.proc.returncode,
                    (workdir / "target.stderr").read_text(errors="replace")), pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("target not ready within %.0f s" % READY_TIMEOUT, pytrace=False)
            time.sleep(0.01)

    def count(self):
        try:
            return int(self.counter.read_bytes().strip() or b"0")
        except (OSError, ValueError):
            return 0

    def assert_progress(self, what, timeout=5.0):
        """The counter moves within TIMEOUT seconds."""
        start = self.count()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("%s: the target died (exit %s)" % (what, self.proc.returncode),
                            pytrace=False)
            if self.count() > start:
                return
            time.sleep(0.01)
        pytest.fail("%s: the target made no progress in %.1f s (counter stuck at %d; "
                    "threads: %s)" % (what, timeout, start, thread_states(self.pid)),
                    pytrace=False)

    def assert_not_stopped(self, what, timeout=3.0):
        """Every thread leaves the stopped states (t, T) within TIMEOUT seconds: the kernel
        resumes a tracee a moment after its tracer dies."""
        deadline = time.monotonic() + timeout
        while True:
            states = thread_states(self.pid)
            stopped = dict((t, s) for t, s in states.items() if s in "tT")
            if states and not stopped:
                return
            if time.monotonic() > deadline:
                pytest.fail("%s: target threads left stopped (tid: state) %s of %s" % (
                    what, stopped, states), pytrace=False)
            time.sleep(0.01)

    def wait_frozen(self, capture, timeout=10.0):
        """Wait until every thread is in ptrace stop ('t'). False if CAPTURE (a Popen)
        exits first or the deadline passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if capture.poll() is not None:
                return False
            states = thread_states(self.pid)
            if states and all(s == "t" for s in states.values()):
                return True
            time.sleep(0.002)
        return False


def start_capture(pysnap, pid, output, workdir, hold_ms=0, extra=(), env=None):
    """Start `pysnap capture` (stdout/stderr to files in WORKDIR); returns the Popen.
    ENV: more environment variables (e.g. PYSNAP_TEST_HOLD_BEFORE_WALK_MS)."""
    env = clean_env(**dict(({"PYSNAP_TEST_HOLD_MS": hold_ms} if hold_ms else {}),
                           **(env or {})))
    out = open(str(Path(workdir) / "capture.stdout"), "wb")
    err = open(str(Path(workdir) / "capture.stderr"), "wb")
    try:
        return subprocess.Popen([pysnap, "capture", "--pid", str(pid), "-o", str(output)]
                                + list(extra), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env)
    finally:
        out.close()
        err.close()


def capture_output(workdir):
    d = Path(workdir)
    return ((d / "capture.stdout").read_bytes() if (d / "capture.stdout").exists() else b"",
            (d / "capture.stderr").read_bytes() if (d / "capture.stderr").exists() else b"")


def check_one_error_line(err, what):
    """A failing pysnap prints exactly one stderr line beginning with 'pysnap: '."""
    text = err.decode("utf-8", "replace")
    if not (text.startswith("pysnap: ") and text.endswith("\n") and text.count("\n") == 1):
        pytest.fail("%s: stderr is not one 'pysnap: ' line: %r" % (what, text[:2000]),
                    pytrace=False)
    return text.rstrip("\n")
