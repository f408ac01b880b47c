"""End to end: the stdlib values a web app holds, rendered exactly as repr(), on every
interpreter (3.6-3.15 and the free-threaded 3.13t).

The target (targets/reprs_target.py) parks its main thread three frames deep holding datetime,
Decimal, UUID, enum, namedtuple, deque, OrderedDict, defaultdict, Counter, Fraction, path,
exception, bound method, partial, re.Pattern, memoryview, slice, SimpleNamespace, module,
lock, code and dataclass values (each where the version has it: no dataclasses on 3.6, no
ZoneInfo before 3.9), subclasses that override __repr__ and hostile values (a
Decimal with a huge exponent, a namedtuple class with a bogus _fields, a deque whose blocks
form a cycle); a worker thread parks inside an `except` block. The target reports each local's
repr() as the interpreter computed it, and the exception it handles.

Captured twice (module-scoped): with the default limits, and tight (--max-str 5 --max-items 2
--max-depth 1). The default capture is analyzed from the snapshot and compared with a live
`dump --json` of the same process: the capture must keep every byte these reprs read.
"""

import re
import shutil
import subprocess

import pytest

from e2e_util import (TARGETS, TargetRunner, all_threads, describe, run_pysnap, run_pysnap_json,
                      wait_for_tids)
import schema_util

REPRS_TARGET = TARGETS / "reprs_target.py"
E2E_WITH_OLD_PYENV = True


FRAMES = ("hostile", "query", "request")  # innermost first
TIGHT = ["--max-str", "5", "--max-items", "2", "--max-depth", "1"]
# Beyond the default limits (str 256, items 32): marked truncated, besides the truth's "cut".
CUT_BY_DEFAULT = {"big_deque", "dq_blocks", "cycle_truth"}


class Run(object):
    pass


@pytest.fixture(scope="module")
def run(python, pysnap_bin, tmp_path_factory):
    python.info()
    base = tmp_path_factory.mktemp("reprs-%s" % python.label)
    runner = TargetRunner(base / "targets")
    try:
        proc, truth = runner(python, REPRS_TARGET)
        r = Run()
        r.proc, r.truth, r.bin = proc, truth, pysnap_bin
        wait_for_tids(proc.pid, set([truth["main_tid"], truth["handler"]["tid"]]))
        r.results = {}
        for name, opts in (("default", []), ("tight", TIGHT)):
            snap = base / ("%s.snap" % name)
            cap = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "-o", snap, *opts)
            res = analysis = None
            if cap.returncode == 0:
                res, analysis = run_pysnap_json(pysnap_bin, "analyze", snap, "--json")
            r.results[name] = (cap, res, analysis, snap)
        r.live_res, r.live = run_pysnap_json(pysnap_bin, "dump", "--pid", proc.pid, "--json")
        yield r
    finally:
        runner.close()


def analysis_of(r, name):
    cap, res, analysis, _ = r.results[name]
    if cap.returncode != 0:
        pytest.fail("capture %s failed: %s" % (name, describe(cap)), pytrace=False)
    if analysis is None:
        pytest.fail("analyze --json of %s failed: %s" % (name, describe(res)), pytrace=False)
    return analysis


def thread_of(analysis, tid):
    ts = [t for t in all_threads(analysis) if t.get("tid") == tid]
    assert len(ts) == 1, "thread %d listed %d times" % (tid, len(ts))
    return ts[0]


def parked_frames(analysis, truth):
    """The main thread's three frames (innermost first), checked against the truth."""
    frames = [f for f in thread_of(analysis, truth["main_tid"])["frames"] if f.get("kind") == "python"]
    assert len(frames) >= 3, "main thread has %d Python frames" % len(frames)
    for got, want in zip(frames, truth["frames"]):
        assert (got["function"], got["file"], got["line"]) == (want["function"], want["file"], want["line"])
    return frames[:3]


def check_repr(where, got, want):
    """GOT (a JSON value) shows WANT exactly, or a marked truncation of it."""
    rep = got.get("repr")
    assert isinstance(rep, str), "%s: no repr: %r" % (where, got)
    if got.get("truncated") is True:
        assert rep.endswith("...") and want.startswith(rep[:-3]) and len(rep) - 3 < len(want), \
            "%s: cut repr is not a prefix of the real one:\n got  %r\n want %r" % (where, rep, want)
    else:
        assert rep == want, "%s: repr differs:\n got  %r\n want %r" % (where, rep, want)


