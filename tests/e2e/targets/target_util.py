"""Small helpers shared by the e2e targets (threads, locals, native_gil, many_threads,
gc_del, subinterp), which find this module next to them on sys.path.

A target reports its truth as JSON in FIFO + ".json" (written atomically), then "ready\\n"
on FIFO; on failure "error: <why>\\n" and exit 3. Python 3.6+ syntax only.
"""

import os
import platform
import signal
import sys
import threading

from fifo_truth import publish_truth, signal_fifo  # noqa: F401 (the targets use both)

if not hasattr(threading, "get_native_id"):
    # 3.6/3.7: the kernel thread id through gettid(2) (SYS_gettid = 186 on x86-64), what
    # 3.8's threading.get_native_id() returns.
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)

    def _get_native_id():
        return _libc.syscall(186)

    threading.get_native_id = _get_native_id


def write_truth(fifo, truth):
    """publish_truth() of TRUTH plus "pid" and "python" (version, version_info)."""
    truth = dict(truth)
    truth["pid"] = os.getpid()
    truth["python"] = {"version": platform.python_version(),
                       "version_info": list(sys.version_info)}
    publish_truth(fifo, truth)


def fail(fifo, e):
    try:
        signal_fifo(fifo, "error: %s: %s" % (type(e).__name__, e))
    finally:
        os._exit(3)


def fail_why(fifo, why, prog):
    """Report WHY as "error: WHY" on FIFO (one line; no reader on the FIFO is no matter)
    and as "PROG: WHY" on stderr, then exit 3."""
    try:
        signal_fifo(fifo, "error: " + why.replace("\n", " "))
    except OSError:
        pass
    sys.stderr.write("%s: %s\n" % (prog, why))
    sys.stderr.flush()
    os._exit(3)


def task_state(tid):
    """State letter of one of our threads from /proc ('S', 'R', ...), None once it is gone."""
    try:
        with open("/proc/self/task/%d/stat" % tid, errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2]


def task_view(tid):
    """(state letter, syscall number or None) of one of our threads, from /proc."""
    try:
        with open("/proc/self/task/%d/stat" % tid, errors="replace") as f:
            stat = f.read()
        with open("/proc/self/task/%d/syscall" % tid) as f:
            sc = f.read().split()
    except OSError:
        return None, None
    nr = int(sc[0]) if sc and sc[0].lstrip("-").isdigit() else None
    return stat[stat.rindex(")") + 2], nr


def stack_of(frame):
    """(function, file, line) of FRAME and its callers, innermost first."""
    out = []
    while frame is not None:
        out.append({"function": frame.f_code.co_name, "file": frame.f_code.co_filename,
                    "line": frame.f_lineno})
        frame = frame.f_back
    return out


def parse_args(argv, doc):
    """FIFO [--lifetime SECONDS] -> (fifo, lifetime); arms SIGALRM to end the process."""
    if not argv or argv[0].startswith("-"):
        sys.stderr.write(doc)
        sys.exit(2)
    lifetime = 120.0
    if argv[1:2] == ["--lifetime"]:
        lifetime = float(argv[2])
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(max(1, int(lifetime)))
    return os.path.abspath(argv[0]), lifetime
