"""e2e target: a thread parked inside __del__ while gc.collect() runs.

usage: gc_del_target.py FIFO [--lifetime SECONDS]

Automatic collection is disabled; thread "collector" makes a reference cycle whose object
has a __del__, then calls gc.collect(). The collector finds the cycle and calls __del__,
which parks on an Event nobody sets: the collection stays running (gc_runtime_state
.collecting is 1) for as long as the process lives. Main parks in time.sleep once the
collector sleeps inside __del__ with the same stack in two looks 50 ms apart.

Truth JSON: {"pid", "python", "main_tid", "collector_tid",
             "collector_frames": [{"function", "file", "line"}, ...] (innermost first)}.
"""

import gc
import sys
import threading
import time

sys.dont_write_bytecode = True

from target_util import fail, parse_args, stack_of, task_view, write_truth  # noqa: E402

READY_TIMEOUT = 20.0
ENTERED = threading.Event()
NEVER = threading.Event()
TID = []


class Parked(object):
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it

    def __del__(self):
        ENTERED.set()
        NEVER.wait()


def make_garbage():
    Parked()


def collect():
    TID.append(threading.get_native_id())
    make_garbage()
    gc.collect()


def main(argv):
    fifo, lifetime = parse_args(argv, __doc__)
    try:
        gc.disable()
        t = threading.Thread(target=collect, name="collector", daemon=True)
        t.start()
        if not ENTERED.wait(READY_TIMEOUT):
            raise RuntimeError("__del__ was not called")
        # Parked: asleep with __del__ on its stack, and the same stack after main has let go
        # of the GIL for a while (a collector preempted on its way into NEVER.wait() also
        # sleeps, on the GIL, at another line; it moves on as soon as main sleeps).
        deadline = time.monotonic() + READY_TIMEOUT
        before = None
        while True:
            frames = stack_of(sys._current_frames().get(t.ident))
            names = [f["function"] for f in frames]
            parked = "__del__" in names and task_view(TID[0])[0] == "S"
            if parked and frames == before:
                break
            before = frames if parked else None
            if time.monotonic() > deadline:
                raise RuntimeError("collector not parked in __del__: %s" % names)
            time.sleep(0.05)
        main_tid = threading.get_native_id()
        write_truth(fifo, {"main_tid": main_tid, "collector_tid": TID[0],
                           "collector_frames": frames})
    except BaseException as e:  # noqa: B902 - report anything, then die
        fail(fifo, e)
    time.sleep(lifetime)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
