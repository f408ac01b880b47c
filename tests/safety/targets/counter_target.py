"""Target for the safety tests: proves it is alive by counting.

usage: counter_target.py READY_FILE COUNTER_FILE [churn] [sleepers=N] [vfork-hold=LIB.so]
                         [native-churn=LIB.so] [LIFETIME_SECONDS]

The main thread increments a counter every 5 ms and writes it (fixed width, at offset 0)
into COUNTER_FILE, so a test can tell whether the process makes progress. Two more threads
park in the kernel (a sleeper and one blocked on a lock) so that a freeze has several
threads to stop and to resume; "sleepers=N" adds N threads parked in time.sleep (a large
thread pool, 256 KiB stacks each). With "churn", a fourth thread keeps starting short-lived
threads, so the set of threads changes while pysnap freezes it. Writes its pid to
READY_FILE (atomically) once the counter runs;
with "vfork-hold=LIB.so" (vfork_hold.c, built by the test) a native thread first vforks a
child that stops itself before exec, which leaves that thread in uninterruptible sleep (D)
until the child is continued; with "native-churn=LIB.so" (thread_churn.c) chains of native
threads each create their successor and end, counting births in COUNTER_FILE.births; exits
after LIFETIME_SECONDS (default 120)
so a lost target does not linger. Python 3.8+ syntax only.
"""

import os
import sys
import threading
import time


def sleeper():
    while True:
        time.sleep(3600)


def blocked(lock):
    lock.acquire()  # never released


def churn():
    while True:
        ts = [threading.Thread(target=time.sleep, args=(0.001,)) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    ready, counter_path = argv[0], argv[1]
    rest = argv[2:]
    churning = bool(rest) and rest[0] == "churn"
    if churning:
        rest = rest[1:]
    sleepers = 0
    if rest and rest[0].startswith("sleepers="):
        sleepers = int(rest[0].partition("=")[2])
        rest = rest[1:]
    if rest and rest[0].startswith("vfork-hold="):
        import ctypes
        lib = ctypes.CDLL(rest[0].partition("=")[2])
        if lib.vfork_hold_start() != 0:
            sys.stderr.write("vfork_hold_start failed\n")
            return 1
        rest = rest[1:]
    if rest and rest[0].startswith("native-churn="):
        import ctypes
        lib = ctypes.CDLL(rest[0].partition("=")[2])
        lib.thread_churn_start.argtypes = [ctypes.c_char_p]
        if lib.thread_churn_start(os.fsencode(counter_path + ".births")) != 0:
            sys.stderr.write("thread_churn_start failed\n")
            return 1
        rest = rest[1:]
    lifetime = float(rest[0]) if rest else 120.0
    lock = threading.Lock()
    lock.acquire()
    for fn, args in ((sleeper, ()), (blocked, (lock,))) + (((churn, ()),) if churning else ()):
        threading.Thread(target=fn, args=args, daemon=True).start()
    if sleepers:
        threading.stack_size(256 * 1024)
        for _ in range(sleepers):
            threading.Thread(target=sleeper, daemon=True).start()
    fd = os.open(counter_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    deadline = time.monotonic() + lifetime
    n = 0
    while time.monotonic() < deadline:
        n += 1
        os.pwrite(fd, b"%020d\n" % n, 0)
        if n == 1:
            with open(ready + ".tmp", "w") as f:
                f.write("%d\n" % os.getpid())
            os.rename(ready + ".tmp", ready)
        time.sleep(0.005)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
