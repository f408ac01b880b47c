"""The HTML report (analyze -o FILE.html, record -o FILE.html) as a person sees it in headless
Chromium: every thread and function on the page, locals unfold, the filter narrows, the flame
graph zooms, hostile strings stay text, no console error, no request leaves the page, and the
page without scripts still shows the stacks. The truth is pysnap's own --json of the same
snapshot (what the page is fed) and the live targets' own truth.

drive.js (node + playwright-core) does the clicking and prints what it saw as JSON.
"""
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from html_util import page_data
from e2e_util import DEBIAN_PYTHON, Interpreter, TargetRunner, all_threads, describe, ok, run_pysnap

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "snapshot"
E2E_TARGETS = REPO / "tests" / "e2e" / "targets"
CHROMIUM = os.environ.get("PYSNAP_CHROMIUM", "/usr/bin/chromium")
SLOWDOWN = float(os.environ.get("PYSNAP_TEST_SLOWDOWN", "1"))
DRIVE_TIMEOUT = 180


def _node_modules():
    """(node_modules dir, None) or (None, why the browser tests cannot run)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return None, "Debian's chromium not installed (%s; scripts/install-deps.sh --tests)" % CHROMIUM
    if not shutil.which("node"):
        return None, "node not installed (apt-get install nodejs npm)"
    res = subprocess.run([str(HERE / "setup.sh")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=600)
    if res.returncode != 0:
        return None, "playwright-core could not be installed: " + res.stderr.decode()[-500:]
    return res.stdout.decode().strip(), None


NODE_MODULES, WHY = _node_modules()
pytestmark = pytest.mark.skipif(NODE_MODULES is None, reason=str(WHY))


def drive(page, *args):
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    res = subprocess.run(["node", str(HERE / "drive.js"), str(page)] + [str(a) for a in args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         timeout=DRIVE_TIMEOUT)
    assert res.returncode == 0, describe(res)
    return json.loads(res.stdout)


def analyze_json(pysnap_bin, *paths):
    """The --json documents of PATHS, one per snapshot."""
    out = json.loads(ok(run_pysnap(pysnap_bin, "analyze", "--json", *paths)))
    return out["snapshots"] if "snapshots" in out else [out]


def write_page(pysnap_bin, out, *args):
    ok(run_pysnap(pysnap_bin, "analyze", *args, "-o", out))
    assert out.is_file() and out.stat().st_size > 0
    return out


def check_clean(seen):
    """Nothing ran that should not, nothing was fetched, nothing complained."""
    assert seen["console"] == [], seen["console"]
    assert seen["pageErrors"] == [], seen["pageErrors"]
    assert seen["requests"] == [], seen["requests"]
    assert seen["dialogs"] == [], seen["dialogs"]
    assert seen["imgs"] == 0
    assert seen["brokenLinks"] == [], seen["brokenLinks"]


def python_functions(thread):
    return [f["function"] for f in reversed(thread["frames"]) if f["kind"] == "python"]


def check_threads(seen, docs):
    """Every thread of every snapshot is on a card whose frames are its Python stack
    (outermost first); the scripts-off page names every function too."""
    cards = {}
    for i, c in enumerate(seen["cards"]):
        for tid in c["tids"]:
            cards.setdefault(tid, []).append(c)
    for d in docs:
        for t in all_threads(d):
            assert t["tid"] in cards, "thread %d not on the page" % t["tid"]
            assert any(c["functions"] == python_functions(t) for c in cards[t["tid"]]), (
                t["tid"], python_functions(t), [c["functions"] for c in cards[t["tid"]]])
            if t["name"]:
                assert any(t["name"] in c["names"] or c["names"].endswith("\u2026")
                           for c in cards[t["tid"]]), (t["name"], cards[t["tid"]])
            for fn in python_functions(t):
                assert fn in seen["noscriptText"]
            assert str(t["tid"]) in seen["noscriptText"]


def native_text(pysnap_bin, snap):
    """{tid: [frame line]} of `analyze --native`: the merged stacks as the text shows them,
    "(Python) " left off (the page shows Python frames as a traceback does)."""
    out, tid = {}, None
    for line in ok(run_pysnap(pysnap_bin, "analyze", "--native", snap)).splitlines():
        m = re.match(r"Thread (\d+)", line)
        if m:
            tid = int(m.group(1))
            out[tid] = []
        elif tid is not None and re.match(r"      \((C|Python)\) ", line):
            out[tid].append(line[6:].replace("(Python) ", "", 1))
    return out


def check_native(seen, truth):
    """With the native switch on, each card shows what analyze --native shows of its first
    thread (the others of a group have the same frames)."""
    for c in seen["native"]:
        assert c["frames"] == truth[c["tids"][0]], (c["tids"][0], c["frames"], truth[c["tids"][0]])


def first_locals(docs):
    """(function, [(name, repr)]) of the first frame, in page order, that has locals."""
    for d in docs:
        for t in all_threads(d):
            for f in reversed(t["frames"]):
                if f["kind"] == "python" and f["locals"]:
                    return f["function"], [(n, "<unbound>" if v.get("unbound") else v["repr"])
                                           for n, v in f["locals"].items()]
    return None, None


def unique_name(docs):
    """A thread name that one thread has, and no other word on its page contains."""
    threads = [t for d in docs for t in all_threads(d)]
    for t in threads:
        n = t["name"]
        if n and len(n) > 3 and sum(1 for u in threads if u["name"] and n.lower() in u["name"].lower()) == 1:
            if not any(n.lower() in (f.get("function") or "").lower() + (f.get("file") or f.get("module") or "").lower()
                       for u in threads for f in u["frames"]):
                return t
    return None


SNAPSHOTS = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_committed_snapshot_page(name, pysnap_bin, tmp_path):
    """The report of each committed snapshot (every CPython version the corpus holds)."""
    snap = CORPUS / name
    docs = analyze_json(pysnap_bin, snap)
    page = write_page(pysnap_bin, tmp_path / "report.html", snap)
    t = unique_name(docs)
    seen = drive(page, *(["--filter", t["name"]] if t else []))
    check_clean(seen)
    check_threads(seen, docs)
    fn, rows = first_locals(docs)
    if fn is not None:
        assert seen["locals"]["open"]
        assert seen["locals"]["frame"].endswith("in " + fn)
        assert [(r[0], r[2]) for r in seen["locals"]["rows"][:len(rows)]] == rows
    check_native(seen, native_text(pysnap_bin, snap))
    if t:
        assert seen["filter"]["shownTids"] == [t["tid"]], seen["filter"]
        assert seen["filter"]["count"] == "1 of %d threads" % len(all_threads(docs[0]))
    # what the page is fed is the --json document itself
    assert [doc for _, _, doc in page_data(page.read_text())] == docs


def test_set_page_of_committed_snapshots(pysnap_bin, tmp_path):
    """Several snapshots in one page: every snapshot's threads, the summary."""
    snaps = [CORPUS / n for n in SNAPSHOTS[:3]]
    if len(snaps) < 2:
        pytest.skip("fewer than two committed snapshots in %s" % CORPUS)
    docs = analyze_json(pysnap_bin, *snaps)
    summary = json.loads(ok(run_pysnap(pysnap_bin, "analyze", "--summary", "--json", *snaps)))["summary"]
    page = write_page(pysnap_bin, tmp_path / "set.html", *snaps)
    seen = drive(page)
    check_clean(seen)
    check_threads(seen, docs)
    assert [r[0] for r in seen["summaryThreads"]] == [str(t["pid"]) for t in summary["threads"]]
    assert "Summary of %d snapshots" % len(snaps) in seen["noscriptText"]


