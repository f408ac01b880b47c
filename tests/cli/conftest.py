"""pysnap CLI tests: fixtures.

  pysnap_bin     $PYSNAP_BIN, default <repo>/build/programs/pysnap. A missing binary FAILS
                 the tests (never a skip).
  cli_python     the Python that runs the small target: $PYSNAP_CLI_PYTHON, else the first
                 present of pyenv 3.12.1, 3.11.7, 3.13.0, /usr/bin/python3.11.
  spawn          spawn(argv, **popen_kwargs) -> Popen; everything spawned is killed at
                 teardown.
  python_target  a running idle_target.py (parked in idle()), root-owned when the tests
                 run as root.
  real_snapshot  bytes of a real snapshot of an idle target (captured once per module).

Run with Debian's pytest: /usr/bin/python3 -m pytest tests/cli -rs
"""

import os

import sys
from pathlib import Path

import pytest

# tests/common: helpers shared by the test directories (schema_util)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))

from cli_util import (PYTHON_CANDIDATES, Spawner, choose_python, describe, pysnap_path,
                      run_pysnap, start_idle_target)


def pytest_report_header(config):
    return "pysnap CLI tests: pysnap %s, target python %s" % (pysnap_path(), choose_python())


@pytest.fixture(scope="session")
def pysnap_bin():
    path = pysnap_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("pysnap binary not found or not executable: %s "
                    "(build it, or point PYSNAP_BIN at it)" % path, pytrace=False)
    return path


@pytest.fixture(scope="session")
def cli_python():
    p = choose_python()
    if p is None:
        pytest.skip("no Python for the target: none of %s is present (set PYSNAP_CLI_PYTHON)"
                    % ", ".join(PYTHON_CANDIDATES))
    return p


@pytest.fixture
def spawn():
    s = Spawner()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def python_target(spawn, cli_python, tmp_path):
    return start_idle_target(spawn, cli_python, tmp_path)


@pytest.fixture(scope="module")
def real_snapshot(pysnap_bin, cli_python, tmp_path_factory):
    d = tmp_path_factory.mktemp("real-snapshot")
    s = Spawner()
    try:
        proc = start_idle_target(s, cli_python, d)
        snap = d / "idle.snap"
        res = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap)
        if res.returncode != 0 or not snap.exists():
            pytest.fail("cannot capture the idle target for a real snapshot: %s" % describe(res),
                        pytrace=False)
        return snap.read_bytes()
    finally:
        s.close()
