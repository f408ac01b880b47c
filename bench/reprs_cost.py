"""What rendering stdlib values costs a capture: pause and snapshot size of two pysnap builds
on the same process, interleaved.

    /usr/bin/python3 bench/reprs_cost.py --old OLD_PYSNAP --new NEW_PYSNAP [--python PY] [--runs N]

Starts tests/e2e/targets/reprs_target.py (three frames of stdlib values, a thread handling an
exception) on PY, then captures it RUNS times with each binary, alternating (OLD, NEW, OLD,
...), with the default limits, and prints the median and max pause (as each capture reports it)
and the median snapshot size, with NEW/OLD ratios. OLD is a build without the stdlib reprs
(e.g. the commit before them); both read the same process, so the ratios are what the feature
adds. The machine's load shows in the absolute figures: compare the ratios.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "tests", "e2e", "targets", "reprs_target.py")


def capture(binary, pid, out):
    res = subprocess.run([binary, "capture", "--pid", str(pid), "-o", out],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    text = res.stdout.decode("utf-8", "replace")
    m = re.search(r"pause ([0-9.]+) ms", text)
    if res.returncode != 0 or not m:
        sys.exit("capture with %s failed: %s" % (binary, text))
    return float(m.group(1)), os.path.getsize(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="reprs-bench-")
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    proc = subprocess.Popen([a.python, TARGET, fifo, "--lifetime", "600"],
                            cwd=os.path.dirname(TARGET), stdout=subprocess.DEVNULL)
    try:
        with open(fifo) as f:
            line = f.readline().strip()
        if line != "ready":
            sys.exit("target: %s" % line)
        time.sleep(0.5)
        figures = {"old": [], "new": []}
        for i in range(a.runs):
            for which in ("old", "new"):
                out = os.path.join(d, "%s-%d.snap" % (which, i))
                figures[which].append(capture(getattr(a, which), proc.pid, out))
                os.unlink(out)
    finally:
        proc.kill()
        proc.wait()
    row = {}
    for which, fig in figures.items():
        pauses = [p for p, _ in fig]
        row[which] = (statistics.median(pauses), max(pauses), statistics.median(s for _, s in fig))
    print("reprs target on %s, %d captures each (interleaved)" % (a.python, a.runs))
    print("%-6s %14s %12s %16s" % ("build", "pause median", "pause max", "snapshot (zstd)"))
    for which in ("old", "new"):
        med, mx, size = row[which]
        print("%-6s %11.3f ms %9.3f ms %13.0f KB" % (which, med, mx, size / 1024))
    print("%-6s %13.2fx %11.2fx %15.2fx" % ("ratio", row["new"][0] / row["old"][0],
                                           row["new"][1] / row["old"][1],
                                           row["new"][2] / row["old"][2]))


if __name__ == "__main__":
    main()
