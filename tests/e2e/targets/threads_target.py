"""e2e target for pysnap: many named threads, each parked at a known place.

usage: threads_target.py FIFO [--lifetime SECONDS] [--no-native-thread]

Starts the threads below, waits (bounded) until every one of them is parked, then starts a
short-lived reporter thread and parks the main thread in park_main(). The reporter waits
until main is parked too, takes the truth from sys._current_frames() for every thread but
itself, writes it as JSON to FIFO + ".json" (atomically), writes "ready\\n" to FIFO and
exits. On any failure it writes "error: <why>\\n" to FIFO instead and the process exits 3.
The process exits by itself after --lifetime seconds (default 120), so a lost target does
not linger.

Truth JSON:
  {"pid": N, "python": {"version": "3.12.1", "version_info": [3, 12, 1, "final", 0],
                        "implementation": "cpython", "executable": "..."},
   "main_tid": N, "recursion_depth": 500, "tids": [...],
   "threads": [{"tid": N, "ident": N|null, "name": "..."|null, "role": "...",
                "python": true|false,
                "frames": [{"function": co_name, "file": co_filename, "line": f_lineno}]}]}
Frames are innermost first. The "native" role is an OS thread that Python doesn't know
(pthread_create via ctypes, parked in pause()); it has no frames and no name.

Every parking call stands on a line of its own. Python 3.8+ syntax only: this runs on
3.8 to 3.15.
"""

import os
import platform
import queue
import select
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # never leave __pycache__ in the source tree

import helpers_mod  # noqa: E402  (second module: frames from another file)
from target_util import fail_why, publish_truth, task_state  # noqa: E402

RECURSION_DEPTH = 500
PARK_TIMEOUT = 20.0  # seconds, for all threads to park; the tests wait 30 s for "ready"

KEEP = []  # pipes, sockets, locks, handles: referenced forever so nothing gets closed

REGISTRY = {}  # ident -> native tid, recorded by each thread itself
REGISTRY_LOCK = threading.Lock()


# --- the parking places -----------------------------------------------------------------

class Station(object):
    """Event.wait, reached through three methods."""

    def __init__(self, signal):
        self.signal = signal

    def run(self):
        self._descend()

    def _descend(self):
        self._await_signal()

    def _await_signal(self):
        self.signal.wait()


def make_lock_parker(lock):
    """Lock.acquire, reached through a closure and a closure inside it."""
    def parker():
        def grab():
            return lock.acquire()
        return grab()
    return parker


def readable_events(fd):
    """A generator whose body parks in select.select on a pipe nobody writes."""
    while True:
        ready, _, _ = select.select([fd], [], [])
        yield ready


def drain_events(fd):
    for batch in readable_events(fd):
        pass


class JobSink(object):
    """queue.Queue.get, reached through a staticmethod and a classmethod."""

    @staticmethod
    def consume(q):
        return JobSink._next_job(q)

    @classmethod
    def _next_job(cls, q):
        return q.get()


def recurse(n, fd):
    """RECURSION_DEPTH frames of recurse(), the innermost parked in os.read on a pipe."""
    if n <= 1:
        return os.read(fd, 1)
    return recurse(n - 1, fd)


def park_main(seconds):
    time.sleep(seconds)


# --- helpers -----------------------------------------------------------------------------

def thread_entry(body, args):
    with REGISTRY_LOCK:
        REGISTRY[threading.get_ident()] = threading.get_native_id()
    body(*args)


def task_ids():
    return set(int(t) for t in os.listdir("/proc/self/task"))


def stack_of(frame):
    out = []
    while frame is not None:
        code = frame.f_code
        out.append((code.co_name, code.co_filename, frame.f_lineno))
        frame = frame.f_back
    return out


def wait_parked(expect, deadline):
    """expect: ident -> (tid, innermost co_name). Wait until, in two polls in a row, every
    thread's innermost frame is the expected function, its stack is unchanged and its
    task sleeps ('S'). Returns ident -> stack (innermost first)."""
    previous = None
    while True:
        frames = sys._current_frames()
        stacks = {}
        waiting = []
        for ident, (tid, innermost) in sorted(expect.items()):
            f = frames.get(ident)
            if f is None:
                waiting.append("%d: no frame" % tid)
                continue
            stack = stack_of(f)
            state = task_state(tid)
            if stack[0][0] != innermost or state != "S":
                waiting.append("%d: in %s (want %s), state %s" % (tid, stack[0][0], innermost, state))
                continue
            stacks[ident] = stack
        frames = f = None  # drop the frame references
        if not waiting and stacks == previous:
            return stacks
        previous = None if waiting else stacks
        if time.monotonic() > deadline:
            raise RuntimeError("threads did not park in time: " + "; ".join(waiting or ["stacks keep changing"]))
        time.sleep(0.02)


def fail(fifo, why):
    fail_why(fifo, why, "threads_target")


