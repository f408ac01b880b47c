"""pysnap in containers as people run them (issue 16; doc/containers.md).

Each setup is built here, without network, from a cached bare Debian root with its own python3
(scripts/debian-root.sh bookworm python3 python3-venv: the root tests/install uses too, so one
cache serves both), which is only ever read: containers get an overlay
of it. The target (targets/container_target.py) has three named threads parked in functions of
their own with known locals, and reports its own truth (its ids are those of its pid namespace).

  pivot    unshare --pid --mount --fork, an overlay root, pivot_root: a real container
  chroot   a plain chroot in the host's mount namespace: /proc/PID/maps shows the host's paths
  userns   the pivot container made by uid 65534 through unshare --user --map-root-user
           (rootless: uid 0 inside is 65534 outside)
  podman   podman import of the root, podman run (skipped where podman cannot run containers)

pysnap runs from the host (the host's pids, and both tids shown), inside the container
(nsenter into its namespaces; --pid 1), and from a sidecar (the target's pid namespace, a mount
namespace and a root of its own holding nothing but pysnap). The roots have none of pysnap's
libraries: pysnap goes in as a bundle, its loader and libraries beside it (ldd). Every capture
is analyzed: threading names, innermost frames, locals, both tids where they differ.

Failure modes, each with its message and exit code 1, the target running on: no
CAP_SYS_PTRACE (setpriv --bounding-set -sys_ptrace), a user namespace that does not own the
target, a sidecar without the target's pid namespace, and Yama's ptrace_scope where it can be
set (restored afterwards). Everything is skipped, with the reason, when not root or without
unshare.
"""

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from e2e_util import REPO, TARGETS, describe, run_pysnap, thread_states
from proc_util import status_int, tracer_pid
import schema_util

TARGET = TARGETS / "container_target.py"
READY_TIMEOUT = 60.0
ROOT_TIMEOUT = 1800.0   # the first debootstrap of the root (cached afterwards)
NOBODY = 65534

LAUNCH = r"""set -e
R=$1; T=$2; L=$3; shift 3
mkdir -p "$T/upper" "$T/work" "$R"
mount -t overlay overlay -o "lowerdir=$L,upperdir=$T/upper,workdir=$T/work" "$R"
cp "$T/container_target.py" "$R/target.py"
cp -r "$T/bundle" "$R/pysnap"
mkdir -m 1777 "$R/out"
mount -t proc proc "$R/proc"
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
exec /usr/bin/python3 /target.py "$@"
"""


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip("%s is not installed" % tool)
    return path


