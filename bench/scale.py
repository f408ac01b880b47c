#!/usr/bin/python3
"""The pause at scale: pysnap's capture pause against the ptrace floor on the same process,
in the same run, for a sweep of thread counts (issue: linear in threads, at the floor).

For each N in --threads (default 20,200,1000,2000) a target is started whose N threads are
parked in time.sleep; pysnap captures it --runs times (`capture -v`: the pause and its phases)
and the floor (../shared/bench/freeze_floor.c: PTRACE_INTERRUPT + waitpid of every thread, one
1 MB process_vm_readv, detach of every thread) is measured --runs times on the same process,
interleaved with the captures so that both see the same machine; so are captures with the
freeze forced to one tracer thread (serial) and to two (split, snap/freeze_split.c), through
PYSNAP_FREEZE_SPLIT_MIN. Prints one table: medians, the ratios to the floor, and pysnap's
phases, then the load average seen. Not a pass/fail test.

--compare BIN adds another pysnap build (say the one before a change), captured the same way
in the same rounds, as one more column.

    bench/scale.py [--python PY] [--pysnap BIN] [--compare BIN] [--threads 20,200,1000,2000]
                   [--runs 5]
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
REPO = os.path.dirname(HERE)
FLOOR_SRC = os.path.join(os.path.dirname(REPO), "shared", "bench", "freeze_floor.c")

TARGET = r"""
import sys, threading, time
n = int(sys.argv[1])
def parked(i):
    x = i
    time.sleep(3600)
threading.stack_size(256 * 1024)
for i in range(n):
    threading.Thread(target=parked, args=(i,), daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
"""

PHASES = ("stop", "copy", "walk", "stacks", "resume")


def default_python():
    for p in ("/root/.pyenv/versions/3.11.7/bin/python3", "/usr/bin/python3.11", "/usr/bin/python3"):
        if os.access(p, os.X_OK):
            return p
    sys.exit("bench/scale.py: no python found; give --python")


# The freeze's two strategies (snap/freeze.c, snap/freeze_split.c), forced either way.
STRATEGIES = (("serial", "1000000000"), ("split", "0"))


def capture(pysnap, pid, out, split_min):
    env = dict(os.environ, PYSNAP_FREEZE_SPLIT_MIN=split_min)
    r = subprocess.run([pysnap, "capture", "--pid", str(pid), "-o", out, "--force", "-v"],
                       capture_output=True, text=True, timeout=120, env=env)
    if r.returncode != 0:
        raise RuntimeError("capture failed: " + r.stderr.strip())
    m = re.search(r"pause ([\d.]+) ms = (.*?);", r.stderr)
    phases = dict((k, float(v)) for k, v in re.findall(r"(\w+) ([\d.]+) ms", m.group(2)))
    return float(m.group(1)), phases


def floor(floor_bin, pid):
    """(cold, warm): the floor's first run, on threads that slept as long as a capture's do,
    and its third, the first two dropped as warm-up (as the instrument's README says): just
    stopped and resumed, they stop faster (2.2 against 3.4-3.8 ms at 200 threads here)."""
    heap = next(l.split("-")[0] for l in open("/proc/%d/maps" % pid) if "[heap]" in l)
    r = subprocess.run([floor_bin, str(pid), "1048576", heap, "3"], capture_output=True,
                       text=True, timeout=120)
    pauses = [int(x) / 1000.0 for x in re.findall(r"pause=(\d+)us", r.stdout)]
    if not pauses:
        raise RuntimeError("freeze_floor printed nothing: " + r.stderr.strip())
    return pauses[0], pauses[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=None)
    ap.add_argument("--pysnap", default=os.path.join(REPO, "build", "programs", "pysnap"))
    ap.add_argument("--compare", default=None, help="another pysnap build, one more column")
    ap.add_argument("--threads", default="20,200,1000,2000")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    python = a.python or default_python()
    work = tempfile.mkdtemp(prefix="pysnap-scale-")
    floor_bin = os.path.join(work, "freeze_floor")
    if not os.path.exists(FLOOR_SRC):
        sys.exit("bench/scale.py: %s is missing (the floor instrument lives in ../shared)" % FLOOR_SRC)
    subprocess.run(["cc", "-O2", "-o", floor_bin, FLOOR_SRC], check=True)
    tpath = os.path.join(work, "target.py")
    open(tpath, "w").write(TARGET)
    print("python %s, pysnap %s, %d runs each, load average %s" % (
        python, a.pysnap, a.runs, open("/proc/loadavg").read().split()[0]))
    print("pysnap: as it chooses (split from PS_FREEZE_SPLIT_MIN threads); serial / split: "
          "the freeze forced to one or two tracer threads; phases of the default capture")
    print("floor: warm (the instrument's third run in a row), cold (its first); ratios to "
          "the warm floor, and pysnap's to the cold one (p/cold)")
    if a.compare:
        print("compare: %s (c/fl: its ratio to the warm floor)" % a.compare)
    hdr = "%7s | %9s | %9s | %9s | %9s | %9s | %6s | %6s | %6s | %6s |%s %s" % (
        "threads", "pysnap", "serial", "split", "floor", "cold", "p/fl", "se/fl", "sp/fl",
        "p/cold", " %9s | %6s |" % ("compare", "c/fl") if a.compare else "",
        " + ".join(PHASES) + " (ms)")
    print(hdr)
    print("-" * len(hdr))
    loads = []
    for n in [int(x) for x in a.threads.split(",")]:
        p = subprocess.Popen([python, tpath, str(n)], stdout=subprocess.PIPE, text=True)
        try:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("target did not start")
            time.sleep(0.5 + n / 1000.0)
            out = os.path.join(work, "c.snap")
            pauses = {"pysnap": [], "serial": [], "split": [], "compare": []}
            floors, colds, phases = [], [], {k: [] for k in PHASES}
            for _ in range(a.runs):
                pz, ph = capture(a.pysnap, p.pid, out, "")
                pauses["pysnap"].append(pz)
                for k in PHASES:
                    phases[k].append(ph.get(k, 0.0))
                cold, warm = floor(floor_bin, p.pid)
                colds.append(cold)
                floors.append(warm)
                for name, split_min in STRATEGIES:
                    pauses[name].append(capture(a.pysnap, p.pid, out, split_min)[0])
                if a.compare:
                    pauses["compare"].append(capture(a.compare, p.pid, out, "")[0])
                loads.append(float(open("/proc/loadavg").read().split()[0]))
            med = dict((k, statistics.median(v)) for k, v in pauses.items() if v)
            mf, mc = statistics.median(floors), statistics.median(colds)
            print("%7d | %9.3f | %9.3f | %9.3f | %9.3f | %9.3f | %6.2f | %6.2f | %6.2f | %6.2f |%s %s" % (
                n, med["pysnap"], med["serial"], med["split"], mf, mc, med["pysnap"] / mf,
                med["serial"] / mf, med["split"] / mf, med["pysnap"] / mc,
                " %9.3f | %6.2f |" % (med["compare"], med["compare"] / mf) if a.compare else "",
                " + ".join("%.2f" % statistics.median(phases[k]) for k in PHASES)))
            sys.stdout.flush()
        finally:
            p.kill()
            p.wait()
    print("load average during the runs: %.1f to %.1f (median %.1f)" % (
        min(loads), max(loads), statistics.median(loads)))


if __name__ == "__main__":
    main()
