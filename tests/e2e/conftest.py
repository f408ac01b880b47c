"""pysnap end-to-end tests: interpreter matrix and fixtures.

Interpreters (the `python` parameter of any test that asks for it, module-scoped):
  pyenv-3.11.7, pyenv-3.12.1, pyenv-3.13.0  /root/.pyenv/versions/V/bin/python
  pyenv-3.8.18, pyenv-3.9.18, pyenv-3.10.13 the same, for modules that set
                                            E2E_WITH_OLD_PYENV = True
  debian-3.11                               /usr/bin/python3.11 (static, stripped)
  debian-3.11-dbg                           /usr/bin/python3.11-dbg (Debian's Py_DEBUG build,
                                            package python3.11-dbg; skipped when absent)
  plus every `label=command` of PYSNAP_EXTRA_PYTHONS (entries separated by ';'; the
  command is split like a shell does and may start with NAME=VALUE environment words), e.g.
  PYSNAP_EXTRA_PYTHONS='py314=PYTHONHOME=/x/usr /x/ld-linux-x86-64.so.2 --library-path /x/lib /x/usr/bin/python3.14'
An interpreter that is absent is skipped with a reason naming the path (see `pytest -rs`).

Fixtures:
  pysnap_bin   path of the binary: $PYSNAP_BIN, default <repo>/build/programs/pysnap. A
               missing binary FAILS the tests that need it (never a skip). Shared with
               tests/cli and tests/safety (tests/common/proc_util.py).
  run_target   run_target(python, script, *args) -> (proc, truth): starts SCRIPT with a FIFO
               path as first argument, waits (30 s at most) for "ready" on it and returns
               the process and the truth JSON; every target is killed at teardown.

Run with Debian's pytest: /usr/bin/python3 -m pytest tests/e2e -rs
"""

import sys
from pathlib import Path

import pytest

# tests/common: helpers shared by the test directories (proc_util, schema_util)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))

from e2e_util import TargetRunner, interpreter_params
from proc_util import pysnap_bin  # noqa: F401  (fixture)


def pytest_generate_tests(metafunc):
    if "python" in metafunc.fixturenames:
        with_old = bool(getattr(metafunc.module, "E2E_WITH_OLD_PYENV", False))
        metafunc.parametrize("python", interpreter_params(with_old), scope="module")


@pytest.fixture
def run_target(tmp_path):
    runner = TargetRunner(tmp_path / "targets")
    try:
        yield runner
    finally:
        runner.close()
