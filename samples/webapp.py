"""A small Flask app like the ones people deploy, to point pysnap at under gunicorn.

    gunicorn --workers 2 --timeout 0 --bind 127.0.0.1:PORT --chdir samples webapp:app

Routes:
  /cpu      burns CPU in cpu_intensive_task() (count primes below ?n=, default 60000)
  /hang     blocks for ever in wait_for_lock(): the lock it wants is taken at import and
            never released (a deadlock, as when a request waits on a resource nobody frees)
  /         a cheap health check

If WEBAPP_STATE_DIR is set, /cpu and /hang write "PID" into cpu.pid / hang.pid there before
doing their work, so a test knows which worker is where (the app's own truth).
"""

import os
import threading

from flask import Flask, request

app = Flask(__name__)

# Taken at import (in each worker) and never released: whoever wants it waits for ever.
resource_lock = threading.Lock()
resource_lock.acquire()


def _note(name):
    state_dir = os.environ.get("WEBAPP_STATE_DIR")
    if not state_dir:
        return
    tmp = os.path.join(state_dir, "%s.pid.%d" % (name, os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(tmp, os.path.join(state_dir, name + ".pid"))


def cpu_intensive_task(n):
    """Pure-Python number crunching: count the primes below n."""
    count = 0
    for candidate in range(2, n):
        d = 2
        while d * d <= candidate:
            if candidate % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def wait_for_lock():
    """Needs resource_lock: stuck here, because it is never released."""
    with resource_lock:
        return "unreachable"


@app.route("/cpu")
def cpu():
    n = min(int(request.args.get("n", "60000")), 10000000)
    _note("cpu")
    return "primes below %d: %d\n" % (n, cpu_intensive_task(n))


@app.route("/hang")
def hang():
    _note("hang")
    return wait_for_lock()


@app.route("/")
def index():
    return "ok\n"
