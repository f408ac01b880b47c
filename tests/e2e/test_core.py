"""End to end: ordinary ELF cores. The threads target runs, gdb's gcore writes a core of it,
and `pysnap analyze CORE --exe PYTHON --json` must give exactly the target's own truth: every
thread once, each with its python frames (function, file, line) and its threading name.

- pyenv 3.11.7 and 3.12.1 (shared libpython: _PyRuntime and the read-only data come from
  libpython3.X.so, which the core maps but does not contain); on 3.12.1 also --sysroot: an
  empty one is refused (exit 1), one holding just libpython gives the exact stacks;
- Debian's static, stripped /usr/bin/python3.11, run from a copy that is deleted before the
  analysis: without --exe the core's executable is missing and analyze must say so (exit 1);
  with --exe /usr/bin/python3.11 the stacks are exact.

A kernel core dump too: the 3.12.1 target, run with RLIMIT_CORE unlimited, is killed with
SIGQUIT and the kernel's core (core_pattern a plain file name, else skipped) gives the exact
stacks without any option.

Bad input: a core of a process without Python (exit 1), a truncated core (exit 2), --exe with
a .snap or a missing file (exit 2). Cores are large (hundreds of MB: every thread's stack),
so each is deleted as soon as it has been analyzed.
"""

import glob
import json
import os
import shutil
import signal
import subprocess

import pytest

import schema_util
from e2e_util import (DEBIAN_PYTHON, THREADS_TARGET, Interpreter, describe, interpreters,
                      run_pysnap, stack_problems, wait_for_tids)

GCORE_TIMEOUT = 120


@pytest.fixture(scope="module")
def gcore():
    path = shutil.which("gcore")
    if not path:
        pytest.skip("gdb's gcore is not installed (scripts/install-deps.sh installs gdb)")
    return path


