"""pysnap record over every interpreter: a stack that changes all the time, sampled without
stopping the process (torn reads must be dropped, never recorded as garbage: every recorded
stack must be one the target's code can have) and with --blocking (every sample exact)."""

import os
import re

from e2e_util import TARGETS, describe, run_pysnap

CHURN = TARGETS / "churn_target.py"
LAST_LINE = re.compile(r": (\d+) samples \((\d+) rounds of 1 process, (\d+) dropped as torn")


def folded(path):
    out = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        out.append((stack.split(";"), int(count)))
    return out


def check_stacks(stacks, truth):
    """Every frame is one of the target's functions, in a shape its code can have:
    <module>, main, churn, then descend... and leaf innermost (or churn itself; or ready,
    still closing the FIFO when the first sample comes)."""
    allowed = set("%s (%s)" % (f, truth["file"]) for f in truth["functions"] + ["ready"])
    label = lambda f: "%s (%s)" % (f, truth["file"])  # noqa: E731
    for stack, count in stacks:
        assert count > 0
        assert set(stack) <= allowed, stack
        assert stack[:3] == [label("<module>"), label("main"), label("churn")], stack
        middle = stack[3:]
        if middle == [label("ready")]:
            continue
        assert all(f == label("descend") for f in middle[:-1]), [f.split()[0] for f in stack]
        assert len(middle) <= 62, stack


def record(pysnap_bin, pid, out, mode):
    """One second of `pysnap record` at 200 Hz -> (samples, rounds, dropped, stacks)."""
    res = run_pysnap(pysnap_bin, "record", "--pid", pid, "--duration", "1", "--rate", "200",
                     "-o", out, *mode)
    assert res.returncode == 0, describe(res)
    m = LAST_LINE.search(res.stdout.decode())
    assert m, describe(res)
    samples, rounds, dropped = (int(g) for g in m.groups())
    stacks = folded(out)
    assert sum(c for _, c in stacks) == samples
    assert samples + dropped <= rounds, describe(res)
    return samples, rounds, dropped, stacks, res


def test_record_churning_stack(python, pysnap_bin, run_target, tmp_path):
    # A running-mode sample walks twice and keeps what came out the same: the walks must fit
    # in one leaf() call. Under ASan (PYSNAP_TEST_SLOWDOWN) they take several times longer,
    # and on a loaded machine nearly every one was torn: the leaf grows with the slowdown.
    leaf = int(20000 * float(os.environ.get("PYSNAP_TEST_SLOWDOWN", "1")) ** 2)
    proc, truth = run_target(python, CHURN, "--lifetime", "30", "--leaf-iterations", leaf)
    for mode in ([], ["--blocking"]):
        out = tmp_path / ("churn%s.txt" % len(mode))
        samples, rounds, dropped, stacks, res = record(pysnap_bin, proc.pid, out, mode)
        if mode:  # frozen: every sample is exact
            assert dropped == 0 and samples >= rounds // 2, describe(res)
        else:
            # Running: torn walks are dropped. How many depends on how long a walk takes
            # against how fast the stack changes (under ASan, or on a loaded machine, most
            # are torn): up to 4 more seconds until there are 20 samples.
            for _ in range(4):
                if samples >= 20:
                    break
                more = record(pysnap_bin, proc.pid, out, mode)
                samples += more[0]
                stacks += more[3]
            assert samples >= 20, describe(res)
        check_stacks(stacks, truth)
        # the leaf is where the time goes, at varied depths
        assert len(set(len(s) for s, _ in stacks)) > 3, stacks


def test_record_native(python, pysnap_bin, run_target, tmp_path):
    """--native: native frames merged with the Python ones (a capture per sample)."""
    proc, truth = run_target(python, CHURN, "--lifetime", "30")
    out = tmp_path / "native.txt"
    res = run_pysnap(pysnap_bin, "record", "--pid", proc.pid, "--native", "--duration", "1",
                     "--rate", "50", "-o", out)
    assert res.returncode == 0, describe(res)
    m = LAST_LINE.search(res.stdout.decode())
    samples, rounds, dropped = (int(g) for g in m.groups())
    assert samples >= 5 and dropped == 0, describe(res)
    stacks = folded(out)
    assert sum(c for _, c in stacks) == samples
    for stack, _ in stacks:
        native = [f for f in stack if f.endswith("]")]
        assert native and stack[0].endswith("]"), stack  # the process starts in C
        check_stacks([([f for f in stack if not f.endswith("]")], 1)], truth)