@pytest.fixture
def run_target(tmp_path):
    """The e2e suite's target runner (tests/e2e/e2e_util.py); kills its targets at the end."""
    with contextlib.closing(TargetRunner(tmp_path / "targets")) as runner:
        yield runner


def debian_python():
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        pytest.skip("Debian's python3.11 not installed (%s)" % DEBIAN_PYTHON)
    return Interpreter("debian-3.11", [DEBIAN_PYTHON], kind="debian")


def capture(pysnap_bin, pid, out):
    ok(run_pysnap(pysnap_bin, "capture", "--pid", pid, "-o", out))
    return out


def test_hostile_strings_stay_text(pysnap_bin, run_target, tmp_path):
    """A thread named <img onerror=...> and a local "</script><script>alert(1)</script>":
    shown as text, with scripts and without, one snapshot and a set; nothing runs."""
    proc, truth = run_target(debian_python(), HERE / "targets" / "hostile_target.py")
    snap = capture(pysnap_bin, proc.pid, tmp_path / "hostile.snap")
    img = "<img src=x onerror=alert(1)>"
    for page in (write_page(pysnap_bin, tmp_path / "one.html", snap),
                 write_page(pysnap_bin, tmp_path / "set.html", snap, snap)):
        raw = page.read_text()
        assert truth["payload"] not in raw and img not in raw
        assert raw.count("<script") == raw.count("</script>")
        seen = drive(page, "--filter", "onerror")
        check_clean(seen)
        assert seen["scripts"] == raw.count("<script")
        names = [c["names"] for c in seen["cards"]]
        assert img in names and "quote\"&'amp" in names
        assert [c["tids"] for c in seen["cards"] if c["names"] == img][0][0] == truth["threads"][img]
        reprs = [r[2] for r in seen["allLocals"]]
        assert repr(truth["payload"]) in reprs and repr(truth["opener"]) in reprs
        assert "hostile_wait" in seen["text"] and img in seen["text"]
        assert img in seen["noscriptText"] and "hostile_wait" in seen["noscriptText"]
        assert truth["threads"][img] in seen["filter"]["shownTids"]
        assert truth["threads"]["quote\"&'amp"] not in seen["filter"]["shownTids"]


