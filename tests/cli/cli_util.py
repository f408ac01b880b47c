"""Shared helpers of the pysnap CLI tests (imported by conftest.py and the tests); the
plumbing common to the test directories is in tests/common/proc_util.py.

Standard library and pytest only. Every wait here is bounded.
"""

import time
from pathlib import Path

import pytest

# conftest.py put tests/common on sys.path; the tests import these from here.
from proc_util import REPO, describe, run_pysnap, thread_states  # noqa: F401

HERE = Path(__file__).resolve().parent
IDLE_TARGET = HERE / "targets" / "idle_target.py"
READY_TIMEOUT = 30.0

PYTHON_ENV = "PYSNAP_CLI_PYTHON"
PYTHON_CANDIDATES = (
    "/root/.pyenv/versions/3.12.1/bin/python",
    "/root/.pyenv/versions/3.11.7/bin/python",
    "/root/.pyenv/versions/3.13.0/bin/python",
    "/usr/bin/python3.11",
)


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
