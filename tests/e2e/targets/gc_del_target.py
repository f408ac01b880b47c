"""e2e target: a thread parked inside __del__ while gc.collect() runs.

usage: gc_del_target.py FIFO [--lifetime SECONDS]

Automatic collection is disabled; thread "collector" makes a reference cycle whose object
has a __del__, then calls gc.collect(). The collector finds the cycle and calls __del__,
which parks on an Event nobody sets: the collection stays running (gc_runtime_state
.collecting is 1) for as long as the process lives. Main parks in time.sleep once the
collector sleeps inside __del__.

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
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            f = sys._current_frames().get(t.ident)
            names = []
            while f is not None:
                names.append(f.f_code.co_name)
                f = f.f_back
            if "__del__" in names and task_view(TID[0])[0] == "S":
                break
            if time.monotonic() > deadline:
                raise RuntimeError("collector not parked in __del__: %s" % names)
            time.sleep(0.01)
        frames = stack_of(sys._current_frames()[t.ident])
        main_tid = threading.get_native_id()
        write_truth(fifo, {"main_tid": main_tid, "collector_tid": TID[0],
                           "collector_frames": frames})
    except BaseException as e:  # noqa: B902 - report anything, then die
        fail(fifo, e)
    time.sleep(lifetime)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
