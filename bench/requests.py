"""What finding the HTTP requests costs a capture: two pysnap binaries (one without the request
finder, one with it) capture the same hung gunicorn + Flask worker in turns, N times each.

    python3 bench/requests.py BASE_PYSNAP NEW_PYSNAP [--runs N]

Starts Debian's gunicorn on tests/e2e/targets/flask_app.py (1 sync worker), sends it a /hang
request (it never returns: the worker's stack is the same for every capture), then alternates
the two binaries. Prints the median pause (what pysnap reports), snapshot size and capture wall
time of each, and their ratios (new / base).
"""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = os.path.join(REPO, "tests", "e2e", "targets")


def capture(binary, pid, out):
    t0 = time.monotonic()
    res = subprocess.run([binary, "capture", "--pid", str(pid), "-o", out, "--force"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    wall = time.monotonic() - t0
    if res.returncode:
        sys.exit("capture failed: %s" % res.stderr.decode())
    pause = float(re.search(rb"pause ([\d.]+) ms", res.stdout).group(1))
    return pause, os.path.getsize(out), wall * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pysnap-bench-requests-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, WEBAPP_STATE_DIR=tmp)
    server = subprocess.Popen(["/usr/bin/gunicorn", "--workers", "1", "--timeout", "0",
                               "--bind", "127.0.0.1:%d" % port, "--chdir", TARGETS,
                               "flask_app:app"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(tmp, "hang")):
            if time.monotonic() > deadline:
                sys.exit("gunicorn never took /hang")
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/hang?id=1&token=x" % port,
                                       timeout=0.5)
            except OSError:
                pass
        worker = int(open(os.path.join(tmp, "hang")).read().split()[0])
        rows = {"base": [], "new": []}
        for i in range(a.runs):
            for name in ("base", "new") if i % 2 == 0 else ("new", "base"):
                rows[name].append(capture(getattr(a, name), worker,
                                          os.path.join(tmp, name + ".snap")))
        med = dict((n, [statistics.median(col) for col in zip(*rows[n])]) for n in rows)
        print("hung gunicorn sync worker + Flask, %d captures each, interleaved (median)" % a.runs)
        print("%-6s %10s %12s %12s" % ("", "pause ms", "file bytes", "wall ms"))
        for n in ("base", "new"):
            print("%-6s %10.3f %12d %12.1f" % (n, med[n][0], med[n][1], med[n][2]))
        print("%-6s %10.2f %12.2f %12.2f" % ("ratio", med["new"][0] / med["base"][0],
                                             med["new"][1] / med["base"][1],
                                             med["new"][2] / med["base"][2]))
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


if __name__ == "__main__":
    main()
