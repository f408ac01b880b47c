"""e2e target: threads running in subinterpreters.

usage: subinterp_target.py FIFO [--lifetime SECONDS]

With the interpreters module of the version (_interpreters in 3.13+, _xxsubinterpreters
before; created with their own GIL where the version can, 3.12+), two subinterpreters:
  - "sleepy": thread "sub-sleeper" runs SLEEP_CODE in it: park_in_subinterp() sleeps;
  - "spinny": thread "sub-spinner" runs SPIN_CODE in it: spin_in_subinterp() loops in pure
    Python, so it holds that interpreter's own GIL (3.12+; before, REST_CODE: it sleeps).
Each reports through a pipe once it is in its function; main parks in time.sleep once the
sleeper sleeps and the spinner runs.

Truth JSON: {"pid", "python", "main_tid", "module": name or null (then nothing else),
  "sleepy": {"id": N, "tid": N, "frames": [...]}, "spinny": {"id": N, "tid": N, "function": its innermost function},
  "runner_function": "run_in"}.
The subinterpreter frames are known by construction (the code strings below; the file
name is the one the subinterpreter itself reports for run_string code).
"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True

from target_util import fail, parse_args, task_view, write_truth  # noqa: E402

READY_TIMEOUT = 20.0

SLEEP_CODE = """import os, time
def park_in_subinterp(fd, seconds):
    os.write(fd, b"s")
    time.sleep(seconds)
park_in_subinterp(%d, %f)
"""
SLEEP_FRAMES = [("park_in_subinterp", 4), ("<module>", 5)]

SPIN_CODE = """import os
def spin_in_subinterp(fd):
    os.write(fd, b"p")
    n = 0
    while True:
        n += 1
spin_in_subinterp(%d)
"""

# Before 3.12 subinterpreters share the main GIL, and a thread spinning in one never sees
# another interpreter's request to drop it (the drop request is per interpreter, the GIL is
# not): the rest of the process would starve. There the second thread rests instead.
REST_CODE = """import os, time
def rest_in_subinterp(fd, seconds):
    os.write(fd, b"p")
    time.sleep(seconds)
rest_in_subinterp(%d, %f)
"""
OWN_GIL = sys.version_info >= (3, 12)

TIDS = {}


def interpreters_module():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            return __import__(name)
        except ImportError:
            pass
    return None


def run_in(mod, interp, code, name):
    TIDS[name] = threading.get_native_id()
    mod.run_string(interp, code)


def main(argv):
    fifo, lifetime = parse_args(argv, __doc__)
    try:
        mod = interpreters_module()
        if mod is None:
            write_truth(fifo, {"module": None})
            time.sleep(lifetime)
            return 0
        r, w = os.pipe()
        sleepy, spinny = mod.create(), mod.create()
        # The file name run_string gives its code ("<string>", "<script>" in 3.14+): asked
        # of the subinterpreter itself.
        mod.run_string(sleepy, "import os, sys\nos.write(%d, sys._getframe().f_code.co_filename.encode())\n" % w)
        code_file = os.read(r, 4096).decode()
        runners = [("sub-sleeper", sleepy, SLEEP_CODE % (w, lifetime)),
                   ("sub-spinner", spinny, SPIN_CODE % w if OWN_GIL else REST_CODE % (w, lifetime))]
        for name, interp, code in runners:
            threading.Thread(target=run_in, args=(mod, interp, code, name), name=name,
                             daemon=True).start()
        got = b""
        deadline = time.monotonic() + READY_TIMEOUT
        while len(got) < 2:
            got += os.read(r, 2 - len(got))
        while task_view(TIDS["sub-sleeper"])[0] != "S":
            if time.monotonic() > deadline:
                raise RuntimeError("the subinterpreter's sleeper does not sleep")
            time.sleep(0.01)
        main_tid = threading.get_native_id()
        frames = [{"function": f, "file": code_file, "line": line} for f, line in SLEEP_FRAMES]
        write_truth(fifo, {"module": mod.__name__, "main_tid": main_tid,
                           "runner_function": "run_in",
                           "sleepy": {"id": int(sleepy), "tid": TIDS["sub-sleeper"], "frames": frames},
                           "spinny": {"id": int(spinny), "tid": TIDS["sub-spinner"],
                                      "function": "spin_in_subinterp" if OWN_GIL else "rest_in_subinterp"}})
    except BaseException as e:  # noqa: B902 - report anything, then die
        fail(fifo, e)
    time.sleep(lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
