"""What a release is made of, checked on the build machine: the static binary loads nothing, the
wheel is well formed (what pip relies on), the man page installs and renders and documents
every option the commands' --help lists, and --version names the commit also from a tarball.

The static binary: $PYSNAP_STATIC_BIN, default build-static/pysnap (scripts/build-static.sh);
the man page comes from the build directory of $PYSNAP_BIN (default build/).

Run: /usr/bin/python3 -m pytest -p no:cacheprovider -rs tests/install
"""

import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_other_systems import HERE, REPO, static_binary

sys.path.insert(0, str(REPO / "tests" / "common"))
from proc_util import require_pysnap  # noqa: E402

COMMANDS = ("capture", "analyze", "dump", "record", "top", "viewer")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def test_static_binary_is_static():
    b = str(static_binary())
    if shutil.which("file"):
        assert "statically linked" in run(["file", "-L", b]).stdout
    if shutil.which("ldd"):
        r = run(["ldd", b])
        assert r.returncode != 0 and "not a dynamic executable" in r.stdout + r.stderr, r
    segments = run(["readelf", "-lW", b]).stdout
    assert not re.search(r"^\s*(INTERP|DYNAMIC)\s", segments, flags=re.M), segments
    assert re.match(r"pysnap \S+ \(commit \S+, static build\)$", run([b, "--version"]).stdout)


def test_static_binary_opens_no_library(tmp_path):
    """Capture and analyze --native open no shared object but the target's (through
    /proc/PID/), so nothing is loaded: not capstone for the instruction, not libdebuginfod."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    b = str(static_binary())
    target = subprocess.Popen([sys.executable, str(HERE / "target.py")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout.readline().startswith("ready ")
        snap, log = tmp_path / "t.snap", tmp_path / "strace"
        for argv in ([b, "capture", "-p", str(target.pid), "-o", str(snap)],
                     [b, "analyze", "--native", str(snap)]):
            r = run(["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", str(log)] + argv)
            assert r.returncode == 0, r.stderr
            opened = re.findall(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]+)"', log.read_text())
            libs = [p for p in opened if re.search(r"\.so(\.|$)", p)]
            assert all(p.startswith("/proc/%d/" % target.pid) for p in libs), libs
        # capstone is in: the instruction each thread is at is disassembled
        assert "at instruction: " in r.stdout, r.stdout
    finally:
        target.stdin.close()
        target.wait(timeout=10)


def test_wheel_is_well_formed(tmp_path):
    b = static_binary()
    made = run([sys.executable, str(REPO / "scripts" / "make-wheel.py"), str(b), "9.8.7",
                str(tmp_path)])
    assert made.returncode == 0, made.stderr
    whl = Path(made.stdout.strip())
    assert whl.name == ("pysnap-9.8.7-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64."
                        "musllinux_1_1_x86_64.whl")
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        assert names == ["pysnap-9.8.7.data/scripts/pysnap", "pysnap-9.8.7.dist-info/METADATA",
                         "pysnap-9.8.7.dist-info/WHEEL", "pysnap-9.8.7.dist-info/RECORD"]
        assert z.read(names[0]) == b.read_bytes()
        for zi in z.infolist():  # pip 20.3 sets +x only for S_IFREG entries with an x bit
            mode = zi.external_attr >> 16
            assert stat.S_ISREG(mode), zi.filename
            assert stat.S_IMODE(mode) == (0o755 if zi.filename == names[0] else 0o644)
        record = z.read(names[3]).decode().splitlines()
        assert record[-1] == "pysnap-9.8.7.dist-info/RECORD,,"
        for line in record[:-1]:
            path, digest, size = line.split(",")
            data = z.read(path)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == "sha256=" + want and int(size) == len(data), line
        assert sorted(p for p in (line.split(",")[0] for line in record)) == sorted(names)
        wheel = z.read(names[2]).decode()
        assert "Root-Is-Purelib: false\n" in wheel
        assert re.findall(r"^Tag: (.*)$", wheel, flags=re.M) == [
            "py3-none-manylinux_2_17_x86_64", "py3-none-manylinux2014_x86_64",
            "py3-none-musllinux_1_1_x86_64"]
        meta = z.read(names[1]).decode()
        assert "Name: pysnap\n" in meta and "Version: 9.8.7\n" in meta


def test_man_page_installs_and_documents_every_option(tmp_path):
    build = Path(require_pysnap()).parents[1]
    if not (build / "meson-private").is_dir():
        pytest.skip("%s is not a meson build directory" % build)
    if not shutil.which("scdoc"):
        pytest.skip("scdoc is not installed (scripts/install-deps.sh installs it)")
    if not shutil.which("man"):
        pytest.skip("man is not installed")
    r = run(["meson", "install", "-C", str(build), "--destdir", str(tmp_path), "--quiet"])
    assert r.returncode == 0, r.stdout + r.stderr
    pages = list(tmp_path.rglob("man1/pysnap.1"))
    assert len(pages) == 1, "no man1/pysnap.1 installed under %s" % tmp_path
    r = run(["man", "-l", str(pages[0])], env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING=""))
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    text = r.stdout
    assert text.startswith("pysnap(1)") and "NAME\n       pysnap - " in text
    # each command's section lists every option its --help does
    sections = re.split(r"^   (?=\w+\n)", text, flags=re.M)
    for cmd in COMMANDS:
        sec = next((s for s in sections if s.startswith(cmd + "\n")), None)
        assert sec is not None, "no section for %s" % cmd
        help_text = run([require_pysnap(), cmd, "--help"]).stdout
        for opt in sorted(set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", help_text,
                                         flags=re.M))):
            assert re.search(r"^       (?:-\w, )?%s\b" % re.escape(opt), sec, flags=re.M), \
                "pysnap %s %s is not in the man page" % (cmd, opt)


def test_version_names_the_commit_from_a_tarball(tmp_path):
    """scripts/git-commit.sh (meson's vcs_tag): git's commit in a checkout; in an unpacked
    release tarball (no .git) the COMMIT file meson dist wrote; else nothing ("unknown")."""
    script = str(REPO / "scripts" / "git-commit.sh")
    if shutil.which("git") and (REPO / ".git").exists():
        head = run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"]).stdout.strip()
        assert run([script, str(REPO)]).stdout.startswith(head)
    assert run([script, str(tmp_path)]).returncode != 0
    (tmp_path / "COMMIT").write_text("0123456789ab\n")
    r = run([script, str(tmp_path)])
    assert r.returncode == 0 and r.stdout == "0123456789ab\n"
