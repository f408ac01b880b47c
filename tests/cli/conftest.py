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
pysnap_bin and spawn are the ones of tests/common/proc_util.py, shared with tests/safety.

Run with Debian's pytest: /usr/bin/python3 -m pytest tests/cli -rs
"""

import sys
from pathlib import Path

import pytest

# tests/common: helpers shared by the test directories (proc_util, schema_util)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))

from cli_util import PYTHON_CANDIDATES, PYTHON_ENV, run_pysnap, start_idle_target
from proc_util import Spawner, choose_python, describe, pysnap_path, require_python
from proc_util import pysnap_bin, spawn  # noqa: F401  (fixtures)


def pytest_report_header(config):
    return "pysnap CLI tests: pysnap %s, target python %s" % (
        pysnap_path(), choose_python(PYTHON_CANDIDATES, PYTHON_ENV))


@pytest.fixture(scope="session")
def cli_python():
    return require_python(PYTHON_CANDIDATES, PYTHON_ENV)


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
