"""How a target hands its truth to its test, in the syntax of every Python the tests run
(2.7 included) and with nothing but the standard json and os modules (target_util needs 3.6+
and ctypes; the 2.7 and stripped-build targets use this alone).

The truth goes as JSON in FIFO + ".json", written whole under another name and renamed, then
"ready" is written on FIFO.
"""
import json
import os


def signal_fifo(fifo, line):
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def publish_truth(fifo, truth):
    """TRUTH as JSON in FIFO + ".json" (written atomically), then "ready" on FIFO."""
    path = fifo + ".json"
    with open(path + ".tmp", "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    os.rename(path + ".tmp", path)
    signal_fifo(fifo, "ready")
