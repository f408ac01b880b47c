#!/usr/bin/python3
"""The static binary with two capstones: size, and the cost of `analyze` and `analyze --native`
on one snapshot of samples/app.py, each binary run alternately (same load), medians.

usage: bench/static_capstone.py BEFORE AFTER [--runs N] [--python PY]

BEFORE, AFTER: static pysnap binaries (e.g. one linked with Debian's libcapstone.a, every
architecture, and scripts/build-static.sh's, x86 only). One snapshot is captured with AFTER
and analyzed by both; their `analyze --native` outputs must be the same (the instruction each
thread is at included), or the script says so and exits 1. Not part of the pass/fail tests.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(cmd):
    """wall ms, CPU ms (user+sys of the child), stdout"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    wall = (time.perf_counter() - t0) * 1e3
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        sys.exit("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr))
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3
    return wall, cpu, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--python", default="/usr/bin/python3")
    a = ap.parse_args()
    bins = {"before": a.before, "after": a.after}
    with tempfile.TemporaryDirectory() as tmp:
        pidfile = Path(tmp, "app.pid")
        app = subprocess.Popen([a.python, str(REPO / "samples" / "app.py"), "--pidfile", str(pidfile)])
        try:
            for _ in range(200):
                if pidfile.exists() and pidfile.read_text().strip():
                    break
                time.sleep(0.05)
            else:
                sys.exit("samples/app.py did not write its pidfile")
            snap = str(Path(tmp, "app.snap"))
            run([a.after, "capture", "--pid", str(app.pid), "-o", snap])
        finally:
            app.terminate()
            app.wait(timeout=10)
        cases = {"--version": ["--version"], "analyze": ["analyze", snap],
                 "analyze --native": ["analyze", "--native", snap]}
        out = {}
        times = {(b, c): ([], []) for b in bins for c in cases}
        for i in range(a.runs):
            for c, args in cases.items():
                for b in (("before", "after") if i % 2 else ("after", "before")):
                    wall, cpu, stdout = run([bins[b]] + args)
                    times[b, c][0].append(wall)
                    times[b, c][1].append(cpu)
                    if c == "analyze --native":
                        out[b] = stdout
        if out["before"] != out["after"]:
            sys.exit("analyze --native differs between the two binaries")
        instr = sum("at instruction: " in l for l in out["after"].splitlines())
        print("snapshot: %d bytes, %s; analyze --native: the same output from both (%d 'at instruction:' lines)"
              % (os.path.getsize(snap), "samples/app.py under " + a.python, instr))
        print("load average at the end: %s; %d runs each, alternately, medians" %
              (" ".join(open("/proc/loadavg").read().split()[:3]), a.runs))
        print()
        print("| | before | after |")
        print("|---|---|---|")
        print("| stripped size (bytes) | {:,} | {:,} |".format(*(os.path.getsize(bins[b]) for b in bins)))
        for c in cases:
            for k, what in ((0, "wall"), (1, "CPU")):
                print("| `%s` %s (ms) | %s |" % (c, what, " | ".join(
                    "%.1f" % statistics.median(times[b, c][k]) for b in bins)))


if __name__ == "__main__":
    main()
