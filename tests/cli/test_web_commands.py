"""Usage errors and edge cases of the web-workflow commands (capture --children/--count,
analyze of several files and --summary, dump, record): exit codes and one stderr line."""

import json
import os
import stat
import subprocess

from cli_util import describe, run_pysnap


def one_line(res, code):
    assert res.returncode == code, describe(res)
    lines = res.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pysnap: "), describe(res)
    return lines[0]


def test_usage_errors(pysnap_bin, tmp_path):
    for args, words in [
        (["record", "--pid", "1", "-o", tmp_path / "x.png"], "cannot tell the format"),
        (["record", "--pid", "1"], "needs -o FILE"),
        (["record", "--pid", "1", "-o", tmp_path / "x.svg", "--rate", "0"], "--rate"),
        (["record", "--pid", "1", "-o", tmp_path / "x.svg", "--duration", "-1"], "--duration"),
        (["capture", "--pid", "1", "--count", "0"], "--count"),
        (["capture", "--pid", "1", "--count", "2", "--interval", "abc"], "--interval"),
        (["analyze", "--summary"], "needs a snapshot"),
        (["analyze", "a.snap", "--baseline", "b.snap"], "--baseline goes with --summary"),
        (["dump"], "dump needs --pid"),
    ]:
        line = one_line(run_pysnap(pysnap_bin, *args), 2)
        assert words in line, (args, line)
    assert not (tmp_path / "x.svg").exists()


def test_record_of_a_non_python_process_leaves_no_file(pysnap_bin, tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        out = tmp_path / "p.svg"
        line = one_line(run_pysnap(pysnap_bin, "record", "--pid", sleeper.pid, "-d", "1", "-o", out), 1)
        assert "not a CPython process" in line
        assert not out.exists()
        line = one_line(run_pysnap(pysnap_bin, "dump", "--pid", sleeper.pid), 1)
        assert "not a CPython process" in line
        res = run_pysnap(pysnap_bin, "capture", "--pid", sleeper.pid, "--children", "-o", tmp_path / "d")
        assert res.returncode == 1, describe(res)
        assert ("skipped %d (sleep 30)" % sleeper.pid) in res.stderr.decode()
        assert stat.S_IMODE(os.stat(str(tmp_path / "d")).st_mode) == 0o700
        assert list((tmp_path / "d").iterdir()) == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_count_rounds_and_summary_of_an_idle_target(pysnap_bin, python_target, tmp_path):
    """Two rounds of a parked process: the same stack twice is STUCK; nothing is on CPU."""
    d = tmp_path / "rounds"
    res = run_pysnap(pysnap_bin, "capture", "--pid", python_target.pid, "--count", "2",
                     "--interval", "0.2", "-o", d)
    assert res.returncode == 0, describe(res)
    files = sorted(d.iterdir())
    assert [f.name.rsplit("-", 1)[1] for f in files] == ["0.snap", "1.snap"]
    docs = json.loads(run_pysnap(pysnap_bin, "analyze", d, "--json").stdout)["snapshots"]
    assert len(docs) == 2 and docs[0]["snapshot"]["capture_id"] == docs[1]["snapshot"]["capture_id"]
    s = json.loads(run_pysnap(pysnap_bin, "analyze", d, "--summary", "--json").stdout)["summary"]
    assert s["snapshots"] == 2 and s["processes"] == 1 and s["on_cpu"] == 0 and s["hot"] == []
    main = [t for t in s["threads"] if t["tid"] == python_target.pid][0]
    assert main["stuck"] and main["samples"] == 2 and main["same_frames"] == main["min_depth"]
    # a missing file among several: named, exit 2 for a non-snapshot
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"not a snapshot")
    res = run_pysnap(pysnap_bin, "analyze", files[0], bad)
    assert res.returncode == 2 and str(bad) in res.stderr.decode(), describe(res)
