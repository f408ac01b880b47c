"""Which HTTP request each thread and asyncio task serves (issue 22), end to end with Debian's
servers: gunicorn sync and gthread workers with Flask, gunicorn with Django, and uvicorn with a
minimal ASGI app (tests/e2e/targets/*_app.py).

Per server: one /hang request that never returns and a client that keeps one CPU-busy /cpu
request running, both with a Cookie, an Authorization header and a `token` query parameter.
The app itself notes which process and thread took each route (web_state.py). The analysis
must name each request with its exact method, path, query (token redacted), protocol, client
and Host; no Cookie, Authorization or token value may be anywhere in the snapshot's bytes or
in any output; --summary over three rounds names the stuck route.
"""

import json
import os
import secrets
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

import schema_util
from e2e_util import TARGETS, AppServer, all_threads, ok, python_frames, run_pysnap

GUNICORN = "/usr/bin/gunicorn"
SYSTEM_PYTHON = "/usr/bin/python3"
CPU_N = 2000000  # one /cpu request takes seconds: the worker is almost never between requests
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# server -> (what must be importable, how to start it with PORT, the finder row expected on
# the threads: the frame nearest the application that holds the request)
SERVERS = {
    "gunicorn-sync-flask": ("flask", lambda port: [
        GUNICORN, "--workers", "2", "--timeout", "0", "--graceful-timeout", "1",
        "--bind", "127.0.0.1:%d" % port, "--chdir", str(TARGETS), "flask_app:app"], "flask"),
    "gunicorn-gthread-flask": ("flask", lambda port: [
        GUNICORN, "--workers", "1", "--threads", "4", "--worker-class", "gthread",
        "--timeout", "0", "--graceful-timeout", "1", "--bind", "127.0.0.1:%d" % port,
        "--chdir", str(TARGETS), "flask_app:app"], "flask"),
    "gunicorn-sync-django": ("django", lambda port: [
        GUNICORN, "--workers", "2", "--timeout", "0", "--graceful-timeout", "1",
        "--bind", "127.0.0.1:%d" % port, "--chdir", str(TARGETS), "django_app:application"],
        "django"),
    "uvicorn-asgi": ("uvicorn", lambda port: [
        SYSTEM_PYTHON, "-m", "uvicorn", "--app-dir", str(TARGETS), "--host", "127.0.0.1",
        "--port", str(port), "--lifespan", "off", "--no-access-log", "asgi_app:app"], "asgi"),
}
PACKAGES = {"flask": "python3-flask", "django": "python3-django", "uvicorn": "python3-uvicorn"}


def missing(server):
    module, command, _ = SERVERS[server]
    if command(0)[0] == GUNICORN and not os.access(GUNICORN, os.X_OK):
        return "Debian's gunicorn not installed (%s; apt-get install gunicorn)" % GUNICORN
    res = subprocess.run([SYSTEM_PYTHON, "-c", "import " + module], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if res.returncode != 0:
        return "Debian's %s not installed (%s cannot import %s)" % (PACKAGES[module],
                                                                  SYSTEM_PYTHON, module)
    return None


class Server(AppServer):
    def __init__(self, kind, tmp):
        self.kind = self.name = kind
        # the secrets of this run: none may reach a snapshot or an output
        self.cookie = "sid=COOKIE%s" % secrets.token_hex(12)
        self.auth = "Bearer AUTH%s" % secrets.token_hex(12)
        self.token = "TOKEN%s" % secrets.token_hex(12)
        self.hang_query = "id=42&token=%s" % self.token
        self.cpu_query = "n=%d&token=%s" % (CPU_N, self.token)
        self.hang_path = "/hang?" + self.hang_query
        self.cpu_path = "/cpu?" + self.cpu_query
        AppServer.__init__(self, tmp)
        self.host = "127.0.0.1:%d" % self.port

    def argv(self, port):
        return SERVERS[self.kind][1](port)

    def get(self, path, timeout):
        req = urllib.request.Request("http://%s%s" % (self.host, path),
                                     headers={"Cookie": self.cookie, "Authorization": self.auth})
        return urllib.request.urlopen(req, timeout=timeout).read()

    def took(self, cpu, hang):
        self.hang_pid, self.hang_tid = map(int, hang.split())
        self.cpu_pid, self.cpu_tid = map(int, cpu.split())

    def secrets(self):
        return [self.cookie.split("=", 1)[1].encode(), self.auth.split(" ", 1)[1].encode(),
                self.token.encode()]

    def close(self):
        AppServer.close(self, signal.SIGQUIT if SERVERS[self.kind][1](0)[0] == GUNICORN
                        else signal.SIGTERM)


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request, tmp_path_factory):
    why = missing(request.param)
    if why:
        pytest.skip(why)
    srv = Server(request.param, tmp_path_factory.mktemp(request.param))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def thread_by_tid(doc, tid):
    found = [t for t in all_threads(doc) if t["tid"] == tid]
    assert len(found) == 1, [t["tid"] for t in all_threads(doc)]
    return found[0]


