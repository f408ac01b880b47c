"""End to end: the capture's plan/copy loop (snap/capture.c). pysnap walks the running
target to learn which pages it needs, freezes only to copy them, and walks the copy after
the thaw; a page the walk misses means another freeze (at most 3, the last one walks while
frozen). Whatever the number of freezes, the snapshot must be one consistent moment.

- a parked target: one freeze, and the stacks are the truth exactly;
- PYSNAP_TEST_NO_PREWALK=1 (test only: no walk before the first freeze): every freeze of the
  loop is taken, and the stacks are still the truth exactly;
- a main thread that pushes and pops frames all the time: every capture shows a stack its
  code can have (a walk over pages copied at different moments would show torn stacks).
"""

import json
import os
import re

from e2e_util import (TARGETS, THREADS_TARGET, all_threads, describe, python_frames, run_pysnap,
                      truth_frames, wait_for_tids)

CHURN = TARGETS / "churn_target.py"
VERBOSE = re.compile(r"pause ([0-9.]+) ms = stop [0-9.]+ ms \+ copy [0-9.]+ ms \+ walk [0-9.]+ ms"
                     r" \+ stacks [0-9.]+ ms \+ resume [0-9.]+ ms; (\d+) freezes?; (\d+) pages "
                     r"read in (\d+) calls")


def capture(pysnap_bin, pid, out, env=None):
    res = run_pysnap(pysnap_bin, "capture", "--pid", pid, "-o", out, "-f", "-v",
                     env=dict(os.environ, **(env or {})))
    assert res.returncode == 0, describe(res)
    m = VERBOSE.search(res.stderr.decode("utf-8", "replace"))
    assert m, "no --verbose line with the freezes:\n" + describe(res)
    an = run_pysnap(pysnap_bin, "analyze", out, "--json")
    assert an.returncode == 0, describe(an)
    return int(m.group(2)), json.loads(an.stdout.decode("utf-8"))


def check_truth(analysis, truth):
    got = dict((t.get("tid"), t) for t in all_threads(analysis))
    bad = []
    for t in truth["threads"]:
        if t["tid"] not in got:
            bad.append("thread %d (%s) missing" % (t["tid"], t["name"]))
        elif truth_frames(t) != python_frames(got[t["tid"]]):
            bad.append("thread %d (%s): %s != %s" % (t["tid"], t["name"], truth_frames(t),
                                                    python_frames(got[t["tid"]])))
    assert not bad, "\n".join(bad)


def test_parked_target_one_freeze_and_forced_refreeze(python, pysnap_bin, run_target, tmp_path):
    proc, truth = run_target(python, THREADS_TARGET)
    wait_for_tids(proc.pid, set(truth["tids"]))
    freezes, analysis = capture(pysnap_bin, proc.pid, tmp_path / "one.snap")
    assert freezes == 1, "a parked target changed under the plan (%d freezes)" % freezes
    check_truth(analysis, truth)
    freezes, analysis = capture(pysnap_bin, proc.pid, tmp_path / "three.snap",
                                {"PYSNAP_TEST_NO_PREWALK": "1"})
    assert freezes == 3, "with no plan, the first two walks of the copy must miss (%d)" % freezes
    check_truth(analysis, truth)
    assert analysis["target"]["pause_us"] > 0


def test_churning_stack_is_one_moment(python, pysnap_bin, run_target, tmp_path):
    proc, truth = run_target(python, CHURN, "--lifetime", "30")
    path = truth["file"]
    depths = set()
    for i in range(6):
        env = {"PYSNAP_TEST_NO_PREWALK": "1"} if i % 3 == 2 else None
        freezes, analysis = capture(pysnap_bin, proc.pid, tmp_path / ("c%d.snap" % i), env)
        assert 1 <= freezes <= 3
        main = [t for t in all_threads(analysis) if t.get("tid") == proc.pid]
        assert len(main) == 1, all_threads(analysis)
        frames = python_frames(main[0])[::-1]  # outermost first
        names = [f for f, _, _ in frames]
        assert all(fl == path for _, fl, _ in frames), frames
        assert names[:3] == ["<module>", "main", "churn"], names
        middle = names[3:]
        if middle == ["ready"]:
            continue
        assert all(n == "descend" for n in middle[:-1]), names
        assert middle == [] or middle[-1] in ("descend", "leaf"), names
        # descend(60) .. descend(0) is 61 frames, then leaf(): at most 62
        assert len(middle) <= 62 and middle.count("descend") <= 61, names
        depths.add(len(middle))
    assert depths, "no capture caught the churning stack"
