"""e2e target for CPython 2.7 (2.7 syntax: it does not run on 3.x): two threads parked in known
frames holding locals of 2.7's own kinds (str, unicode, int, long, old-style instances and
classes, new-style instances, containers), one thread spinning in Python (it holds the GIL
whenever it runs), and a main thread that reports the truth.

usage: py27_target.py FIFO

Truth JSON (FIFO + ".json", then "ready" on FIFO): {"pid", "python": {"version_info"},
"main_tid", "spinner_tid", "threads": [{"tid", "name", "daemon", "frames": [{"function",
"file", "line"}], "locals": {name: {"type", "repr"}}}]}: frames innermost first from
sys._current_frames(), locals of hold()'s frame with their type name and repr().
"""

import os
import sys
import threading
import time

from fifo_truth import publish_truth


def gettid():
    # The kernel thread id without ctypes (Debian's 2.7 _ctypes wants a libffi this host may
    # lack): /proc/thread-self links to /proc/PID/task/TID.
    return int(os.readlink("/proc/thread-self").rsplit("/", 1)[1])


class OldStyle:
    pass


class NewStyle(object):
    def __init__(self):
        self.size = 3


READY = {}
LOCK = threading.Lock()
PARK = threading.Event()


def hold(role, n):
    s_text = "it's a \"str\"\n\x00\xff"
    u_text = u"h\xe9llo \u65e5\U0001f40d"
    i_small = -7
    l_big = 10 ** 30
    l_small = 5L
    f_val = 2.5
    t_val = (1, "a", u"b", None, True)
    d_val = {"k": [1, 2L], "n": None}
    s_val = set([3])
    old = OldStyle()
    new = NewStyle()
    cls_old = OldStyle
    cls_new = NewStyle
    typ = int
    with LOCK:
        READY[gettid()] = (threading.current_thread().ident, role)
    PARK.wait()  # the parked frame is this line's caller chain


def worker(role):
    hold(role, len(role))


def spin():
    with LOCK:
        READY[gettid()] = (threading.current_thread().ident, "spinner")
    x = 0
    while True: x += 1  # noqa: E701  (one line: its line never changes)


def main():
    fifo = sys.argv[1]
    threads = [threading.Thread(target=worker, args=("worker-%d" % i,), name="worker-%d" % i)
               for i in range(2)]
    threads[1].daemon = True
    threads.append(threading.Thread(target=spin, name="spinner"))
    for t in threads:
        t.daemon = True
        t.start()
    deadline = time.time() + 20
    while True:
        with LOCK:
            ready = dict(READY)
        frames = sys._current_frames()
        parked = [tid for tid, (ident, role) in ready.items()
                  if ident in frames and frames[ident].f_code.co_name in ("wait", "spin")]
        if len(parked) == 3:
            break
        if time.time() > deadline:
            raise RuntimeError("workers did not park")
        time.sleep(0.02)
    out = []
    for tid, (ident, role) in sorted(ready.items()):
        f = frames[ident]
        stack = []
        hold_locals = None
        while f is not None:
            stack.append({"function": f.f_code.co_name, "file": f.f_code.co_filename,
                          "line": f.f_lineno})
            if f.f_code.co_name == "hold":
                hold_locals = dict((k, {"type": type(v).__name__, "repr": repr(v)})
                                   for k, v in f.f_locals.items())
            f = f.f_back
        out.append({"tid": tid, "name": role, "daemon": True, "frames": stack,
                    "locals": hold_locals})
    frames = None
    spinner = [tid for tid, (ident, role) in ready.items() if role == "spinner"][0]
    truth = {"pid": os.getpid(), "executable": sys.executable,
             "python": {"version_info": list(sys.version_info)},
             "main_tid": gettid(), "spinner_tid": spinner, "threads": out}
    publish_truth(fifo, truth)
    while True:
        time.sleep(1000)


main()
