"""Target for the container tests: three named threads, each parked in a function of its own
with known locals, and the main thread; with --child also a child process parked in
child_idle (for --children), with --spin a fourth thread always on CPU (for record). Runs in whatever root it is started in (a bare Debian root
without this tree), so it needs only the standard library and reports on stdout:

    {"pid": ..., "threads": {NAME: {"native_id", "function", "line", "locals"}}, "child": ...}

one JSON line once every thread is parked (the test reads it as "ready"). The ids are the
target's own, i.e. those of its pid namespace."""

import json
import os
import sys
import threading
import time

PARKED = threading.Barrier(4)


def alpha_worker():
    alpha_count = 1234
    alpha_label = "alpha-local"
    PARKED.wait()
    while True:
        time.sleep(0.05)


def beta_worker():
    beta_items = [1, 2, 3]
    beta_flag = True
    PARKED.wait()
    while True:
        time.sleep(0.05)


def gamma_worker():
    gamma_ratio = 2.5
    gamma_text = "gamma" * 3
    PARKED.wait()
    while True:
        time.sleep(0.05)


def spin_worker():
    spin_total = 0
    while True:
        spin_total += 1


def child_idle():
    child_marker = "child-of-the-container"
    print("parked", flush=True)
    while True:
        time.sleep(0.05)


def start_child():
    """A child process parked in child_idle: its pid and line, once it says so."""
    import subprocess
    child = subprocess.Popen([sys.executable, __file__, "--as-child"], stdout=subprocess.PIPE)
    child.stdout.readline()
    return {"pid": child.pid, "function": "child_idle",
            "line": child_idle.__code__.co_firstlineno + 4,
            "locals": {"child_marker": repr("child-of-the-container")}}


def main():
    child = start_child() if "--child" in sys.argv else None
    threads = [threading.Thread(target=f, name=n, daemon=True)
               for f, n in ((alpha_worker, "alpha-thread"), (beta_worker, "beta-thread"),
                            (gamma_worker, "gamma-thread"))]
    spin = None
    if "--spin" in sys.argv:  # on CPU all the time: what record samples without --idle
        spin = threading.Thread(target=spin_worker, name="spin-thread", daemon=True)
        spin.start()
    for t in threads:
        t.start()
    PARKED.wait()
    time.sleep(0.2)  # every worker is inside its sleep loop
    frames = sys._current_frames()
    truth = {"pid": os.getpid(), "main_native_id": threading.main_thread().native_id,
             "threads": {}, "child": child, "spin_native_id": spin and spin.native_id}
    for t in threads:
        f = frames[t.ident]
        truth["threads"][t.name] = {"native_id": t.native_id, "function": f.f_code.co_name,
                                    "line": f.f_lineno,
                                    "locals": {k: repr(v) for k, v in f.f_locals.items()}}
    print(json.dumps(truth), flush=True)
    while True:
        time.sleep(0.05)


if "--as-child" in sys.argv:
    child_idle()
else:
    main()