def test_asyncio_deadlock_page(pysnap_bin, run_target, tmp_path):
    """The asyncio target's deadlock: every task named, the cycle highlighted, the thread
    running the loop linked."""
    proc, truth = run_target(debian_python(), E2E_TARGETS / "asyncio_target.py", "--deadlock")
    snap = capture(pysnap_bin, proc.pid, tmp_path / "asyncio.snap")
    docs = analyze_json(pysnap_bin, snap)
    seen = drive(write_page(pysnap_bin, tmp_path / "asyncio.html", snap))
    check_clean(seen)
    check_threads(seen, docs)
    assert sorted(seen["taskNames"]) == sorted(t["name"] for t in truth["tasks"]) or \
        set(t["name"] for t in truth["tasks"]) <= set(seen["taskNames"])
    assert truth["deadlock"], truth
    assert set(seen["deadlockTasks"]) == set(truth["deadlock"])
    assert seen["deadlockLines"] and all(n in seen["deadlockLines"][0] for n in truth["deadlock"])
    assert "DEADLOCK" in seen["noscriptText"]
    # each task that runs on a thread links to that thread's card
    doc_tasks = [t for i in docs[0]["interpreters"] for t in i["tasks"]]
    for t in doc_tasks:
        if t["thread_tid"] is not None:
            assert "#thread-%d" % t["thread_tid"] in seen["links"]


def test_gunicorn_set_page(pysnap_bin, tmp_path):
    """The web workflow: gunicorn with one worker stuck and one on CPU, captured twice with
    --children; the set page names every thread, the hot function, the stuck one, and its
    flame graph zooms."""
    import test_web
    if test_web._missing():
        pytest.skip(test_web._missing())
    (tmp_path / "app").mkdir()
    app = test_web.WebApp(tmp_path / "app")
    try:
        app.start()
        out = tmp_path / "set"
        ok(run_pysnap(pysnap_bin, "capture", "--pid", app.proc.pid, "--children", "--count", "3",
                      "--interval", "0.3", "-o", out, timeout=120))
    finally:
        app.close()
    docs = analyze_json(pysnap_bin, out)
    page = write_page(pysnap_bin, tmp_path / "gunicorn.html", out)
    seen = drive(page, "--filter", "wait_for_lock", "--screenshot", tmp_path / "set.png")
    check_clean(seen)
    check_threads(seen, docs)
    assert seen["hot"][0][2] == "cpu_intensive_task", seen["hot"][:3]
    stuck = [r for r in seen["summaryThreads"] if r[0] == str(app.hang_pid)]
    assert stuck and "STUCK" in stuck[0][4] and "wait_for_lock" in stuck[0][5], seen["summaryThreads"]
    hang_tids = [t["tid"] for d in docs if d["target"]["pid"] == app.hang_pid for t in all_threads(d)]
    assert sorted(set(seen["filter"]["shownTids"])) == sorted(set(hang_tids))
    # the request each worker serves is on its card (issue 22), as the text output says it
    hang_cards = [c for c in seen["cards"] if set(c["tids"]) & set(hang_tids)]
    assert any(r.startswith("serving GET /hang") and " from 127.0.0.1" in r
               for c in hang_cards for r in c["requests"]), hang_cards
    assert any(r.startswith("serving GET /cpu") for c in seen["cards"] for r in c["requests"]), seen["cards"]
    f = seen["flame"]
    assert f["initialStatus"].endswith("click a box to zoom, hover for counts")
    assert re.search(r"\d+ samples? \(\d+\.\d%\), self \d+$", f["hover"]), f["hover"]
    assert f["zoomed"] == seen["flameTarget"]["title"] and f["zoomedWidth"] > 1199
    assert f["status"] == "zoomed: " + seen["flameTarget"]["title"]
    assert f["resetBoxes"] == f["boxes"]
    assert "cpu_intensive_task" in seen["text"]


