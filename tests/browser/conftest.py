"""The HTML report in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven
by playwright-core (tests/browser/package.json, installed by setup.sh into the cache).
Skips, saying why, when chromium, node or npm is absent. Live targets run through the e2e
suite's TargetRunner (tests/e2e/e2e_util.py)."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "common"))
sys.path.insert(0, str(HERE.parents[0] / "e2e"))

from proc_util import pysnap_bin  # noqa: F401,E402  (fixture)
