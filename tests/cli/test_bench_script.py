"""bench/run.sh (the benchmark, not a pass/fail test itself) still runs: one tiny run of
pysnap only (a 10 MB heap, 3 parked threads, no extra targets) must print its table with a
pysnap row whose figures are numbers, and the breakdown line with the capture's phases."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_script_prints_its_table(pysnap_bin, cli_python, tmp_path):
    res = subprocess.run(
        [str(REPO / "bench" / "run.sh"), "--python", cli_python, "--pysnap", pysnap_bin,
         "--runs", "1", "--tools", "pysnap", "--threads", "3", "--heap-mb", "10",
         "--many-threads", "0", "--small-heap-mb", "0", "--json", str(tmp_path / "b.json")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    out, err = res.stdout.decode(), res.stderr.decode()
    assert res.returncode == 0, out + err
    lines = out.splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith("tool ") and "pause ms" in l]
    assert len(head) == 1, out
    row = lines[head[0] + 2]
    # pysnap  PAUSE / MAX  GAP / MAX  WALL / MAX  SIZE  RSS  1.0 / 1.0 / 1.0
    m = re.match(r"pysnap +([0-9.]+) / ([0-9.]+) +([0-9.]+) / [0-9.]+ +([0-9.]+) / [0-9.]+ +"
                 r"[0-9.]+ [KM]?B +[0-9.]+ [KM]?B +1\.0 / 1\.0 / 1\.0", row)
    assert m, row
    pause, gap, wall = float(m.group(1)), float(m.group(3)), float(m.group(4))
    assert 0 < pause < wall, row
    assert re.search(r"^pysnap: +pause [0-9.]+/[0-9.]+ ms \(median phases: stop [0-9.]+ \+ copy "
                     r"[0-9.]+ \+ walk [0-9.]+ \+ stacks [0-9.]+ \+ resume [0-9.]+\) \| hb gap",
                     out, re.M), out
    assert (tmp_path / "b.json").stat().st_size > 0
    assert not list(tmp_path.glob("pysnap-bench.*")), "run.sh left its work directory"
