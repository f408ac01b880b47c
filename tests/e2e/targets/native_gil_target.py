"""e2e target for pysnap's native stacks: two threads spinning in pure Python, four parked.

usage: native_gil_target.py FIFO [--lifetime SECONDS]

Threads (name: what it does):
  spinner-1, spinner-2   `while True` loops of pure bytecode, no calls: one holds the GIL,
                         the other waits for it in the interpreter's GIL code
  sleeper                time.sleep              (clock_nanosleep since 3.11, select before)
  locker                 Lock.acquire on a lock main holds forever (futex)
  selector               select.select on a pipe nobody writes (select or pselect6)
  receiver               socket.recv on a socketpair nobody writes (recvfrom)
  main                   time.sleep, like sleeper

Once both spinners have run and the parked threads sleep in their innermost Python function,
the truth goes to FIFO + ".json" and "ready\\n" to FIFO. Only then does main raise the switch
interval to an hour and park: from then on the spinner holding the GIL keeps it and the other
stays in the GIL's timed wait, so the picture does not change between captures. The tests
wait until /proc shows that (one spinner R, the other S).

Truth JSON:
  {"pid": N, "python": {"version": "3.12.1", "version_info": [...]},
   "main_tid": N, "threads": [{"tid": N, "name": "...", "role": "spinner|sleep|lock|select|
   recv|main", "frames": [{"function": co_name, "file": co_filename, "line": N}, ...]}]}
Frames (innermost first) are given for the parked threads only; a spinner's line changes.

The process is ended by SIGALRM (default action) after --lifetime seconds (default 120):
nothing in Python needs the GIL for that. Python 3.8+ syntax.
"""

import os
import select
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True

from target_util import fail, parse_args, stack_of, task_state, write_truth  # noqa: E402

PARK_TIMEOUT = 20.0
KEEP = []
COUNTS = [0, 0]
TIDS = {}
TIDS_LOCK = threading.Lock()


def register(name):
    with TIDS_LOCK:
        TIDS[name] = threading.get_native_id()


def spin(slot):
    register("spinner-%d" % (slot + 1))
    n = 0
    while True:
        n += 1
        if n & 0xffff == 0:
            COUNTS[slot] = n


def park_sleep(seconds):
    register("sleeper")
    time.sleep(seconds)


def park_lock(lock):
    register("locker")
    lock.acquire()


def park_select(fd):
    register("selector")
    select.select([fd], [], [])


def park_recv(sock):
    register("receiver")
    sock.recv(1)


def park_main(seconds):
    time.sleep(seconds)


def main(argv):
    fifo, lifetime = parse_args(argv, __doc__)
    deadline = time.monotonic() + PARK_TIMEOUT
    try:
        held = threading.Lock()
        held.acquire()
        r, w = os.pipe()
        sa, sb = socket.socketpair()
        KEEP.extend([held, r, w, sa, sb])
        parked = [("sleeper", park_sleep, (lifetime,), "sleep"),
                  ("locker", park_lock, (held,), "lock"),
                  ("selector", park_select, (r,), "select"),
                  ("receiver", park_recv, (sa,), "recv")]
        roles = {}
        for name, body, args, role in parked:
            t = threading.Thread(target=body, args=args, name=name, daemon=True)
            t.start()
            roles[name] = (t, role, body.__name__)
        for slot in (0, 1):
            name = "spinner-%d" % (slot + 1)
            t = threading.Thread(target=spin, args=(slot,), name=name, daemon=True)
            t.start()
            roles[name] = (t, "spinner", "spin")
        while True:
            with TIDS_LOCK:
                started = len(TIDS) == len(roles)
            frames = sys._current_frames()
            waiting = []
            stacks = {}
            if started:
                for name, (t, role, innermost) in roles.items():
                    f = frames.get(t.ident)
                    if f is None or f.f_code.co_name != innermost:
                        waiting.append(name)
                    elif role != "spinner":
                        if task_state(TIDS[name]) != "S":
                            waiting.append(name)
                        stacks[name] = stack_of(f)
                if not all(COUNTS):
                    waiting.append("spinners")
            frames = f = None
            if started and not waiting:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("not ready in time: %s" % (waiting or "threads did not start"))
            time.sleep(0.01)
        main_tid = threading.get_native_id()
        threads = [{"tid": TIDS[name], "name": name, "role": role,
                    "frames": stacks.get(name, [])}
                   for name, (t, role, _) in sorted(roles.items())]
        threads.append({"tid": main_tid, "name": "MainThread", "role": "main", "frames": []})
        write_truth(fifo, {"main_tid": main_tid, "threads": threads})  # adds "pid", "python"
    except BaseException as e:  # noqa: B902 - report anything, then die
        fail(fifo, e)
    sys.setswitchinterval(3600.0)
    park_main(lifetime)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
