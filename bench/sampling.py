#!/usr/bin/python3
"""pysnap record against austin, side by side in one run, on targets with a known split of CPU
time (tests/e2e/targets/split_target.py: work_a ~1 ms, work_b ~0.3 ms, work_c ~0.05 ms per
call; the target counts its own work, which is the truth).

For each target (1 thread; 20 threads; 200 threads for the CPU figures) and rate (100 Hz over
20 s, 1000 Hz over 10 s) it runs, on the same target process, one after the other: a window
without profiler, pysnap record, austin -s (Debian sid's, bench/fetch-sid-austin.sh), and a
window without profiler again; each profiled window is a measurement window of the target
(SIGUSR1/SIGUSR2). Then pysnap record --blocking on the 1-thread target. Prints per
profiler: rounds (samples) against the nominal count, every function's share of the worker
threads' samples against the truth and the largest error in points, the profiler's own CPU
(rusage of the child: user + system, startup included) as a share of one core, and the
target's slowdown (its work per second against the mean of the two windows without
profiler). Not a pass/fail test: the machine may be loaded, which the figures then include.

usage: bench/sampling.py [--pysnap PATH] [--python PATH] [--quick] [--json FILE]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TARGET = os.path.join(REPO, "tests", "e2e", "targets", "split_target.py")
FUNCS = ["work_a", "work_b", "work_c"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Target:
    def __init__(self, python, threads, lifetime):
        self.dir = tempfile.mkdtemp(prefix="pysnap-sampling-")
        self.fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(self.fifo)
        self.proc = subprocess.Popen([python, TARGET, self.fifo, "--threads", str(threads),
                                      "--lifetime", str(lifetime)])
        with open(self.fifo) as f:
            f.read()
        self.pid = self.proc.pid
        self.threads = threads

    def begin(self):
        try:
            os.unlink(self.fifo + ".truth.json")
        except FileNotFoundError:
            pass
        os.kill(self.pid, signal.SIGUSR1)

    def end(self):
        os.kill(self.pid, signal.SIGUSR2)
        path = self.fifo + ".truth.json"
        for _ in range(1200):  # 200 busy threads: the handler waits long for the GIL
            if os.path.exists(path):
                with open(path) as f:
                    return json.load(f)
            time.sleep(0.05)
        raise RuntimeError("the target wrote no truth")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def run_child(cmd, out_path=None):
    """Run CMD to the end -> (stdout, stderr, CPU seconds of the child, wall seconds)."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    wall = time.monotonic() - t
    # communicate() reaped it: the rusage of children covers exactly this child
    return out.decode(errors="replace"), err.decode(errors="replace"), wall


def child_cpu():
    r = os.times()
    return r.children_user + r.children_system


def attribute(frames):
    """The work function on a stack (frames outermost first), else 'run' (the loop's own
    time) when the stack is a worker's, else None (another thread)."""
    for f in reversed(frames):
        if f in FUNCS:
            return f
    return "run" if "run@split" in frames else None


def pysnap_shares(path):
    counts, torn = {}, 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            frames = []
            for fr in stack.split(";"):
                name, _, file = fr.partition(" (")
                frames.append("run@split" if name == "run" and "split_target" in file else name)
            if frames == ["<torn>"] or frames[-1:] == ["<torn>"]:
                torn += int(n)
                continue
            k = attribute(frames)
            if k:
                counts[k] = counts.get(k, 0) + int(n)
    return counts, torn


def austin_shares(path):
    counts = {}
    lines = 0
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            stack, _, metric = line.rstrip("\n").rpartition(" ")
            parts = stack.split(";")[2:]  # P..;T..;frames
            frames = []
            for fr in parts:
                bits = fr.split(":")
                name = bits[-2].split(".")[-1] if len(bits) >= 3 else fr
                frames.append("run@split" if name == "run" and "split_target" in fr else name)
            lines += 1
            k = attribute(frames)
            if k:
                # austin's own weight: the sample's time (what its flame graphs show)
                counts[k] = counts.get(k, 0) + int(metric or 0)
    return counts, lines


def shares_vs_truth(counts, truth, extra=0):
    total = sum(counts.values()) + extra
    res = {}
    for fn in FUNCS:
        got = counts.get(fn, 0) / total if total else 0.0
        res[fn] = (got, truth["share"].get(fn, 0.0))
    err = max(abs(g - t) for g, t in res.values()) * 100 if total else float("nan")
    return res, err


