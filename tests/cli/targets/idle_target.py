"""A small Python target for the CLI tests: parks its main thread in idle().

usage: idle_target.py READY_FILE [LIFETIME_SECONDS]

Writes its pid to READY_FILE (atomically) once running, then sleeps in idle() for
LIFETIME_SECONDS (default 120) and exits, so a lost target does not linger.
Python 3.8+ syntax only.
"""

import os
import sys
import time


def idle(seconds):
    time.sleep(seconds)


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    ready = argv[0]
    lifetime = float(argv[1]) if len(argv) > 1 else 120.0
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(ready + ".tmp", ready)
    idle(lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
