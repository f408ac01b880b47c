"""Shared by the web targets of tests/e2e/test_requests.py: each route notes, before doing its
work, which process and thread took it (the target's own truth), in $WEBAPP_STATE_DIR."""

import importlib.util
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


def _sample_app():
    """samples/app.py (standard library only), for its cpu_intensive_task."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "samples",
                        "app.py")
    spec = importlib.util.spec_from_file_location("pysnap_sample_app", os.path.normpath(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cpu_intensive_task = _sample_app().cpu_intensive_task  # count the primes below n
