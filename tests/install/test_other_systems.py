"""pysnap where the user is, not where it was built: the wheel and the bare static binary in
bare Debian bullseye, bookworm and trixie roots.

Each root is debootstrap minbase + that release's python3 and python3-venv, nothing else (no
compiler, no libelf, no capstone): scripts/debian-root.sh makes it once and caches it. The
cached root is never written to: a test sees it through an overlay (upper layer in a temporary
directory; a full copy where overlayfs is not available), mounted in a mount namespace of its
own (unshare -m) together with a fresh /proc, so every mount disappears with the namespace.
The target, tests/install/target.py run by the release's python3, is chrooted there and holds
the namespace; every command of the test enters it (nsenter --mount --root), as a shell in the
container would be.

  wheel:  python3 -m venv, pip install --no-index the wheel (made here from the static binary
          by scripts/make-wheel.py), pysnap is on the venv's PATH and executable, then capture,
          analyze, analyze --native --locals, dump and record -o x.svg name the target's
          threads and functions; pip uninstall -y pysnap removes it.
  binary: the same commands with the static binary copied to /home/pysnap (as one uploads it
          to an App Service container's /home).

The static binary: $PYSNAP_STATIC_BIN, default build-static/pysnap (scripts/build-static.sh,
which scripts/test.sh runs first). Missing, the tests fail; not root, or no debootstrap and no
way to install it, or the Debian archive unreachable: they skip with the reason.

Run as root: /usr/bin/python3 -m pytest -p no:cacheprovider -rs tests/install
"""

import json
import os
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RELEASES = ("bullseye", "bookworm", "trixie")
PACKAGES = ("python3", "python3-venv")
HERE = Path(__file__).resolve().parent
STEP_TIMEOUT = 180  # any one command in the root (pip on a loaded machine is the slowest)


def static_binary():
    path = Path(os.environ.get("PYSNAP_STATIC_BIN") or REPO / "build-static" / "pysnap")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail("static pysnap not found: %s (run scripts/build-static.sh, or set "
                    "PYSNAP_STATIC_BIN)" % path, pytrace=False)
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    binary = static_binary()
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    m = re.match(r"pysnap (\S+) \(commit \S+, static build\)$", out.stdout.strip())
    assert m, "not a static build: %r" % out.stdout
    d = tmp_path_factory.mktemp("wheel")
    made = subprocess.run([sys.executable, str(REPO / "scripts" / "make-wheel.py"), str(binary),
                           m.group(1), str(d)], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    return Path(made.stdout.strip())


class Root:
    """A copy-on-write view of a cached bare root with the target running inside it."""

    def __init__(self, release, tmp, wheel, binary):
        self.release = release
        r = subprocess.run([str(REPO / "scripts" / "debian-root.sh"), release, *PACKAGES],
                           capture_output=True, text=True, timeout=3600)
        if r.returncode != 0:
            pytest.skip("no bare Debian %s root: %s" % (release, r.stderr.strip()))
        cached = r.stdout.strip()
        upper, work, merged = tmp / "upper", tmp / "work", tmp / "merged"
        for d in (upper / "work", upper / "home", work, merged):
            d.mkdir(parents=True)
        shutil.copy(HERE / "target.py", upper / "work" / "target.py")
        shutil.copy(wheel, upper / "work" / wheel.name)
        shutil.copy(binary, upper / "home" / "pysnap")
        os.chmod(upper / "home" / "pysnap", 0o755)
        self.wheel_name = wheel.name
        # unshare execs sh, sh execs chroot, chroot execs python3: the Popen's pid is the
        # target's, and the namespace (with its mounts) lives exactly as long as the target.
        script = """set -e
if ! mount -t overlay overlay -o lowerdir={c},upperdir={u},workdir={w} {m} 2>/dev/null; then
    cp -a {c}/. {m}/ && cp -a {u}/. {m}/
fi
mount -t proc proc {m}/proc
cd {m}/work
exec chroot {m} /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root python3 /work/target.py
""".format(c=cached, u=upper, w=work, m=merged)
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                      "sh", "-c", script], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            self.close()
            pytest.fail("the %s target did not start: %r %s" % (release, line,
                                                                self.proc.stderr.read()))
        self.truth = json.loads(line[len("ready "):])
        assert self.truth["pid"] == self.proc.pid
        self.pid = self.proc.pid

    def run(self, command, path="/usr/bin:/bin", check=True):
        """COMMAND (a shell line) inside the root, as a shell there would run it."""
        # (nsenter's --wd would resolve the directory before entering the root)
        argv = ["nsenter", "--target", str(self.pid), "--mount", "--root", "--",
                "/usr/bin/env", "-i", "PATH=" + path, "HOME=/root", "LC_ALL=C.UTF-8",
                "/bin/sh", "-c", "cd /work && " + command]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=STEP_TIMEOUT)
        if check:
            assert r.returncode == 0, "%s: `%s` exited %d:\n%s\n%s" % (
                self.release, command, r.returncode, r.stdout[-3000:], r.stderr[-3000:])
        return r

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module", params=RELEASES)
def root(request, tmp_path_factory, wheel):
    if os.geteuid() != 0:
        pytest.skip("bare Debian roots need root (debootstrap, chroot, mounts)")
    for tool in ("unshare", "nsenter", "chroot"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (util-linux, coreutils)" % tool)
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True,
                           timeout=30)
    if probe.returncode != 0:  # e.g. a container without CAP_SYS_ADMIN
        pytest.skip("cannot make a mount namespace: unshare --mount: %s" % probe.stderr.strip())
    r = Root(request.param, tmp_path_factory.mktemp(request.param), wheel, static_binary())
    try:
        yield r
    finally:
        r.close()


