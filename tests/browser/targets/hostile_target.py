"""Browser-test target: strings that would run script if a page took them as markup.

usage: hostile_target.py FIFO

A thread named "<img src=x onerror=alert(1)>" parks in hostile_wait() with a local whose value
is "</script><script>alert(1)</script>" (and one "<!--" to open a comment in a script
element); a second thread, "quote\"&'amp", parks in a function of its own. The truth: the
pid, both tids and names, the values. Exits after 120 s by itself.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "e2e", "targets"))
from target_util import write_truth  # noqa: E402

SCRIPT = "</script><script>alert(1)</script>"
COMMENT = "<!--<script>"
IMG = "<img src=x onerror=alert(1)>"
STOP = threading.Event()
TIDS = {}


def hostile_wait(ready):
    payload = SCRIPT
    opener = COMMENT
    TIDS["img"] = threading.get_native_id()
    ready.set()
    STOP.wait(120)
    return payload, opener


def quoted_wait(ready):
    TIDS["quote"] = threading.get_native_id()
    ready.set()
    STOP.wait(120)


def main():
    ready = [threading.Event(), threading.Event()]
    threading.Thread(target=hostile_wait, args=(ready[0],), name=IMG, daemon=True).start()
    threading.Thread(target=quoted_wait, args=(ready[1],), name="quote\"&'amp", daemon=True).start()
    for r in ready:
        r.wait(10)
    time.sleep(0.2)  # both inside Event.wait
    write_truth(sys.argv[1], {"threads": {IMG: TIDS["img"], "quote\"&'amp": TIDS["quote"]},
                              "payload": SCRIPT, "opener": COMMENT})
    STOP.wait(120)


main()