def need_root_and_unshare():
    if os.geteuid() != 0:
        pytest.skip("the container tests need root (mount, unshare, pivot_root); uid %d"
                    % os.geteuid())
    need("unshare")
    probe = subprocess.run(["unshare", "--pid", "--mount", "--fork", "true"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    if probe.returncode != 0:
        pytest.skip("unshare --pid --mount is not permitted here: %s"
                    % probe.stderr.decode(errors="replace").strip())


@pytest.fixture(scope="module")
def debian_root():
    need_root_and_unshare()
    res = subprocess.run([str(REPO / "scripts" / "debian-root.sh"), "bookworm", "python3", "python3-venv"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=ROOT_TIMEOUT)
    if res.returncode != 0:
        pytest.skip("no Debian root: %s" % res.stderr.decode(errors="replace").strip())
    root = res.stdout.decode().strip().splitlines()[-1]
    if not os.path.isfile(os.path.join(root, "usr/bin/python3")):
        pytest.skip("the Debian root %s has no python3" % root)
    return root


@pytest.fixture(scope="module")
def bundle(pysnap_bin):
    """pysnap with its loader and libraries, runnable in a root that has none of them:
    DIR/lib/ld-linux-x86-64.so.2 --library-path DIR/lib DIR/pysnap."""
    need_root_and_unshare()
    d = Path(tempfile.mkdtemp(prefix="pysnap-bundle-"))
    lib = d / "lib"
    lib.mkdir()
    shutil.copy2(pysnap_bin, str(d / "pysnap"))
    out = subprocess.run(["ldd", pysnap_bin], stdout=subprocess.PIPE, timeout=30).stdout.decode()
    libs = []
    for line in out.splitlines():
        words = line.split()
        if "=>" in words and len(words) > words.index("=>") + 1:
            libs.append(words[words.index("=>") + 1])
        elif words and words[0].startswith("/"):
            libs.append(words[0])  # the loader
    # capstone is opened with dlopen (analyze/native/disasm.c): ldd does not list it
    cache = subprocess.run(["ldconfig", "-p"], stdout=subprocess.PIPE, timeout=30).stdout.decode()
    libs += [l.split("=>")[-1].strip() for l in cache.splitlines()
             if "libcapstone.so." in l and "x86-64" in l][:1]
    loader = None
    for path in libs:
        if os.path.isfile(path):
            shutil.copy2(os.path.realpath(path), str(lib / os.path.basename(path)))
            if os.path.basename(path).startswith("ld-linux"):
                loader = os.path.basename(path)
    if not loader:
        pytest.skip("cannot tell pysnap's loader from ldd: %s" % out)
    subprocess.run(["chmod", "-R", "a+rX", str(d)], check=True, timeout=30)
    yield d, loader
    shutil.rmtree(str(d), ignore_errors=True)


def bundle_argv(where, loader):
    """pysnap run from a bundle copied to WHERE (a path as the runner sees it)."""
    return ["%s/lib/%s" % (where, loader), "--library-path", "%s/lib" % where, "%s/pysnap" % where]


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(d))
    return out


def descendants(pid):
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        for c in children(p):
            if c not in seen:
                seen.append(c)
                todo.append(c)
    return seen


def ns_tids(pid):
    """{tid in the target's own pid namespace: tid here} for every thread of PID."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    out[int(line.split()[-1])] = int(tid)
    return out


class Container(object):
    """One target in one setup. host_pid: as the host sees it; truth: what it says."""

    def __init__(self, kind, debian_root, bundle_dir, args=(), prefix=()):
        self.kind = kind
        self.work = Path(tempfile.mkdtemp(prefix="pysnap-ct-%s-" % kind))
        os.chmod(str(self.work), 0o755)
        self.merged = self.work / "merged"
        self.proc = None
        self.mounted = False
        self.truth = None
        args = list(args)
        shutil.copy2(str(TARGET), str(self.work / "container_target.py"))
        shutil.copytree(str(bundle_dir), str(self.work / "bundle"), symlinks=True)
        (self.work / "launch.sh").write_text(LAUNCH)
        subprocess.run(["chmod", "-R", "a+rX", str(self.work)], check=True, timeout=30)
        if kind == "pivot":
            argv = list(prefix) + ["unshare", "--pid", "--mount", "--fork", "--propagation", "private", "sh",
                    str(self.work / "launch.sh"), str(self.merged), str(self.work),
                    debian_root] + args
        elif kind == "userns":
            # uid 65534 cannot reach the cache under /root: a bind mount, in a mount namespace
            # of the test's own, puts the root where it can.
            need("setpriv")
            os.chown(str(self.work), NOBODY, NOBODY)
            (self.work / "lower").mkdir()
            script = ('mount --bind "$1" "$2/lower" && exec setpriv --reuid=%d --regid=%d '
                      '--clear-groups -- unshare --user --map-root-user --pid --mount --fork '
                      'sh "$2/launch.sh" "$2/merged" "$2" "$2/lower" "$@"' % (NOBODY, NOBODY))
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    script.replace('"$@"', " ".join(args)), "sh", debian_root, str(self.work)]
        elif kind == "chroot":
            for d in ("upper", "work", "merged"):
                (self.work / d).mkdir()
            subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "lowerdir=%s,upperdir=%s,workdir=%s" % (
                                debian_root, self.work / "upper", self.work / "work"),
                            str(self.merged)], check=True, timeout=30)
            self.mounted = True
            shutil.copy2(str(TARGET), str(self.merged / "target.py"))
            shutil.copytree(str(bundle_dir), str(self.merged / "pysnap"), symlinks=True)
            (self.merged / "out").mkdir(mode=0o1777)
            argv = ["chroot", str(self.merged), "/usr/bin/python3", "/target.py"] + args
        else:
            raise ValueError(kind)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.truth = self._read_truth()
        self.host_pid = self._find_target()

    def _read_truth(self):
        end = time.time() + READY_TIMEOUT
        buf = b""
        while b"\n" not in buf and time.time() < end:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
        if b"\n" not in buf:
            self.close()
            err = self.proc.stderr.read().decode(errors="replace")
            pytest.fail("the %s container did not start: %r %s" % (self.kind, buf, err[-2000:]))
        return json.loads(buf.split(b"\n")[0].decode())

    def _find_target(self):
        if self.kind == "chroot":
            return self.proc.pid
        for p in descendants(self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv[:2] == [b"/usr/bin/python3", b"/target.py"] and "--as-child" not in str(argv):
                return p
        self.close()
        pytest.fail("the %s container's python is not among %s" % (self.kind,
                                                                  descendants(self.proc.pid)))

    def root_path(self, path):
        """PATH inside the container, as the host reaches it."""
        return "/proc/%d/root%s" % (self.host_pid, path)

    def inside(self):
        """argv prefix that runs a command in the container's namespaces and root."""
        ns = ["-U"] if self.kind == "userns" else []
        return ["nsenter", "-t", str(self.host_pid)] + ns + ["-p", "-m", "-r", "-w", "--"]

    def assert_running(self, when):
        """The target is not stopped, nobody traces it, and it goes on sleeping and waking."""
        states = thread_states(self.host_pid)
        assert not [s for s in states.values() if s in "tT"], "stopped %s: %s" % (when, states)
        tracer = tracer_pid(self.host_pid)
        assert tracer == 0, "still traced by %s %s" % (tracer, when)
        before = status_int(self.host_pid, "voluntary_ctxt_switches")
        time.sleep(0.5)
        assert status_int(self.host_pid, "voluntary_ctxt_switches") > before, "the target made no progress %s" % when

    def close(self):
        if self.proc and self.proc.poll() is None:
            pids = [self.proc.pid] + descendants(self.proc.pid)
            for p in reversed(pids):
                try:
                    os.kill(p, 9)
                except OSError:
                    pass
            self.proc.wait(timeout=30)
        if self.mounted:
            for sub in ("proc", ""):
                subprocess.run(["umount", "-l", str(self.merged / sub) if sub else str(self.merged)],
                               stderr=subprocess.DEVNULL, timeout=30)
            self.mounted = False
        shutil.rmtree(str(self.work), ignore_errors=True)


@pytest.fixture
def container(debian_root, bundle):
    made = []

    def make(kind, *args, **kw):
        c = Container(kind, debian_root, bundle[0], args, kw.get("prefix", ()))
        made.append(c)
        return c
    try:
        yield make
    finally:
        for c in made:
            c.close()


def analyze(pysnap_bin, snap):
    res = run_pysnap(pysnap_bin, "analyze", "--json", snap)
    assert res.returncode == 0, describe(res)
    doc = json.loads(res.stdout.decode())
    schema_util.check(doc)
    text = run_pysnap(pysnap_bin, "analyze", snap)
    assert text.returncode == 0, describe(text)
    return doc, text.stdout.decode()


def innermost_python(thread):
    frames = [f for f in thread["frames"] if f["kind"] == "python"]
    assert frames, "no Python frames: %s" % thread
    return frames[0]


def check_frame(frame, want, what):
    assert (frame["function"], frame["file"], frame["line"]) == (
        want["function"], "/target.py", want["line"]), "%s: %s" % (what, frame)
    got = {k: v["repr"] for k, v in (frame.get("locals") or {}).items()}
    for name, rep in want["locals"].items():
        assert got.get(name) == rep, "%s: local %s is %r, not %r" % (what, name, got.get(name), rep)


def check_analysis(pysnap_bin, snap, truth, host_of=None):
    """The snapshot SNAP shows the target's three named threads and the main thread, with their
    innermost frames and locals. HOST_OF ({ns tid: tid}) when the capture ran outside the
    target's pid namespace: tid is then the host's and ns_tid the target's own."""
    doc, text = analyze(pysnap_bin, snap)
    threads = {t["name"]: t for i in doc["interpreters"] for t in i["threads"]}
    want = dict(truth["threads"])
    want["MainThread"] = {"native_id": truth["main_native_id"]}
    for name, w in sorted(want.items()):
        assert name in threads, "thread %s missing: %s" % (name, sorted(threads))
        t = threads[name]
        assert t["name_source"] == "threading", t
        ns = w["native_id"]
        if host_of and host_of[ns] != ns:
            assert (t["tid"], t.get("ns_tid")) == (host_of[ns], ns), t
            line = 'Thread %d (%d in the container) "%s"' % (host_of[ns], ns, name)
        else:
            assert t["tid"] == ns and "ns_tid" not in t, t
            line = 'Thread %d "%s"' % (ns, name)
        assert line in text, "%r not in the text analysis:\n%s" % (line, text)
        if name != "MainThread":
            check_frame(innermost_python(t), w, name)
    return doc


def capture_host(pysnap_bin, c, tmp_path, name="host.snap", prefix=()):
    snap = tmp_path / name
    res = run_pysnap(list(prefix) + [pysnap_bin], "capture", "--pid", c.host_pid, "-o", snap)
    assert res.returncode == 0, describe(res)
    c.assert_running("after the capture from the host")
    return snap


def capture_inside(c, loader, name="inside.snap", extra=()):
    res = run_pysnap(c.inside() + bundle_argv("/pysnap", loader), "capture", "--pid", "1",
                     "-o", "/out/" + name, *extra)
    assert res.returncode == 0, describe(res)
    c.assert_running("after the capture from inside")
    return c.root_path("/out/" + name)


def sidecar_root(bundle_dir, tmp_path):
    """A root of its own holding nothing but pysnap (no python, no libraries), and /proc."""
    side = Path(tempfile.mkdtemp(prefix="pysnap-sidecar-"))
    (side / "proc").mkdir()
    (side / "out").mkdir(mode=0o1777)
    shutil.copytree(str(bundle_dir), str(side / "pysnap"), symlinks=True)
    return side


def run_sidecar(side, loader, target_host_pid, args, share_pid=True, prefix=()):
    """pysnap in a sidecar: the target's pid namespace (or, SHARE_PID false, one of its own),
    its own mount namespace and root SIDE. PREFIX wraps the chroot (setpriv ...)."""
    script = 'mount -t proc proc "$1/proc" && shift && exec "$@"'
    inner = list(prefix) + ["chroot", str(side)] + bundle_argv("/pysnap", loader) + list(args)
    if share_pid:
        argv = ["nsenter", "-t", str(target_host_pid), "-p", "--", "unshare", "--mount",
                "--propagation", "private", "sh", "-c", script, "sh", str(side)] + inner
    else:
        argv = ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "sh", "-c",
                script, "sh", str(side)] + inner
    return run_pysnap(argv[:1], *argv[1:])


def one_error_line(res, code):
    err = res.stderr.decode(errors="replace").strip()
    assert res.returncode == code, describe(res)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pysnap: "), describe(res)
    return lines[0]


# --- the setups, seen from the host and from inside ------------------------------------------

@pytest.mark.parametrize("kind", ["pivot", "userns"])
def test_container_from_host_and_inside(pysnap_bin, container, bundle, tmp_path, kind):
    """A container (own pid and mount namespaces, pivoted overlay root; userns: made by uid
    65534 in a user namespace): from the host, --pid is the host's pid, every thread has its
    threading name, frames and locals, and both tids (text 'Thread H (N in the container)',
    in analyze and in dump);
    from inside (nsenter), --pid 1 and the container's tids only. Inside a user namespace
    map_files is closed to pysnap: the files come through /proc/PID/root."""
    c = container(kind)
    assert c.truth["pid"] == 1 and c.host_pid != 1
    host_of = ns_tids(c.host_pid)
    assert any(h != n for n, h in host_of.items()), host_of
    check_analysis(pysnap_bin, capture_host(pysnap_bin, c, tmp_path), c.truth, host_of)
    dump = run_pysnap(pysnap_bin, "dump", "--pid", c.host_pid)
    assert dump.returncode == 0, describe(dump)
    for name, w in c.truth["threads"].items():
        line = 'Thread %d (%d in the container) "%s"' % (host_of[w["native_id"]], w["native_id"],
                                                          name)
        assert line in dump.stdout.decode(), "%r not in dump:\n%s" % (line, dump.stdout.decode())
    check_analysis(pysnap_bin, capture_inside(c, bundle[1]), c.truth)


def test_chroot_from_host_and_inside(pysnap_bin, container, bundle, tmp_path):
    """A plain chroot in the host's mount namespace: /proc/PID/maps names the host's paths,
    which /proc/PID/root + path does not find. From the host: once as root (map_files), once
    without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (map_files closed: the path itself, checked
    by device and inode); from inside the chroot (its own paths). Same pid namespace: one tid."""
    c = container("chroot")
    with open("/proc/%d/maps" % c.host_pid) as f:
        assert str(c.merged) in f.read(), "maps does not show the host's paths"
    check_analysis(pysnap_bin, capture_host(pysnap_bin, c, tmp_path), c.truth)
    need("setpriv")
    no_map_files = ["setpriv", "--bounding-set", "-sys_admin,-checkpoint_restore", "--"]
    probe = run_pysnap(no_map_files + ["sh", "-c", 'exec head -c 1 "$1/$(ls "$1" | head -n 1)"',
                                       "sh", "/proc/%d/map_files" % c.host_pid])
    assert probe.returncode != 0, "map_files still open without the capabilities: %s" % (
        describe(probe))
    check_analysis(pysnap_bin, capture_host(pysnap_bin, c, tmp_path, "nomapfiles.snap",
                                            no_map_files), c.truth)
    res = run_pysnap(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                      'mount -t proc proc "$1/proc" && shift && exec "$@"', "sh", str(c.merged),
                      "chroot", str(c.merged)] + bundle_argv("/pysnap", bundle[1]),
                     "capture", "--pid", c.host_pid, "-o", "/out/inside.snap")
    assert res.returncode == 0, describe(res)
    c.assert_running("after the capture from inside the chroot")
    check_analysis(pysnap_bin, c.merged / "out" / "inside.snap", c.truth)