HOT_TARGET = """
import sys, time
def hot_a(n):
    x = 0
    for i in range(n):
        x += i
    return x
def hot_b(n):
    return sum(i * i for i in range(n))
def loop():
    end = time.time() + 60
    while time.time() < end:
        hot_a(30000)
        hot_b(10000)
open(sys.argv[1], "w").close()
loop()
"""


def test_record_profile_page(pysnap_bin, tmp_path):
    """record -o profile.html: the flame graph of the samples, zoomable; scripts off, the
    folded stacks."""
    python = debian_python()
    ready = tmp_path / "ready"
    proc = subprocess.Popen(python.argv + ["-c", HOT_TARGET, str(ready)], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the target did not start"
            time.sleep(0.05)
        page = tmp_path / "profile.html"
        ok(run_pysnap(pysnap_bin, "record", "--pid", proc.pid, "-d", "2", "-o", page))
    finally:
        proc.kill()
        proc.wait(10)
    [(kind, _, doc)] = page_data(page.read_text())
    assert kind == "profile" and doc["shared"]["frames"]
    seen = drive(page)
    check_clean(seen)
    total = sum(sum(p["weights"]) for p in doc["profiles"])
    assert seen["flame"]["initialStatus"] == "%d thread-samples; click a box to zoom, hover for counts" % total
    names = [t.split(" (")[0] for t in seen["flameTitles"]]
    assert "loop" in names and ("hot_a" in names or "hot_b" in names), names
    f = seen["flame"]
    assert f["zoomed"] == seen["flameTarget"]["title"] and f["zoomedWidth"] > 1199
    assert f["resetBoxes"] == f["boxes"]
    assert seen["noscriptText"].startswith("Folded stacks")
    assert "<module> (<string>);loop (<string>)" in seen["noscriptText"]


def test_many_threads_page_renders_fast(pysnap_bin, run_target, tmp_path, record_property):
    """200 threads: the page renders and filters without a visible stall."""
    proc, truth = run_target(debian_python(), E2E_TARGETS / "many_threads_target.py")
    snap = capture(pysnap_bin, proc.pid, tmp_path / "many.snap")
    docs = analyze_json(pysnap_bin, snap)
    page = write_page(pysnap_bin, tmp_path / "many.html", snap)
    assert [enc for _, enc, _ in page_data(page.read_text())] == ["gzip-base64"]
    seen = drive(page, "--filter", "pool-worker-17-")
    check_clean(seen)
    check_threads(seen, docs)
    timing = seen["timing"]
    record_property("page_bytes", page.stat().st_size)
    record_property("rendered_ms", timing["rendered"])
    record_property("first_contentful_paint_ms", timing["firstContentfulPaint"])
    record_property("filter_ms", seen["filter"]["ms"])
    print("200 threads: %d bytes, rendered at %.0f ms, first contentful paint %.0f ms, "
          "DOMContentLoaded %.0f ms, filter %.0f ms"
          % (page.stat().st_size, timing["rendered"], timing["firstContentfulPaint"],
             timing["domContentLoaded"], seen["filter"]["ms"]))
    assert len(all_threads(docs[0])) >= 200
    # 200 idle pool workers parked at the same line: a handful of cards, not 200
    assert len(seen["cards"]) < 20, len(seen["cards"])
    want = [t["tid"] for t in truth["threads"] if "pool-worker-17-" in (t["name"] or "")]
    assert sorted(seen["filter"]["shownTids"]) == sorted(want)
    assert timing["rendered"] < 3000 * SLOWDOWN
    assert timing["firstContentfulPaint"] < 3000 * SLOWDOWN
    assert seen["filter"]["ms"] < 1000 * SLOWDOWN
