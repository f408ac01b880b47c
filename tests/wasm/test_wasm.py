"""The analyzer compiled to WebAssembly against the native pysnap.

- The Node command (build-wasm/wasm/pysnap-analyze.js, and the npm package made from it):
  for every committed snapshot of every version (tests/fuzz/corpus/snapshot) and for fresh ones
  captured here from every interpreter present, `--json`, the text view, `--native --locals`
  and `--tasks` print the same bytes on stdout and stderr, with the same exit code, as the
  native binary; so do several snapshots, --summary, -o report.html, and damaged or foreign
  files; a 200 MB file is refused with a message.
- The npm package, installed from its tarball into an empty directory without network, runs.
- The viewer page (dist/pysnap-viewer.html) in headless Chromium, given the snapshots through
  its file input: every thread and every function the native --json names is on the page; a
  damaged file shows the native message and the page keeps working; no console error, no
  request.

scripts/build-wasm.sh makes all of it (cached: seconds when nothing changed). Skips, saying
why, when emcc or node is absent (scripts/install-deps.sh --wasm installs them)."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from proc_util import REPO, clean_env, describe, extra_pythons, kill_all, run_pysnap

HERE = Path(__file__).resolve().parent
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "snapshot"
SNAPSHOTS = sorted(p for p in CORPUS.iterdir() if p.is_file())
# The interpreters fresh snapshots come from, when present (and PYSNAP_EXTRA_PYTHONS').
PYENV = ["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"]
VIEWS = {"text": [], "json": ["--json"], "native-locals": ["--native", "--locals"],
         "tasks": ["--tasks"]}


def tool_missing():
    for tool, why in (("emcc", "emscripten not installed (scripts/install-deps.sh --wasm)"),
                      ("node", "node not installed (scripts/install-deps.sh --wasm)"),
                      ("npm", "npm not installed (scripts/install-deps.sh --wasm)")):
        if not shutil.which(tool):
            return why
    return None


@pytest.fixture(scope="session")
def wasm():
    """scripts/build-wasm.sh's products: {'node': module .js, 'npm': tarball, 'viewer': page}."""
    why = tool_missing()
    if why:
        pytest.skip(why)
    res = subprocess.run([str(REPO / "scripts" / "build-wasm.sh")], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
    if res.returncode:
        pytest.fail("scripts/build-wasm.sh failed:\n" + describe(res), pytrace=False)
    out = dict(line.split(": ", 1) for line in res.stdout.decode().splitlines() if ": " in line)
    return {"node": REPO / "build-wasm" / "wasm" / "pysnap-analyze.js", "npm": Path(out["npm"]),
            "viewer": Path(out["viewer"])}


def run_both(pysnap_bin, wasm, *args, cwd=REPO):
    native = run_pysnap(pysnap_bin, "analyze", *args, cwd=cwd)
    node = run_pysnap(["node", wasm["node"]], *args, cwd=cwd, timeout=120)
    return native, node


def assert_same(native, node):
    assert node.returncode == native.returncode, "native:\n%s\nnode:\n%s" % (
        describe(native), describe(node))
    assert node.stderr == native.stderr
    assert node.stdout == native.stdout, "stdout differs (native %d bytes, node %d bytes)" % (
        len(native.stdout), len(node.stdout))


# --- fresh snapshots of the interpreters present ---------------------------------------

def interpreters():
    out = []
    for v in PYENV:
        p = "/root/.pyenv/versions/%s/bin/python" % v
        out.append(("pyenv-" + v, {}, [p]))
    out.append(("debian-python3.11", {}, ["/usr/bin/python3.11"]))
    out.extend(extra_pythons(os.environ.get("PYSNAP_EXTRA_PYTHONS", "")))
    return out


@pytest.fixture(scope="session")
def fresh(pysnap_bin):
    """label -> a snapshot captured now from that interpreter (absent ones left out, said)."""
    work = Path(tempfile.mkdtemp(prefix="pysnap-wasm-"))
    snaps, missing = {}, []
    for label, env, argv in interpreters():
        if not (os.path.isfile(argv[0]) and os.access(argv[0], os.X_OK)):
            missing.append(label)
            continue
        proc = subprocess.Popen(argv + [str(HERE / "target.py")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=clean_env(env))
        try:
            line = proc.stdout.readline().decode().split()
            if len(line) != 2 or line[0] != "ready":
                missing.append(label + " (did not start)")
                continue
            path = work / ("%s.snap" % label)
            res = run_pysnap(pysnap_bin, "capture", "--pid", line[1], "-o", path)
            if res.returncode:
                missing.append("%s (capture failed: %s)" % (label, res.stderr.decode().strip()))
                continue
            snaps[label] = path
        finally:
            kill_all([proc])
    if missing:
        print("fresh snapshots: not from %s" % ", ".join(missing))
    yield snaps
    shutil.rmtree(work, ignore_errors=True)


# --- the Node command ------------------------------------------------------------------

@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("snap", SNAPSHOTS, ids=[p.name for p in SNAPSHOTS])
def test_node_same_as_native_committed(pysnap_bin, wasm, snap, view):
    assert_same(*run_both(pysnap_bin, wasm, *VIEWS[view], snap.relative_to(REPO)))


@pytest.mark.parametrize("view", ["json", "text"])
def test_node_same_as_native_fresh(pysnap_bin, wasm, fresh, view):
    if not fresh:
        pytest.skip("no interpreter to capture a fresh snapshot from")
    for label, snap in sorted(fresh.items()):
        native, node = run_both(pysnap_bin, wasm, *VIEWS[view], snap)
        assert native.returncode == 0, describe(native)
        assert b"worker" in native.stdout and b"nested" in native.stdout, label
        assert_same(native, node)


def corpus(name):
    return str((CORPUS / name).relative_to(REPO))


@pytest.mark.parametrize("args", [
    [corpus("3.8.18-zstd"), corpus("3.12.1-zstd")],
    ["--json", corpus("3.9.18-raw"), corpus("sid-3.15-zstd")],
    ["--summary", corpus("3.8.18-zstd"), corpus("3.12.1-zstd"), corpus("sid-3.15-zstd")],
    ["--summary", "--json", "--baseline", corpus("3.12.1-raw"), corpus("3.12.1-zstd")],
    ["--html", corpus("3.11.7-raw")],
    ["--html", corpus("3.8.18-zstd"), corpus("3.13.0-raw")],
    ["--frobnicate", corpus("3.12.1-zstd")],
    ["--help"],
    [],
    ["README.md"],
    ["/nonexistent/pysnap-wasm.snap"],
], ids=["several", "several-json", "summary", "summary-baseline-json", "html", "html-set",
        "unknown-option", "help", "no-file", "not-a-snapshot", "missing-file"])
def test_node_same_as_native_cases(pysnap_bin, wasm, args):
    assert_same(*run_both(pysnap_bin, wasm, *args))


def other_arch(d):
    return d[:0x12] + b"\xb7\x00" + d[0x14:]


@pytest.mark.parametrize("name,make", [
    ("truncated", lambda d, z: d[:len(d) // 2]),
    ("empty", lambda d, z: b""),
    ("other-arch", lambda d, z: other_arch(d)),
    ("corrupt-stream", lambda d, z: z[:4000] + bytes(64)),
    ("zeros", lambda d, z: bytes(len(d))),
])
def test_node_same_errors(pysnap_bin, wasm, tmp_path, name, make):
    data = make((CORPUS / "3.12.1-raw").read_bytes(), (CORPUS / "3.12.1-zstd").read_bytes())
    (tmp_path / (name + ".snap")).write_bytes(data)
    native, node = run_both(pysnap_bin, wasm, name + ".snap", cwd=tmp_path)
    assert native.returncode == 2 and native.stderr.startswith(b"pysnap: "), describe(native)
    assert_same(native, node)


def test_node_output_file_same(pysnap_bin, wasm, tmp_path):
    for ext in ("html", "json", "txt"):
        native = run_pysnap(pysnap_bin, "analyze", CORPUS / "3.12.1-zstd", "-o", tmp_path / ("n." + ext))
        node = run_pysnap(["node", wasm["node"]], CORPUS / "3.12.1-zstd", "-o", tmp_path / ("w." + ext))
        assert native.returncode == 0 and node.returncode == 0, describe(node)
        assert (tmp_path / ("w." + ext)).read_bytes() == (tmp_path / ("n." + ext)).read_bytes()
        assert oct((tmp_path / ("w." + ext)).stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.html", "n.json", "n.txt", "w.html",
                                                          "w.json", "w.txt"]  # no temporaries


def test_node_refuses_200mb(wasm, tmp_path):
    big = tmp_path / "big.snap"
    with open(big, "wb") as f:  # sparse: 200 MB that take no disk
        f.truncate(200 * 1000 * 1000)
    node = run_pysnap(["node", wasm["node"]], big, timeout=120)
    assert node.returncode == 2, describe(node)
    assert node.stdout == b""
    assert node.stderr == ("pysnap: %s is too large to be a snapshot (190 MiB; this build reads "
                           "at most 128 MiB)\n" % big).encode()


def test_npm_package_installs_offline_and_runs(pysnap_bin, wasm, tmp_path):
    tgz = wasm["npm"]
    assert tgz.name.startswith("pysnap-analyze-") and tgz.suffix == ".tgz"
    listing = subprocess.run(["tar", "tzf", tgz], stdout=subprocess.PIPE, check=True).stdout.decode().split()
    assert sorted(listing) == ["package/README.md", "package/bin/pysnap-analyze.js",
                               "package/lib/pysnap-analyze.js", "package/lib/pysnap-analyze.wasm",
                               "package/package.json"]
    proj = tmp_path / "empty"
    proj.mkdir()
    env = dict(os.environ, npm_config_cache=str(tmp_path / "npm-cache"))  # an empty cache too
    res = subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund", str(tgz)],
                         cwd=proj, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=300)
    assert res.returncode == 0, describe(res)
    for args in (["--json", CORPUS / "sid-3.14-raw"], [CORPUS / "3.10.13-raw"]):
        native = run_pysnap(pysnap_bin, "analyze", *args)
        npx = run_pysnap(["npx", "--offline", "pysnap-analyze"], *args, cwd=proj, env=env,
                         timeout=120)
        assert_same(native, npx)


# --- the viewer page in a browser ------------------------------------------------------

@pytest.fixture(scope="session")
def playwright_modules():
    if not shutil.which(os.environ.get("PYSNAP_CHROMIUM", "/usr/bin/chromium")):
        pytest.skip("chromium not installed (apt-get install chromium)")
    res = subprocess.run([str(REPO / "tests" / "browser" / "setup.sh")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=600)
    if res.returncode:
        pytest.skip("playwright-core could not be installed (tests/browser/setup.sh): %s"
                    % res.stderr.decode().strip()[-500:])
    return res.stdout.decode().strip()


def drive_viewer(wasm, modules, rounds):
    res = subprocess.run(["node", str(HERE / "drive_viewer.js"), str(wasm["viewer"])] +
                         [",".join(str(p) for p in r) for r in rounds],
                         env=dict(os.environ, NODE_PATH=modules), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=900)
    assert res.returncode == 0, describe(res)
    return json.loads(res.stdout)


def truth(pysnap_bin, snap):
    """Native --json: [(tid, name, [functions of its Python frames])] per thread."""
    res = run_pysnap(pysnap_bin, "analyze", "--json", snap)
    assert res.returncode == 0, describe(res)
    doc = json.loads(res.stdout)
    out = []
    for interp in doc["interpreters"]:
        for t in interp["threads"]:
            fns = [f["function"] for f in t["frames"] if f.get("kind", "python") == "python"]
            out.append((t["tid"], t.get("name"), fns))
    return out


def test_viewer_in_browser(pysnap_bin, wasm, playwright_modules, fresh, tmp_path):
    bad = tmp_path / "truncated.snap"
    bad.write_bytes((CORPUS / "3.12.1-raw").read_bytes()[:30000])
    big = tmp_path / "big.snap"
    with open(big, "wb") as f:  # sparse: 200 MB that take no disk
        f.truncate(200 * 1000 * 1000)
    singles = SNAPSHOTS + [p for _, p in sorted(fresh.items())]
    rounds = [[p] for p in singles] + [[bad], [big], [CORPUS / "3.8.18-zstd", CORPUS / "3.12.1-zstd"]]
    seen = drive_viewer(wasm, playwright_modules, rounds)
    assert seen["console"] == [] and seen["pageErrors"] == [], seen["console"] + seen["pageErrors"]
    assert seen["requests"] == []
    for snap, r in zip(singles, seen["rounds"]):
        assert r["errors"] == "", (snap, r["errors"])
        cards = r["cards"]
        for tid, name, fns in truth(pysnap_bin, snap):
            card = [c for c in cards if tid in c["tids"]]
            assert card, "%s: thread %s not on the page" % (snap.name, tid)
            for fn in fns:
                assert fn in card[0]["functions"], "%s: thread %s: %s not shown" % (snap.name, tid, fn)
    err = seen["rounds"][len(singles)]
    native = run_pysnap(pysnap_bin, "analyze", "truncated.snap", cwd=tmp_path)
    assert err["errors"] == native.stderr.decode().strip()
    assert err["cards"] == []
    refused = seen["rounds"][len(singles) + 1]  # refused before it is read into the page
    assert refused["errors"] == ("pysnap: big.snap is too large to be a snapshot (190 MiB; this "
                                 "build reads at most 128 MiB)")
    assert refused["cards"] == []
    both = seen["rounds"][-1]  # after the error: the page still works, several files at once
    want = truth(pysnap_bin, CORPUS / "3.8.18-zstd") + truth(pysnap_bin, CORPUS / "3.12.1-zstd")
    assert sorted(t for c in both["cards"] for t in c["tids"]) == sorted(t for t, _, _ in want)
    assert "Summary" in both["text"] or "summary" in both["text"]


# --- pysnap viewer (the native binary writes the page it embeds) -------------------------

def test_viewer_command_without_page(pysnap_bin, tmp_path):
    """A build without -Dviewer says where the page comes from and writes nothing."""
    res = run_pysnap(pysnap_bin, "viewer", "-o", tmp_path / "v.html")
    if res.returncode == 0:
        pytest.skip("this pysnap has the viewer inside (see test_viewer_command_embeds_page)")
    assert res.returncode == 1, describe(res)
    assert b"scripts/build-wasm.sh" in res.stderr and b"-Dviewer=" in res.stderr
    assert not (tmp_path / "v.html").exists()


def test_viewer_command_embeds_page(wasm, tmp_path):
    """meson -Dviewer=dist/pysnap-viewer.html (what scripts/release.sh does): `pysnap viewer`
    writes that page byte for byte. Built in build-wasm-viewer/ (kept: incremental)."""
    b = REPO / "build-wasm-viewer"
    if not (b / "build.ninja").exists():
        res = subprocess.run(["meson", "setup", str(b), "-Dtests=false",
                              "-Dviewer=" + str(wasm["viewer"])], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        assert res.returncode == 0, describe(res)
    res = subprocess.run(["ninja", "-C", str(b)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=1800)
    assert res.returncode == 0, describe(res)
    out = tmp_path / "mail-me.html"
    res = run_pysnap(b / "programs" / "pysnap", "viewer", "-o", out)
    assert res.returncode == 0, describe(res)
    assert out.read_bytes() == wasm["viewer"].read_bytes()
    assert res.stdout.decode().startswith("%s: the pysnap viewer (" % out)


def test_node_same_as_native_elf_core(pysnap_bin, wasm, tmp_path):
    """An ELF core with --exe and --sysroot (the synthetic core of tests/cli/
    test_core_synthetic.py): the Node command reads the executable from the real file system
    and prints what the native one prints."""
    import struct
    import sys
    sys.path.insert(0, str(REPO / "tests" / "fuzz"))
    import make_corpus
    seed = make_corpus.core_seed((CORPUS / "3.12.1-raw").read_bytes(), "3.12.1",
                                 "/usr/bin/python3.12")
    exe_len, = struct.unpack_from("<I", seed, 0)
    (tmp_path / "python").write_bytes(seed[4:4 + exe_len])
    (tmp_path / "core").write_bytes(seed[4 + exe_len:])
    (tmp_path / "root").mkdir()
    for view in ([], ["--json"]):
        native, node = run_both(pysnap_bin, wasm, "core", "--exe", "python", "--sysroot", "root",
                                *view, cwd=tmp_path)
        assert native.returncode == 0 and b"worker" in native.stdout, describe(native)
        assert_same(native, node)