def test_sidecar(pysnap_bin, container, bundle, tmp_path):
    """A sidecar (kubectl debug --target, docker --pid=container:): the target's pid
    namespace, its own mount namespace and a root without python. --pid 1 is the target;
    the files come through /proc/1/map_files or /proc/1/root."""
    c = container("pivot")
    side = sidecar_root(bundle[0], tmp_path)
    try:
        res = run_sidecar(side, bundle[1], c.host_pid,
                          ["capture", "--pid", "1", "-o", "/out/side.snap"])
        assert res.returncode == 0, describe(res)
        c.assert_running("after the capture from the sidecar")
        check_analysis(pysnap_bin, side / "out" / "side.snap", c.truth)
    finally:
        shutil.rmtree(str(side), ignore_errors=True)


def test_replaced_file_is_never_used(pysnap_bin, container, tmp_path):
    """The container's python3.11 is replaced while the target runs (an upgrade: another
    python3.11 under the same name, Debian 12's own, with _PyRuntime elsewhere). As root,
    pysnap reads the mapped file through map_files; without map_files, neither the container's
    new file nor the host's file of that name is the mapped one (device, inode, build-id): it
    says so, and never analyzes with the wrong file."""
    decoy = "/usr/bin/python3.11"
    if not os.path.isfile(decoy):
        pytest.skip("%s (Debian 12's python3.11) is not installed" % decoy)
    need("setpriv")
    c = container("pivot")
    mapped = Path(c.root_path("/usr/bin/python3.11"))
    if open(decoy, "rb").read() == mapped.read_bytes():
        pytest.skip("the host's python3.11 is the container's: no decoy")
    shutil.copy2(decoy, str(mapped) + ".new")
    os.rename(str(mapped) + ".new", str(mapped))
    check_analysis(pysnap_bin, capture_host(pysnap_bin, c, tmp_path), c.truth,
                   ns_tids(c.host_pid))
    res = run_pysnap(["setpriv", "--bounding-set", "-sys_admin,-checkpoint_restore", "--",
                      pysnap_bin], "capture", "--pid", c.host_pid, "-o", tmp_path / "x.snap")
    line = one_error_line(res, 1)
    for w in ("could not be opened as the file the process maps", "/usr/bin/python3.11",
              "another file by device, inode and build-id"):
        assert w in line, "%r not in: %s" % (w, line)
    assert not (tmp_path / "x.snap").exists()
    c.assert_running("after the refused capture")


