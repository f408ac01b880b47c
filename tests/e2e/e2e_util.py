"""Shared helpers of the pysnap end-to-end tests (imported by conftest.py and the tests); the
plumbing common to the test directories is in tests/common/proc_util.py.

Standard library and pytest only. Every wait here is bounded.
"""

import functools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

# conftest.py put tests/common on sys.path; the tests import these from here.
from proc_util import (PYSNAP_TIMEOUT, REPO, clean_env, describe, extra_pythons, kill_all,  # noqa: F401
                       ok, proc_tids, pysnap_path, run_pysnap, run_pysnap_json, thread_states)

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "targets"
THREADS_TARGET = TARGETS / "threads_target.py"
HELPERS_MOD = TARGETS / "helpers_mod.py"

READY_TIMEOUT = 30.0   # target start until it says "ready"
TIDS_TIMEOUT = 10.0    # /proc/PID/task settling on the truth's tids
PROBE_TIMEOUT = 20.0   # an interpreter answering a -c probe

PYENV_ROOT = "/root/.pyenv"
PYENV_VERSIONS = ("3.11.7", "3.12.1", "3.13.0")
# Frame-object era (3.6-3.10): offered only to test modules that set E2E_WITH_OLD_PYENV = True.
# 3.6 has no _PyRuntime (its roots are static symbols of libpython's .symtab; doc/versions.md).
PYENV_OLD_VERSIONS = ("3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13")
DEBIAN_PYTHON = "/usr/bin/python3.11"
# Debian's debug build (package python3.11-dbg): Py_DEBUG, dynamically linked, with symbols.
DEBIAN_DBG_PYTHON = "/usr/bin/python3.11-dbg"

# Directories that are never an interpreter's own install directory: hiding one of them
# would hide the system (or pysnap) too.
SYSTEM_DIRS = {"/", "/usr", "/usr/local", "/usr/bin", "/usr/lib", "/usr/local/bin",
               "/usr/local/lib", "/lib", "/lib64", "/bin", "/opt", "/root", "/home",
               "/tmp", "/var", "/etc", "/work"}

PROBE = (
    "import json, platform, sys, sysconfig; "
    "print(json.dumps({'version': platform.python_version(), "
    "'version_info': list(sys.version_info), "
    "'implementation': sys.implementation.name, 'executable': sys.executable, "
    "'base_prefix': sys.base_prefix, 'stdlib': sysconfig.get_paths()['stdlib'], "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')) and "
    "not getattr(sys, '_is_gil_enabled', lambda: True)()}))"
)


# --- interpreters ------------------------------------------------------------------------



