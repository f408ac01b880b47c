"""End to end: locals rendered exactly as repr(), limits, redaction, on every interpreter.

The target (targets/locals_target.py) parks its main thread and a worker three frames deep:
hold_locals() holds one local of each kind pysnap renders (arguments, a captured argument,
cell and free variables, an unbound local, credentials), a generator's frame, and
more_locals() with edge cases (keyword-only/*args/**kwargs arguments, subclasses of built-in
types, a deleted local, an unbound cell). It reports, for every local, the type name and
repr() the interpreter itself computed. One target per interpreter (3.8-3.15), captured seven
times (module-scoped):

  default   default limits and redaction, compressed (decompressed with zstd -d for grep)
  wide      --max-str 5000 --no-redact --no-compress
  nolocals  --no-locals --no-compress
  custom    --redact '^(s_ascii|count)$' --no-compress
  tight     --max-str 5 --max-items 2 --max-depth 1
  budget    --budget 600 (bytes of values for the whole capture)
  few       --max-locals 10

Each local's repr must equal the target's repr(), or, when marked "truncated", be a prefix of
it followed by "...". Redacted values must be absent from the snapshot's bytes in UTF-8 and
in CPython's internal encodings (Latin-1, UCS-2, UCS-4); the wide capture proves that the
same grep finds them when they are captured.
"""

import re
import shutil
import subprocess

import pytest

from e2e_util import (TARGETS, TargetRunner, all_threads, describe, run_pysnap, run_pysnap_json,
                      wait_for_tids)
import schema_util

LOCALS_TARGET = TARGETS / "locals_target.py"
E2E_WITH_OLD_PYENV = True  # locals are read from frame objects there: test that too

CAPTURES = {
    "default": [],
    "wide": ["--max-str", "5000", "--no-redact", "--no-compress"],
    "nolocals": ["--no-locals", "--no-compress"],
    "custom": ["--redact", "^(s_ascii|count)$", "--no-compress"],
    "tight": ["--max-str", "5", "--max-items", "2", "--max-depth", "1"],
    "budget": ["--budget", "600"],
    "few": ["--max-locals", "10"],
}
# Beyond --max-str 5 --max-items 2 --max-depth 1.
CUT_BY_TIGHT = {"s_ascii", "s_both", "s_apos", "s_ctrl", "s_unicode", "s_long", "b_text",
                "t_mixed", "l_v", "d_v", "set_v", "fs_v", "cyc", "deep", "many", "creds"}
# Beyond the default limits (str 256, items 32, depth 3): these must be marked truncated.
CUT_BY_DEFAULT = {"s_long", "many", "deep", "s_4k"}
REDACTED_BY_DEFAULT = {"password", "api_key", "session_token"}


class Run(object):
    """One target and what each capture of it produced."""


class Capture(object):
    pass


def analyze_json(pysnap_bin, snap, *extra):
    return run_pysnap_json(pysnap_bin, "analyze", snap, "--json", *extra)


@pytest.fixture(scope="module")
def run(python, pysnap_bin, tmp_path_factory):
    python.info()  # a present interpreter that does not run fails here, with the reason
    base = tmp_path_factory.mktemp("locals-%s" % python.label)
    runner = TargetRunner(base / "targets")
    try:
        proc, truth = runner(python, LOCALS_TARGET)
        r = Run()
        r.proc, r.truth = proc, truth
        # The reporter thread has exited once only main and the worker are left.
        wait_for_tids(proc.pid, set(t["tid"] for t in truth["threads"]))
        r.caps = {}
        for name, opts in CAPTURES.items():
            c = Capture()
            c.snap = base / ("%s.snap" % name)
            c.capture = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", c.snap, *opts)
            c.json_res = c.analysis = None
            if c.capture.returncode == 0:
                c.json_res, c.analysis = analyze_json(pysnap_bin, c.snap)
            r.caps[name] = c
        yield r
    finally:
        runner.close()


def cap(r, name):
    c = r.caps[name]
    if c.capture.returncode != 0 or not c.snap.exists():
        pytest.fail("capture %s failed: %s" % (name, describe(c.capture)), pytrace=False)
    if c.analysis is None:
        pytest.fail("analyze --json of the %s capture failed: %s" % (name, describe(c.json_res)),
                    pytrace=False)
    return c