def take_core(gcore, pid, prefix):
    res = subprocess.run([gcore, "-o", str(prefix), str(pid)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=GCORE_TIMEOUT)
    core = "%s.%d" % (prefix, pid)
    assert res.returncode == 0 and os.path.isfile(core), "gcore failed: %s" % describe(res)
    return core


def analyze_json(pysnap_bin, core, *args):
    res = run_pysnap(pysnap_bin, "analyze", core, "--json", *args)
    assert res.returncode == 0, describe(res)
    return json.loads(res.stdout.decode("utf-8"))


def check_exact(a, truth, core_pid):
    schema_util.check(a)  # doc/schema.json: every key declared, the nulls of a core allowed
    assert a["snapshot"]["source"] == "elf-core"
    assert a["target"]["pid"] == core_pid
    assert a["target"]["python"]["version"] == truth["python"]["version"]
    bad = stack_problems(a, truth)
    assert not bad, "core analysis differs from the target's truth:\n" + "\n".join(bad)


def by_label(label):
    its = [it for it in interpreters(with_old=True) if it.label == label]
    assert its, label
    if its[0].missing():
        pytest.skip("%s: interpreter not found: %s" % (label, its[0].missing()))
    return its[0]


def check_sysroot(pysnap_bin, core, libpython, truth, pid, tmp_path):
    """--sysroot: mapped files are looked up under it only. An empty sysroot has no
    libpython (exit 1, the message names the sysroot); one holding libpython at the path the
    process saw gives the exact stacks."""
    empty = tmp_path / "empty-root"
    empty.mkdir()
    res = run_pysnap(pysnap_bin, "analyze", core, "--sysroot", empty)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 1 and "no CPython runtime" in err and "sysroot" in err, describe(res)
    root = tmp_path / "root"
    inside = root / libpython.lstrip("/")
    inside.parent.mkdir(parents=True)
    try:
        os.link(libpython, str(inside))
    except OSError:
        shutil.copy2(libpython, str(inside))
    check_exact(analyze_json(pysnap_bin, core, "--sysroot", root), truth, pid)


@pytest.mark.parametrize("label", ["pyenv-3.6.15", "pyenv-3.7.16", "pyenv-3.11.7", "pyenv-3.12.1"])
def test_gcore_same_stacks_as_truth(label, gcore, pysnap_bin, run_target, tmp_path):
    python = by_label(label)
    proc, truth = run_target(python, THREADS_TARGET)
    wait_for_tids(proc.pid, set(truth["tids"]))
    core = take_core(gcore, proc.pid, tmp_path / "core")
    try:
        check_exact(analyze_json(pysnap_bin, core, "--exe", python.argv[0]), truth, proc.pid)
        # Same machine: the mapped files are where the core says; --exe is not needed.
        a = analyze_json(pysnap_bin, core)
        check_exact(a, truth, proc.pid)
        if label == "pyenv-3.12.1":
            check_sysroot(pysnap_bin, core, a["target"]["python"]["path"], truth, proc.pid,
                          tmp_path)
    finally:
        os.unlink(core)


def test_kernel_core_dump(pysnap_bin, run_target, tmp_path):
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip("kernel core_pattern %r does not write a core into the process's "
                    "directory" % pattern)
    python = by_label("pyenv-3.12.1")
    # sh raises the core size limit, then becomes the interpreter ($0) with the target's args.
    dumper = Interpreter("core-3.12.1", ["/bin/sh", "-c", 'ulimit -c unlimited && exec "$0" "$@"',
                                         python.argv[0]], kind="pyenv")
    proc, truth = run_target(dumper, THREADS_TARGET)
    wait_for_tids(proc.pid, set(truth["tids"]))
    os.kill(proc.pid, signal.SIGQUIT)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGQUIT, proc.returncode
    cores = [c for c in glob.glob(str(tmp_path / "targets" / "*" / "core*"))
             if os.path.basename(c) in ("core", "core.%d" % proc.pid)]
    if not cores:
        pytest.skip("the kernel wrote no core (core_pattern %r, RLIMIT_CORE hard limit?)" % pattern)
    try:
        check_exact(analyze_json(pysnap_bin, cores[0]), truth, proc.pid)
    finally:
        os.unlink(cores[0])


def test_gcore_static_python_needs_exe_when_moved(gcore, pysnap_bin, run_target, tmp_path):
    if not os.path.isfile(DEBIAN_PYTHON):
        pytest.skip("interpreter not found: %s" % DEBIAN_PYTHON)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    copy = bindir / "python3.11"
    shutil.copy2(DEBIAN_PYTHON, str(copy))
    # The copy finds no stdlib next to itself; PYTHONHOME points it at Debian's.
    python = Interpreter("debian-3.11-copy", [str(copy)], {"PYTHONHOME": "/usr"}, kind="debian")
    proc, truth = run_target(python, THREADS_TARGET)
    wait_for_tids(proc.pid, set(truth["tids"]))
    core = take_core(gcore, proc.pid, tmp_path / "core")
    try:
        copy.unlink()
        res = run_pysnap(pysnap_bin, "analyze", core)
        err = res.stderr.decode("utf-8", "replace")
        assert res.returncode == 1 and res.stdout == b"", describe(res)
        assert err.startswith("pysnap: ") and err.count("\n") == 1 and "--exe" in err, err
        a = analyze_json(pysnap_bin, core, "--exe", DEBIAN_PYTHON)
        check_exact(a, truth, proc.pid)
        assert a["target"]["exe"] == str(copy)  # the path the process ran, from the core
        text = run_pysnap(pysnap_bin, "analyze", core, "--exe", DEBIAN_PYTHON)
        assert text.returncode == 0, describe(text)
        main = [t for t in truth["threads"] if t["tid"] == truth["main_tid"]][0]
        f = main["frames"][0]
        assert ('File "%s", line %d, in %s' % (f["file"], f["line"], f["function"])
                in text.stdout.decode("utf-8")), describe(text)
    finally:
        os.unlink(core)


@pytest.fixture(scope="module")
def non_python_core(gcore, tmp_path_factory):
    sleeper = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)
    try:
        core = take_core(gcore, sleeper.pid, tmp_path_factory.mktemp("core") / "core")
    finally:
        sleeper.kill()
        sleeper.wait()
    yield core
    os.unlink(core)


def test_core_without_python(non_python_core, pysnap_bin):
    for args in ((), ("--json",), ("--exe", shutil.which("sleep"))):
        res = run_pysnap(pysnap_bin, "analyze", non_python_core, *args)
        err = res.stderr.decode("utf-8", "replace")
        assert res.returncode == 1 and res.stdout == b"", describe(res)
        assert err.startswith("pysnap: ") and "no CPython runtime" in err and \
            err.count("\n") == 1, err


def test_truncated_core(non_python_core, pysnap_bin, tmp_path):
    cut = tmp_path / "cut.core"
    with open(non_python_core, "rb") as f:
        cut.write_bytes(f.read(os.path.getsize(non_python_core) // 2))
    res = run_pysnap(pysnap_bin, "analyze", cut)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2 and err.startswith("pysnap: ") and "truncated" in err, describe(res)


def test_exe_option_misuse(non_python_core, pysnap_bin, tmp_path):
    snap = tmp_path / "not-a-core.snap"
    snap.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 64)
    cases = [
        (("analyze", snap, "--exe", DEBIAN_PYTHON), "is not an ELF core"),
        (("analyze", non_python_core, "--exe", tmp_path / "absent"), "not a readable file"),
        (("analyze", non_python_core, "--sysroot", tmp_path / "absent"), "not a directory"),
        (("analyze", non_python_core, non_python_core, "--exe", DEBIAN_PYTHON), "one core FILE"),
    ]
    for args, want in cases:
        res = run_pysnap(pysnap_bin, *args)
        err = res.stderr.decode("utf-8", "replace")
        assert res.returncode == 2 and want in err, describe(res)