def test_every_value_is_the_targets_repr(run):
    """Each local's repr equals the target's own repr(); subclasses overriding __repr__ and the
    bogus namedtuple in the generic form; the cyclic deque cut, after its reachable items."""
    truth = run.truth
    problems = []
    frames = parked_frames(analysis_of(run, "default"), truth)
    for got_frame, want_frame in zip(frames, truth["frames"]):
        for name, want in sorted(want_frame["locals"].items()):
            where = "%s: %s" % (want_frame["function"], name)
            got = got_frame["locals"].get(name)
            if got is None:
                problems.append("%s: missing" % where)
                continue
            # tp_name: a C type's carries its module ("datetime.date")
            if got.get("type", "").rsplit(".", 1)[-1] != want["type"]:
                problems.append("%s: type %r, want %r" % (where, got.get("type"), want["type"]))
            want_repr = truth["generic"].get(name, truth["redacted"].get(name, want["repr"]))
            try:
                check_repr(where, got, want_repr)
            except AssertionError as e:
                problems.append(str(e))
                continue
            cut = got.get("truncated") is True
            if cut != (name in truth["cut"] or name in CUT_BY_DEFAULT):
                problems.append("%s: truncated is %r: %r" % (where, cut, got["repr"]))
    assert not problems, "\n".join(problems)


def test_snapshot_equals_live_dump(run):
    """The snapshot holds every byte the reprs read: analysis gives what the live walk gave
    (the live dump walks the running process, so only the parked frames are compared)."""
    if run.live is None:
        pytest.fail("dump --json failed: %s" % describe(run.live_res), pytrace=False)
    snap = parked_frames(analysis_of(run, "default"), run.truth)
    live = parked_frames(run.live, run.truth)
    for s, l in zip(snap, live):
        for name in sorted(s["locals"]):
            assert s["locals"][name].get("repr") == l["locals"].get(name, {}).get("repr"), \
                "%s: %s differs between the snapshot and the live dump" % (s["function"], name)


def test_structured_values(run):
    """JSON carries "value": isoformat() of dates, str() of Decimal and UUID."""
    req = parked_frames(analysis_of(run, "default"), run.truth)[2]["locals"]
    for name, want in sorted(run.truth["values"].items()):
        assert req[name].get("value") == want, "%s: value %r, want %r" % (name, req[name].get("value"), want)
    assert "value" not in req["red"], "an enum member has no structured value"


def test_tight_limits_cut_and_mark(run):
    """Under --max-str 5 --max-items 2 --max-depth 1 every value is whole or a marked prefix,
    and the long ones are cut."""
    truth = run.truth
    frames = parked_frames(analysis_of(run, "tight"), truth)
    problems = []
    for got_frame, want_frame in zip(frames, truth["frames"]):
        for name, want in sorted(want_frame["locals"].items()):
            got = got_frame["locals"].get(name)
            try:
                check_repr(name, got, truth["generic"].get(name, truth["redacted"].get(name, want["repr"])))
            except AssertionError as e:
                problems.append(str(e))
    assert not problems, "\n".join(problems)
    q = dict((f["function"], f["locals"]) for f in frames)
    long_ones = [("query", "dq_blocks"), ("query", "counter"), ("query", "od"),
                 ("hostile", "big_deque"), ("hostile", "dec_long")]
    if "item" in truth["frames"][1]["locals"]:  # a dataclass: 3.7+
        long_ones.append(("query", "item"))
    for frame, name in long_ones:
        assert q[frame][name]["truncated"] is True, "%s not cut: %r" % (name, q[frame][name]["repr"])


def test_redacted_fields_are_not_captured(run):
    """A SimpleNamespace attribute and (3.7+) a dataclass field named like a credential are
    shown '<redacted>' and their values are in no byte of the snapshot."""
    _, _, _, snap = run.results["default"]
    data = snap.read_bytes()
    if data[:4] != b"\x7fELF":
        if not shutil.which("zstd"):
            pytest.skip("zstd not installed: cannot decompress %s" % snap)
        data = subprocess.run(["zstd", "-d", "-c", str(snap)], stdout=subprocess.PIPE,
                              check=True, timeout=60).stdout
    assert data[:4] == b"\x7fELF"
    assert run.truth["markers"], "the target named no credential"
    for marker in run.truth["markers"]:
        assert marker.encode() not in data, "credential %r is in the snapshot" % marker


def test_handled_exception(run):
    """The worker inside `except ValueError` is reported handling it, with its message and
    the traceback's frames, in JSON and in text."""
    h = run.truth["handler"]
    a = analysis_of(run, "default")
    got = thread_of(a, h["tid"]).get("handling")
    assert got, "thread %d: no handled exception reported" % h["tid"]
    assert got["type"] == h["type"] and got["repr"] == h["repr"], got
    assert [(f["function"], f["line"]) for f in got["traceback"]] == \
        [(f["function"], f["line"]) for f in h["traceback"]]
    assert "handling" not in thread_of(a, run.truth["main_tid"]), "main handles nothing"
    _, _, _, snap = run.results["default"]
    text = run_pysnap(run.bin, "analyze", snap)
    out = text.stdout.decode("utf-8", "replace")
    m = re.search(r'^Thread %d .*\n    Handling (.*)$' % h["tid"], out, re.M)
    assert m, "no Handling line under thread %d:\n%s" % (h["tid"], out[:3000])
    assert m.group(1).startswith(h["repr"] + ", raised through worker ("), m.group(1)


@pytest.mark.parametrize("which", ["default", "tight"])
def test_json_matches_schema(run, which):
    schema_util.check(analysis_of(run, which))