def snapshot_bytes(c):
    """The snapshot as an uncompressed ELF core."""
    data = c.snap.read_bytes()
    if data[:4] == b"\x7fELF":
        return data
    if not shutil.which("zstd"):
        pytest.skip("zstd not installed: cannot decompress %s" % c.snap)
    res = subprocess.run(["zstd", "-d", "-c", str(c.snap)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    assert res.returncode == 0, "zstd -d %s failed: %s" % (c.snap, res.stderr.decode("utf-8", "replace"))
    assert res.stdout[:4] == b"\x7fELF", "zstd -d of %s is not an ELF core" % c.snap
    return res.stdout


FRAMES = ("more", "gen", "hold")  # innermost first: more_locals, gen_frame, hold_locals


def parked_frame(analysis, truth_thread, which="hold"):
    """ANALYSIS's frame WHICH (see FRAMES) in the truth's thread; all three must be where the
    truth says."""
    tid = truth_thread["tid"]
    threads = [t for t in all_threads(analysis) if t.get("tid") == tid]
    assert len(threads) == 1, "thread %d (%s) listed %d times" % (tid, truth_thread["role"], len(threads))
    frames = [f for f in threads[0].get("frames", []) if f.get("kind") == "python"]
    assert len(frames) >= 3, "thread %d (%s) has %d Python frames" % (tid, truth_thread["role"], len(frames))
    for f, key in zip(frames, FRAMES):
        want = truth_thread if key == "hold" else truth_thread[key]
        want = (want["function"], want["file"], want["line"])
        got = (f.get("function"), f.get("file"), f.get("line"))
        assert got == want, "thread %d: frame %r, want %r" % (tid, got, want)
    return frames[FRAMES.index(which)]


def check_repr(where, got, want_repr):
    """GOT (a JSON value) shows WANT_REPR exactly, or a marked truncation of it."""
    rep = got.get("repr")
    assert isinstance(rep, str), "%s: no repr: %r" % (where, got)
    if got.get("truncated") is True:
        assert rep.endswith("..."), "%s: truncated repr does not end with '...': %r" % (where, rep)
        prefix = rep[:-3]
        assert want_repr.startswith(prefix) and len(prefix) < len(want_repr), \
            "%s: truncated repr is not a prefix of the real one:\n got  %r\n want %r" % (where, rep, want_repr)
    else:
        assert got.get("truncated") is False, "%s: truncated is %r" % (where, got.get("truncated"))
        assert rep == want_repr, "%s: repr differs:\n got  %r\n want %r" % (where, rep, want_repr)


def encodings(marker):
    """The byte strings a str holding MARKER may leave in memory: its UTF-8 (utf8 cache,
    bytes) and its internal form (Latin-1, UCS-2 or UCS-4 by its widest character)."""
    out = {"utf-8": marker.encode("utf-8")}
    widest = max(ord(ch) for ch in marker)
    if widest < 0x100:
        out["internal latin-1"] = marker.encode("latin-1")
    elif widest < 0x10000:
        out["internal ucs-2"] = marker.encode("utf-16-le")
    else:
        out["internal ucs-4"] = marker.encode("utf-32-le")
    return out


def internal(marker):
    return [v for k, v in encodings(marker).items() if k.startswith("internal")][0]


@pytest.mark.parametrize("which", ["default", "tight"])
def test_json_matches_schema(run, which):
    """Locals of every kind, and truncated ones, are documented in doc/schema.json."""
    schema_util.check(cap(run, which).analysis)


def test_every_local_is_the_targets_repr(run):
    a = cap(run, "default").analysis
    problems = []
    for tt in run.truth["threads"]:
        f = parked_frame(a, tt)
        got_locals = f.get("locals") or {}
        for name, want in sorted(tt["locals"].items()):
            where = "%s thread, local %s" % (tt["role"], name)
            got = got_locals.get(name)
            if got is None:
                problems.append("%s: missing (locals: %s)" % (where, sorted(got_locals)))
                continue
            if got.get("kind") != want["kind"]:
                problems.append("%s: kind %r, want %r" % (where, got.get("kind"), want["kind"]))
            if name in REDACTED_BY_DEFAULT:
                continue
            if got.get("type") != want["type"]:
                problems.append("%s: type %r, want %r" % (where, got.get("type"), want["type"]))
            want_repr = tt["creds_redacted_repr"] if name == "creds" else want["repr"]
            try:
                check_repr(where, got, want_repr)
            except AssertionError as e:
                problems.append(str(e))
            cut = got.get("truncated") is True
            if name in CUT_BY_DEFAULT and not cut:
                problems.append("%s: exceeds the default limits but is not marked truncated" % where)
            if name not in CUT_BY_DEFAULT and cut:
                problems.append("%s: within the default limits but truncated: %r" % (where, got.get("repr")))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("which", ["more", "gen"])
def test_locals_of_the_inner_frames(run, which):
    a = cap(run, "default").analysis
    problems = []
    for tt in run.truth["threads"]:
        f = parked_frame(a, tt, which)
        assert f["locals_truncated"] is False
        for name, want in sorted(tt[which]["locals"].items()):
            where = "%s thread, %s, local %s" % (tt["role"], tt[which]["function"], name)
            got = f["locals"].get(name)
            if got is None:
                problems.append("%s: missing (locals: %s)" % (where, sorted(f["locals"])))
                continue
            if (got.get("type"), got.get("kind")) != (want["type"], want["kind"]):
                problems.append("%s: type, kind %r, want %r" % (
                    where, (got.get("type"), got.get("kind")), (want["type"], want["kind"])))
            try:
                check_repr(where, got, want["repr"])
            except AssertionError as e:
                problems.append(str(e))
            if (got.get("truncated") is True) != (name in CUT_BY_DEFAULT):
                problems.append("%s: truncated is %r under the default limits" % (where, got.get("truncated")))
    assert not problems, "\n".join(problems)


def test_unbound_locals(run):
    a = cap(run, "default").analysis
    for tt in run.truth["threads"]:
        assert tt["unbound"] == ["later"], tt["unbound"]
        assert tt["more"]["unbound"] == ["gone", "late_cell"], tt["more"]["unbound"]
        for name, which, kind in (("later", "hold", "local"), ("gone", "more", "local"),
                                  ("late_cell", "more", "cell")):
            got = parked_frame(a, tt, which)["locals"].get(name)
            assert got is not None, "%s thread: the unbound local %r is missing" % (tt["role"], name)
            assert got.get("unbound") is True and got.get("repr") == "<unbound>" and \
                got.get("kind") == kind and got.get("type") is None, \
                "%s thread: %s = %r" % (tt["role"], name, got)


def test_instance_attributes(run):
    a = cap(run, "default").analysis
    for tt in run.truth["threads"]:
        got = parked_frame(a, tt)["locals"]["widget"].get("attributes") or {}
        assert sorted(got) == sorted(tt["attributes"]), \
            "%s thread: widget attributes %s, want %s" % (tt["role"], sorted(got), sorted(tt["attributes"]))
        for name, want in tt["attributes"].items():
            where = "%s thread, widget.%s" % (tt["role"], name)
            if name == "secret":
                assert got[name].get("redacted") is True and got[name].get("repr") == "<redacted>", \
                    "%s: %r" % (where, got[name])
                continue
            assert got[name].get("type") == want["type"], "%s: %r" % (where, got[name])
            check_repr(where, got[name], want["repr"])


def test_default_redaction(run):
    c = cap(run, "default")
    for tt in run.truth["threads"]:
        loc = parked_frame(c.analysis, tt)["locals"]
        for name in sorted(REDACTED_BY_DEFAULT):
            got = loc.get(name)
            assert got is not None, "%s thread: redacted local %s is missing" % (tt["role"], name)
            assert got.get("redacted") is True and got.get("repr") == "<redacted>" and got.get("type") is None, \
                "%s thread: %s = %r" % (tt["role"], name, got)


def test_redacted_values_are_not_in_the_file(run):
    data = snapshot_bytes(cap(run, "default"))
    found = ["%s (%s)" % (name, enc) for name, marker in sorted(run.truth["markers"].items())
             for enc, b in encodings(marker).items() if b in data]
    assert not found, "redacted values found in the decompressed snapshot: %s" % ", ".join(found)


def test_no_redact_captures_them(run):
    # The positive control of the grep above: with --no-redact the values are read.
    c = cap(run, "wide")
    data = snapshot_bytes(c)
    markers = run.truth["markers"]
    missing = [name for name, m in sorted(markers.items()) if internal(m) not in data]
    assert not missing, "--no-redact: values not in the snapshot: %s" % missing
    for tt in run.truth["threads"]:
        loc = parked_frame(c.analysis, tt)["locals"]
        for name in sorted(REDACTED_BY_DEFAULT):
            assert not loc[name].get("redacted"), "%s thread: %s redacted under --no-redact" % (tt["role"], name)
            assert loc[name].get("type") == "str"
            check_repr("%s thread, local %s" % (tt["role"], name), loc[name], tt["locals"][name]["repr"])
        assert loc["creds"]["repr"] == tt["locals"]["creds"]["repr"], loc["creds"]
        attrs = loc["widget"].get("attributes") or {}
        assert attrs.get("secret", {}).get("repr") == tt["attributes"]["secret"]["repr"], attrs.get("secret")


def test_long_str_cut_by_default_exact_with_max_str(run):
    d = cap(run, "default").analysis
    w = cap(run, "wide").analysis
    for tt in run.truth["threads"]:
        want = tt["locals"]["s_long"]["repr"]
        assert len(want) == 2002
        cut = parked_frame(d, tt)["locals"]["s_long"]
        assert cut["truncated"] is True and cut["repr"] == want[:257] + "...", \
            "%s thread: default s_long = %r" % (tt["role"], cut["repr"][:80])
        full = parked_frame(w, tt)["locals"]["s_long"]
        assert full["truncated"] is False and full["repr"] == want, \
            "%s thread: --max-str 5000 s_long (%d chars, truncated %r) is not the full repr" % (
                tt["role"], len(full["repr"]), full["truncated"])
        # 4000 characters, 10000 bytes of UTF-8: --max-str is about characters
        want = tt["more"]["locals"]["s_4k"]["repr"]
        full = parked_frame(w, tt, "more")["locals"]["s_4k"]
        assert full["truncated"] is False and full["repr"] == want, \
            "%s thread: --max-str 5000 s_4k (%d chars, truncated %r) is not the full repr" % (
                tt["role"], len(full["repr"]), full["truncated"])


def test_no_locals_capture(run):
    c = cap(run, "nolocals")
    flag = c.analysis.get("snapshot", {}).get("locals")
    assert flag is False, "snapshot.locals should be false: %r" % (flag,)
    with_locals = ["%s:%s" % (t.get("tid"), f.get("function")) for t in all_threads(c.analysis)
                   for f in t.get("frames", []) if f.get("kind") == "python" and f.get("locals")]
    assert not with_locals, "frames with locals in a --no-locals capture: %s" % with_locals
    for tt in run.truth["threads"]:
        parked_frame(c.analysis, tt)  # the stack is still there
    data = snapshot_bytes(c)
    found = [name for name, m in sorted(run.truth["markers"].items())
             for b in encodings(m).values() if b in data]
    assert not found, "--no-locals: values found in the snapshot: %s" % found
    # nor any other value: these are in the --max-str 5000 snapshot (the grep can find them)
    wide = snapshot_bytes(cap(run, "wide"))
    values = {"s_long": "0123456789" * 20, "s_latin1": "h\u00e9llo", "s_ucs2": "\u65e5\u672c\u8a9e",
              "s_ascii": "hello world"}
    for name, v in sorted(values.items()):
        assert internal(v) in wide, "%s not in the --max-str 5000 snapshot" % name
        assert internal(v) not in data, "--no-locals: the value of %s is in the snapshot" % name


def test_analyze_no_locals_hides_them(run, pysnap_bin):
    c = cap(run, "default")
    assert c.analysis["snapshot"]["locals"] is True
    res, a = analyze_json(pysnap_bin, c.snap, "--no-locals")
    assert a is not None, describe(res)
    assert all(not f.get("locals") for t in all_threads(a) for f in t.get("frames", [])
               if f.get("kind") == "python"), "analyze --json --no-locals printed locals"


def test_custom_redact_pattern(run):
    c = cap(run, "custom")
    data = snapshot_bytes(c)
    markers = run.truth["markers"]
    for tt in run.truth["threads"]:
        loc = parked_frame(c.analysis, tt)["locals"]
        assert loc["s_ascii"].get("redacted") is True and loc["s_ascii"]["repr"] == "<redacted>", loc["s_ascii"]
        # the pattern replaces the default one: credentials are read now
        for name in sorted(REDACTED_BY_DEFAULT):
            assert not loc[name].get("redacted"), "%s redacted under --redact '^(s_ascii|count)$'" % name
            check_repr(name, loc[name], tt["locals"][name]["repr"])
        assert loc["s_latin1"]["repr"] == tt["locals"]["s_latin1"]["repr"]
        attrs = loc["widget"].get("attributes") or {}
        assert attrs.get("count", {}).get("redacted") is True, attrs.get("count")
        assert attrs.get("secret", {}).get("repr") == tt["attributes"]["secret"]["repr"], attrs.get("secret")
    assert b"hello world" not in data, "the redacted s_ascii value is in the snapshot"
    assert internal(markers["password"]) in data


def text_locals(text, tid, back=0):
    """name -> repr of the innermost frame (BACK frames out) of thread TID in `analyze
    --locals` output."""
    block = re.search(r"^Thread %d\b.*?(?=^Thread |\Z)" % tid, text, re.M | re.S)
    assert block, "thread %d not in the text output" % tid
    lines = block.group(0).splitlines()
    files = [i for i, ln in enumerate(lines) if ln.startswith("      File ")]
    assert files, "thread %d: no frames in the text output" % tid
    out = {}
    start = files[-1 - back]  # most recent call last
    end = files[-back] if back else len(lines)
    for ln in lines[start + 1:end]:
        m = re.match(r"^ {10}(\w+) = (.*)$", ln)
        if m:
            out.setdefault(m.group(1), m.group(2))
    return lines[start], out


def test_text_renderer_prints_the_same_reprs(run, pysnap_bin):
    c = cap(run, "default")
    res = run_pysnap(pysnap_bin, "analyze", c.snap, "--locals")
    assert res.returncode == 0, describe(res)
    text = res.stdout.decode("utf-8")
    for tt in run.truth["threads"]:
        for back, which in enumerate(FRAMES):
            ft = tt if which == "hold" else tt[which]
            header, got = text_locals(text, tt["tid"], back)
            assert header.endswith("line %d, in %s" % (ft["line"], ft["function"])), header
            js = parked_frame(c.analysis, tt, which)["locals"]
            for name in sorted(ft["locals"]) + ft["unbound"]:
                assert name in got, "%s thread: %s not printed by analyze --locals" % (tt["role"], name)
                assert got[name] == js[name]["repr"], \
                    "%s thread, %s: text %r, json %r" % (tt["role"], name, got[name], js[name]["repr"])


def limits_problems(run, a, must_cut):
    """Every value of A is its exact repr or a marked prefix of it, never a silently
    different or shortened one; the names in MUST_CUT are cut. Returns (problems, #cut)."""
    problems = []
    ncut = 0
    for tt in run.truth["threads"]:
        f = parked_frame(a, tt)
        for name, want in sorted(tt["locals"].items()):
            got = f["locals"].get(name)
            if got is None:
                problems.append("%s thread: %s missing" % (tt["role"], name))
                continue
            if name in REDACTED_BY_DEFAULT:
                continue
            want_repr = tt["creds_redacted_repr"] if name == "creds" else want["repr"]
            ncut += got.get("truncated") is True
            if name in must_cut and got.get("truncated") is not True:
                problems.append("%s thread: %s = %r is not cut" % (tt["role"], name, got.get("repr")))
            try:
                check_repr("%s thread, local %s" % (tt["role"], name), got, want_repr)
            except AssertionError as e:
                problems.append(str(e))
        for name, got in sorted((f["locals"]["widget"].get("attributes") or {}).items()):
            if name != "secret":
                try:
                    check_repr("%s thread, widget.%s" % (tt["role"], name), got,
                               tt["attributes"][name]["repr"])
                except AssertionError as e:
                    problems.append(str(e))
    return problems, ncut


def test_tight_limits_cut_visibly(run):
    problems, _ = limits_problems(run, cap(run, "tight").analysis, CUT_BY_TIGHT)
    assert not problems, "\n".join(problems)


def test_budget_cuts_visibly(run):
    problems, ncut = limits_problems(run, cap(run, "budget").analysis, set())
    assert not problems, "\n".join(problems)
    assert ncut >= 10, "--budget 600 cut only %d values" % ncut


def test_max_locals(run):
    d = cap(run, "default").analysis
    a = cap(run, "few").analysis
    for tt in run.truth["threads"]:
        assert parked_frame(d, tt)["locals_truncated"] is False
        f = parked_frame(a, tt)
        assert list(f["locals"]) == tt["slots"][:10], \
            "%s thread: --max-locals 10 kept %s, want %s" % (tt["role"], list(f["locals"]), tt["slots"][:10])
        assert f["locals_truncated"] is True


def test_invalid_redact_pattern(run, pysnap_bin, tmp_path):
    out = tmp_path / "bad.snap"
    res = run_pysnap(pysnap_bin, "capture", "--pid", run.proc.pid, "--redact", "(", "-o", out)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2, describe(res)
    assert err.startswith("pysnap: ") and err.count("\n") == 1 and "--redact" in err, err
    assert not out.exists(), "a snapshot was written despite the bad pattern"
    assert run.proc.poll() is None, "the target died"