def measure(a, target, profiler, rate, duration, outdir):
    """One profiled window -> a result row."""
    row = {"profiler": profiler, "rate": rate, "duration": duration}
    cpu0 = child_cpu()
    target.begin()
    if profiler.startswith("pysnap"):
        out = os.path.join(outdir, "p.txt")
        cmd = [a.pysnap, "record", "--pid", str(target.pid), "-d", str(duration), "-r", str(rate),
               "-o", out] + (["--blocking"] if "blocking" in profiler else [])
        stdout, stderr, wall = run_child(cmd)
        truth = target.end()
        m = re.search(r": (\d+) samples \((\d+) rounds of \d+ process\w*, (\d+) torn.*?, (\d+) late, "
                      r"(\d+) nominal\)", stdout)
        if not m:
            raise RuntimeError("pysnap record said: %s %s" % (stdout, stderr))
        samples, rounds, torn, late, nominal = (int(g) for g in m.groups())
        row.update(rounds=rounds, nominal=rate * duration, late=late, torn=torn,
                   thread_samples=samples)
        counts, torn_shown = pysnap_shares(out)
        row["shares"], row["max_err"] = shares_vs_truth(counts, truth, torn_shown)
        b = re.search(r"stood still ([\d.]+) ms per sample on average \(max ([\d.]+) ms", stdout)
        if b:
            row["pause_ms"], row["pause_max_ms"] = float(b.group(1)), float(b.group(2))
    else:
        out = os.path.join(outdir, "a.txt")
        cmd = a.austin.split() + ["-s", "-i", str(1000000 // rate), "-x", str(duration),
                                  "-o", out, "-p", str(target.pid)]
        stdout, stderr, wall = run_child(cmd)
        truth = target.end()
        plain = re.sub(r"\x1b\[[0-9;]*m", "", stderr)
        m = re.search(r"Error rate\s*:\s*(\d+)/(\d+)", plain)
        counts, lines = austin_shares(out)
        rounds = int(m.group(2)) if m else lines
        row.update(rounds=rounds, nominal=rate * duration, late=None,
                   torn=int(m.group(1)) if m else None, thread_samples=lines)
        row["shares"], row["max_err"] = shares_vs_truth(counts, truth)
    row["cpu_s"] = child_cpu() - cpu0
    row["cpu_pct"] = 100 * row["cpu_s"] / wall
    row["work_rate"] = truth["work"] / truth["wall_s"]
    row["work_per_cpu"] = work_per_cpu(truth, target.threads)
    return row


def work_per_cpu(truth, threads):
    return truth["work"] / max(1e-9, truth["cpu_fraction"] * threads * truth["wall_s"])


def baseline(target, duration):
    """A window without profiler -> (work per second, work per CPU second)."""
    target.begin()
    time.sleep(duration)
    t = target.end()
    return t["work"] / t["wall_s"], work_per_cpu(t, target.threads)


def slowdowns(r, base):
    """The target's slowdown against the mean of the windows without profiler: per second of
    wall time (what a user sees, but on a loaded machine mostly the load's variation: the
    two baselines' difference is printed beside it) and per second of the target's own CPU
    time (what the profiler's reads cost the target while it runs: cache, memory map lock;
    free of the machine's load; --blocking's pauses are not in it)."""
    wall = sum(b[0] for b in base) / len(base)
    cpu = sum(b[1] for b in base) / len(base)
    return {"slowdown": 1 - r["work_rate"] / wall,
            "baseline_spread": abs(base[0][0] - base[1][0]) / wall,
            "slowdown_cpu": 1 - r["work_per_cpu"] / cpu,
            "baseline_spread_cpu": abs(base[0][1] - base[1][1]) / cpu}


def pct(x):
    return "%.1f%%" % (100 * x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pysnap", default=os.path.join(REPO, "build", "programs", "pysnap"))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--quick", action="store_true", help="durations divided by 4")
    ap.add_argument("--json", help="also write every figure here")
    ap.add_argument("--austin", default=None, help="austin command (default: fetched from sid)")
    a = ap.parse_args()
    if a.austin is None:
        r = subprocess.run([os.path.join(HERE, "fetch-sid-austin.sh")], capture_output=True,
                           text=True)
        a.austin = r.stdout.strip() if r.returncode == 0 else ""
        if not a.austin:
            log("austin: skipped: %s" % r.stderr.strip())
    scale = 4 if a.quick else 1
    # (label, threads, [(rate, seconds)])
    plan = [("1 thread", 1, [(100, 20), (1000, 10)]),
            ("20 threads", 20, [(100, 20), (1000, 10)]),
            ("200 threads", 200, [(100, 10)])]
    profilers = ["pysnap"] + (["austin"] if a.austin else [])
    rows = []
    outdir = tempfile.mkdtemp(prefix="pysnap-sampling-out-")
    for label, threads, runs in plan:
        for rate, secs in runs:
            secs = max(2, secs // scale)
            life = secs * (2 + len(profilers)) + 180
            t = Target(a.python, threads, life)
            try:
                time.sleep(0.5)
                base = [baseline(t, secs)]
                res = []
                for prof in profilers:
                    log("%s, %d Hz, %d s: %s" % (label, rate, secs, prof))
                    res.append(measure(a, t, prof, rate, secs, outdir))
                base.append(baseline(t, secs))
                for r in res:
                    r.update(target=label, threads=threads, **slowdowns(r, base))
                    rows.append(r)
            finally:
                t.close()
    # --blocking on the 1-thread target: exact, and what it costs the target
    secs = max(2, 10 // scale)
    t = Target(a.python, 1, secs * 3 + 120)
    try:
        time.sleep(0.5)
        base = [baseline(t, secs)]
        log("1 thread, 100 Hz, %d s: pysnap --blocking" % secs)
        r = measure(a, t, "pysnap --blocking", 100, secs, outdir)
        base.append(baseline(t, secs))
        r.update(target="1 thread", threads=1, **slowdowns(r, base))
        rows.append(r)
    finally:
        t.close()

    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    load = os.getloadavg()
    print("Sampling: pysnap record vs austin %s, same run, same target processes; %s, "
          "%d CPUs, load average %.1f %.1f %.1f at the end (other work shares the machine: the "
          "CPU and slowdown figures include it; the ratios are from the same run)." % (
              "3.7 -s (Debian sid)" if a.austin else "(not run)",
              subprocess.run([a.python, "-c", "import sys; print('Python %d.%d.%d' % "
                              "sys.version_info[:3])"], capture_output=True,
                             text=True).stdout.strip(), os.cpu_count(), *load))
    print()
    print("| target | rate, time | profiler | rounds (austin: samples) / nominal | late | torn | work_a (truth) "
          "| work_b (truth) | work_c (truth) | max error | profiler CPU | target slowdown per CPU "
          "second | per wall second |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        sh = r["shares"]
        cells = ["%s (%s)" % (pct(sh[f][0]), pct(sh[f][1])) for f in FUNCS]
        prof = r["profiler"]
        if "pause_ms" in r:
            prof += " (pause %.2f ms/sample, max %.1f)" % (r["pause_ms"], r["pause_max_ms"])
        print("| %s | %d Hz, %d s | %s | %d / %d (%.1f%%) | %s | %s | %s | %s | %s | %.1f pts | %.2f s (%.2f%% of a core) "
              "| %+.1f%% (baselines %.1f%% apart) | %+.1f%% (baselines %.1f%% apart) |" % (
                  r["target"], r["rate"], r["duration"], prof, r["rounds"], r["nominal"],
                  100.0 * r["rounds"] / r["nominal"],
                  "-" if r["late"] is None else r["late"],
                  "-" if r["torn"] is None else r["torn"], *cells, r["max_err"], r["cpu_s"],
                  r["cpu_pct"], 100 * r["slowdown_cpu"], 100 * r["baseline_spread_cpu"],
                  100 * r["slowdown"], 100 * r["baseline_spread"]))
    # ratios pysnap / austin, same target and rate
    print()
    print("austin reports samples, not rounds: one per thread seen on CPU in a round (its "
          "count exceeds the nominal one with many threads); with one thread they are rounds. "
          "Shares: of the samples of the target's worker threads (pysnap: counts; austin: its "
          "own weight, the sample's CPU time), torn ones included.")
    print()
    for label, _, runs in plan:
        for rate, _ in runs:
            p = [r for r in rows if r["target"] == label and r["rate"] == rate and r["profiler"] == "pysnap"]
            q = [r for r in rows if r["target"] == label and r["rate"] == rate and r["profiler"] == "austin"]
            if p and q and q[0]["cpu_s"] > 0:
                print("- %s, %d Hz: pysnap CPU / austin CPU = %.2f; max error %.1f vs %.1f points; "
                      "rounds %.1f%% vs %.1f%% of nominal" % (
                          label, rate, p[0]["cpu_s"] / q[0]["cpu_s"], p[0]["max_err"],
                          q[0]["max_err"], 100.0 * p[0]["rounds"] / p[0]["nominal"],
                          100.0 * q[0]["rounds"] / q[0]["nominal"]))


if __name__ == "__main__":
    main()
