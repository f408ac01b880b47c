"""e2e target: 200 named threading threads, one _thread thread and one native thread.

usage: many_threads_target.py FIFO [--lifetime SECONDS]

  - 200 threading.Thread, named "pool-worker-<i>-of-two-hundred" (longer than the 15 bytes an
    OS thread name holds, so only threading can tell them), a few with non-ASCII names;
    even ones are daemons. Each parks in Event.wait() (a futex).
  - one thread of _thread.start_new_thread: Python runs it but threading does not know it;
    it names itself "raw-os-thread" through /proc/self/task/TID/comm and parks on a lock.
  - one native thread (pthread_create through ctypes, running pause()), named
    "native-pauser" with pthread_setname_np: no Python at all.
Main parks in time.sleep once every thread sleeps.

Truth JSON: {"pid", "python", "main_tid", "threads": [{"tid", "name", "kind":
"threading|raw|native", "daemon": bool|null}]}.
"""

import _thread
import ctypes
import sys
import threading
import time

sys.dont_write_bytecode = True

from target_util import fail, parse_args, task_view, write_truth  # noqa: E402

N = 200
READY_TIMEOUT = 20.0
STOP = threading.Event()
TIDS = {}
TIDS_LOCK = threading.Lock()
RAW_LOCK = threading.Lock()
KEEP = []


def name_of(i):
    if i % 50 == 7:
        return "pool-wörker-%03d-naïve-ü" % i
    return "pool-worker-%03d-of-two-hundred" % i


def worker(name):
    with TIDS_LOCK:
        TIDS[name] = threading.get_native_id()
    STOP.wait()


def raw_thread():
    tid = threading.get_native_id()
    with open("/proc/self/task/%d/comm" % tid, "w") as f:
        f.write("raw-os-thread")
    with TIDS_LOCK:
        TIDS["raw-os-thread"] = tid
    RAW_LOCK.acquire()


def start_native_thread():
    libc = ctypes.CDLL(None)
    create = libc.pthread_create
    create.argtypes = [ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    create.restype = ctypes.c_int
    setname = libc.pthread_setname_np
    setname.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
    handle = ctypes.c_ulong(0)
    before = set(int(t) for t in __import__("os").listdir("/proc/self/task"))
    if create(ctypes.byref(handle), None, ctypes.cast(libc.pause, ctypes.c_void_p), None):
        raise RuntimeError("pthread_create failed")
    KEEP.append(handle)
    if setname(handle.value, b"native-pauser"):
        raise RuntimeError("pthread_setname_np failed")
    deadline = time.monotonic() + 5
    while True:
        new = set(int(t) for t in __import__("os").listdir("/proc/self/task")) - before
        if len(new) == 1:
            return new.pop()
        if time.monotonic() > deadline:
            raise RuntimeError("native thread did not appear: %r" % (new,))
        time.sleep(0.01)


def main(argv):
    fifo, lifetime = parse_args(argv, __doc__)
    try:
        truth = []
        native_tid = start_native_thread()
        truth.append({"tid": native_tid, "name": "native-pauser", "kind": "native", "daemon": None})
        RAW_LOCK.acquire()
        _thread.start_new_thread(raw_thread, ())
        threads = []
        for i in range(N):
            t = threading.Thread(target=worker, args=(name_of(i),), name=name_of(i), daemon=i % 2 == 0)
            t.start()
            threads.append(t)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            with TIDS_LOCK:
                tids = dict(TIDS)
            if len(tids) == N + 1 and all(task_view(tid)[0] == "S" for tid in tids.values()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("threads not parked in time: %d of %d" % (len(tids), N + 1))
            time.sleep(0.02)
        for t in threads:
            truth.append({"tid": tids[t.name], "name": t.name, "kind": "threading", "daemon": t.daemon})
        truth.append({"tid": tids["raw-os-thread"], "name": "raw-os-thread", "kind": "raw", "daemon": None})
        main_tid = threading.get_native_id()
        truth.append({"tid": main_tid, "name": "MainThread", "kind": "threading", "daemon": False})
        write_truth(fifo, {"main_tid": main_tid, "threads": truth})
    except BaseException as e:  # noqa: B902 - report anything, then die
        fail(fifo, e)
    time.sleep(lifetime)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
