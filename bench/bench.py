"""Benchmark driver, started by bench/run.sh (which builds the heartbeat and finds the tools).

Starts bench/target.py on the chosen interpreter, then for each tool and each run: resets the
target's C heartbeat, runs the tool once, and records its wall time, its peak RSS (wait4),
the largest heartbeat gap seen while it ran (what the target felt), and what the tool itself
reports (pysnap's pause, the file sizes). A window of the same length with no tool attached
gives the heartbeat's noise floor. Prints one table (median and max over the runs, ratios
against pysnap) and writes every figure as JSON.
"""
import argparse
import json
import mmap
import os
import platform
import re
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HB_MAGIC = 0x7079736E61706862
GNU_TIME = "/usr/bin/time"
HB_HEAD = struct.Struct("<8Q")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def split_cmd(cmd):
    """'VAR=x VAR2=y prog args' -> (env additions, argv)."""
    words = shlex.split(cmd)
    env = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    return env, words


class Target:
    def __init__(self, python_cmd, threads, spinners, heap_mb, hb_so, workdir, bench_dir):
        self.hb_file = os.path.join(workdir, "hb-%d-%d" % (threads, heap_mb))
        with open(self.hb_file, "wb") as f:
            f.write(b"\0" * (HB_HEAD.size + 8 * 16384))
        env_add, argv = split_cmd(python_cmd)
        env = dict(os.environ, **env_add)
        argv = argv + [os.path.join(bench_dir, "target.py"), "--threads", str(threads),
                       "--spinners", str(spinners), "--heap-mb", str(heap_mb),
                       "--heartbeat", hb_so, "--hb-file", self.hb_file, "--max-seconds", "900"]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready "):
            self.proc.kill()
            raise SystemExit("bench: the target did not start (%r)" % line)
        self.pid = int(line.split()[1])
        self.started_s = time.monotonic() - t0
        fd = os.open(self.hb_file, os.O_RDWR)
        self.mm = mmap.mmap(fd, 0)
        os.close(fd)
        if HB_HEAD.unpack_from(self.mm, 0)[0] != HB_MAGIC:
            raise SystemExit("bench: the heartbeat did not start")
        self.rss_mb = self._rss_mb()

    def _rss_mb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def hb_reset(self):
        head = HB_HEAD.unpack_from(self.mm, 0)
        req = head[3] + 1
        struct.pack_into("<Q", self.mm, 24, req)
        deadline = time.monotonic() + 2.0
        while HB_HEAD.unpack_from(self.mm, 0)[4] != req:
            if time.monotonic() > deadline:
                raise SystemExit("bench: the heartbeat stopped answering")
            time.sleep(0.0005)

    def hb_max_gap_ms(self):
        return HB_HEAD.unpack_from(self.mm, 0)[1] / 1e6

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.mm.close()
        os.unlink(self.hb_file)


def run_tool(argv, timeout_s, env=None, stdout_path=None):
    """Run ARGV once; returns (rc, wall_ms, peak_rss_kb, stdout, stderr, cpu_ms).

    The peak RSS comes from GNU time when present: wait4's ru_maxrss of a child forked from
    this (large) driver includes the driver's own RSS, which exec keeps as a high-water mark."""
    out = open(stdout_path, "w+b") if stdout_path else tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="rss.")
        os.close(fd)
        argv = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file] + list(argv)
    t0 = time.monotonic()
    # A session of its own: the timeout kills the tool, not only GNU time in front of it.
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                         start_new_session=True)

    def on_alarm(sig, frame):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    while True:
        try:
            _, status, ru = os.wait4(p.pid, 0)
            break
        except InterruptedError:
            continue
    wall_ms = (time.monotonic() - t0) * 1000
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    o, e = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    out.close()
    err.close()
    rss = ru.ru_maxrss
    # wait4's CPU times include the children GNU time waited for (microseconds, where
    # time's own %U/%S are centiseconds).
    cpu_ms = (ru.ru_utime + ru.ru_stime) * 1000
    if rss_file:
        try:
            with open(rss_file) as f:
                rss = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            rss = None  # killed by the timeout before time wrote it
        os.unlink(rss_file)
    return p.returncode, wall_ms, rss, o, e, cpu_ms


def kb_to_bytes(kb):
    return None if kb is None else kb * 1024


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def mx(xs):
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