def expected(srv, path, query):
    return {"method": "GET", "path": path, "query": query.replace(srv.token, "<redacted>"),
            "protocol": "HTTP/1.1", "remote_addr": "127.0.0.1", "host": srv.host,
            "query_redacted": True}


def request_fields(req):
    assert req is not None
    return dict((k, v) for k, v in req.items() if k != "found_by")


def snapshot_bytes(path):
    data = Path(path).read_bytes()
    if data.startswith(ZSTD_MAGIC):
        data = subprocess.run(["zstd", "-d", "-c", "-q", str(path)], stdout=subprocess.PIPE,
                              check=True).stdout
    assert data.startswith(b"\x7fELF")
    return data


def capture_busy(pysnap_bin, srv, out):
    """Capture the process serving /cpu until its thread is inside cpu_intensive_task (it may
    be between two requests: rarely)."""
    for attempt in range(5):
        path = out / ("cpu-%d.snap" % attempt)
        ok(run_pysnap(pysnap_bin, "capture", "--pid", srv.cpu_pid, "-o", path))
        # gthread: each request may run on another thread of the pool: the last noted
        srv.cpu_pid, srv.cpu_tid = map(int, (srv.state / "cpu").read_text().split())
        doc = json.loads(ok(run_pysnap(pysnap_bin, "analyze", path, "--json")))
        found = [t for t in all_threads(doc) if t["tid"] == srv.cpu_tid]
        frames = python_frames(found[0]) if found else []
        if frames and frames[0][0] == "cpu_intensive_task":
            return path, doc
    pytest.fail("the /cpu thread was never inside cpu_intensive_task", pytrace=False)


def check_no_secrets(srv, snaps, texts):
    looked = 0
    for snap in snaps:
        data = snapshot_bytes(snap)
        # the walk did look at the requests: their paths and the environ's (or the scope's)
        # cookie key are in the snapshot, so a leak would be there too
        looked += (b"/hang" in data or b"/cpu" in data) and (b"HTTP_COOKIE" in data or
                                                             b"cookie" in data)
        for value in srv.secrets():
            assert value not in data, "%s: a secret is in the snapshot's bytes" % snap
    assert looked
    for text in texts:
        for value in srv.secrets():
            assert value.decode() not in text


