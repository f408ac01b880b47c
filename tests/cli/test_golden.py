"""CLI golden tests: pysnap's whole output (exit code, stdout, stderr) for fixed inputs,
compared byte for byte with files committed under tests/cli/golden/.

The inputs are the committed real snapshots of tests/fuzz/corpus/snapshot (every supported
CPython, raw and zstd) plus damaged copies of one of them, and the help texts. Any change in
what pysnap prints for a snapshot shows up here as a diff, so a change in rendering, in the
walker or in the reader is never silent: review the diff, then regenerate with

    PYSNAP_UPDATE_GOLDEN=1 /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/cli/test_golden.py

and commit the golden files with the change that explains them. Analysis is offline and
deterministic (no clock, no host lookups), so the same binary gives the same bytes anywhere.
"""

import difflib
import os
from pathlib import Path

import pytest

from cli_util import REPO, run_pysnap

# Relative to the repository (pysnap runs with cwd=REPO) so paths in the output are the same
# in every clone.
CORPUS = Path("tests/fuzz/corpus/snapshot")
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("PYSNAP_UPDATE_GOLDEN") == "1"


def corpus(name):
    return CORPUS / name


def damaged(tmp_path, name, transform):
    data = transform((REPO / corpus("3.12.1-raw")).read_bytes())
    path = tmp_path / name
    path.write_bytes(data)
    return path


def other_arch(data):
    return data[:0x12] + b"\xb7\x00" + data[0x14:]  # e_machine: EM_AARCH64


# name -> argv after the binary; a callable element is called with tmp_path to make a file.
# The snapshots' names say the interpreter they come from; their three threads are a main
# thread in a recursive method, a worker with locals of several kinds, and a generator.
CASES = {
    # every version, plain text: the traceback view an operator reads first
    **{"analyze-%s" % n: ["analyze", corpus(n)] for n in (
        "2.7.18-raw", "3.6.15-raw", "3.7.16-raw", "3.8.18-zstd", "3.9.18-raw", "3.10.13-raw", "3.11.7-raw", "3.12.1-zstd",
        "3.13.0-raw", "3.13t-raw", "debian-python3.11-raw", "sid-3.14-raw", "sid-3.15-zstd")},
    # locals and native frames merged, on one version per frame model
    **{"analyze-native-locals-%s" % n: ["analyze", "--native", "--locals", corpus(n)]
       for n in ("2.7.18-raw", "3.6.15-raw", "3.8.18-zstd", "3.12.1-zstd", "debian-python3.11-raw",
                 "sid-3.15-zstd")},
    # the JSON document (doc/schema.json), one version per frame model
    **{"analyze-json-%s" % n: ["analyze", "--json", corpus(n)]
       for n in ("3.7.16-raw", "3.9.18-raw", "3.12.1-zstd", "3.13t-raw", "sid-3.14-raw")},
    "analyze-json-no-locals-3.11.7": ["analyze", "--json", "--no-locals", corpus("3.11.7-raw")],
    "analyze-tasks-3.13.0": ["analyze", "--tasks", corpus("3.13.0-raw")],
    # several snapshots: one report each, then the summary across them
    "analyze-several": ["analyze", corpus("3.8.18-zstd"), corpus("3.12.1-zstd")],
    "analyze-summary": ["analyze", "--summary", corpus("3.8.18-zstd"), corpus("3.12.1-zstd"),
                        corpus("sid-3.15-zstd")],
    "analyze-summary-baseline": ["analyze", "--summary", "--baseline", corpus("3.12.1-raw"),
                                 corpus("3.12.1-zstd")],
    "analyze-summary-json": ["analyze", "--summary", "--json", corpus("3.8.18-zstd"),
                             corpus("3.12.1-zstd")],
    # bad input: one line on stderr, the documented exit code
    "error-truncated": ["analyze", lambda t: damaged(t, "truncated.snap", lambda d: d[:len(d) // 2])],
    "error-other-arch": ["analyze", lambda t: damaged(t, "aarch64.snap", other_arch)],
    "error-corrupt-stream": ["analyze", lambda t: damaged(
        t, "corrupt.snap", lambda d: (REPO / corpus("3.12.1-zstd")).read_bytes()[:4000] + bytes(64))],
    "error-empty": ["analyze", lambda t: damaged(t, "empty.snap", lambda d: b"")],
    "error-not-a-snapshot": ["analyze", "README.md"],
    "error-missing-file": ["analyze", "/nonexistent/pysnap-golden.snap"],
    "error-no-command": [],
    "error-unknown-command": ["frobnicate"],
    "error-unknown-option": ["analyze", "--frobnicate", corpus("3.12.1-zstd")],
    "error-baseline-without-summary": ["analyze", "--baseline", corpus("3.12.1-raw"),
                                       corpus("3.12.1-zstd")],
    # help texts: what the README's usage section documents
    "help": ["help"],
    "help-capture": ["capture", "--help"],
    "help-analyze": ["analyze", "--help"],
    "help-dump": ["dump", "--help"],
    "help-record": ["record", "--help"],
    "help-top": ["top", "--help"],
}


def render(res, tmp_path):
    """The golden text of a run: exit code, stdout, stderr, with the per-run temp dir
    replaced so the text is the same on every machine."""
    def clean(b):
        return b.decode("utf-8", "replace").replace(str(tmp_path), "TMP")
    return "exit: %d\n--- stdout\n%s--- stderr\n%s" % (res.returncode, clean(res.stdout),
                                                     clean(res.stderr))


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(pysnap_bin, tmp_path, name):
    args = [a(tmp_path) if callable(a) else a for a in CASES[name]]
    got = render(run_pysnap(pysnap_bin, *args, cwd=str(REPO)), tmp_path)
    golden = GOLDEN / (name + ".txt")
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(got, encoding="utf-8")
        return
    assert golden.is_file(), ("no golden file %s: generate it with PYSNAP_UPDATE_GOLDEN=1 "
                              "and review it" % golden.relative_to(REPO))
    want = golden.read_text(encoding="utf-8")
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "golden/%s.txt" % name, "pysnap output", n=2))
        pytest.fail("output differs from the golden file (if the change is intended, "
                    "regenerate with PYSNAP_UPDATE_GOLDEN=1 and commit):\n" + diff[:8000],
                    pytrace=False)


def test_no_stale_golden_files():
    """Every golden file belongs to a case: a renamed case leaves nothing unchecked behind."""
    stale = sorted(p.stem for p in GOLDEN.glob("*.txt") if p.stem not in CASES)
    assert not stale, "golden files without a case (delete them): %s" % stale


def test_corpus_snapshots_exist():
    """The cases name committed snapshots: a missing one must fail, never skip."""
    names = set()
    for argv in CASES.values():
        names.update(a.name for a in argv if isinstance(a, Path) and a.parent == CORPUS)
    missing = sorted(n for n in names if not (REPO / corpus(n)).is_file())
    assert not missing, "missing corpus snapshots: %s" % missing