# --- process trees across namespaces ---------------------------------------------------------

def test_children_across_namespaces(pysnap_bin, container, bundle, tmp_path):
    """capture --children and record --children from the host follow the container's process
    tree (host pids), and from inside (--pid 1, the container's pids). record (without
    --idle: threads on CPU only, told by their state under the host's tids) samples the
    spinning thread under its host tid and threading name."""
    c = container("pivot", "--child", "--spin")
    child = c.truth["child"]
    host_of = ns_tids(c.host_pid)
    out = tmp_path / "tree"
    res = run_pysnap(pysnap_bin, "capture", "--pid", c.host_pid, "--children", "-o", out)
    assert res.returncode == 0, describe(res)
    snaps = sorted(out.glob("*.snap"))
    assert len(snaps) == 2, "%s\n%s" % (snaps, describe(res))
    child_host = [p for p in descendants(c.host_pid)]
    assert len(child_host) == 1, child_host
    seen = {}
    for s in snaps:
        doc, _ = analyze(pysnap_bin, s)
        seen[doc["target"]["pid"]] = doc
    assert sorted(seen) == sorted([c.host_pid, child_host[0]]), sorted(seen)
    main = [t for t in seen[child_host[0]]["interpreters"][0]["threads"]
            if t["name"] == "MainThread"][0]
    assert main.get("ns_tid") == child["pid"], main
    check_frame(innermost_python(main), child, "the child")
    c.assert_running("after capture --children")

    inside = run_pysnap(c.inside() + bundle_argv("/pysnap", bundle[1]), "capture",
                        "--pid", "1", "--children", "-o", "/out/tree")
    assert inside.returncode == 0, describe(inside)
    pids = sorted(json.loads(run_pysnap(pysnap_bin, "analyze", "--json", s).stdout)["target"]["pid"]
                  for s in Path(c.root_path("/out/tree")).glob("*.snap"))
    assert pids == sorted([1, child["pid"]]), pids

    for idle in ([], ["--idle"]):
        prof = tmp_path / ("tree%s.speedscope.json" % "".join(idle))
        res = run_pysnap(pysnap_bin, "record", "--pid", c.host_pid, "--children", "--duration",
                         "1.5", "-o", prof, *idle)
        assert res.returncode == 0, describe(res)
        doc = json.loads(prof.read_text())
        names = [p["name"] for p in doc["profiles"]]
        frames = [f["name"] for f in doc["shared"]["frames"]]
        spin = "pid %d thread %d spin-thread" % (c.host_pid, host_of[c.truth["spin_native_id"]])
        assert spin in names and "spin_worker" in frames, (names, frames)
        if idle:
            for fn in ("alpha_worker", "beta_worker", "gamma_worker", "child_idle"):
                assert fn in frames, "%s not recorded: %s" % (fn, frames)
            assert any(n.startswith("pid %d thread " % child_host[0]) for n in names), names
    c.assert_running("after record --children")


