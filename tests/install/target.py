"""The target of tests/install: three named threads, each in a function of its own, run by the
python3 of a bare Debian root. Prints one line when they are all in place:
    ready {"pid": P, "threads": {"alpha": {"tid": T, "function": F, "line": L}, ...}}
(the truth the test compares pysnap's output with: native thread ids, the function each thread
is in and, for the two that wait, the line), then runs until stdin closes."""
import json
import os
import sys
import threading
import time


def alpha_sleeps(started):
    label = "alpha-local"
    started.set()
    time.sleep(3600)
    return label


def beta_waits(started):
    count = 3
    gate = threading.Event()
    started.set()
    gate.wait(3600)
    return count


def gamma_computes(started):
    started.set()
    total = 0
    while True:  # on and off the CPU: record sees it running
        for i in range(20000):
            total += i
        time.sleep(0.005)


def main():
    funcs = {"alpha": alpha_sleeps, "beta": beta_waits, "gamma": gamma_computes}
    threads = {}
    for name, func in funcs.items():
        started = threading.Event()
        t = threading.Thread(target=func, args=(started,), name=name, daemon=True)
        t.start()
        started.wait()
        threads[name] = t
    time.sleep(0.3)  # alpha and beta reach their blocking call after started.set()
    truth = {}
    frames = sys._current_frames()
    for name, t in threads.items():
        f = frames[t.ident]
        while f.f_code is not funcs[name].__code__:
            f = f.f_back
        truth[name] = {"tid": t.native_id, "function": funcs[name].__name__, "line": f.f_lineno}
    print("ready " + json.dumps({"pid": os.getpid(), "threads": truth}), flush=True)
    sys.stdin.read()


main()
