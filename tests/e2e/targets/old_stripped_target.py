"""e2e target for 2.7 and 3.6 (2.7 syntax and 3.x syntax both): a named thread parked in a
known frame; the truth is every thread's stack from sys._current_frames() and the libpython
file this process mapped (the test runs it against a copy stripped of .symtab).

usage: old_stripped_target.py FIFO
"""

import ctypes
import os
import sys
import threading
import time

from fifo_truth import publish_truth

_libc = ctypes.CDLL(None)
PARKED = threading.Event()
STOP = threading.Event()
TIDS = {}


def park(name):
    TIDS[name] = (_libc.syscall(186), threading.current_thread().ident)
    PARKED.set()
    STOP.wait()


def main_park_line():
    with open(__file__) as f:
        for n, line in enumerate(f, 1):
            if line.strip() == "STOP.wait(1000)  # main parks here":
                return n


def main():
    fifo = sys.argv[1]
    t = threading.Thread(target=park, args=("parked-worker",), name="parked-worker")
    t.daemon = True
    t.start()
    PARKED.wait(20)
    time.sleep(0.2)
    frames = sys._current_frames()
    threads = []
    main_tid = _libc.syscall(186)
    for name, (tid, ident) in TIDS.items():
        f, stack = frames[ident], []
        while f is not None:
            stack.append([f.f_code.co_name, f.f_code.co_filename, f.f_lineno])
            f = f.f_back
        threads.append({"tid": tid, "name": name, "frames": stack})
    with open("/proc/self/maps") as m:
        libs = sorted(set(l.split()[-1] for l in m if "libpython" in l))
    truth = {"pid": os.getpid(), "threads": threads, "libpython": libs, "main_tid": main_tid,
             "main_park_line": main_park_line()}
    publish_truth(fifo, truth)
    STOP.wait(1000)  # main parks here


main()
