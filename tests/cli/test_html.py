"""analyze -o FILE.html / --html without a browser (tests/browser opens the pages): the page
embeds exactly the --json documents, escaped so that no value can end its element; its
Content-Security-Policy lets run only the page's own script and style (their hashes match)
and fetch nothing; the scripts-off text is the text output; -o picks the format by name."""
import base64
import hashlib
import html
import json
import re
import stat
import time
from pathlib import Path

import pytest

from cli_util import run_pysnap
from html_util import page_data, strip_data
from proc_util import describe, ok

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "snapshot"
SNAPSHOTS = sorted(p.name for p in CORPUS.iterdir())


def sha256(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def check_page(page):
    """The page's structure; returns [(kind, document)] of its data elements."""
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page).group(1)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "'none'"
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    assert directives["script-src"] == sha256(scripts[0])
    assert directives["style-src"] == sha256(style)
    assert "unsafe" not in csp
    # nothing outside the data points elsewhere
    outside = strip_data(page)
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//|data:|file:)""", outside, re.I)
    assert not re.search(r"@import|url\(", style)
    return [(k, doc) for k, _, doc in page_data(page)]


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_one_snapshot_page(name, pysnap_bin, tmp_path):
    snap = CORPUS / name
    out = tmp_path / "report.html"
    assert ok(run_pysnap(pysnap_bin, "analyze", snap, "-o", out)) == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the target's locals
    page = out.read_text()
    assert page == ok(run_pysnap(pysnap_bin, "analyze", snap, "--html"))
    data = check_page(page)
    assert data == [("snapshot", json.loads(ok(run_pysnap(pysnap_bin, "analyze", snap, "--json"))))]
    # scripts off: the text output with the tasks, escaped
    noscript = re.search(r"<noscript><div class=\"static\">(.*?)</div></noscript>", page, re.S).group(1)
    text = ok(run_pysnap(pysnap_bin, "analyze", snap, "--tasks"))
    pre = re.search(r"<pre>(.*?)</pre>", noscript, re.S).group(1)
    assert html.unescape(pre) == text


def test_set_page_has_the_summary_and_a_profile(pysnap_bin, tmp_path):
    snaps = [CORPUS / n for n in SNAPSHOTS[:3]]
    page = ok(run_pysnap(pysnap_bin, "analyze", "--html", *snaps))
    data = check_page(page)
    assert [k for k, _ in data] == ["snapshot"] * 3 + ["summary", "profile"]
    docs = json.loads(ok(run_pysnap(pysnap_bin, "analyze", "--json", *snaps)))["snapshots"]
    assert [d for _, d in data[:3]] == docs
    summary = json.loads(ok(run_pysnap(pysnap_bin, "analyze", "--summary", "--json", *snaps)))
    assert data[3][1] == summary
    # the flame graph: one sample per thread on CPU in each snapshot
    on_cpu = sum(1 for d in docs for i in d["interpreters"] for t in i["threads"]
                 if t["state"] in ("running", "waiting_for_gil")
                 and any(f["kind"] == "python" for f in t["frames"]))
    assert sum(sum(p["weights"]) for p in data[4][1]["profiles"]) == on_cpu
    # --summary --html is the same page
    assert ok(run_pysnap(pysnap_bin, "analyze", "--summary", "--html", *snaps)) == page


MANY_LOCALS = """
import sys, threading, time
def parked(i, ev):
    text = "x%d" % i * 100
    ev.wait()
ev = threading.Event()
for i in range(150):
    threading.Thread(target=parked, args=(i, ev), daemon=True).start()
time.sleep(0.5)
open(sys.argv[1], "w").close()
time.sleep(60)
"""


def test_large_documents_are_compressed(pysnap_bin, spawn, cli_python, tmp_path):
    """A document over 64 KiB is gzip in base64 (150 threads with locals); the corpus
    snapshots' documents, smaller, are the JSON itself."""
    ready = tmp_path / "ready"
    proc = spawn([cli_python, "-c", MANY_LOCALS, ready])
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the target did not start"
        time.sleep(0.05)
    snap = tmp_path / "many.snap"
    ok(run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap))
    doc = json.loads(ok(run_pysnap(pysnap_bin, "analyze", snap, "--json")))
    assert len(json.dumps(doc)) > 100000
    page = ok(run_pysnap(pysnap_bin, "analyze", snap, "--html"))
    assert page_data(page) == [("snapshot", "gzip-base64", doc)]
    assert len(page) < len(json.dumps(doc)) / 2
    small = ok(run_pysnap(pysnap_bin, "analyze", CORPUS / SNAPSHOTS[0], "--html"))
    assert [enc for _, enc, _ in page_data(small)] == [None]


def test_set_page_with_a_baseline(pysnap_bin):
    """--baseline without --summary makes the summary of an HTML page (text needs --summary)."""
    snaps = [CORPUS / n for n in SNAPSHOTS[:2]]
    base = CORPUS / SNAPSHOTS[2]
    data = page_data(ok(run_pysnap(pysnap_bin, "analyze", "--html", "--baseline", base, *snaps)))
    summary = json.loads(ok(run_pysnap(pysnap_bin, "analyze", "--summary", "--json", "--baseline", base,
                                       *snaps)))
    assert [doc for kind, _, doc in data if kind == "summary"] == [summary]
    assert summary["summary"]["baseline"] is True
    res = run_pysnap(pysnap_bin, "analyze", "--baseline", base, *snaps)
    assert res.returncode == 2 and b"--baseline goes with --summary" in res.stderr


def test_output_format_follows_the_name(pysnap_bin, tmp_path):
    snap = CORPUS / SNAPSHOTS[0]
    ok(run_pysnap(pysnap_bin, "analyze", snap, "-o", tmp_path / "a.json"))
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads(
        ok(run_pysnap(pysnap_bin, "analyze", snap, "--json")))
    ok(run_pysnap(pysnap_bin, "analyze", snap, "-o", tmp_path / "a.txt"))
    assert (tmp_path / "a.txt").read_text() == ok(run_pysnap(pysnap_bin, "analyze", snap))
    ok(run_pysnap(pysnap_bin, "analyze", snap, "--json", "-o", tmp_path / "b.html"))
    json.loads((tmp_path / "b.html").read_text())  # an explicit --json wins over the name


def test_failed_analysis_leaves_the_file_alone(pysnap_bin, tmp_path):
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"not a snapshot at all")
    out = tmp_path / "r.html"
    res = run_pysnap(pysnap_bin, "analyze", bad, "-o", out)
    assert res.returncode == 2, describe(res)
    assert not out.exists()
    out.write_text("an earlier report")
    res = run_pysnap(pysnap_bin, "analyze", bad, bad, "-o", out)
    assert res.returncode == 2, describe(res)
    assert out.read_text() == "an earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.snap", "r.html"]


def test_html_and_tasks_do_not_mix(pysnap_bin):
    res = run_pysnap(pysnap_bin, "analyze", CORPUS / SNAPSHOTS[0], "--html", "--tasks")
    assert res.returncode == 2 and b"always shows the tasks" in res.stderr