# --- failure modes ---------------------------------------------------------------------------

def test_sidecar_without_cap_sys_ptrace(pysnap_bin, container, bundle, tmp_path):
    """A sidecar whose container does not grant CAP_SYS_PTRACE, against a target that holds
    it: exit 1, one line that names the capability and the flags that grant it."""
    need("setpriv")
    c = container("pivot")
    side = sidecar_root(bundle[0], tmp_path)
    try:
        res = run_sidecar(side, bundle[1], c.host_pid,
                          ["capture", "--pid", "1", "-o", "/out/side.snap"],
                          prefix=["setpriv", "--bounding-set", "-sys_ptrace", "--"])
        line = one_error_line(res, 1)
        for w in ("Permission denied", "process 1 holds capabilities that pysnap lacks",
                  "CAP_SYS_PTRACE", "--cap-add=SYS_PTRACE", "securityContext.capabilities.add",
                  "kernel.yama.ptrace_scope"):
            assert w in line, "%r not in: %s" % (w, line)
        assert not (side / "out" / "side.snap").exists()
        c.assert_running("after the refused capture")
    finally:
        shutil.rmtree(str(side), ignore_errors=True)


def test_host_without_cap_sys_ptrace(pysnap_bin, container, tmp_path):
    """pysnap on the host without CAP_SYS_PTRACE (capsh/setpriv dropped it): the same."""
    need("setpriv")
    c = container("pivot")
    res = run_pysnap(["setpriv", "--bounding-set", "-sys_ptrace", "--", pysnap_bin], "capture",
                     "--pid", c.host_pid, "-o", tmp_path / "x.snap")
    line = one_error_line(res, 1)
    for w in (str(c.host_pid), "CAP_SYS_PTRACE", "--cap-add=SYS_PTRACE"):
        assert w in line, "%r not in: %s" % (w, line)
    c.assert_running("after the refused capture")


