"""Process plumbing shared by the test directories (cli, safety, e2e): the pysnap binary, a
Python for the targets, running pysnap, describing a finished run, /proc views, spawning
and killing processes.

Each directory's conftest puts tests/common on sys.path and imports fixtures from here
(a fixture imported into a conftest is one of its fixtures): pysnap_bin, and spawn, which
safety makes with its own environment through spawn_fixture().

Standard library and pytest only. Every wait here is bounded.
"""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PYSNAP_TIMEOUT = 60.0  # any one pysnap invocation
KILL_WAIT = 10.0       # a killed process being reaped


# --- pysnap and the target's Python ------------------------------------------------------

def extra_pythons(spec):
    """PYSNAP_EXTRA_PYTHONS (scripts/test.sh exports it): 'label=command;label=command' ->
    [(label, env, argv)], the command split like a shell does; leading NAME=VALUE words are
    environment variables for the interpreter."""
    out = []
    for entry in spec.split(";"):
        entry = entry.strip()
        if not entry:
            continue
        label, sep, command = entry.partition("=")
        label = label.strip()
        words = shlex.split(command)
        env = {}
        while words and ENV_WORD.match(words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if not sep or not label or not words:
            raise ValueError("PYSNAP_EXTRA_PYTHONS: bad entry %r (want label=command)" % entry)
        out.append((label, env, words))
    return out


def pysnap_path():
    return os.path.abspath(os.environ.get("PYSNAP_BIN") or str(REPO / "build" / "programs" / "pysnap"))


def require_pysnap():
    """The binary's path; fails (never skips) the calling test when it is missing."""
    path = pysnap_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("pysnap binary not found or not executable: %s "
                    "(build it, or point PYSNAP_BIN at it)" % path, pytrace=False)
    return path


def choose_python(candidates, env_var):
    """$ENV_VAR, else the first present (executable) of CANDIDATES, else None."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    for p in candidates:
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def require_python(candidates, env_var):
    """choose_python(), or skip the calling test saying which paths were looked for."""
    p = choose_python(candidates, env_var)
    if p is None:
        pytest.skip("no Python for the target: none of %s is present (set %s)"
                    % (", ".join(candidates), env_var))
    return p


def run_pysnap(binary, *args, **kwargs):
    """Run pysnap (or PREFIX + pysnap when binary is a list) with ARGS; returns the
    CompletedProcess, stdout/stderr as bytes; timeout PYSNAP_TIMEOUT unless given."""
    kwargs.setdefault("timeout", PYSNAP_TIMEOUT)
    argv = list(binary) if isinstance(binary, (list, tuple)) else [binary]
    return subprocess.run([str(a) for a in argv] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def run_pysnap_json(binary, *args):
    """run_pysnap(BINARY, *ARGS) of a command printing JSON: (CompletedProcess, the parsed
    document, or None when it failed or printed no valid JSON)."""
    res = run_pysnap(binary, *args)
    if res.returncode != 0:
        return res, None
    try:
        return res, json.loads(res.stdout.decode("utf-8"))
    except ValueError:
        return res, None


def describe(res, tail=4000):
    """Exit status and the last TAIL characters of RES's stdout and stderr (bytes; anything
    else, such as an output that was not captured, shows empty)."""
    out = res.stdout if isinstance(res.stdout, bytes) else b""
    err = res.stderr if isinstance(res.stderr, bytes) else b""
    return "exit %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        res.returncode, out.decode("utf-8", "replace")[-tail:],
        err.decode("utf-8", "replace")[-tail:])


def ok(res):
    """RES's stdout as text; fails the test, with describe(RES), unless pysnap exited 0."""
    assert res.returncode == 0, describe(res)
    return res.stdout.decode()


# --- /proc -------------------------------------------------------------------------------

def proc_tids(pid):
    try:
        return set(int(t) for t in os.listdir("/proc/%d/task" % pid))
    except OSError:
        return set()


def thread_states(pid):
    """tid -> state letter from /proc/PID/task/TID/stat ('S', 'R', 't', 'T', ...)."""
    out = {}
    for tid in proc_tids(pid):
        try:
            with open("/proc/%d/task/%d/stat" % (pid, tid), errors="replace") as f:
                data = f.read()
        except OSError:
            continue
        out[tid] = data[data.rindex(")") + 2]
    return out


def status_int(pid, field):
    """The number after FIELD: in /proc/PID/status (0 when absent)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def tracer_pid(pid):
    return status_int(pid, "TracerPid")


# --- spawning ----------------------------------------------------------------------------

def clean_env(extra=None, drop=("PYTHON",)):
    """Our environment less every variable whose name starts with one of DROP (by default
    every PYTHON* one, so no PYTHONPATH or PYTHONHOME of the test runner leaks into a
    target), plus PYTHONDONTWRITEBYTECODE=1 and EXTRA (values made strings)."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(tuple(drop)))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(dict((k, str(v)) for k, v in (extra or {}).items()))
    return env


def kill_all(procs):
    """SIGKILL each of PROCS (Popen) still running and reap it (bounded wait)."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=KILL_WAIT)
        except subprocess.TimeoutExpired:
            pass


class Spawner(object):
    """spawn(argv, **popen_kwargs) -> Popen; close() kills all it started. The defaults:
    stdin and stdout /dev/null, a new session, the environment MAKE_ENV() returns."""

    def __init__(self, make_env=clean_env):
        self.make_env = make_env
        self.procs = []

    def __call__(self, argv, **kwargs):
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        if "env" not in kwargs:
            kwargs["env"] = self.make_env()
        proc = subprocess.Popen([str(a) for a in argv], **kwargs)
        self.procs.append(proc)
        return proc

    def close(self):
        kill_all(self.procs)
        self.procs = []


# --- fixtures (imported by the conftests) -------------------------------------------------

@pytest.fixture(scope="session")
def pysnap_bin():
    """$PYSNAP_BIN, default <repo>/build/programs/pysnap; a missing binary FAILS the test."""
    return require_pysnap()


def spawn_fixture(make_env=clean_env):
    """A `spawn` fixture: spawn(argv, **popen_kwargs) -> Popen, a Spawner(MAKE_ENV); all
    spawned are killed at teardown. A conftest whose targets want another environment
    makes its own: spawn = spawn_fixture(its_env)."""
    @pytest.fixture(name="spawn")
    def spawn_():
        s = Spawner(make_env)
        try:
            yield s
        finally:
            s.close()
    return spawn_


spawn = spawn_fixture()
