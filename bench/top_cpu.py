#!/usr/bin/python3
"""What `pysnap top` costs: its own CPU (user + system, of one core) while it watches the
gunicorn sample (samples/webapp.py, 2 workers: one busy in cpu_intensive_task, one hung in
wait_for_lock) with --children, at --rate 100 and --rate 1000, on a terminal (tmux) and
not (a pipe). Also the rate it reached and what the sampler dropped (torn) or skipped (late).
Not part of the pass/fail tests. Needs Debian's gunicorn and python3-flask (and tmux for the
terminal rows).

Usage: bench/top_cpu.py [--pysnap PATH] [--seconds N] [--rates 100,1000]
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATS = re.compile(r"^rounds (\d+) rate ([\d.]+)/s samples (\d+) torn (\d+) late (\d+)", re.M)


class App(object):
    def __init__(self, tmp):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("PYTHON"))
        self.log = open(os.path.join(tmp, "gunicorn.log"), "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/gunicorn", "--workers", "2", "--timeout", "0", "--bind",
             "127.0.0.1:%d" % self.port, "--chdir", os.path.join(REPO, "samples"), "webapp:app"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env,
            start_new_session=True)
        self.stop = threading.Event()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/", 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("gunicorn did not start (see %s)" % self.log.name)
                time.sleep(0.1)
        try:
            self.get("/hang", 0.5)
        except OSError:
            pass
        threading.Thread(target=self.load, daemon=True).start()
        time.sleep(1)

    def get(self, path, timeout):
        return urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                      timeout=timeout).read()

    def load(self):
        while not self.stop.is_set():
            try:
                self.get("/cpu?n=2000000", 120)
            except OSError:
                time.sleep(0.1)

    def close(self):
        self.stop.set()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def cpu_of_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_pipe(pysnap, pid, rate, seconds):
    before = cpu_of_children()
    t0 = time.monotonic()
    out = subprocess.run([pysnap, "top", "--pid", str(pid), "--children", "--rate", str(rate),
                          "-n", str(seconds), "--delay", "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=True,
                         timeout=seconds * 3 + 30).stdout.decode()
    wall = time.monotonic() - t0
    return cpu_of_children() - before, wall, out


def run_record(pysnap, pid, rate, seconds, tmp):
    """The sampler alone (pysnap record, same options): what top adds is the difference."""
    before = cpu_of_children()
    t0 = time.monotonic()
    subprocess.run([pysnap, "record", "--pid", str(pid), "--children", "--rate", str(rate),
                    "-d", str(seconds), "-o", os.path.join(tmp, "r.txt")], check=True,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=seconds * 3 + 30)
    wall = time.monotonic() - t0
    return cpu_of_children() - before, wall


def run_tty(pysnap, pid, rate, seconds, tmp):
    """In a tmux pane (a real terminal); a small wrapper reports the child's CPU."""
    res_file = os.path.join(tmp, "tty-%d.txt" % rate)
    wrapper = ("import resource, subprocess, sys, time; t = time.monotonic(); "
               "subprocess.run(sys.argv[2:]); r = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "open(sys.argv[1], 'w').write('%f %f' % (r.ru_utime + r.ru_stime, "
               "time.monotonic() - t))")
    sock = "pysnap-bench-%d" % os.getpid()
    cmd = [sys.executable, "-c", wrapper, res_file, pysnap, "top", "--pid", str(pid),
           "--children", "--rate", str(rate), "-n", str(seconds), "--delay", "1"]
    subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x", "160",
                    "-y", "50"] + cmd, check=True)
    deadline = time.monotonic() + seconds * 3 + 30
    while not os.path.exists(res_file) or not open(res_file).read():
        if time.monotonic() > deadline:
            sys.exit("top in tmux did not finish")
        time.sleep(0.2)
    subprocess.run(["tmux", "-L", sock, "kill-server"], stderr=subprocess.DEVNULL)
    cpu, wall = map(float, open(res_file).read().split())
    return cpu, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pysnap", default=os.path.join(REPO, "build", "programs", "pysnap"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rates", default="100,1000")
    a = ap.parse_args()
    if not os.access("/usr/bin/gunicorn", os.X_OK):
        sys.exit("needs Debian's gunicorn and python3-flask")
    tmp = tempfile.mkdtemp(prefix="pysnap-top-bench-")
    app = App(tmp)
    rows = []
    try:
        for rate in [int(r) for r in a.rates.split(",")]:
            cpu, wall, out = run_pipe(a.pysnap, app.proc.pid, rate, a.seconds)
            stats = STATS.findall(out)
            rounds = sum(int(s[0]) for s in stats)
            torn = sum(int(s[3]) for s in stats)
            late = sum(int(s[4]) for s in stats)
            rows.append(("top, pipe", rate, wall, cpu, rounds / wall, torn, late))
            cpu, wall = run_record(a.pysnap, app.proc.pid, rate, a.seconds, tmp)
            rows.append(("record (sampler alone)", rate, wall, cpu, None, None, None))
            if shutil.which("tmux"):
                cpu, wall = run_tty(a.pysnap, app.proc.pid, rate, a.seconds, tmp)
                rows.append(("top, terminal", rate, wall, cpu, None, None, None))
    finally:
        app.close()
    print("pysnap top --children on the gunicorn sample (3 processes), %d s each; "
          "load average %.1f on %d cores" % (a.seconds, os.getloadavg()[0], os.cpu_count()))
    print("| run | --rate | wall s | top CPU s | % of one core | rounds/s | torn | late |")
    print("|---|---|---|---|---|---|---|---|")
    for out, rate, wall, cpu, rps, torn, late in rows:
        print("| %s | %d | %.1f | %.2f | %.1f%% | %s | %s | %s |" % (
            out, rate, wall, cpu, 100 * cpu / wall, "%.0f" % rps if rps else "-",
            torn if torn is not None else "-", late if late is not None else "-"))


if __name__ == "__main__":
    main()