def test_sidecar_without_shared_pid_namespace(pysnap_bin, container, bundle, tmp_path):
    """A sidecar in a pid namespace of its own: the target is not there; the message says how
    to share it (shareProcessNamespace, --pid=container:, kubectl debug --target)."""
    c = container("pivot")
    side = sidecar_root(bundle[0], tmp_path)
    try:
        res = run_sidecar(side, bundle[1], c.host_pid,
                          ["capture", "--pid", str(c.host_pid), "-o", "/out/side.snap"],
                          share_pid=False)
        line = one_error_line(res, 1)
        for w in ("no process %d" % c.host_pid, "shareProcessNamespace: true",
                  "--pid=container:", "kubectl debug --target"):
            assert w in line, "%r not in: %s" % (w, line)
        c.assert_running("after the failed capture")
    finally:
        shutil.rmtree(str(side), ignore_errors=True)


def test_user_namespace_does_not_own_target(pysnap_bin, container, bundle, tmp_path):
    """pysnap in a user namespace (rootless podman, unshare --user) against a process outside
    it: its CAP_SYS_PTRACE does not reach; the message says so and how to get in."""
    need("setpriv")
    c = container("pivot")
    out = Path(tempfile.mkdtemp(prefix="pysnap-userns-"))
    try:
        os.chmod(str(out), 0o777)
        res = run_pysnap(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                          "--clear-groups", "--", "unshare", "--user", "--map-root-user"] +
                         bundle_argv(str(bundle[0]), bundle[1]),
                         "capture", "--pid", c.host_pid, "-o", out / "x.snap", cwd=str(out))
        line = one_error_line(res, 1)
        for w in ("Permission denied", "user namespace", "does not own process %d" % c.host_pid,
                  "nsenter --user --target %d" % c.host_pid):
            assert w in line, "%r not in: %s" % (w, line)
        c.assert_running("after the refused capture")
    finally:
        shutil.rmtree(str(out), ignore_errors=True)