class Bench:
    def __init__(self, args):
        self.a = args
        self.results = {}  # tool -> {"runs": [...], "skipped": reason, "note": ...}
        self.order = []

    def add(self, tool, runs=None, skipped=None, note=None):
        if tool not in self.results:
            self.order.append(tool)
        self.results[tool] = {"runs": runs or [], "skipped": skipped, "note": note}

    # -- one measurement: tool under the heartbeat ------------------------------------------
    def measure(self, target, argv, timeout_s, env=None, stdout_path=None):
        target.hb_reset()
        rc, wall, rss, o, e, cpu = run_tool(argv, timeout_s, env, stdout_path)
        gap = target.hb_max_gap_ms()
        if not target.alive():
            raise SystemExit("bench: the target died while %s ran" % argv[0])
        time.sleep(self.a.settle)  # let the target's threads run again before the next run
        return {"rc": rc, "wall_ms": wall, "cpu_ms": cpu, "rss_kb": rss, "hb_gap_ms": gap,
                "out": o, "err": e}

    def noise(self, target, window_s):
        target.hb_reset()
        time.sleep(window_s)
        return target.hb_max_gap_ms()

    # -- pysnap ------------------------------------------------------------------------------
    def pysnap(self, target, label, runs, others=()):
        """RUNS captures + analyses of TARGET by --pysnap, recorded as LABEL; with OTHERS
        ([(label, binary)], --also-pysnap), each run does every binary in turn (the order
        rotating from run to run), so that they are compared under the same load."""
        bins = [(label, self.a.pysnap)] + list(others)
        rows = {lb: [] for lb, _ in bins}
        for i in range(runs):
            for lb, binary in bins[i % len(bins):] + bins[:i % len(bins)]:
                rows[lb].append(self.pysnap_once(target, binary))
        for lb, _ in bins:
            self.add(lb, rows[lb])
        return rows[label]

    def pysnap_once(self, target, binary):
        snap = os.path.join(self.a.workdir, "bench.snap")
        m = self.measure(target, [binary, "capture", "-p", str(target.pid), "-o", snap,
                                  "-f", "-v"], 60)
        if m["rc"] != 0:
            raise SystemExit("bench: pysnap capture failed: " + m["err"].strip())
        pause = re.search(r"pause ([0-9.]+) ms", m["out"])
        m["pause_ms"] = float(pause.group(1)) if pause else None
        # The --verbose line: "pause P ms = stop S ms + walk W ms + ...; N pages read in C
        # calls, B bytes in R ranges kept; ..."; every field optional (older builds).
        for key, pat in (("stop_ms", r"stop ([0-9.]+) ms"), ("walk_ms", r"walk ([0-9.]+) ms"),
                         ("stacks_ms", r"stacks ([0-9.]+) ms"),
                         ("copy_ms", r"copy ([0-9.]+) ms"),
                         ("resume_ms", r"resume ([0-9.]+) ms"),
                         ("freezes", r"(\d+) freezes?"),
                         ("pages_read", r"(\d+) pages read"),
                         ("read_calls", r"in (\d+) calls"),
                         ("bytes_kept", r"(\d+) bytes in \d+ ranges")):
            v = re.search(pat, m["err"])
            if v:
                m[key] = float(v.group(1)) if key.endswith("_ms") else int(v.group(1))
        m["size_bytes"] = os.path.getsize(snap)
        # Analysis, offline, of what was just captured.
        rc, awall, arss, ao, ae, acpu = run_tool([binary, "analyze", snap, "--json"], 60)
        if rc != 0:
            raise SystemExit("bench: pysnap analyze failed: " + ae.strip())
        doc = json.loads(ao)
        m["analyze_ms"] = awall
        m["analyze_cpu_ms"] = acpu
        m["analyze_rss_kb"] = arss
        m["json_pause_us"] = doc["target"].get("pause_us")
        threads = [t for i_ in doc["interpreters"] for t in i_["threads"]]
        m["threads_seen"] = len(threads)
        m["frames_with_locals"] = sum(1 for t in threads for f in t.get("frames", [])
                                      if f.get("locals"))
        m["noise_ms"] = self.noise(target, m["wall_ms"] / 1000.0)
        del m["out"], m["err"]
        return m

    # -- peers -------------------------------------------------------------------------------
    def peer(self, target, label, argv, runs, check=None, env=None, size_of=None, timeout_s=120):
        rows = []
        for i in range(runs):
            m = self.measure(target, argv, timeout_s, env)
            ok = m["rc"] == 0 and (check is None or check(m["out"] + m["err"]))
            if not ok:
                reason = "failed: rc=%d %s" % (m["rc"], (m["err"].strip() or m["out"].strip())[-160:])
                m["failed"] = reason
            if size_of:
                m["size_bytes"] = size_of()
            del m["out"], m["err"]
            rows.append(m)
        fails = [r for r in rows if r.get("failed")]
        note = None
        if fails:
            note = "%d of %d runs failed (%s)" % (len(fails), runs, fails[0]["failed"])
        if len(fails) == runs:
            self.add(label, rows, skipped=note)
        else:
            self.add(label, rows, note=note)

    # -- table -------------------------------------------------------------------------------
    def table(self):
        p = self.results.get("pysnap", {}).get("runs", [])
        ref = {k: med([r.get(k) for r in p]) for k in ("hb_gap_ms", "wall_ms", "size_bytes")}
        cols = ["tool", "pause ms", "hb gap ms", "wall ms", "size", "peak RSS", "x pysnap: gap/wall/size"]
        lines = []

        def fmt(v, unit=""):
            if v is None:
                return "-"
            if unit == "B":
                for u, d in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
                    if v >= d:
                        return "%.1f %s" % (v / d, u)
                return "%d B" % v
            return ("%.2f" % v) if v < 10 else ("%.1f" % v) if v < 1000 else ("%.0f" % v)

        def pair(rows, k, unit=""):
            return "%s / %s" % (fmt(med([r.get(k) for r in rows]), unit),
                                fmt(mx([r.get(k) for r in rows]), unit))

        def ratio(rows, k):
            v = med([r.get(k) for r in rows if not r.get("failed")])
            if v is None or not ref.get(k):
                return "-"
            return "%.0f" % (v / ref[k]) if v / ref[k] >= 10 else "%.1f" % (v / ref[k])

        body = []
        for tool in self.order:
            res = self.results[tool]
            rows = [r for r in res["runs"] if not r.get("failed")]
            if res["skipped"]:
                body.append([tool, "skipped: " + res["skipped"]])
                continue
            body.append([tool, pair(rows, "pause_ms"), pair(rows, "hb_gap_ms"), pair(rows, "wall_ms"),
                         fmt(med([r.get("size_bytes") for r in rows]), "B"),
                         fmt(kb_to_bytes(med([r.get("rss_kb") for r in rows])), "B"),
                         "%s / %s / %s" % (ratio(rows, "hb_gap_ms"), ratio(rows, "wall_ms"),
                                           ratio(rows, "size_bytes"))])
            if res["note"]:
                body.append(["", "note: " + res["note"]])
        widths = [max(len(r[i]) for r in [cols] + [b for b in body if len(b) == len(cols)])
                  for i in range(len(cols))]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
        lines.append("  ".join("-" * w for w in widths))
        for b in body:
            if len(b) == len(cols):
                lines.append("  ".join(c.ljust(w) for c, w in zip(b, widths)))
            else:
                lines.append(b[0].ljust(widths[0]) + "  " + b[1])
        return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", required=True, help="interpreter command (may start with VAR=x)")
    ap.add_argument("--python-label", default=None)
    ap.add_argument("--pysnap", required=True)
    ap.add_argument("--also-pysnap", action="append", default=[], metavar="LABEL=PATH",
                    help="another pysnap binary, run alternately with --pysnap on the main target")
    ap.add_argument("--heartbeat", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pysnap-runs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=20)
    ap.add_argument("--spinners", type=int, default=2)
    ap.add_argument("--heap-mb", type=int, default=300)
    ap.add_argument("--many-threads", type=int, default=200, help="0: skip that run")
    ap.add_argument("--small-heap-mb", type=int, default=30, help="0: skip the heap-scaling run")
    ap.add_argument("--settle", type=float, default=0.2)
    ap.add_argument("--gdb-script", default="", help="CPython gdb extension, or 'skip:REASON'")
    ap.add_argument("--austin", default="", help="austin command, or 'skip:REASON'")
    ap.add_argument("--tools", default="pysnap,gcore,gdb,eu-stack,austin,cpython")
    ap.add_argument("--json", default=None, help="write every figure here")
    a = ap.parse_args()
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    tools = set(a.tools.split(","))
    env_add, py_argv = split_cmd(a.python)
    py_env = dict(os.environ, **env_add)
    version = subprocess.run(py_argv + ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             env=py_env, capture_output=True, text=True, check=True).stdout.strip()
    minor = tuple(int(x) for x in version.split(".")[:2])
    b = Bench(a)

    log("starting the target: python %s, %d parked + %d spinning threads, %d MB heap"
        % (version, a.threads, a.spinners, a.heap_mb))
    t = Target(a.python, a.threads, a.spinners, a.heap_mb, a.heartbeat, a.workdir, bench_dir)
    info = {"python": version, "python_cmd": a.python, "threads": a.threads,
            "spinners": a.spinners, "heap_mb": a.heap_mb, "target_rss_mb": round(t.rss_mb, 1),
            "target_start_s": round(t.started_s, 2)}
    log("target pid %d, RSS %.0f MB, ready in %.1f s" % (t.pid, t.rss_mb, t.started_s))
    try:
        log("pysnap x%d" % a.runs)
        b.pysnap(t, "pysnap", a.pysnap_runs,
                 [tuple(x.split("=", 1)) for x in a.also_pysnap])
        if "gcore" in tools:
            if not shutil_which("gcore"):
                b.add("gcore", skipped="gcore not installed")
            else:
                log("gcore x%d" % a.runs)
                core = os.path.join(a.workdir, "core")

                def core_size():
                    path = "%s.%d" % (core, t.pid)
                    n = os.path.getsize(path) if os.path.exists(path) else None
                    if n is not None:
                        os.unlink(path)
                    return n
                b.peer(t, "gcore", ["gcore", "-o", core, str(t.pid)], a.runs,
                       size_of=core_size, timeout_s=120)
        if "gdb" in tools:
            if a.gdb_script.startswith("skip:") or not a.gdb_script:
                b.add("gdb py-bt-full", skipped=a.gdb_script[5:] or "no CPython gdb extension")
            elif not shutil_which("gdb"):
                b.add("gdb py-bt-full", skipped="gdb not installed")
            else:
                log("gdb + py-bt-full x%d" % a.runs)
                b.peer(t, "gdb py-bt-full",
                       ["gdb", "-nx", "-batch", "-p", str(t.pid),
                        "-ex", "set debuginfod enabled off", "-ex", "source " + a.gdb_script,
                        "-ex", "thread apply all py-bt-full"], a.runs,
                       check=lambda s: "in park" in s, timeout_s=120)
        if "eu-stack" in tools:
            if not shutil_which("eu-stack"):
                b.add("eu-stack -p", skipped="eu-stack not installed")
            else:
                log("eu-stack x%d" % a.runs)
                b.peer(t, "eu-stack -p", ["eu-stack", "-p", str(t.pid)], a.runs,
                       check=lambda s: "TID" in s, timeout_s=60)
        if "austin" in tools:
            if minor >= (3, 14):
                b.add("austin -w", skipped="austin 3.7 supports Python < 3.14")
            elif a.austin.startswith("skip:") or not a.austin:
                b.add("austin -w", skipped=a.austin[5:] or "austin not available")
            else:
                log("austin -w x%d" % a.runs)
                aenv, aargv = split_cmd(a.austin)
                b.peer(t, "austin -w", aargv + ["-w", str(t.pid)], a.runs,
                       env=dict(os.environ, **aenv), check=lambda s: "park" in s, timeout_s=60)
        if "cpython" in tools:
            if minor < (3, 14):
                b.add("CPython _remote_debugging", skipped="needs Python 3.14+ (target is %s)" % version)
            else:
                log("CPython's own tools x%d" % a.runs)
                code = ("import _remote_debugging as r, sys; "
                        "u = r.RemoteUnwinder(int(sys.argv[1]), all_threads=True); "
                        "print(u.get_stack_trace())")
                b.peer(t, "_remote_debugging", py_argv + ["-c", code, str(t.pid)], a.runs,
                       env=py_env, check=lambda s: "park" in s)
                if minor >= (3, 15):
                    for blocking in (True, False):
                        label = "sampling dump" + (" --blocking" if blocking else "")
                        b.peer(t, label, py_argv + ["-m", "profiling.sampling", "dump", "-a"]
                               + (["--blocking"] if blocking else []) + [str(t.pid)], a.runs,
                               env=py_env, check=lambda s: "park" in s)
                else:
                    b.add("sampling dump --blocking", skipped="profiling.sampling dump is 3.15+")
    finally:
        t.close()

    extra = {}
    if a.many_threads:
        log("target with %d parked threads" % a.many_threads)
        t2 = Target(a.python, a.many_threads, a.spinners, a.heap_mb, a.heartbeat, a.workdir, bench_dir)
        try:
            b.pysnap(t2, "pysnap %d threads" % a.many_threads, a.pysnap_runs)
        finally:
            t2.close()
    if a.small_heap_mb:
        log("target with a %d MB heap" % a.small_heap_mb)
        t3 = Target(a.python, a.threads, a.spinners, a.small_heap_mb, a.heartbeat, a.workdir, bench_dir)
        try:
            b.pysnap(t3, "pysnap %d MB heap" % a.small_heap_mb, a.pysnap_runs)
        finally:
            t3.close()

    print()
    print("pysnap benchmark  %s  python %s  %s  %d cores  load %s" % (
        time.strftime("%Y-%m-%d %H:%M"), version, platform.release(), os.cpu_count(),
        " ".join("%.2f" % x for x in os.getloadavg())))
    print("target: %d parked threads (locals of many kinds), %d spinning, heap %d MB (RSS %.0f MB); "
          "%d runs per tool (pysnap: %d); median / max" % (a.threads, a.spinners, a.heap_mb,
                                                            t.rss_mb, a.runs, a.pysnap_runs))
    print()
    print(b.table())
    print()
    # pysnap's own breakdown and the targets
    for label in [k for k in b.order if k.startswith("pysnap")]:
        rows = b.results[label]["runs"]
        f = lambda k: med([r.get(k) for r in rows])
        g = lambda k: mx([r.get(k) for r in rows])
        phases = " + ".join("%s %s" % (k[:-3], fmt2(f(k))) for k in
                            ("stop_ms", "copy_ms", "walk_ms", "stacks_ms", "resume_ms")
                            if f(k) is not None)
        extra = ""
        if f("read_calls") is not None:
            extra += " in %s calls" % f("read_calls")
        if f("freezes") is not None:
            extra += ", freezes median %s max %s" % (f("freezes"), g("freezes"))
        print("%-22s pause %s/%s ms (median phases: %s) | hb gap %s/%s ms, noise floor %s/%s ms | "
              "analyze %s ms (CPU %s ms), capture CPU %s ms | %s pages read%s, %s bytes kept, file %s bytes | JSON pause_us %s" % (
                  label + ":", fmt2(f("pause_ms")), fmt2(g("pause_ms")), phases,
                  fmt2(f("hb_gap_ms")), fmt2(g("hb_gap_ms")),
                  fmt2(f("noise_ms")), fmt2(g("noise_ms")), fmt2(f("analyze_ms")),
                  fmt2(f("analyze_cpu_ms")), fmt2(f("cpu_ms")),
                  f("pages_read"), extra, f("bytes_kept"), f("size_bytes"),
                  rows[-1].get("json_pause_us")))
    print()
    print("columns: pause = what the tool reports (pysnap: first stop to last resume); hb gap = the "
          "largest gap between the C heartbeat's 1 ms wakeups inside the target while the tool ran "
          "(what the target felt); wall = the tool's run time; size = file written; peak RSS = the "
          "tool's (GNU time's %M); noise floor = the largest heartbeat gap in a window of the same length "
          "with no tool attached.")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"info": info, "load": os.getloadavg(), "uname": platform.uname()._asdict(),
                       "results": b.results, "order": b.order}, f, indent=1)


def fmt2(v):
    if v is None:
        return "-"
    if isinstance(v, float) and v.is_integer() and v >= 100:
        return "%d" % v
    return "%.2f" % v if isinstance(v, float) else str(v)


def shutil_which(name):
    import shutil
    return shutil.which(name)


if __name__ == "__main__":
    main()
