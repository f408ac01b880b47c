"""Shared by the web targets of tests/e2e/test_requests.py: each route notes, before doing its
work, which process and thread took it (the target's own truth), in $WEBAPP_STATE_DIR."""

import os
import threading


def note(name):
    state_dir = os.environ.get("WEBAPP_STATE_DIR")
    if not state_dir:
        return
    tmp = os.path.join(state_dir, "%s.%d.%d" % (name, os.getpid(), threading.get_native_id()))
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (os.getpid(), threading.get_native_id()))
    os.replace(tmp, os.path.join(state_dir, name))


def cpu_intensive_task(n):
    """Count the primes below n."""
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
