"""A target whose strings try to take over the terminal that shows them: a thread name, a
code object's file name, a local and a command-line argument carry ANSI escapes, a BEL, a
line break and a C1 control (tests/e2e/test_escaping.py). Prints "ready" when parked."""
import sys
import threading
import time

EVIL = "\x1b[2J\x1b]0;owned\x07\nforged line\u009b31m"
src = "def parked(arg):\n    evil_local = arg\n    time.sleep(1000)\n"
ns = {"time": time}
exec(compile(src, "file" + EVIL + ".py", "exec"), ns)
t = threading.Thread(target=ns["parked"], args=(EVIL,), name="thread" + EVIL, daemon=True)
t.start()
time.sleep(0.2)
print("ready", flush=True)
time.sleep(1000)
