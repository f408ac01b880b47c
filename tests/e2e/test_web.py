"""The high-CPU web app workflow (issue 9), end to end with Debian's gunicorn and Flask.

One gunicorn (samples/webapp.py, 2 sync workers) per module: one worker hangs in
wait_for_lock() (a single /hang request), the other is kept busy in cpu_intensive_task() by a
bounded client thread. The app itself writes which worker took which route (cpu.pid,
hang.pid); where a worker's frames must be is read from the app's source with ast.
"""

import ast
import html
import json
import os
import pty
import re
import select
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from e2e_util import (REPO, AppServer, all_threads, children_of, describe, ok, python_frames,
                      run_pysnap)

GUNICORN = "/usr/bin/gunicorn"
SYSTEM_PYTHON = "/usr/bin/python3"
WEBAPP = REPO / "samples" / "webapp.py"
CPU_N = 2000000  # one /cpu request takes seconds: the worker is almost never between requests


def _missing():
    if not os.access(GUNICORN, os.X_OK):
        return "Debian's gunicorn not installed (%s; apt-get install gunicorn)" % GUNICORN
    res = subprocess.run([SYSTEM_PYTHON, "-c", "import flask"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if res.returncode != 0:
        return "Debian's python3-flask not installed (%s cannot import flask)" % SYSTEM_PYTHON
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def source_lines():
    """function -> {what: line} from the app's own source."""
    tree = ast.parse(WEBAPP.read_text())
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
    with_line = [n for n in ast.walk(out["wait_for_lock"]) if isinstance(n, ast.With)][0].lineno
    call_line = [n for n in ast.walk(out["hang"]) if isinstance(n, ast.Call)
                 and getattr(n.func, "id", "") == "wait_for_lock"][0].lineno
    body = out["cpu_intensive_task"]
    return {"wait_for_lock": with_line, "hang": call_line,
            "cpu_intensive_task": (body.lineno, body.end_lineno)}


class WebApp(AppServer):
    name = "gunicorn"
    log_name = "gunicorn.log"
    cpu_path = "/cpu?n=%d" % CPU_N
    state_files = ("cpu.pid", "hang.pid")
    ready_timeout = 20.0
    load_seconds = 90

    def argv(self, port):
        return [GUNICORN, "--workers", "2", "--timeout", "0", "--graceful-timeout", "1",
                "--bind", "127.0.0.1:%d" % port, "--chdir", str(WEBAPP.parent), "webapp:app"]

    def took(self, cpu, hang):
        self.hang_pid = int(hang)
        self.cpu_pid = int(cpu)
        assert self.hang_pid != self.cpu_pid

    def workers(self):
        return children_of(self.proc.pid)


@pytest.fixture(scope="module")
def webapp(tmp_path_factory):
    app = WebApp(tmp_path_factory.mktemp("webapp"))
    try:
        app.start()
        yield app
    finally:
        app.close()


def innermost_python(thread):
    frames = python_frames(thread)
    return frames[0] if frames else None


def by_pid(docs):
    return dict((d["target"]["pid"], d) for d in docs)


def check_workers(docs, app, lines):
    """The hung worker waits in wait_for_lock at the app's with-line, called from hang; the
    busy one runs cpu_intensive_task inside its body."""
    procs = by_pid(docs)
    assert app.proc.pid in procs and app.hang_pid in procs and app.cpu_pid in procs, sorted(procs)
    hang = all_threads(procs[app.hang_pid])
    assert [innermost_python(t)[:2] for t in hang] == [("wait_for_lock", str(WEBAPP))]
    frames = python_frames(hang[0])
    assert frames[0][2] == lines["wait_for_lock"]
    assert frames[1] == ("hang", str(WEBAPP), lines["hang"])
    cpu = all_threads(procs[app.cpu_pid])
    fn, path, line = innermost_python(cpu[0])
    assert (fn, path) == ("cpu_intensive_task", str(WEBAPP))
    first, last = lines["cpu_intensive_task"]
    assert first < line <= last
    assert cpu[0]["holds_gil"] and cpu[0]["state"] == "running"


def test_children_capture_finds_both_workers(webapp, pysnap_bin, tmp_path):
    lines = source_lines()
    out = tmp_path / "snaps"
    out.mkdir()
    for attempt in range(3):  # the busy worker may be between two requests: rarely
        res = run_pysnap(pysnap_bin, "capture", "--pid", webapp.proc.pid, "--children",
                         "-o", out / str(attempt))
        ok(res)
        assert stat.S_IMODE(os.stat(str(out / str(attempt))).st_mode) == 0o700
        files = sorted((out / str(attempt)).iterdir())
        assert len(files) == 3, res.stdout  # master + 2 workers
        for f in files:
            assert stat.S_IMODE(os.stat(str(f)).st_mode) == 0o600
        doc = json.loads(ok(run_pysnap(pysnap_bin, "analyze", out / str(attempt), "--json")))
        docs = doc["snapshots"]
        procs = by_pid(docs)
        cpu = all_threads(procs.get(webapp.cpu_pid, {}))
        if cpu and innermost_python(cpu[0]) and innermost_python(cpu[0])[0] == "cpu_intensive_task":
            break
    assert set(procs) == {webapp.proc.pid} | webapp.workers()
    ids = set(d["snapshot"]["capture_id"] for d in docs)
    assert len(ids) == 1 and None not in ids
    for d in docs:
        with open("/proc/%d/cmdline" % d["target"]["pid"], "rb") as f:
            assert d["target"]["cmdline"] == f.read().rstrip(b"\0").replace(b"\0", b" ").decode()
    check_workers(docs, webapp, lines)
    # The text form: one header per process, pid and command line.
    text = ok(run_pysnap(pysnap_bin, "analyze", out / str(attempt)))
    for pid in procs:
        assert "Process %d on " % pid in text
    assert text.count("======== ") == 3
    assert 'in wait_for_lock' in text and 'in cpu_intensive_task' in text


def test_children_skips_non_python(webapp, pysnap_bin, tmp_path):
    """A non-Python child (here: sleep, under a Python parent) is reported and skipped."""
    parent = subprocess.Popen([SYSTEM_PYTHON, "-c",
                               "import subprocess, sys; p = subprocess.Popen(['sleep', '30']); "
                               "print(p.pid, flush=True); p.wait()"],
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        child = int(parent.stdout.readline())
        res = run_pysnap(pysnap_bin, "capture", "--pid", parent.pid, "--children", "-o",
                         tmp_path / "d")
        ok(res)
        assert ("skipped %d (sleep 30)" % child) in res.stderr.decode(), describe(res)
        assert [f.name.split("-")[1] for f in (tmp_path / "d").iterdir()] == [str(parent.pid)]
    finally:
        parent.kill()
        parent.wait()
        try:  # no kill(1) here: a minimal Debian has no procps
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass


def test_summary_names_cpu_intensive_task_hot(webapp, pysnap_bin, tmp_path):
    lines = source_lines()
    base = tmp_path / "base.snap"
    ok(run_pysnap(pysnap_bin, "capture", "--pid", webapp.hang_pid, "-o", base))
    res = run_pysnap(pysnap_bin, "capture", "--pid", webapp.proc.pid, "--children",
                     "--count", "3", "--interval", "0.3", "-o", tmp_path / "rounds")
    ok(res)
    files = sorted((tmp_path / "rounds").iterdir())
    assert len(files) == 9
    s = json.loads(ok(run_pysnap(pysnap_bin, "analyze", *files, "--summary", "--json")))["summary"]
    assert s["snapshots"] == 9 and s["processes"] == 3
    hot = s["hot"][0]
    assert (hot["function"], hot["file"]) == ("cpu_intensive_task", str(WEBAPP))
    assert hot["self"] >= 2 and hot["self"] == hot["inclusive"]
    threads = dict((t["pid"], t) for t in s["threads"])
    hung = threads[webapp.hang_pid]
    assert hung["stuck"] and hung["samples"] == 3 and hung["on_cpu"] == 0
    assert hung["same"][0] == {"function": "wait_for_lock", "file": str(WEBAPP),
                               "line": lines["wait_for_lock"]}
    busy = threads[webapp.cpu_pid]
    assert busy["on_cpu"] >= 2
    text = ok(run_pysnap(pysnap_bin, "analyze", tmp_path / "rounds", "--summary"))
    assert "cpu_intensive_task (%s)" % WEBAPP in text.split("Hottest functions")[1].splitlines()[2]
    assert "stuck at: File \"%s\", line %d, in wait_for_lock" % (WEBAPP, lines["wait_for_lock"]) in text
    # The baseline (the hung worker, as it was before) sets that worker's samples aside.
    b = json.loads(ok(run_pysnap(pysnap_bin, "analyze", *files, "--summary", "--json",
                                 "--baseline", base)))["summary"]
    assert b["baseline"] is True
    assert dict((t["pid"], t) for t in b["threads"])[webapp.hang_pid]["unchanged_since_baseline"]
    assert not dict((t["pid"], t) for t in b["threads"])[webapp.cpu_pid]["unchanged_since_baseline"]


def test_dump_prints_what_capture_and_analyze_print(webapp, pysnap_bin, tmp_path):
    """The stuck worker does not move: dump and capture + analyze must agree exactly."""
    def threads_part(text):
        return text[text.index("\nThread "):]

    snap = tmp_path / "w.snap"
    ok(run_pysnap(pysnap_bin, "capture", "--pid", webapp.hang_pid, "-o", snap))
    analyzed = ok(run_pysnap(pysnap_bin, "analyze", snap))
    dumped = ok(run_pysnap(pysnap_bin, "dump", "--pid", webapp.hang_pid))
    assert threads_part(dumped) == threads_part(analyzed)
    assert "in wait_for_lock" in dumped
    a = json.loads(ok(run_pysnap(pysnap_bin, "analyze", snap, "--json")))
    d = json.loads(ok(run_pysnap(pysnap_bin, "dump", "--pid", webapp.hang_pid, "--json")))
    assert [python_frames(t) for t in all_threads(d)] == [python_frames(t) for t in all_threads(a)]
    assert d["target"]["pid"] == webapp.hang_pid
    assert list(tmp_path.iterdir()) == [snap]  # dump wrote nothing


# --- record ------------------------------------------------------------------------------

TITLE = re.compile(r"<title>(.*?): (\d+) samples \(([\d.]+)%\), self (\d+)</title>")


def svg_frames(path):
    """(label, samples, self) of every rectangle of the flame graph."""
    text = Path(path).read_text()
    assert text.startswith("<?xml") and text.rstrip().endswith("</svg>")
    assert "<script" not in text and "href=" not in text  # self-contained
    return [(html.unescape(m.group(1)), int(m.group(2)), int(m.group(4)))
            for m in TITLE.finditer(text)]


def test_record_flamegraph_and_speedscope(webapp, pysnap_bin, tmp_path):
    svg = tmp_path / "web.svg"
    res = run_pysnap(pysnap_bin, "record", "--pid", webapp.proc.pid, "--children",
                     "--duration", "5", "--rate", "100", "-o", svg)
    out = ok(res)
    frames = svg_frames(svg)
    total = frames[0]
    assert total[0] == "all" and total[1] >= 100, (total, out)  # ~500 rounds; on CPU most
    assert ("%d samples" % total[1]) in out
    python = [f for f in frames if f[0] != "all" and not f[0].startswith("process ")]
    hottest = max(python, key=lambda f: f[2])
    assert hottest[0] == "cpu_intensive_task (%s)" % WEBAPP, hottest
    assert hottest[2] >= total[1] * 0.8, (hottest, total)
    # both processes' roots are there only when more than one process had samples on CPU;
    # the stuck worker never is
    assert not any("wait_for_lock" in f[0] for f in frames)

    # speedscope, frozen per sample (--blocking), of the busy worker alone
    ss = tmp_path / "web.speedscope.json"
    out = ok(run_pysnap(pysnap_bin, "record", "--pid", webapp.cpu_pid, "--blocking",
                        "--duration", "2", "--rate", "100", "-o", ss))
    doc = json.loads(ss.read_text())
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    names = [f["name"] for f in doc["shared"]["frames"]]
    (prof,) = doc["profiles"]
    assert prof["type"] == "sampled" and prof["samples"]
    assert len(prof["samples"]) == len(prof["weights"])
    n = sum(prof["weights"])
    assert n >= 50 and ("%d samples" % n) in out
    assert prof["endValue"] == n
    hot = sum(w for s, w in zip(prof["samples"], prof["weights"])
              if names[s[-1]] == "cpu_intensive_task")
    assert hot >= 0.8 * n
    for s in prof["samples"]:
        assert names[s[0]] == "<module>"  # outermost first
    assert doc["shared"]["frames"][names.index("cpu_intensive_task")]["file"] == str(WEBAPP)
    # the worker was thawed after every sample
    with open("/proc/%d/stat" % webapp.cpu_pid) as f:
        st = f.read()
    assert st[st.rindex(")") + 2] in "RS", st

    # folded stacks
    txt = tmp_path / "web.txt"
    ok(run_pysnap(pysnap_bin, "record", "--pid", webapp.cpu_pid, "--duration", "1", "-o", txt))
    counts = {}
    for line in txt.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.split(";")[-1]
        counts[leaf] = counts.get(leaf, 0) + int(count)
    assert max(counts, key=counts.get) == "cpu_intensive_task (%s)" % WEBAPP


def test_record_ctrl_c_writes_what_it_has(webapp, pysnap_bin, tmp_path):
    svg = tmp_path / "int.svg"
    proc = subprocess.Popen([pysnap_bin, "record", "--pid", str(webapp.cpu_pid), "--duration",
                             "60", "-o", str(svg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert b"(interrupted)" in out
    frames = svg_frames(svg)
    assert frames[0][0] == "all" and 0 < frames[0][1] < 1000
    assert any(f[0].startswith("cpu_intensive_task ") for f in frames)


def test_record_progress_on_a_terminal(webapp, pysnap_bin, tmp_path):
    master, slave = pty.openpty()
    try:
        res = subprocess.run([pysnap_bin, "record", "--pid", str(webapp.cpu_pid), "--duration",
                              "0.6", "-o", str(tmp_path / "p.txt")], stdout=subprocess.PIPE,
                             stderr=slave, stdin=subprocess.DEVNULL, timeout=30)
        os.close(slave)
        slave = None
        seen = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            seen += data
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert res.returncode == 0
    assert re.search(rb"\rpysnap record: [\d.]+/0\.6 s, \d+ samples, \d+ (?:dropped|torn)", seen), seen
    # not a terminal: no progress line
    res = run_pysnap(pysnap_bin, "record", "--pid", webapp.cpu_pid, "--duration", "0.3",
                     "-o", tmp_path / "q.txt")
    assert ok(res) and b"pysnap record:" not in res.stderr
