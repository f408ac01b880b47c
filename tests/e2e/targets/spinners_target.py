"""e2e target: four threads running Python at once, each spinning in its own call chain.

usage: spinners_target.py FIFO [--lifetime SECONDS]

Each spinner loops forever on one line (a one-line `while` loop: every instruction it runs
has that line), so its stack is the same whenever it is looked at, even while it runs. On a
free-threaded build (3.13t) the four run truly in parallel; with a GIL they take turns. Main
parks in time.sleep. The truth is each spinner's stack from sys._current_frames() (innermost
first), its tid, and its `n` argument.

Truth JSON: {"pid", "python", "main_tid", "spinners": [{"tid", "name", "n", "stack":
[{"function", "file", "line"}]}]}. Python 3.6+ syntax only.
"""

import sys
import threading
import time

sys.dont_write_bytecode = True

from target_util import fail, parse_args, stack_of, write_truth  # noqa: E402

N = 4
STARTED = {}
LOCK = threading.Lock()


def spin(n):
    x = 0
    while True: x += n  # noqa: E701  (one line: the spinner's line never changes)


def level_b(n):
    spin(n)


def level_a(n):
    if n % 2:
        level_b(n)
    spin(n)


def body(n):
    with LOCK:
        STARTED[n] = (threading.get_native_id(), threading.get_ident())
    level_a(n)


def main():
    fifo, _ = parse_args(sys.argv[1:], __doc__)
    try:
        threads = [threading.Thread(target=body, args=(n,), name="spinner-%d" % n, daemon=True)
                   for n in range(1, N + 1)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while True:
            with LOCK:
                started = dict(STARTED)
            frames = sys._current_frames()
            stacks = dict((n, stack_of(frames.get(ident)))
                          for n, (tid, ident) in started.items())
            frames = None
            if len(started) == N and all(s and s[0]["function"] == "spin" for s in stacks.values()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("spinners did not start: %s" % sorted(started))
            time.sleep(0.01)
        write_truth(fifo, {"main_tid": threading.get_native_id(),
                           "spinners": [{"tid": started[n][0], "name": "spinner-%d" % n, "n": n,
                                         "stack": stacks[n]} for n in sorted(started)]})
        while True:
            time.sleep(1000)
    except Exception as e:  # noqa: BLE001  (any failure is reported to the test)
        fail(fifo, e)


main()
