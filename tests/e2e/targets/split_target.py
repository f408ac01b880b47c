"""Target with a known split of CPU time, for pysnap record (tests/e2e/test_record.py) and
bench/sampling.py.

usage: split_target.py FIFO [--threads N] [--lifetime SECONDS] [--plan NAME]

Each of N threads (default 1) runs run(), which calls work functions in a fixed cycle (the
plan: how often each, and how long a call takes: work_a ~1 ms, work_b ~0.3 ms, work_c
~0.05 ms). Every work function is the same loop of N_f iterations (calibrated at start to the
call's duration; over itertools.repeat, whose iterations all cost the same: a range would
allocate an int per iteration past 256, and a short loop would cost less per iteration than a
long one), so the CPU time of a function is proportional to calls x iterations: the
truth needs no clock in the hot path (a clock call is a system call here, and the kernel
preempts a thread at system calls more than elsewhere: a clock-based truth would move
time into run()). What run() itself takes between calls (one call and two additions per call,
well under 1% of the time) is reported as its estimated share.

SIGUSR1 starts a measurement window, SIGUSR2 ends it and writes FIFO + ".truth.json":
{"share": {function: fraction of the threads' work}, "calls": {function: n},
"iterations": {function: per call}, "work": iterations done, "wall_s": S, "cpu_fraction":
the threads' CPU time over N x wall time} summed over the threads. Writes {"pid", "file", "functions", "threads", "truth_file"} to FIFO + ".json", then "ready\\n"
to FIFO once every thread runs. The main thread only waits for signals. Exits after
--lifetime seconds (default 60). Python 3.8+.
"""

import json
import os
import signal
import sys
import threading
import time
from itertools import repeat

sys.dont_write_bytecode = True

# (function, per-call seconds, calls per cycle)
PLANS = {
    # ~57% a, ~26% b, ~14% c: calls of 1 ms, 0.3 ms and 0.05 ms
    "three": [("work_a", 1e-3, 1), ("work_b", 3e-4, 2), ("work_c", 5e-5, 5)],
    # the split: ~72% a (0.9 ms), ~28% b (0.35 ms)
    "two": [("work_a", 9e-4, 1), ("work_b", 3.5e-4, 1)],
}


def work_a(n):
    for _ in repeat(None, n):
        pass


def work_b(n):
    for _ in repeat(None, n):
        pass


def work_c(n):
    for _ in repeat(None, n):
        pass


FUNCS = {"work_a": work_a, "work_b": work_b, "work_c": work_c}


def calibrate():
    """Seconds per iteration of the work loop (the best of a few tries)."""
    best = None
    for _ in range(5):
        t = time.perf_counter()
        work_a(200000)
        d = (time.perf_counter() - t) / 200000
        best = d if best is None or d < best else best
    return best


def run(cycle, calls, started, go, stop):
    # one counter per cycle position: run adds only an int per call
    started.release()
    go.wait()  # all start together: a thread started among busy ones waits long for the GIL
    while not stop:
        for i, (fn, n) in enumerate(cycle):
            fn(n)
            calls[i] += 1


def main():
    fifo = sys.argv[1]
    args = sys.argv[2:]
    opt = lambda name, default: args[args.index(name) + 1] if name in args else default  # noqa: E731
    nthreads = int(opt("--threads", "1"))
    lifetime = float(opt("--lifetime", "60"))
    plan = PLANS[opt("--plan", "three")]
    per_iter = calibrate()
    iters = {name: max(1, int(secs / per_iter)) for name, secs, _ in plan}
    # round-robin: a b c b c c c c, the short calls spread between the long ones
    left = [[name, times] for name, _, times in plan]
    names = []
    while any(e[1] for e in left):
        for e in left:
            if e[1]:
                names.append(e[0])
                e[1] -= 1
    cycle = [(FUNCS[name], iters[name]) for name in names]
    stop = []
    started = threading.Semaphore(0)
    go = threading.Event()
    counters = []
    threads = []
    for i in range(nthreads):
        calls = [0] * len(cycle)
        counters.append(calls)
        t = threading.Thread(target=run, args=(cycle, calls, started, go, stop),
                             name="worker-%d" % i, daemon=True)
        t.start()
        threads.append(t)
    for _ in range(nthreads):
        started.acquire()
    go.set()

    clocks = [time.pthread_getcpuclockid(t.ident) for t in threads]

    def snapshot():
        per = {}
        for calls in counters:
            for i, name in enumerate(names):
                per[name] = per.get(name, 0) + calls[i]
        per["cpu"] = sum(time.clock_gettime(c) for c in clocks)  # read from here, not in run
        return per, time.perf_counter()

    window = {}

    def begin(sig, frame):
        window["begin"] = snapshot()

    def end(sig, frame):
        if "begin" not in window:
            return
        (a, ta), (b, tb) = window["begin"], snapshot()
        calls = {k: b[k] - a[k] for k in b if k != "cpu"}
        work = {k: calls[k] * iters[k] for k in calls}
        total = sum(work.values()) or 1
        res = {"share": {k: v / total for k, v in work.items()}, "calls": calls,
               "iterations": iters, "work": total, "wall_s": tb - ta,
               "cpu_fraction": (b["cpu"] - a["cpu"]) / (nthreads * (tb - ta)),
               "per_iteration_s": per_iter}
        with open(fifo + ".truth.json.tmp", "w") as f:
            json.dump(res, f)
        os.rename(fifo + ".truth.json.tmp", fifo + ".truth.json")

    def finish(sig, frame):
        stop.append(1)
        sys.exit(0)

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, end)
    signal.signal(signal.SIGALRM, finish)
    signal.setitimer(signal.ITIMER_REAL, lifetime)
    truth = {"pid": os.getpid(), "file": os.path.abspath(__file__), "threads": nthreads,
             "truth_file": os.path.abspath(fifo + ".truth.json"),
             "functions": ["<module>", "main", "run"] + sorted(iters), "iterations": iters}
    with open(fifo + ".json.tmp", "w") as f:
        json.dump(truth, f)
    os.rename(fifo + ".json.tmp", fifo + ".json")
    with open(fifo, "w") as f:
        f.write("ready\n")
    while True:
        signal.pause()  # the main thread only handles signals: it never takes the GIL else


if __name__ == "__main__":
    main()