def test_requests_named_and_secrets_withheld(server, pysnap_bin, tmp_path):
    srv = server
    source = SERVERS[srv.kind][2]
    busy_snap, busy = capture_busy(pysnap_bin, srv, tmp_path)
    cpu_thread = thread_by_tid(busy, srv.cpu_tid)
    assert request_fields(cpu_thread["request"]) == expected(srv, "/cpu", srv.cpu_query)
    assert cpu_thread["request"]["found_by"]["source"] == source
    schema_util.check(busy)

    if srv.hang_pid == srv.cpu_pid:
        hang_snap, hung = busy_snap, busy
    else:
        hang_snap = tmp_path / "hang.snap"
        ok(run_pysnap(pysnap_bin, "capture", "--pid", srv.hang_pid, "-o", hang_snap))
        hung = json.loads(ok(run_pysnap(pysnap_bin, "analyze", hang_snap, "--json")))
    if srv.kind.startswith("uvicorn"):
        # one thread runs the loop (busy with /cpu); the hung request is a pending task
        tasks = [t for i in hung["interpreters"] for t in i["tasks"]
                 if t["request"] and t["request"]["path"] == "/hang"]
        assert len(tasks) == 1, [t["request"] for i in hung["interpreters"] for t in i["tasks"]]
        hang_req = tasks[0]["request"]
        assert tasks[0]["state"] == "pending"
        assert [f["function"] for f in tasks[0]["coroutine_chain"]][-3:] == [
            "app", "wait_for_event", "wait"]  # the last: asyncio's Event.wait
        running = [t for i in hung["interpreters"] for t in i["tasks"] if t["running"]]
        assert [request_fields(t["request"]) for t in running] == [
            expected(srv, "/cpu", srv.cpu_query)]
    else:
        hang_thread = thread_by_tid(hung, srv.hang_tid)
        assert python_frames(hang_thread)[0][0] == "wait_for_lock"
        hang_req = hang_thread["request"]
    assert request_fields(hang_req) == expected(srv, "/hang", srv.hang_query)
    assert hang_req["found_by"]["source"] == source
    schema_util.check(hung)

    # the text form: a line under the thread (task) header
    texts = []
    for snap in sorted(set([busy_snap, hang_snap])):
        texts.append(ok(run_pysnap(pysnap_bin, "analyze", snap, "--locals", "--tasks")))
        texts.append(ok(run_pysnap(pysnap_bin, "analyze", snap, "--json")))
    text = "".join(texts)
    assert ("serving GET /hang?id=42&token=<redacted> from 127.0.0.1, HTTP/1.1, Host: %s ("
            % srv.host) in text
    assert ("serving GET /cpu?n=%d&token=<redacted> from 127.0.0.1, HTTP/1.1, Host: %s ("
            % (CPU_N, srv.host)) in text
    check_no_secrets(srv, [busy_snap, hang_snap], texts)

    # With redaction off, the token is shown; the Cookie and Authorization values still are
    # never read.
    plain = tmp_path / "no-redact.snap"
    ok(run_pysnap(pysnap_bin, "capture", "--pid", srv.hang_pid, "--no-redact", "-o", plain))
    text = ok(run_pysnap(pysnap_bin, "analyze", plain, "--locals", "--tasks"))
    assert "serving GET /hang?id=42&token=%s from" % srv.token in text
    data = snapshot_bytes(plain)
    assert srv.token.encode() in data
    for value in srv.secrets()[:2]:
        assert value not in data and value.decode() not in text

    # dump reads the requests too (without the locals); --no-locals reads no value at all
    dumped = ok(run_pysnap(pysnap_bin, "dump", "--pid", srv.hang_pid, "--tasks"))
    assert "serving GET /hang?id=42&token=<redacted> from 127.0.0.1" in dumped
    bare = tmp_path / "no-locals.snap"
    ok(run_pysnap(pysnap_bin, "capture", "--pid", srv.hang_pid, "--no-locals", "-o", bare))
    doc = json.loads(ok(run_pysnap(pysnap_bin, "analyze", bare, "--json")))
    assert [t["request"] for t in all_threads(doc)] == [None] * len(all_threads(doc))
    assert b"/hang" not in snapshot_bytes(bare)


