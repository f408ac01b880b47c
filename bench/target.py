"""Benchmark target for bench/run.sh: the same process for every tool.

    python target.py --threads 20 --spinners 2 --heap-mb 300 --heartbeat bench.so --hb-file F

- THREADS parked threads, each a few Python frames deep, each frame holding locals of many
  kinds (ints small and big, floats, complex, str of every kind, bytes, list, tuple, dict,
  set, nested containers, None/bools, an instance with attributes, a function, a range);
- SPINNERS threads running Python code without pause (they fight over the GIL);
- a heap of about HEAP_MB: mostly large buffers whose pages are all touched, plus a share
  of small objects, so that whatever walks or copies the whole heap pays for it;
- the C heartbeat (bench/heartbeat.c) started through ctypes, writing into HB_FILE.

Prints "ready PID" on stdout when everything is in place, then runs until stdin closes
(or --max-seconds pass, so a driver that dies never leaves it spinning).
"""
import argparse
import ctypes
import os
import sys
import threading


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance
        self.history = [balance, balance * 2, -balance]


def build_heap(heap_mb):
    # 90 % in 1 MiB buffers (every page written), 10 % in small objects.
    big = []
    for i in range(heap_mb * 9 // 10):
        big.append(bytes([i % 251]) * (1 << 20))
    small = []
    target = heap_mb * (1 << 20) // 10
    size = 0
    i = 0
    while size < target:
        small.append((i, "item-%d" % i, [i, i + 1.5]))
        size += 200  # roughly what one tuple with its items costs
        i += 1
    return big, small


def park(n, stop, ready, depth):
    # A few frames deep, each with its own locals.
    count = n * 7
    ratio = n / 3.0
    label = "worker-%d" % n
    if depth > 0:
        return park(n, stop, ready, depth - 1)
    small_int = 42
    big_int = 3 ** 200 + n
    neg = -n - 1
    pi = 3.141592653589793
    cplx = complex(n, -2.5)
    text = "héllo wörld %d" % n
    wide = "日本語テキスト %d" % n
    emoji = "snap \U0001f40d %d" % n
    raw = b"\x00\x01binary\xff" * 3
    items = [1, 2.5, "three", None, True, (4, 5)]
    pair = (n, "n", [n])
    table = {"id": n, "name": label, "tags": ["a", "b"], 7: "seven"}
    uniq = {1, 2, 3, n}
    nested = {"level1": {"level2": {"level3": [n, [n, [n]]]}}}
    nothing = None
    flag = n % 2 == 0
    acct = Account(label, n * 100)
    fn = park
    span = range(0, n * 10, 3)
    long_text = "x" * 5000
    ready.release()
    stop.wait()
    return (count, ratio, small_int, big_int, neg, pi, cplx, text, wide, emoji, raw, items,
            pair, table, uniq, nested, nothing, flag, acct, fn, span, long_text)


def spin(stop, n):
    total = 0
    i = 0
    while not stop.is_set():
        for j in range(1000):
            total += (i * j) % 7
        i += 1
        counter = i
    return total, counter, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=20)
    ap.add_argument("--spinners", type=int, default=2)
    ap.add_argument("--heap-mb", type=int, default=300)
    ap.add_argument("--heartbeat", required=True, help="heartbeat .so")
    ap.add_argument("--hb-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()

    hb = ctypes.CDLL(a.heartbeat)
    hb.hb_start.argtypes = [ctypes.c_char_p]
    if hb.hb_start(a.hb_file.encode()) != 0:
        sys.exit("target: cannot start the heartbeat on %s" % a.hb_file)

    heap = build_heap(a.heap_mb)
    stop = threading.Event()
    ready = threading.Semaphore(0)
    threads = []
    for n in range(a.threads):
        t = threading.Thread(target=park, args=(n, stop, ready, 2), name="parked-%d" % n,
                             daemon=True)
        t.start()
        threads.append(t)
    for _ in range(a.threads):
        ready.acquire()
    for n in range(a.spinners):
        t = threading.Thread(target=spin, args=(stop, n), name="spinner-%d" % n, daemon=True)
        t.start()
        threads.append(t)

    threading.Timer(a.max_seconds, lambda: os._exit(3)).start()
    print("ready %d" % os.getpid(), flush=True)
    sys.stdin.read()  # until the driver closes our stdin
    stop.set()
    del heap
    os._exit(0)


if __name__ == "__main__":
    main()
