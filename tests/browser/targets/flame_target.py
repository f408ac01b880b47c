"""Browser-test target: a profile whose split is known, in named threads.

usage: flame_target.py FIFO

Thread "alpha" loops: rec_hot() recurses 3 levels deep then spins 3 ms of wall time, cold()
spins 1 ms: of alpha's samples, 75% are under rec_hot (once each, however deep it nests) and
25% under cold. Thread "beta<img src=x onerror=alert(1)>" sleeps in a function whose code is
named "<img src=y onerror=alert(2)>". The main thread waits for them. With `record --idle`
every thread is sampled each round. The truth: the pid, the threads' names and tids, the
shares. Exits after 120 s by itself.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "e2e", "targets"))
from target_util import write_truth  # noqa: E402

BETA = "beta<img src=x onerror=alert(1)>"
HOSTILE_FN = "<img src=y onerror=alert(2)>"
END = time.monotonic() + 120
TIDS = {}


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def rec_hot(n):
    if n:
        return rec_hot(n - 1)
    spin(0.003)


def cold():
    spin(0.001)


def alpha_loop(ready):
    TIDS["alpha"] = threading.get_native_id()
    ready.set()
    while time.monotonic() < END:
        rec_hot(3)
        cold()


def beta_nap():
    time.sleep(0.05)


beta_nap.__code__ = beta_nap.__code__.replace(
    co_name=HOSTILE_FN, **({"co_qualname": HOSTILE_FN} if sys.version_info >= (3, 11) else {}))


def beta_loop(ready):
    TIDS["beta"] = threading.get_native_id()
    ready.set()
    while time.monotonic() < END:
        beta_nap()


def main():
    ready = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=alpha_loop, args=(ready[0],), name="alpha", daemon=True),
               threading.Thread(target=beta_loop, args=(ready[1],), name=BETA, daemon=True)]
    for t in threads:
        t.start()
    for r in ready:
        r.wait(10)
    write_truth(sys.argv[1], {"threads": {"alpha": TIDS["alpha"], BETA: TIDS["beta"]},
                              "hostile_function": HOSTILE_FN,
                              "alpha_functions": ["alpha_loop", "rec_hot", "cold", "spin"],
                              "rec_hot_share_of_alpha": 0.75})
    for t in threads:
        t.join(125)


main()
