"""asyncio target for CPython 3.6/3.7 (no task names, no asyncio.run before 3.7): a few C
tasks parked in known coroutine chains, one gathering the others, one awaiting another task;
the truth is each task's coroutine chain (function, file, line) and the int locals of its
frames, taken from the task objects themselves while the loop is paused in a callback.
Python 3.6+ syntax only. Argument: the FIFO (see target_util.py)."""

import asyncio
import inspect
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from target_util import publish_truth  # noqa: E402


async def leaf(n):
    await asyncio.sleep(1000 + n)


async def middle(n):
    depth = n * 10
    await leaf(n)


async def waits_for(task):
    await task


async def gatherer(tasks):
    await asyncio.gather(*tasks)


def chain_of(coro):
    out = []
    c = coro
    for _ in range(64):
        if c is None or not inspect.iscoroutine(c) or c.cr_frame is None:
            break
        f = c.cr_frame
        out.append({"function": f.f_code.co_name, "file": f.f_code.co_filename, "line": f.f_lineno,
                    "locals": dict((k, repr(v)) for k, v in f.f_locals.items() if type(v) is int)})
        c = c.cr_await
    return out


def main():
    loop = asyncio.get_event_loop()
    kids = [loop.create_task(middle(i)) for i in range(3)]
    loop.create_task(gatherer(kids[:2]))
    loop.create_task(waits_for(kids[2]))

    def report():
        tasks = asyncio.Task.all_tasks(loop) if sys.version_info < (3, 7) else asyncio.all_tasks(loop)
        truth = {"tasks": [{"state": t._state.lower(), "chain": chain_of(t._coro)} for t in tasks]}
        publish_truth(sys.argv[1], dict(truth, pid=os.getpid(),
                                        python={"version_info": list(sys.version_info)}))
        time.sleep(1000)  # the loop stays paused here: the tasks stay where they are

    loop.call_later(0.2, report)
    loop.run_forever()


main()
