"""`pysnap analyze CORE --exe EXE --sysroot DIR` over the synthetic cores fuzz_core starts from
(tests/fuzz/make_corpus.py core_seed: a committed raw snapshot made into a plain ELF core,
with a small executable holding the runtime's symbols). No gcore, no live process.

- the 3.12.1 seed gives the snapshot's three threads and their stacks exactly;
- the core names its mapped files, and a name with a ".." component is not looked up (it
  could reach outside --sysroot): the same core whose executable is "/../python3.12" finds no
  runtime (exit 1), though <sysroot>/../python3.12 exists;
- NT_FILE mappings that overlap an earlier one are dropped (a process's mappings are
  disjoint): an input that repeats the executable's mapping thousands of times over many
  core segments is answered at once (it took the 25 s replay alarm before).
"""

import json
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(os.path.dirname(HERE), "fuzz")
sys.path.insert(0, FUZZ)

import make_corpus  # noqa: E402

from cli_util import describe, run_pysnap  # noqa: E402


def raw_snapshot(ver):
    with open(os.path.join(FUZZ, "corpus", "snapshot", ver + "-raw"), "rb") as f:
        return f.read()


def split(seed, tmp_path, exe_name):
    """Write SEED's executable as tmp/EXE_NAME and its core as tmp/core; an empty
    tmp/root is the sysroot."""
    exe_len, = struct.unpack_from("<I", seed, 0)
    exe = tmp_path / exe_name
    exe.write_bytes(seed[4:4 + exe_len])
    core = tmp_path / "core"
    core.write_bytes(seed[4 + exe_len:])
    root = tmp_path / "root"
    root.mkdir()
    return str(core), str(exe), str(root)


def test_seed_gives_the_snapshots_stacks(pysnap_bin, tmp_path):
    seed = make_corpus.core_seed(raw_snapshot("3.12.1"), "3.12.1", "/usr/bin/python3.12")
    core, exe, root = split(seed, tmp_path, "python")
    res = run_pysnap(pysnap_bin, "analyze", core, "--exe", exe, "--sysroot", root, "--json")
    assert res.returncode == 0, describe(res)
    a = json.loads(res.stdout.decode())
    assert a["snapshot"]["source"] == "elf-core"
    assert a["target"]["python"]["version"] == "3.12.1"
    assert a["target"]["exe"] == "/usr/bin/python3.12"
    threads = a["interpreters"][0]["threads"]
    assert [t["name"] for t in threads] == ["MainThread", "worker-1", "gen-thread"]
    assert [[f["function"] for f in t["frames"]] for t in threads] == [
        ["handler", "handler", "handler", "handler", "<module>"],
        ["worker", "run", "_bootstrap_inner", "_bootstrap"],
        ["gen", "<lambda>", "run", "_bootstrap_inner", "_bootstrap"],
    ]


def test_dotdot_path_is_not_looked_up(pysnap_bin, tmp_path):
    seed = make_corpus.core_seed(raw_snapshot("3.12.1"), "3.12.1", "/../python3.12")
    core, exe, root = split(seed, tmp_path, "python3.12")
    assert os.path.isfile(os.path.join(root, "..", "python3.12"))
    res = run_pysnap(pysnap_bin, "analyze", core, "--sysroot", root)
    assert res.returncode == 1, describe(res)
    assert b"has no CPython runtime" in res.stderr
    # The same file given as --exe is read: the executable's mapping stands for it.
    res = run_pysnap(pysnap_bin, "analyze", core, "--exe", exe, "--sysroot", root)
    assert res.returncode == 0, describe(res)


def test_overlapping_mappings_are_dropped(pysnap_bin, tmp_path):
    with open(os.path.join(FUZZ, "regressions", "core", "timeout-overlapping-mappings"),
              "rb") as f:
        seed = f.read()
    core, exe, root = split(seed, tmp_path, "python")
    start = time.monotonic()
    res = run_pysnap(pysnap_bin, "analyze", core, "--exe", exe, "--sysroot", root)
    elapsed = time.monotonic() - start
    # One mapping of the executable ("/python") is kept; it has no Py_Version and its name
    # no version.
    assert res.returncode == 1, describe(res)
    assert res.stderr == b"pysnap: cannot tell the CPython version of /python\n"
    assert elapsed < 5, "took %.1f s" % elapsed
