"""pysnap under valgrind memcheck: no invalid reads or writes, no use of uninitialised
values, no leaks (definite or possible), on a real snapshot and on broken ones, on the
committed real snapshots of every supported version (3.8-3.15), and for a live capture too. `--error-exitcode=99` turns any memcheck error into exit 99.

Skipped (with the reason) when valgrind is not installed. Runtime: about 45 s.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from safety_util import Target, check_one_error_line, describe

VALGRIND_TIMEOUT = 120


@pytest.fixture(scope="module")
def valgrind():
    path = shutil.which("valgrind")
    if not path:
        pytest.skip("valgrind is not installed")
    return [path, "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,possible", "--track-origins=yes"]


def run(argv):
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=VALGRIND_TIMEOUT)


@pytest.mark.parametrize("kind", ["zstd", "raw"])
@pytest.mark.parametrize("json_flag", [False, True], ids=["text", "json"])
def test_analyze_real_snapshot_clean(valgrind, pysnap_bin, real_snapshots, tmp_path, kind,
                                     json_flag):
    snap = tmp_path / ("real-%s.snap" % kind)
    snap.write_bytes(real_snapshots[kind])
    res = run(valgrind + [pysnap_bin, "analyze", snap] + (["--json"] if json_flag else []))
    assert res.returncode == 0, "valgrind reports errors or analyze failed: " + describe(res)
    assert res.stdout, "analyze printed nothing"


CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "snapshot"


def corpus_snapshots():
    """The committed real snapshots of every supported CPython (3.8-3.15, pyenv, Debian's
    static python3.11, Debian unstable), compressed and not: tests/fuzz/corpus/snapshot."""
    return sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []


def test_corpus_covers_versions():
    names = corpus_snapshots()
    versions = set(n.rsplit("-", 1)[0] for n in names)
    assert len(versions) >= 8 and any(n.endswith("-zstd") for n in names), names


@pytest.mark.parametrize("name", corpus_snapshots())
def test_analyze_every_version_clean(valgrind, pysnap_bin, name):
    """analyze (JSON, and text for the compressed ones) of real snapshots of each version."""
    for extra in ([["--json"], []] if name.endswith("-zstd") else [["--json"]]):
        res = run(valgrind + [pysnap_bin, "analyze", CORPUS / name] + extra)
        assert res.returncode == 0, "valgrind reports errors or analyze failed: " + describe(res)
        assert res.stdout, "analyze printed nothing"


def broken(real_snapshots):
    raw, zstd = real_snapshots["raw"], real_snapshots["zstd"]
    flipped = bytearray(zstd)
    flipped[len(flipped) // 2] ^= 0x10
    return {
        "raw-truncated-half": raw[:len(raw) // 2],
        "raw-truncated-in-headers": raw[:100],
        "zstd-truncated": zstd[:len(zstd) - 7],
        "zstd-bitflip": bytes(flipped),
        "raw-junk-appended": raw + b"\xa5" * 999,
        "raw-zeroed-middle": raw[:len(raw) // 3] + b"\0" * 2048 + raw[len(raw) // 3 + 2048:],
        "empty": b"",
        # Damage that the reader accepts, so the walker runs over wrong memory.
        "raw-flips-everywhere": bytes(b ^ 0x40 if i % 997 == 500 else b
                                      for i, b in enumerate(raw)),
        "raw-other-arch": raw[:0x12] + b"\xb7\x00" + raw[0x14:],
        "zstd-corrupt-stream": zstd[:len(zstd) // 2] + bytes(16) + zstd[len(zstd) // 2 + 16:],
    }


@pytest.mark.parametrize("name", sorted(broken({"raw": b"x" * 9, "zstd": b"y" * 9})))
def test_analyze_broken_snapshot_clean(valgrind, pysnap_bin, real_snapshots, tmp_path, name):
    snap = tmp_path / (name + ".snap")
    snap.write_bytes(broken(real_snapshots)[name])
    res = run(valgrind + [pysnap_bin, "analyze", snap, "--json"])
    assert res.returncode in (0, 1, 2), "valgrind reports errors (99) or a crash: " + describe(res)
    if res.returncode:
        check_one_error_line(res.stderr, name)


def test_capture_clean(valgrind, pysnap_bin, target_python, spawn, tmp_path):
    target = Target(spawn, target_python, tmp_path / "target")
    snap = tmp_path / "vg.snap"
    res = run(valgrind + [pysnap_bin, "capture", "--pid", target.pid, "-o", snap])
    assert res.returncode == 0, "valgrind reports errors or capture failed: " + describe(res)
    assert snap.exists()
    target.assert_not_stopped("after a capture under valgrind")
    target.assert_progress("after a capture under valgrind")
