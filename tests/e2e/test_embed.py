"""End to end: a process whose /proc/PID/exe is not python. tests/e2e/targets/embed_host.c,
a small C program embedding libpython (compiled here with gcc against pyenv 3.12.1's headers
and libpython3.12.so), runs the threads target; pysnap finds the interpreter through the
mappings. The analysis must match the target's own truth exactly (every thread, python frames
with function, file and line, names), and the main thread's native stack must pass through the
host's own run_script() and main().
"""

import json
import os
import shutil
import subprocess

import pytest

import schema_util
from e2e_util import (PYENV_ROOT, TARGETS, THREADS_TARGET, Interpreter, describe, run_pysnap,
                      stack_problems, wait_for_tids)

PREFIX = os.path.join(PYENV_ROOT, "versions", "3.12.1")
HOST_SRC = TARGETS / "embed_host.c"


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    inc = os.path.join(PREFIX, "include", "python3.12")
    lib = os.path.join(PREFIX, "lib", "libpython3.12.so")
    for need in (os.path.join(inc, "Python.h"), lib):
        if not os.path.exists(need):
            pytest.skip("no %s (pyenv 3.12.1 built with --enable-shared)" % need)
    gcc = shutil.which("gcc")
    if not gcc:
        pytest.skip("no gcc to build the embedding program")
    out = tmp_path_factory.mktemp("embed") / "embed_host"
    res = subprocess.run([gcc, "-O1", "-g", "-I" + inc, "-o", str(out), str(HOST_SRC),
                          "-L" + os.path.dirname(lib), "-lpython3.12",
                          "-Wl,-rpath," + os.path.dirname(lib)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert res.returncode == 0, "gcc failed: %s" % describe(res)
    # The host is not in the install prefix: PYTHONHOME tells libpython where its stdlib is.
    return Interpreter("embed-3.12.1", [str(out)], {"PYTHONHOME": PREFIX}, kind="extra")


def test_embedded_interpreter_exact_stacks(host, pysnap_bin, run_target, tmp_path):
    proc, truth = run_target(host, THREADS_TARGET)
    assert os.path.realpath("/proc/%d/exe" % proc.pid) == host.argv[0]
    wait_for_tids(proc.pid, set(truth["tids"]))
    snap = tmp_path / "embed.snap"
    cap = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap)
    assert cap.returncode == 0, describe(cap)
    res = run_pysnap(pysnap_bin, "analyze", snap, "--json")
    assert res.returncode == 0, describe(res)
    a = json.loads(res.stdout.decode("utf-8"))
    schema_util.check(a)
    assert a["target"]["python"]["version"] == truth["python"]["version"] == "3.12.1"
    bad = stack_problems(a, truth)
    assert not bad, "\n".join(bad)
    main = [t for t in a["interpreters"][0]["threads"] if t["tid"] == truth["main_tid"]][0]
    host_fns = [f["function"] for f in main["frames"]
                if f["kind"] == "native" and f.get("module") == host.argv[0]]
    assert host_fns[:2] == ["run_script", "main"], \
        "native frames of the host on the main thread: %s" % host_fns
