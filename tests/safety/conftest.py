"""pysnap safety tests: fixtures.

  pysnap_bin       $PYSNAP_BIN, default <repo>/build/programs/pysnap. A missing binary FAILS
                   the tests (never a skip).
  target_python    $PYSNAP_SAFETY_PYTHON, else the first present of pyenv 3.12.1, 3.11.7,
                   3.13.0, 3.10.13, 3.9.18, 3.8.18, then Debian's /usr/bin/python3.11,
                   /usr/bin/python3; the tests that need a live target skip (saying why)
                   if none.
  spawn            spawn(argv, **popen_kwargs) -> Popen; all spawned are killed at teardown.
                   Their environment: ours less PYTHON* and PYSNAP_TEST_HOLD* variables.
  real_snapshots   {name: bytes} of real snapshots of the counting target (zstd and
                   --no-compress), captured once per session.
pysnap_bin and spawn are made by tests/common/proc_util.py, shared with tests/cli.

Run with Debian's pytest: /usr/bin/python3 -m pytest tests/safety -rs
"""

import sys
from pathlib import Path

import pytest

# tests/common: helpers shared by the test directories (proc_util)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))

from proc_util import Spawner, choose_python, pysnap_path, require_python, run_pysnap, spawn_fixture
from proc_util import pysnap_bin  # noqa: F401  (fixture)
from safety_util import PYTHON_CANDIDATES, PYTHON_ENV, Target, clean_env, describe


def pytest_report_header(config):
    return "pysnap safety tests: pysnap %s, target python %s" % (
        pysnap_path(), choose_python(PYTHON_CANDIDATES, PYTHON_ENV))


@pytest.fixture(scope="session")
def target_python():
    return require_python(PYTHON_CANDIDATES, PYTHON_ENV)


spawn = spawn_fixture(clean_env)


@pytest.fixture(scope="session")
def real_snapshots(pysnap_bin, target_python, tmp_path_factory):
    d = tmp_path_factory.mktemp("real-snapshots")
    s = Spawner(clean_env)
    try:
        target = Target(s, target_python, d / "target")
        snaps = {}
        for name, extra in (("zstd", []), ("raw", ["--no-compress"])):
            path = d / ("%s.snap" % name)
            res = run_pysnap(pysnap_bin, "capture", "--pid", target.pid, "-o", path, *extra)
            if res.returncode != 0 or not path.exists():
                pytest.fail("cannot capture the target for a real snapshot: %s" % describe(res),
                            pytrace=False)
            snaps[name] = path.read_bytes()
        return snaps
    finally:
        s.close()
