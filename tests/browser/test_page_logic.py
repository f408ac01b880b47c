"""The page's logic (web/model.js) under node's own test runner (web/test/), one pytest test
per node test so that scripts/test.sh counts them. Needs node only (no browser)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

WEB_TESTS = Path(__file__).resolve().parents[2] / "web" / "test"
TAP_LINE = re.compile(r"^(not )?ok \d+ - (.*?)(?: # (SKIP|TODO).*)?$")


def _node_results():
    """{test name: (passed, output)} of `node --test`, or a reason it could not run."""
    if not shutil.which("node"):
        return None, "node not installed (apt-get install nodejs)"
    res = subprocess.run(["node", "--test", "--test-reporter=tap", str(WEB_TESTS)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = res.stdout.decode("utf-8", "replace")
    results = {}
    for line in out.splitlines():
        m = TAP_LINE.match(line)  # top-level lines only: one per test file's test
        if m:
            results[m.group(2)] = (m.group(1) is None, out)
    if not results:
        results["node --test web/test/"] = (False, out)
    return results, None


RESULTS, WHY = _node_results()


@pytest.mark.skipif(RESULTS is None, reason=str(WHY))
@pytest.mark.parametrize("name", sorted(RESULTS or {"node": None}))
def test_page_logic(name):
    passed, output = RESULTS[name]
    assert passed, output[-6000:]