class Interpreter(object):
    """One Python to run targets with: a label, an argv prefix and extra environment.

    kind is "pyenv", "debian" or "extra"; it decides what the offline test hides."""

    def __init__(self, label, argv, env=None, kind="extra"):
        self.label = label
        self.argv = list(argv)
        self.env = dict(env or {})
        self.kind = kind
        self._info = None

    def __repr__(self):
        return "Interpreter(%r, %r)" % (self.label, " ".join(self.argv))

    def missing(self):
        """The first path this interpreter needs that is absent, or None."""
        exe = self.argv[0]
        if os.sep not in exe:
            return None if shutil.which(exe) else exe
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            return exe
        for word in self.argv[1:]:
            if word.startswith("/") and ":" not in word and not os.path.exists(word):
                return word
        return None

    def target_env(self):
        """The environment for a target: ours less every inherited PYTHON* variable (so
        no PYTHONPATH or PYTHONHOME of the test runner leaks in), plus the interpreter's."""
        return clean_env(self.env)

    def info(self):
        """version, implementation, executable, base_prefix, stdlib of this interpreter."""
        if self._info is None:
            try:
                res = subprocess.run(self.argv + ["-c", PROBE], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.target_env(), timeout=PROBE_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as e:
                pytest.fail("%s: interpreter does not run: %s" % (self.label, e), pytrace=False)
            if res.returncode != 0:
                pytest.fail("%s: interpreter probe failed: %s" % (self.label, describe(res)),
                            pytrace=False)
            self._info = json.loads(res.stdout.decode("utf-8").strip().splitlines()[-1])
        return self._info

    def hide_plan(self):
        """What to mount over so that nothing of this interpreter's install is visible:
        a list of ("tmpfs", dir) and ("bind-empty", file)."""
        if self.kind == "pyenv":
            return [("tmpfs", PYENV_ROOT)]
        if self.kind == "debian":
            return [("tmpfs", "/usr/lib/python3.11"), ("bind-empty", self.argv[0])]
        # An extra interpreter: hide the directory holding all its paths (the loader, the
        # library path, PYTHONHOME, the binary), else the prefix of its binary, unless that
        # is a system directory; then hide its stdlib directory and its binary, as for
        # Debian's.
        info = self.info()
        paths = []
        for word in self.argv + list(self.env.values()):
            for part in word.split(":"):
                if part.startswith("/") and os.path.exists(part):
                    paths.append(os.path.realpath(part))
        exe = os.path.realpath(info["executable"] or self.argv[-1])
        candidates = []
        if paths:
            candidates.append(_prefix_of(os.path.commonpath(paths)))
        candidates.append(_prefix_of(exe))
        ours = [pysnap_path(), "/tmp", str(REPO)]
        for root in candidates:
            if root not in SYSTEM_DIRS and os.path.isdir(root) and not any(
                    p == root or p.startswith(root + "/") for p in ours):
                return [("tmpfs", root)]
        plan = [("tmpfs", info["stdlib"])]
        if os.path.isfile(exe):
            plan.append(("bind-empty", exe))
        return plan


def _prefix_of(path):
    """An install prefix from a path: a file's directory, and above a bin/ directory."""
    if not os.path.isdir(path):
        path = os.path.dirname(path)
    if os.path.basename(path) == "bin":
        path = os.path.dirname(path)
    return path


def parse_extra_pythons(spec):
    """PYSNAP_EXTRA_PYTHONS as Interpreters (proc_util.extra_pythons parses it)."""
    return [Interpreter(label, argv, env, kind="extra")
            for label, env, argv in extra_pythons(spec)]


@functools.lru_cache(maxsize=None)
def interpreters(with_old=False):
    versions = (PYENV_OLD_VERSIONS if with_old else ()) + PYENV_VERSIONS
    its = [Interpreter("pyenv-" + v, ["%s/versions/%s/bin/python" % (PYENV_ROOT, v)], kind="pyenv")
           for v in versions]
    its.append(Interpreter("debian-3.11", [DEBIAN_PYTHON], kind="debian"))
    its.append(Interpreter("debian-3.11-dbg", [DEBIAN_DBG_PYTHON], kind="debian"))
    its.extend(parse_extra_pythons(os.environ.get("PYSNAP_EXTRA_PYTHONS", "")))
    return tuple(its)


def interpreter_params(with_old=False):
    params = []
    for it in interpreters(with_old):
        missing = it.missing()
        marks = []
        if missing:
            marks.append(pytest.mark.skip(reason="%s: interpreter not found: %s" % (it.label, missing)))
        params.append(pytest.param(it, id=it.label, marks=marks))
    return params


GIL_TARGET = TARGETS / "gil_target.py"
BULLSEYE27 = os.path.join(os.environ.get("PYSNAP_CACHE") or os.path.expanduser("~/.cache/pysnap"),
                          "bullseye27")


def gil_params():
    """The interpreters whose GIL record and top must report rightly, each with the reason it
    is skipped when absent: 2.7 (pyenv's, and Debian bullseye's static stripped one: the GIL
    holder is the _PyThreadState_Current static), 3.6 (the gil_locked / gil_last_holder
    statics), 3.12 (the GIL in the interpreter state) and every free-threaded extra of
    PYSNAP_EXTRA_PYTHONS (a label ending in "t": no GIL at all)."""
    out = []

    def add(label, it, why):
        missing = it.missing() if it else why
        if it and missing:
            missing = "%s: interpreter not found: %s" % (label, missing)
        marks = [pytest.mark.skip(reason=missing)] if missing else []
        out.append(pytest.param(it, id=label, marks=marks))

    for v in ("2.7.18", "3.6.15", "3.12.1"):
        add("pyenv-" + v, Interpreter("pyenv-" + v, ["%s/versions/%s/bin/python" % (PYENV_ROOT, v)],
                                      kind="pyenv"), None)
    bullseye = None
    if os.path.exists(os.path.join(BULLSEYE27, "ok")):
        (bullseye,) = parse_extra_pythons("debian-2.7=PYTHONHOME=%s/root/usr %s/root/usr/bin/python2.7"
                                          % (BULLSEYE27, BULLSEYE27))
    add("debian-bullseye-2.7", bullseye, "Debian bullseye's python2.7 not fetched "
        "(tools/fetch-bullseye-python27.sh; scripts/test.sh runs it)")
    ft = [it for it in parse_extra_pythons(os.environ.get("PYSNAP_EXTRA_PYTHONS", ""))
          if it.label.endswith("t")]
    for it in ft:
        add(it.label, it, None)
    if not ft:
        add("3.13t", None, "no free-threaded interpreter in PYSNAP_EXTRA_PYTHONS "
            "(tools/build-freethreaded.sh builds 3.13t; scripts/test.sh passes it)")
    return out


# --- /proc -------------------------------------------------------------------------------

def free_threaded(interp):
    """Does INTERP run without a GIL (a --disable-gil build, GIL not re-enabled)?"""
    return bool(interp.info().get("free_threaded"))


FREE_THREADED_GIL_REASON = "free-threaded build: no GIL"


def wait_for_tids(pid, tids, timeout=TIDS_TIMEOUT):
    """Wait until /proc/PID/task holds exactly TIDS; returns that set or fails."""
    tids = set(tids)
    deadline = time.monotonic() + timeout
    while True:
        now = proc_tids(pid)
        if now == tids:
            return now
        if time.monotonic() > deadline:
            pytest.fail("/proc/%d/task never became the truth's tids: extra %s, missing %s"
                        % (pid, sorted(now - tids), sorted(tids - now)), pytrace=False)
        time.sleep(0.01)


# --- targets -----------------------------------------------------------------------------

def default_signal_dispositions():
    """In the child before exec: the signals a shell ignores for background jobs (SIGINT,
    SIGQUIT: `cmd &` without job control) back to their defaults, so a target behaves the same
    whoever started the test run (test_kernel_core_dump's SIGQUIT must dump a core)."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


class TargetRunner(object):
    """run(python, script, *args) -> (proc, truth). Starts SCRIPT with a FIFO path as its
    first argument, waits (bounded) for "ready" on the FIFO and loads the truth JSON the
    target wrote to FIFO + ".json". close() kills every target it started."""

    def __init__(self, base_dir):
        self.base_dir = Path(base_dir)
        self.procs = []

    def __call__(self, python, script, *args, **kwargs):
        timeout = kwargs.pop("timeout", READY_TIMEOUT)
        if kwargs:
            raise TypeError("unexpected arguments %r" % sorted(kwargs))
        d = self.base_dir / ("target%d" % (len(self.procs) + 1))
        d.mkdir(parents=True)
        fifo = d / "ready.fifo"
        os.mkfifo(str(fifo), 0o600)
        rfd = os.open(str(fifo), os.O_RDONLY | os.O_NONBLOCK)
        try:
            with open(str(d / "stdout"), "wb") as out, open(str(d / "stderr"), "wb") as err:
                proc = subprocess.Popen(
                    python.argv + [str(script), str(fifo)] + [str(a) for a in args],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(d),
                    env=python.target_env(), start_new_session=True,
                    preexec_fn=default_signal_dispositions)
            self.procs.append(proc)
            line = self._read_line(rfd, proc, timeout, d)
        finally:
            os.close(rfd)
        if line != "ready":
            pytest.fail("target %s did not get ready: %r\n%s" % (script, line, self._stderr(d)),
                        pytrace=False)
        with open(str(fifo) + ".json") as f:
            truth = json.load(f)
        if truth.get("pid") != proc.pid:
            pytest.fail("truth pid %r is not the target's pid %d" % (truth.get("pid"), proc.pid),
                        pytrace=False)
        return proc, truth

    @staticmethod
    def _stderr(d):
        try:
            with open(str(d / "stderr"), "rb") as f:
                return "--- target stderr ---\n" + f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _read_line(self, rfd, proc, timeout, d):
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("target did not say ready within %.0f s\n%s" % (timeout, self._stderr(d)),
                            pytrace=False)
            ready, _, _ = select.select([rfd], [], [], min(left, 0.1))
            data = os.read(rfd, 4096) if ready else b""
            buf += data
            if not data:
                if proc.poll() is not None:
                    if b"\n" in buf:
                        break
                    pytest.fail("target exited with %s before ready\n%s" % (proc.returncode, self._stderr(d)),
                                pytrace=False)
                time.sleep(0.02)
        return buf.split(b"\n", 1)[0].decode("utf-8", "replace")

    def close(self):
        kill_all(self.procs)
        self.procs = []


# --- analysis JSON -----------------------------------------------------------------------

def need_analysis(r):
    """R.analysis, the parsed `analyze --json` of a module fixture's capture; fails the test
    with what pysnap said when the capture (R.capture) or the analysis (R.json_res) failed."""
    if r.capture.returncode != 0:
        pytest.fail("capture failed: %s" % describe(r.capture), pytrace=False)
    if r.analysis is None:
        pytest.fail("analyze --json failed: %s" % describe(r.json_res), pytrace=False)
    return r.analysis



def all_threads(analysis):
    """Every thread of every interpreter, in order, as a list of dicts."""
    out = []
    for interp in analysis.get("interpreters", []):
        out.extend(interp.get("threads", []))
    return out


def python_frames(thread):
    """(function, file, line) of the thread's python frames, innermost first."""
    return [(f.get("function"), f.get("file"), f.get("line"))
            for f in thread.get("frames", []) if f.get("kind") == "python"]


def truth_frames(truth_thread):
    return [(f["function"], f["file"], f["line"]) for f in truth_thread["frames"]]


def stack_problems(analysis, truth):
    """Where ANALYSIS differs from the threads target's TRUTH: every truth thread present
    once, with exactly its python frames (function, file, line) and its threading name.
    Returns a list of lines, empty when they agree."""
    got = {}
    bad = []
    for t in all_threads(analysis):
        if t.get("tid") in got:
            bad.append("thread %s listed twice" % t.get("tid"))
        got[t.get("tid")] = t
    for t in truth["threads"]:
        have = got.get(t["tid"])
        if have is None:
            bad.append("thread %d (%s) missing" % (t["tid"], t["name"] or t["role"]))
            continue
        want_frames, have_frames = truth_frames(t), python_frames(have)
        if want_frames != have_frames:
            bad.append("thread %d (%s): python frames\n  want %s\n  have %s" % (
                t["tid"], t["name"] or t["role"], want_frames[:6], have_frames[:6]))
        if t["python"] and have.get("name") != t["name"]:
            bad.append("thread %d: name %r, want %r" % (t["tid"], have.get("name"), t["name"]))
    extra = sorted(set(got) - set(t["tid"] for t in truth["threads"]))
    if extra:
        bad.append("threads not in the truth: %s" % extra)
    return bad


# --- web servers (test_requests.py, test_web.py) -------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid):
    """Pids whose parent is PID, from /proc."""
    out = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    st = f.read()
            except OSError:
                continue
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                out.add(int(p))
    return out


def stop_server(proc, sig):
    """Stop a server started with start_new_session: SIG to it (5 s, then SIGKILL), then
    SIGKILL to any child (worker) it left."""
    children = children_of(proc.pid)
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_until(ready, what, proc, details, timeout=30.0):
    """Poll READY() (True when done; an OSError counts as not yet) every 0.05 s until TIMEOUT;
    fail the test with WHAT and DETAILS() when it times out or PROC exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            pytest.fail("%s: %s" % (what, details()), pytrace=False)
        time.sleep(0.05)


class AppServer(object):
    """A web application server (started in its own session, its state directory in
    WEBAPP_STATE_DIR) with one request stuck in HANG_PATH and a client thread keeping a worker
    busy in CPU_PATH, so that a capture finds both. A subclass names the server (NAME), its
    command line (argv(port)) and its STATE_FILES (the cpu one, then the hang one: the app
    writes each when it takes that route), and reads them in took()."""
    name = "the server"
    log_name = "server.log"
    hang_path = "/hang"
    cpu_path = "/cpu"
    state_files = ("cpu", "hang")
    ready_timeout = 30.0
    load_seconds = 120  # the client thread stops with the module, or after this

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.state = self.tmp / "state"
        self.state.mkdir()
        self.port = free_port()
        self.log = open(str(self.tmp / self.log_name), "wb")
        self.proc = subprocess.Popen(self.argv(self.port), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     env=clean_env({"WEBAPP_STATE_DIR": self.state}),
                                     start_new_session=True)
        self.stop = threading.Event()
        self.client = None

    def argv(self, port):
        raise NotImplementedError

    def took(self, cpu, hang):
        """The contents of the state files."""

    def get(self, path, timeout):
        return urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                      timeout=timeout).read()

    def start(self):
        wait_until(lambda: self.get("/", 1) is not None, "%s did not answer" % self.name,
                   self.proc, self.logtext, timeout=self.ready_timeout)
        try:
            self.get(self.hang_path, 0.5)
        except OSError:
            pass  # it never answers: that worker (thread, task) is now stuck
        self.client = threading.Thread(target=self._load, daemon=True)
        self.client.start()
        files = [self.state / f for f in self.state_files]
        wait_until(lambda: all(f.exists() for f in files), "the app never took /cpu and /hang",
                   self.proc, self.logtext, timeout=self.ready_timeout)
        self.took(*[f.read_text() for f in files])
        time.sleep(0.3)  # well inside cpu_intensive_task

    def _load(self):
        # Bounded: stops with the module, and no request waits longer than 60 s.
        end = time.monotonic() + self.load_seconds
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                self.get(self.cpu_path, 60)
            except OSError:
                time.sleep(0.1)

    def logtext(self):
        self.log.flush()
        return (self.tmp / self.log_name).read_bytes()[-3000:].decode("utf-8", "replace")

    def close(self, sig=signal.SIGQUIT):
        self.stop.set()
        stop_server(self.proc, sig)
        self.log.close()
        if self.client:
            self.client.join(timeout=1)
