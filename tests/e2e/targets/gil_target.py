"""e2e target for the GIL share that `record` and `top` report (2.7 and 3.x syntax: it runs on
every interpreter pysnap supports). One thread spins in pure Python: it never blocks and calls
nothing that releases the GIL, so on a GIL build it holds the GIL all the time but for the
interpreter's own hand-offs (2.7: a release and re-take every 100 ticks; 3.x: only when
another thread asks, and none does), a few microseconds in each millisecond at most. Two
more threads and the main thread sleep in time.sleep, which runs without the GIL. On a
free-threaded build (3.13t) there is no GIL at all.

usage: gil_target.py FIFO

Truth JSON (FIFO + ".json", then "ready" on FIFO): {"pid", "version_info", "free_threaded",
"main_tid", "spinner_tid", "sleeper_tids", "file", "spin_line"}.
"""

import os
import sys
import threading
import time

from fifo_truth import publish_truth

READY = {}
LOCK = threading.Lock()


def gettid():
    # The kernel thread id without ctypes or threading.get_native_id (2.7 has neither that
    # works everywhere): /proc/thread-self links to /proc/PID/task/TID.
    return int(os.readlink("/proc/thread-self").rsplit("/", 1)[1])


def sleeper():
    with LOCK:
        READY[gettid()] = "sleeper"
    while True:
        time.sleep(1000)


def spin():
    with LOCK:
        READY[gettid()] = "spinner"
    x = 0
    while True: x += 1  # noqa: E701  (one line: the spinner is always on it)


SPIN_LINE = spin.__code__.co_firstlineno + 4


def main():
    fifo = sys.argv[1]
    threads = [threading.Thread(target=sleeper, name="sleeper-%d" % i) for i in range(2)]
    threads.append(threading.Thread(target=spin, name="spinner"))
    for t in threads:
        t.daemon = True
        t.start()
    deadline = time.time() + 20
    while True:
        with LOCK:
            ready = dict(READY)
        if len(ready) == 3:
            break
        if time.time() > deadline:
            raise RuntimeError("threads did not start")
        time.sleep(0.02)
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    truth = {"pid": os.getpid(), "version_info": list(sys.version_info)[:3],
             "free_threaded": bool(gil_enabled is not None and not gil_enabled()),
             "main_tid": gettid(),
             "spinner_tid": [tid for tid, role in ready.items() if role == "spinner"][0],
             "sleeper_tids": sorted(tid for tid, role in ready.items() if role == "sleeper"),
             "file": os.path.abspath(__file__), "spin_line": SPIN_LINE}
    publish_truth(fifo, truth)
    while True:
        time.sleep(1000)


if __name__ == "__main__":
    main()