def start_native_thread(deadline):
    """An OS thread that Python knows nothing of, parked in pause(). Returns its tid."""
    import ctypes

    libc = ctypes.CDLL(None)
    create = libc.pthread_create
    create.argtypes = [ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    create.restype = ctypes.c_int
    handle = ctypes.c_ulong(0)
    before = task_ids()
    rc = create(ctypes.byref(handle), None, ctypes.cast(libc.pause, ctypes.c_void_p), None)
    if rc != 0:
        raise RuntimeError("pthread_create failed: %d" % rc)
    KEEP.append(handle)
    while True:
        new = task_ids() - before
        if len(new) == 1 and task_state(list(new)[0]) == "S":
            return new.pop()
        if time.monotonic() > deadline:
            raise RuntimeError("native thread did not appear: %r" % (new,))
        time.sleep(0.01)


def reporter(fifo, main_ident, expect, python_tids, native_tids, deadline):
    try:
        stacks = wait_parked(expect, deadline)
        me = threading.get_native_id()
        tasks = task_ids() - {me}
        known = set(tid for tid, _ in expect.values()) | set(native_tids)
        if tasks != known:
            raise RuntimeError("tasks %s differ from the known threads %s" % (sorted(tasks), sorted(known)))
        for tid in native_tids:
            if task_state(tid) != "S":
                raise RuntimeError("native thread %d is not sleeping" % tid)
        by_ident = dict((t.ident, t) for t in threading.enumerate())
        threads = []
        for ident, stack in stacks.items():
            threads.append({
                "tid": expect[ident][0],
                "ident": ident,
                "name": by_ident[ident].name,
                "role": python_tids[expect[ident][0]],
                "python": True,
                "frames": [{"function": fn, "file": fl, "line": ln} for fn, fl, ln in stack],
            })
        for tid in native_tids:
            threads.append({"tid": tid, "ident": None, "name": None, "role": "native",
                            "python": False, "frames": []})
        threads.sort(key=lambda t: t["tid"])
        truth = {
            "pid": os.getpid(),
            "python": {
                "version": platform.python_version(),
                "version_info": list(sys.version_info),
                "implementation": sys.implementation.name,
                "executable": sys.executable,
            },
            "main_tid": expect[main_ident][0],
            "recursion_depth": RECURSION_DEPTH,
            "tids": sorted(t["tid"] for t in threads),
            "threads": threads,
        }
        publish_truth(fifo, truth)
    except BaseException as e:  # noqa: B902 - report anything, then die
        fail(fifo, "reporter: %s: %s" % (type(e).__name__, e))


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    fifo = os.path.abspath(argv[0])
    lifetime = 120.0
    native = True
    rest = list(argv[1:])
    while rest:
        opt = rest.pop(0)
        if opt == "--lifetime":
            lifetime = float(rest.pop(0))
        elif opt == "--no-native-thread":
            native = False
        else:
            sys.stderr.write("threads_target: unknown option %s\n" % opt)
            return 2
    deadline = time.monotonic() + PARK_TIMEOUT

    try:
        native_tids = [start_native_thread(deadline)] if native else []

        held = threading.Lock()
        held.acquire()  # held by main forever: lock-waiter never gets it
        select_r, select_w = os.pipe()
        read_r, read_w = os.pipe()
        sock_a, sock_b = socket.socketpair()
        jobs = queue.Queue()
        signal = threading.Event()
        KEEP.extend([held, select_r, select_w, read_r, read_w, sock_a, sock_b, jobs, signal])

        # (name, body, args, innermost co_name once parked, role)
        specs = [
            ("to-be-renamed", Station(signal).run, (), "wait", "event"),
            ("lock-waiter", make_lock_parker(held), (), "grab", "lock"),
            ("sleeper", helpers_mod.snooze, (lifetime,), "_doze", "sleep"),
            ("selector", drain_events, (select_r,), "readable_events", "select"),
            ("queue-consumer-with-a-name-longer-than-15-chars", JobSink.consume, (jobs,), "wait", "queue"),
            (u"socket-reader-\u00df\u00e9", helpers_mod.SocketReader(sock_a).read_message, (), "_recv_exact", "socket"),
            ("recurser", recurse, (RECURSION_DEPTH, read_r), "recurse", "recursion"),
        ]
        workers = []
        for name, body, args, innermost, role in specs:
            t = threading.Thread(target=thread_entry, args=(body, args), name=name)
            t.daemon = True
            t.start()
            workers.append((t, innermost, role))
        workers[0][0].name = "event-waiter"  # renamed after start: the live name counts

        while True:
            with REGISTRY_LOCK:
                if len(REGISTRY) == len(workers):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("threads did not start in time")
            time.sleep(0.01)

        expect = {}
        python_tids = {}
        for t, innermost, role in workers:
            expect[t.ident] = (REGISTRY[t.ident], innermost)
            python_tids[REGISTRY[t.ident]] = role
        wait_parked(expect, deadline)

        main_ident = threading.get_ident()
        main_tid = threading.get_native_id()
        expect[main_ident] = (main_tid, "park_main")
        python_tids[main_tid] = "main"
        rep = threading.Thread(target=reporter, name="reporter",
                               args=(fifo, main_ident, expect, python_tids, native_tids, deadline))
        rep.daemon = True
        rep.start()
    except BaseException as e:  # noqa: B902
        fail(fifo, "main: %s: %s" % (type(e).__name__, e))
    park_main(lifetime)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