YAMA = "/proc/sys/kernel/yama/ptrace_scope"


@pytest.mark.parametrize("scope,words", [
    (1, ["kernel.yama.ptrace_scope is 1", "only an ancestor", "CAP_SYS_PTRACE"]),
    (2, ["kernel.yama.ptrace_scope is 2", "CAP_SYS_PTRACE"]),
])
def test_yama_ptrace_scope(pysnap_bin, container, tmp_path, scope, words):
    """Yama's ptrace_scope 1 (ancestors only) and 2 (CAP_SYS_PTRACE only), set for the test
    and restored: pysnap without CAP_SYS_PTRACE says which scope refused it. The target runs
    without CAP_SYS_PTRACE too, so that only Yama refuses (not the capability rule)."""
    if not os.path.exists(YAMA):
        pytest.skip("no Yama on this kernel (%s absent)" % YAMA)
    need("setpriv")
    c = container("pivot", prefix=["setpriv", "--bounding-set", "-sys_ptrace", "--"])
    with open(YAMA) as f:
        old = f.read().strip()
    try:
        try:
            with open(YAMA, "w") as f:
                f.write(str(scope))
        except OSError as e:
            pytest.skip("cannot set %s: %s" % (YAMA, e))
        # pysnap has the target's capabilities (both without CAP_SYS_PTRACE): Yama decides.
        res = run_pysnap(["setpriv", "--bounding-set", "-sys_ptrace", "--", pysnap_bin],
                         "capture", "--pid", c.host_pid, "-o", tmp_path / "x.snap")
        line = one_error_line(res, 1)
        for w in words:
            assert w in line, "%r not in: %s" % (w, line)
        c.assert_running("after the refused capture")
    finally:
        with open(YAMA, "w") as f:
            f.write(old)


# --- podman ----------------------------------------------------------------------------------

# crun refuses a host whose cgroup v2 hierarchy has controllers beside the v1 ones (a
# "hybrid" host): in a mount namespace of its own without /sys/fs/cgroup/unified it sees plain
# cgroup v1, and the host is left as it is. Used only where podman says so.
CRUN_HYBRID = "cgroups in hybrid mode not supported"
PODMAN_V1_ONLY = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                  'umount /sys/fs/cgroup/unified 2>/dev/null; exec podman "$@"', "sh"]
podman_argv = ["podman"]


