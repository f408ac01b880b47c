"""e2e target for pysnap record: a main thread whose Python stack changes all the time.

usage: churn_target.py FIFO [--lifetime SECONDS] [--leaf-iterations N]

churn() calls descend() at depths that vary from 1 to 60 in a tight loop, so a sampler that
does not stop the process reads frames while they are being pushed and popped (torn samples).
Writes {"pid": N, "functions": [...], "file": __file__} to FIFO + ".json", then "ready\\n" to
FIFO. Exits by itself after --lifetime seconds (default 60). Python 3.8+.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True


def descend(n):
    if n > 0:
        return descend(n - 1) + 1
    return leaf()


LEAF_ITERATIONS = 20000  # ~1 ms: long enough that most samples find the stack at rest


def leaf():
    s = 0
    for i in range(LEAF_ITERATIONS):
        s += i
    return s


def churn(lifetime, ready):
    end = time.monotonic() + lifetime
    depth = 1
    while time.monotonic() < end:
        descend(depth)
        depth = depth % 60 + 1
        if ready:  # from inside the loop: every sample after "ready" is in churn
            ready()
            ready = None


def main():
    global LEAF_ITERATIONS
    fifo = sys.argv[1]
    if "--leaf-iterations" in sys.argv:
        LEAF_ITERATIONS = int(sys.argv[sys.argv.index("--leaf-iterations") + 1])
    lifetime = float(sys.argv[sys.argv.index("--lifetime") + 1]) if "--lifetime" in sys.argv else 60.0
    truth = {"pid": os.getpid(), "file": os.path.abspath(__file__),
             "functions": ["<module>", "main", "churn", "descend", "leaf"]}
    with open(fifo + ".json.tmp", "w") as f:
        json.dump(truth, f)
    os.rename(fifo + ".json.tmp", fifo + ".json")

    def ready():
        with open(fifo, "w") as f:
            f.write("ready\n")

    churn(lifetime, ready)


if __name__ == "__main__":
    main()