def thread_sections(text):
    """analyze/dump text -> {thread id: its section (header line to the next header)}."""
    parts = re.split(r"^(?=Thread \d+ )", text, flags=re.M)
    return {int(p.split()[1]): p for p in parts if p.startswith("Thread ")}


def check_stacks(root, text, what, native=False, locals_=False):
    """TEXT (analyze or dump output) shows each of the target's threads, by id and name, in
    its own function; the waiting ones at their line; with native frames or locals if asked."""
    sections = thread_sections(text)
    for name, t in root.truth["threads"].items():
        sec = sections.get(t["tid"])
        assert sec is not None, "%s %s: no thread %d (%s) in:\n%s" % (
            root.release, what, t["tid"], name, text[:3000])
        assert sec.startswith('Thread %d "%s"' % (t["tid"], name)), sec.splitlines()[0]
        if name == "gamma":  # it runs: any line of its function
            pat = r'File "/work/target\.py", line \d+, in %s\n' % t["function"]
        else:
            pat = r'File "/work/target\.py", line %d, in %s\n' % (t["line"], t["function"])
        assert re.search(pat, sec), "%s %s: %s not at %s:\n%s" % (root.release, what, name,
                                                                 pat, sec)
        if native:
            # the thread's native frames, from its start in libc/libpthread to the interpreter
            # ("name+0xOFF (file)", or "??? (file+0xOFF)" where the file exports no symbol)
            libs = re.findall(r"^\s+\(C\) \S+ \(([^)+]+)", sec, flags=re.M)
            assert len(libs) >= 3, "%s %s: %s has no native frames:\n%s" % (
                root.release, what, name, sec)
            assert any(lib.startswith(("libc", "libpthread")) for lib in libs), sec
            assert any(lib.startswith("python3") for lib in libs), sec
    if locals_:
        alpha = sections[root.truth["threads"]["alpha"]["tid"]]
        beta = sections[root.truth["threads"]["beta"]["tid"]]
        assert "label = 'alpha-local'" in alpha, "%s %s:\n%s" % (root.release, what, alpha)
        assert "count = 3" in beta, "%s %s:\n%s" % (root.release, what, beta)


def exercise(root, pysnap, path):
    """Every command, as a user in that root would type it."""
    pid = root.pid
    r = root.run("%s capture -p %d -o /work/t.snap -f" % (pysnap, pid), path)
    assert re.match(r"/work/t\.snap: \d+ bytes, 4 threads, pause [0-9.]+ ms$", r.stdout.strip()), \
        r.stdout
    check_stacks(root, root.run("%s analyze /work/t.snap" % pysnap, path).stdout, "analyze")
    check_stacks(root, root.run("%s analyze --native --locals /work/t.snap" % pysnap,
                                path).stdout, "analyze --native --locals", native=True,
                 locals_=True)
    check_stacks(root, root.run("%s dump -p %d" % (pysnap, pid), path).stdout, "dump")
    root.run("%s record -p %d -d 1 --idle -o /work/x.svg" % (pysnap, pid), path)
    svg = root.run("cat /work/x.svg").stdout
    assert svg.lstrip().startswith("<?xml") or svg.lstrip().startswith("<svg"), svg[:200]
    for t in root.truth["threads"].values():
        assert t["function"] in svg, "%s record: %s not in the flame graph" % (root.release,
                                                                              t["function"])
    root.run("rm -f /work/t.snap /work/x.svg")


def test_wheel(root):
    root.run("python3 -m venv /work/venv")
    venv_path = "/work/venv/bin:/usr/bin:/bin"
    pip = root.run("pip --version", venv_path).stdout
    root.run("pip install --no-index /work/%s" % root.wheel_name, venv_path)
    # on the venv's PATH, executable, and the same build
    assert root.run("command -v pysnap", venv_path).stdout.strip() == "/work/venv/bin/pysnap"
    mode = root.run("stat -c %a /work/venv/bin/pysnap").stdout.strip()
    assert mode == "755", "%s (%s): pysnap installed with mode %s" % (root.release, pip, mode)
    version = root.run("pysnap --version", venv_path).stdout
    assert re.match(r"pysnap \S+ \(commit \S+, static build\)$", version.strip()), version
    exercise(root, "pysnap", venv_path)
    root.run("pip uninstall -y pysnap", venv_path)
    assert root.run("command -v pysnap", venv_path, check=False).returncode != 0
    assert root.run("test -e /work/venv/bin/pysnap", check=False).returncode != 0
    root.run("rm -rf /work/venv")


def test_static_binary(root):
    # the root has no libelf, libdw or capstone (libzstd it has: dpkg uses it) for pysnap to load
    libs = root.run("ls /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu").stdout
    for lib in ("libelf", "libdw", "libcapstone"):
        assert lib not in libs, "%s: the bare root has %s" % (root.release, lib)
    exercise(root, "/home/pysnap", "/usr/bin:/bin")
