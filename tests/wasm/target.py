"""A small target for fresh snapshots (test_wasm.py): a main thread a few frames deep, two
workers with locals of several kinds, one of them in a generator. Prints "ready PID", then
sleeps until stdin closes (at most 60 s)."""
import os
import sys
import threading
import time


def worker(n, label):
    items = [1, "two", 3.0, None, {"k": (n, label)}]
    total = sum(range(n))
    text = "caf\u00e9 \u2603 " * n
    blob = b"\x00\xffbytes"
    time.sleep(120)
    return items, total, text, blob


def gen(limit):
    for i in range(limit):
        marker = "gen-%d" % i
        time.sleep(120)
        yield marker


def run_gen():
    for _ in gen(3):
        pass


def nested(depth):
    if depth:
        return nested(depth - 1)
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    sys.stdin.read()


threading.Thread(target=worker, args=(4, "alpha"), name="worker-alpha", daemon=True).start()
threading.Thread(target=run_gen, name="gen-thread", daemon=True).start()
time.sleep(0.3)
threading.Timer(60, lambda: os._exit(0)).start()
nested(3)
os._exit(0)
