"""End to end: a process whose /proc/PID/exe is not python. tests/e2e/targets/embed_host.c,
a small C program embedding libpython, runs the threads target; pysnap finds the interpreter
through the mappings. Built here with gcc twice: against pyenv 3.12.1's headers and
libpython3.12.so, and against Debian's own shared libpython3.11.so (libpython3.11-dev, which
scripts/install-deps.sh installs; Debian's /usr/bin/python3.11 itself is static). The analysis
must match the target's own truth exactly (every thread, python frames with function, file
and line, names), and the main thread's native stack must pass through the host's own
run_script() and main().
"""

import json
import os
import shutil
import subprocess

import pytest

import schema_util
from e2e_util import (PYENV_ROOT, TARGETS, THREADS_TARGET, Interpreter, describe, run_pysnap,
                      stack_problems, wait_for_tids)

HOST_SRC = TARGETS / "embed_host.c"
PYENV_PREFIX = os.path.join(PYENV_ROOT, "versions", "3.12.1")

# label -> (version, include dir, libpython, PYTHONHOME, what provides it)
EMBEDDINGS = {
    "pyenv-3.12.1": ("3.12.1", os.path.join(PYENV_PREFIX, "include", "python3.12"),
                     os.path.join(PYENV_PREFIX, "lib", "libpython3.12.so"), PYENV_PREFIX,
                     "pyenv 3.12.1 built with --enable-shared"),
    "debian-3.11": (None, "/usr/include/python3.11",
                    "/usr/lib/x86_64-linux-gnu/libpython3.11.so", "/usr",
                    "Debian's libpython3.11-dev"),
}


@pytest.fixture(scope="module", params=sorted(EMBEDDINGS))
def host(request, tmp_path_factory):
    label = request.param
    version, inc, lib, home, provider = EMBEDDINGS[label]
    for need in (os.path.join(inc, "Python.h"), lib):
        if not os.path.exists(need):
            pytest.skip("no %s (%s)" % (need, provider))
    gcc = shutil.which("gcc")
    if not gcc:
        pytest.skip("no gcc to build the embedding program")
    libname = os.path.basename(lib)[len("lib"):-len(".so")]
    out = tmp_path_factory.mktemp("embed") / "embed_host"
    res = subprocess.run([gcc, "-O1", "-g", "-I" + inc, "-o", str(out), str(HOST_SRC),
                          "-L" + os.path.dirname(lib), "-l" + libname,
                          "-Wl,-rpath," + os.path.dirname(lib)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert res.returncode == 0, "gcc failed: %s" % describe(res)
    # The host is not in the install prefix: PYTHONHOME tells libpython where its stdlib is.
    host = Interpreter("embed-" + label, [str(out)], {"PYTHONHOME": home}, kind="extra")
    host.expected_version = version
    return host


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
    assert a["target"]["python"]["version"] == truth["python"]["version"]
    if host.expected_version:
        assert truth["python"]["version"] == host.expected_version
    bad = stack_problems(a, truth)
    assert not bad, "\n".join(bad)
    main = [t for t in a["interpreters"][0]["threads"] if t["tid"] == truth["main_tid"]][0]
    host_fns = [f["function"] for f in main["frames"]
                if f["kind"] == "native" and f.get("module") == host.argv[0]]
    assert host_fns[:2] == ["run_script", "main"], \
        "native frames of the host on the main thread: %s" % host_fns