def test_summary_names_the_stuck_route(server, pysnap_bin, tmp_path):
    srv = server
    res = run_pysnap(pysnap_bin, "capture", "--pid", srv.proc.pid, "--children", "--count", "3",
                     "--interval", "0.3", "-o", tmp_path / "rounds")
    ok(res)
    files = sorted((tmp_path / "rounds").iterdir())
    doc = json.loads(ok(run_pysnap(pysnap_bin, "analyze", *files, "--summary", "--json")))
    schema_util.check(doc, schema_util.SCHEMA["$defs"]["summary"])
    routes = dict(((r["method"], r["path"]), r) for r in doc["summary"]["routes"])
    hang = routes[("GET", "/hang")]
    if srv.kind.startswith("uvicorn"):
        # the hung request is an asyncio task (the same Task object in the three snapshots),
        # parked in Event.wait under wait_for_event; no thread serves it
        assert (hang["task_samples"], hang["tasks"], hang["stuck_tasks"],
                hang["stuck_task_samples"], hang["samples"], hang["stuck_threads"]) == (
                    3, 1, 1, 3, 0, 0), hang
        assert hang["stuck_at"]["function"] == "wait", hang
        assert hang["stuck_at"]["file"].endswith("asyncio/locks.py"), hang
        text = ok(run_pysnap(pysnap_bin, "analyze", tmp_path / "rounds", "--summary"))
        assert "  1 task stuck in GET /hang at wait, samples 3/3\n" in text, text
        check_no_secrets(srv, files, [text, json.dumps(doc)])
        return
    assert (hang["samples"], hang["threads"], hang["stuck_threads"], hang["stuck_samples"]) == (
        3, 1, 1, 3)
    assert (hang["task_samples"], hang["tasks"], hang["stuck_tasks"]) == (0, 0, 0), hang
    assert hang["stuck_at"]["function"] == "wait_for_lock"
    assert hang["stuck_at"]["file"] == str(TARGETS / ("django_app.py" if "django" in srv.kind
                                                      else "flask_app.py"))
    # (the busy worker may show the same line three times: stuck too, by that measure)
    assert routes[("GET", "/cpu")]["samples"] >= 1
    text = ok(run_pysnap(pysnap_bin, "analyze", tmp_path / "rounds", "--summary"))
    assert "  1 thread stuck in GET /hang at wait_for_lock, samples 3/3\n" in text
    check_no_secrets(srv, files, [text, json.dumps(doc)])


# --- every interpreter: the stdlib wsgiref server and an ASGI-style scope in a task ----------

E2E_WITH_OLD_PYENV = True  # 3.8-3.10 keep locals in frame objects: another lookup by name
REQUEST_TARGET = TARGETS / "request_target.py"


def test_wsgiref_and_scope_in_every_version(python, pysnap_bin, run_target, tmp_path):
    if tuple(python.info()["version_info"][:2]) < (3, 7):
        pytest.skip("%s: the target's ASGI task needs asyncio.run (3.7+)" % python.label)
    proc, truth = run_target(python, REQUEST_TARGET)
    snap = tmp_path / "r.snap"
    ok(run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap))
    doc = json.loads(ok(run_pysnap(pysnap_bin, "analyze", snap, "--json")))
    schema_util.check(doc)
    wsgi = thread_by_tid(doc, truth["wsgi_tid"])
    names = [f[0] for f in python_frames(wsgi)]
    assert names[names.index("hang_app") - 1] == "wait"  # inside Event.wait
    assert request_fields(wsgi["request"]) == truth["wsgi"]
    assert wsgi["request"]["found_by"] == {"source": "wsgi", "local": "environ",
                                           "function": "hang_app"}
    others = [t["request"] for t in all_threads(doc) if t["tid"] != truth["wsgi_tid"]]
    assert others == [None] * len(others)
    tasks = [t for i in doc["interpreters"] for t in i["tasks"] if t["request"]]
    assert [request_fields(t["request"]) for t in tasks] == [truth["asgi"]]
    assert tasks[0]["request"]["found_by"] == {"source": "asgi", "local": "scope",
                                               "function": "handle"}
    text = ok(run_pysnap(pysnap_bin, "analyze", snap, "--locals", "--tasks"))
    assert ("    serving GET /hang?id=7&token=<redacted> from 127.0.0.1, HTTP/1.1, Host: "
            "127.0.0.1:%d (wsgi: environ in hang_app)\n" % truth["port"]) in text
    assert ("    serving POST /api/items?a=1&api_key=<redacted> from 10.0.0.7, HTTP/1.1, "
            "Host: example.test (asgi: scope in handle)\n") in text
    data = snapshot_bytes(snap)
    assert b"HTTP_COOKIE" in data and b"/hang" in data
    for value in truth["secrets"]:
        assert value.encode() not in data, "a secret is in the snapshot's bytes"
        assert value not in text