def podman_run(*args, **kw):
    return subprocess.run(podman_argv + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=kw.get("timeout", 300))


def test_podman(pysnap_bin, debian_root, bundle, tmp_path):
    """A real container: podman import of the Debian root (no registry), podman run. From the
    host, from inside (podman exec), from a sidecar (--pid=container:, an image without
    python); a sidecar with --cap-drop=ALL is refused with the flag to add."""
    need("podman")
    name = "pysnap-test-%d" % os.getpid()
    side_img = "localhost/pysnap-test-sidecar:%d" % os.getpid()
    img = "localhost/pysnap-test-bookworm:%d" % os.getpid()
    run = ["--network=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
    side_tar = tmp_path / "side.tar"
    subprocess.run(["tar", "-C", str(bundle[0].parent), "-cf", str(side_tar),
                    "--transform", "s,^%s,pysnap," % bundle[0].name, bundle[0].name],
                   check=True, timeout=120)
    try:
        res = podman_run("import", side_tar, side_img)
        if res.returncode != 0:
            pytest.skip("podman import does not work here: %s" % res.stderr.decode()[-500:])
        probe = podman_run("run", "--rm", *run, side_img,
                           *bundle_argv("/pysnap", bundle[1]), "--version")
        if probe.returncode != 0 and CRUN_HYBRID in probe.stderr.decode(errors="replace"):
            podman_argv[:] = PODMAN_V1_ONLY
            probe = podman_run("run", "--rm", *run, side_img,
                               *bundle_argv("/pysnap", bundle[1]), "--version")
        if probe.returncode != 0:
            pytest.skip("podman cannot run a container here: %s"
                        % probe.stderr.decode(errors="replace").strip()[-500:])
        root_tar = tmp_path / "root.tar"
        subprocess.run(["tar", "-C", debian_root, "-cf", str(root_tar), "."], check=True,
                       timeout=600)
        subprocess.run(["tar", "-C", str(TARGETS), "-rf", str(root_tar), "--transform",
                        "s,^container_target.py,target.py,", "container_target.py"], check=True,
                       timeout=60)
        res = podman_run("import", root_tar, img)
        assert res.returncode == 0, describe(res)
        res = podman_run("run", "-d", "--name", name, *run, img, "/usr/bin/python3", "/target.py")
        assert res.returncode == 0, describe(res)
        end = time.time() + READY_TIMEOUT
        logs = b""
        while b"\n" not in logs and time.time() < end:
            time.sleep(0.3)
            logs = podman_run("logs", name).stdout
        truth = json.loads(logs.split(b"\n")[0].decode())
        host_pid = int(podman_run("inspect", "-f", "{{.State.Pid}}", name).stdout.decode())
        host_of = ns_tids(host_pid)

        class C(object):
            pass
        c = C()
        c.host_pid = host_pid
        c.assert_running = lambda when: Container.assert_running(c, when)
        check_analysis(pysnap_bin, capture_host(pysnap_bin, c, tmp_path), truth, host_of)

        assert podman_run("cp", str(bundle[0]), "%s:/pysnap" % name).returncode == 0
        res = podman_run("exec", name, *bundle_argv("/pysnap", bundle[1]), "capture",
                         "--pid", "1", "-o", "/tmp/inside.snap")
        assert res.returncode == 0, describe(res)
        check_analysis(pysnap_bin, "/proc/%d/root/tmp/inside.snap" % host_pid, truth)

        out = tmp_path / "side"
        out.mkdir()
        res = podman_run("run", "--rm", *run, "--pid=container:%s" % name, "-v",
                         "%s:/out" % out, side_img, *bundle_argv("/pysnap", bundle[1]),
                         "capture", "--pid", "1", "-o", "/out/side.snap")
        assert res.returncode == 0, describe(res)
        check_analysis(pysnap_bin, out / "side.snap", truth)

        res = podman_run("run", "--rm", *run, "--cap-drop=ALL", "--pid=container:%s" % name,
                         side_img, *bundle_argv("/pysnap", bundle[1]), "capture",
                         "--pid", "1", "-o", "/tmp/x.snap")
        line = one_error_line(res, 1)
        assert "--cap-add=SYS_PTRACE" in line, line
        c.assert_running("after the podman captures")
    finally:
        podman_run("rm", "-f", name)
        podman_run("rmi", "-f", img, side_img)
        podman_argv[:] = ["podman"]
