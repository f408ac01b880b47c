"""pysnap safety tests: fixtures.

  pysnap_bin       $PYSNAP_BIN, default <repo>/build/programs/pysnap. A missing binary FAILS
                   the tests (never a skip).
  target_python    $PYSNAP_SAFETY_PYTHON, else the first present of pyenv 3.12.1, 3.11.7,
                   3.13.0, ..., then Debian's /usr/bin/python3.11; the tests that need a live target skip (saying why) if none.
  spawn            spawn(argv, **popen_kwargs) -> Popen; all spawned are killed at teardown.
  real_snapshots   {name: bytes} of real snapshots of the counting target (zstd and
                   --no-compress), captured once per session.

Run with Debian's pytest: /usr/bin/python3 -m pytest tests/safety -rs
"""

import os
import subprocess

import pytest

from safety_util import PYTHON_CANDIDATES, Spawner, Target, choose_python, describe, pysnap_path


def pytest_report_header(config):
    return "pysnap safety tests: pysnap %s, target python %s" % (pysnap_path(), choose_python())


@pytest.fixture(scope="session")
def pysnap_bin():
    path = pysnap_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("pysnap binary not found or not executable: %s "
                    "(build it, or point PYSNAP_BIN at it)" % path, pytrace=False)
    return path


@pytest.fixture(scope="session")
def target_python():
    p = choose_python()
    if p is None:
        pytest.skip("no Python for the target: none of %s is present (set PYSNAP_SAFETY_PYTHON)"
                    % ", ".join(PYTHON_CANDIDATES))
    return p


@pytest.fixture
def spawn():
    s = Spawner()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def real_snapshots(pysnap_bin, target_python, tmp_path_factory):
    d = tmp_path_factory.mktemp("real-snapshots")
    s = Spawner()
    try:
        target = Target(s, target_python, d / "target")
        snaps = {}
        for name, extra in (("zstd", []), ("raw", ["--no-compress"])):
            path = d / ("%s.snap" % name)
            res = subprocess.run([pysnap_bin, "capture", "--pid", str(target.pid), "-o",
                                  str(path)] + extra, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            if res.returncode != 0 or not path.exists():
                pytest.fail("cannot capture the target for a real snapshot: %s" % describe(res),
                            pytrace=False)
            snaps[name] = path.read_bytes()
        return snaps
    finally:
        s.close()
