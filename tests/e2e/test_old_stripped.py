"""End to end: 2.7 and 3.6 without .symtab. They have no _PyRuntime: the interpreter list is
the static interp_head, which a stripped libpython (a distribution's) does not name. pysnap then
reads its address off the exported PyInterpreterState_Head (whose code loads it: the table's
roots.runtime_getter). The test strips a copy of the pyenv libpython (binutils' strip), runs
the target against it (LD_LIBRARY_PATH) and requires every thread's exact stack and name.
On such a 3.6 the GIL is not known (its statics are not exported); on 2.7 it is
(_PyThreadState_Current is exported). doc/versions.md.
"""

import json
import shutil
import subprocess

import pytest

from e2e_util import PYENV_ROOT, TARGETS, Interpreter, all_threads, python_frames, run_pysnap

TARGET = TARGETS / "old_stripped_target.py"
CASES = {"2.7.18": "libpython2.7.so.1.0", "3.6.15": "libpython3.6m.so.1.0"}


@pytest.mark.parametrize("version", sorted(CASES))
def test_stripped_libpython_found_and_walked(version, pysnap_bin, run_target, tmp_path):
    lib = "%s/versions/%s/lib/%s" % (PYENV_ROOT, version, CASES[version])
    strip = shutil.which("strip")
    if strip is None:
        pytest.skip("no strip (binutils) to make a stripped libpython")
    interp = Interpreter("pyenv-" + version, ["%s/versions/%s/bin/python" % (PYENV_ROOT, version)],
                         kind="pyenv")
    if interp.missing():
        pytest.skip("%s: interpreter not found: %s" % (interp.label, interp.missing()))
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(lib, str(libdir / CASES[version]))
    subprocess.run([strip, "--strip-all", str(libdir / CASES[version])], check=True)
    out = subprocess.run(["readelf", "-S", str(libdir / CASES[version])], stdout=subprocess.PIPE)
    assert b".symtab" not in out.stdout
    interp.env = dict(interp.env or {}, LD_LIBRARY_PATH=str(libdir))
    proc, truth = run_target(interp, TARGET)
    assert truth["libpython"] == [str(libdir / CASES[version])], truth["libpython"]
    snap = tmp_path / "s.snap"
    res = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap)
    assert res.returncode == 0, res.stderr
    res = run_pysnap(pysnap_bin, "analyze", "--json", snap)
    assert res.returncode == 0, res.stderr
    a = json.loads(res.stdout.decode("utf-8"))
    got = dict((t["tid"], t) for t in all_threads(a))
    for t in truth["threads"]:
        assert t["tid"] in got, t["name"]
        assert python_frames(got[t["tid"]]) == [tuple(f) for f in t["frames"]], t["name"]
        assert got[t["tid"]]["name"] == t["name"]
    main = python_frames(got[truth["main_tid"]])
    assert ("main", str(TARGET), truth["main_park_line"]) in main, main
    (i,) = a["interpreters"]
    if version.startswith("2."):
        assert i["gil"] == {"locked": False, "shared": False, "holder_tid": None}, i["gil"]
    else:
        assert i["gil"] is None
