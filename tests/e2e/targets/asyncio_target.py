"""e2e target for pysnap's asyncio tasks: named tasks parked at known awaits.

usage: asyncio_target.py FIFO [--deadlock | --pure | --eager | --many N] [--lifetime SECONDS]

Default mode: tasks awaiting asyncio.sleep (through two coroutines of ours), an Event, a
Queue, a gather() of two child tasks, a task awaiting another task, and (3.11+) a task at the
end of a TaskGroup with two children (the second at the end of a TaskGroup of its
own with one child: a tree of two levels), a Task subclass, plus a second thread running its own loop with two
tasks; the main task then
blocks the loop in time.sleep(), so it is the running task at capture.
--deadlock: two tasks awaiting each other (each awaits the other Task, a Future).
--pure: the default tasks as pure-Python asyncio.tasks._PyTask (through a task factory).
--eager: another task than main runs (blocked in time.sleep): on 3.12+ an eager task.
--many N: N tasks in asyncio.sleep (more than pysnap keeps: its limit must show).

Once every task is parked, the main task takes the truth from asyncio.all_tasks() (and
asyncio.tasks._py_all_tasks(), which has 3.14's pure-Python tasks) and by
walking cr_await from each task's coroutine (function, file, line of each coroutine frame),
and blocks the loop; a helper thread writes it as JSON to FIFO + ".json" and "ready\\n" to
FIFO once the main task sits in time.sleep(). On failure it
writes "error: <why>\\n" instead and exits 3. It exits by itself after --lifetime seconds.

Truth JSON:
  {"pid": N, "python": {"version_info": [...]}, "main_tid": N,
   "tasks": [{"name": "...", "tid": N,                      # of the loop's thread
              "running": bool, "state": "pending", "kind": "c" | "python",
              "chain": [[function, file, line], ...],      # task's coroutine first
              "locals": {function: {name: repr}},          # int/str locals, our frames
              "awaiting_type": type name | null,            # of task._fut_waiter
              "awaiting_task": name | null,                 # when that is a task
              "waits_for": [names]}],       # that task, or gather/TaskGroup children
   "deadlock": [names]}
Every parking await stands on a line of its own. Python 3.8+ syntax only.
"""

import asyncio
import inspect
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True

FIFO = sys.argv[1]
DEADLOCK = "--deadlock" in sys.argv
PURE = "--pure" in sys.argv
EAGER = "--eager" in sys.argv
MAIN = {}
MANY = int(sys.argv[sys.argv.index("--many") + 1]) if "--many" in sys.argv else 0
LIFETIME = float(sys.argv[sys.argv.index("--lifetime") + 1]) if "--lifetime" in sys.argv else 120.0
TASKS = {"groups": []}
SIDE = {"ready": threading.Event()}


# --- the parking places ---------------------------------------------------------------

async def nap_inner():
    await asyncio.sleep(3600)


async def nap_outer():
    await nap_inner()


async def wait_event(event):
    await event.wait()


async def get_item(queue):
    return await queue.get()


async def gather_child(n):
    await asyncio.sleep(3600 + n)


async def gather_parent(children):
    await asyncio.gather(*children)


async def group_inner():
    async with asyncio.TaskGroup() as tg:
        TASKS["groups"].append(tg)
        tg.create_task(gather_child(5), name="group-grandchild")


async def group_parent():
    async with asyncio.TaskGroup() as tg:
        TASKS["groups"].append(tg)
        tg.create_task(gather_child(3), name="group-child-1")
        tg.create_task(group_inner(), name="group-child-2")


async def await_other(task):
    await task


async def deadlock_a():
    await TASKS["deadlock-b"]


async def deadlock_b():
    await TASKS["deadlock-a"]


# --- truth ------------------------------------------------------------------------------

class SubTask(asyncio.Task):
    """A Task subclass: the C layout under another type name."""


def is_task(obj):
    return isinstance(obj, (asyncio.Task, asyncio.tasks._PyTask))


def chain_of(coro):
    out, seen = [], set()
    c = coro
    while c is not None and inspect.iscoroutine(c) and id(c) not in seen:
        seen.add(id(c))
        f = c.cr_frame
        if f is None:
            break
        out.append([f.f_code.co_name, f.f_code.co_filename, f.f_lineno])
        c = c.cr_await
    return out


def chain_locals(coro):
    """{function: {name: repr}} of the int and str locals of our own coroutine frames."""
    out, c = {}, coro
    for _ in range(64):
        if c is None or not inspect.iscoroutine(c) or c.cr_frame is None:
            break
        f = c.cr_frame
        if f.f_code.co_filename == __file__:
            out[f.f_code.co_name] = dict((k, repr(v)) for k, v in f.f_locals.items()
                                         if type(v) in (int, str))
        c = c.cr_await
    return out


def park_line(tag):
    with open(__file__) as f:
        for n, line in enumerate(f, 1):
            if line.rstrip().endswith("# PARK " + tag):
                return n
    raise RuntimeError("no line tagged " + tag)


def every_task(loop=None):
    """asyncio.all_tasks(LOOP); on 3.14+ that is C's, which skips pure-Python tasks, so also
    asyncio.tasks._py_all_tasks(LOOP)."""
    py_all = getattr(asyncio.tasks, "_py_all_tasks", None)
    return set(asyncio.all_tasks(loop)) | (set(py_all(loop)) if py_all else set())


def side_thread():
    """A second thread with its own event loop: a task of ours awaiting another."""
    async def side_main():
        loop = asyncio.get_running_loop()
        asyncio.current_task().set_name("side-main")
        napper = loop.create_task(nap_outer(), name="side-napper")
        SIDE["loop"] = loop
        SIDE["tid"] = threading.get_native_id()
        SIDE["ready"].set()
        await napper
    asyncio.run(side_main())


def take_truth(me, running=None):
    """ME: the main task when it runs (parked in time.sleep after this); RUNNING: the running
    task when the truth is taken from another thread while it runs."""
    tasks = []
    running = me if running is None else running
    loops = [(every_task(MAIN["loop"]), MAIN["tid"])]
    if "loop" in SIDE:
        loops.append((every_task(SIDE["loop"]), SIDE["tid"]))
    for t, tid in [(t, tid) for group, tid in loops for t in group]:
        waiter = t._fut_waiter
        waits = []
        if is_task(waiter):
            waits = [waiter.get_name()]
        elif waiter is not None and hasattr(waiter, "_children"):
            waits = [c.get_name() for c in waiter._children if is_task(c)]
        for group in TASKS["groups"]:
            if group._parent_task is t:
                waits += [c.get_name() for c in group._tasks]
        chain = chain_of(t.get_coro())
        if t is me:  # it runs: parked in time.sleep below, not where the truth is taken
            chain[-1][2] = park_line("main")
        tasks.append({"name": t.get_name(), "tid": tid, "running": t is running, "state": t._state.lower(),
                      "kind": "python" if isinstance(t, asyncio.tasks._PyTask) else "c",
                      "chain": chain, "locals": chain_locals(t.get_coro()) if t is not me else {},
                      "awaiting_type": type(waiter).__name__ if waiter is not None else None,
                      "awaiting_task": waiter.get_name() if is_task(waiter) else None,
                      "waits_for": waits})
    names = dict((t["name"], t) for t in tasks)
    dead = []
    for t in tasks:  # a task that reaches itself through waits_for
        todo, seen = list(t["waits_for"]), set()
        while todo:
            n = todo.pop()
            if n == t["name"]:
                dead.append(t["name"])
                break
            if n not in seen and n in names:
                seen.add(n)
                todo.extend(names[n]["waits_for"])
    return {"pid": os.getpid(), "python": {"version_info": list(sys.version_info)},
            "main_tid": threading.get_native_id() if hasattr(threading, "get_native_id") else None,
            "tasks": tasks, "deadlock": sorted(dead)}


def report(line, truth=None):
    if truth is not None:
        tmp = FIFO + ".json.tmp"
        with open(tmp, "w") as f:
            json.dump(truth, f)
        os.rename(tmp, FIFO + ".json")
    fd = os.open(FIFO, os.O_WRONLY)
    os.write(fd, (line + "\n").encode())
    os.close(fd)


def report_when_parked(ident, truth):
    """Say ready only once the main task sits in time.sleep (bounded wait)."""
    line = park_line("main")
    for _ in range(2000):
        f = sys._current_frames().get(ident)
        if f is not None and f.f_code.co_name == "main" and f.f_lineno == line:
            report("ready", truth)
            return
        time.sleep(0.005)
    report("error: the main task never parked")


async def blocker():
    time.sleep(LIFETIME)  # PARK blocker


def report_when_blocked():
    """--eager: once the blocker task runs in time.sleep, take the truth from here."""
    line = park_line("blocker")
    for _ in range(2000):
        f = sys._current_frames().get(MAIN["ident"])
        if f is not None and f.f_code.co_name == "blocker" and f.f_lineno == line:
            report("ready", take_truth(None, asyncio.current_task(MAIN["loop"])))
            return
        time.sleep(0.005)
    report("error: the blocker task never ran")


async def eager_main(loop):
    """A task other than main runs: on 3.12+ an eager task (asyncio.eager_task_factory), which
    runs at once inside create_task() and sits in asyncio.tasks._eager_tasks; before, a task
    that the loop runs while main awaits."""
    TASKS["napper"] = loop.create_task(nap_outer(), name="napper")
    await asyncio.sleep(0)
    threading.Thread(target=report_when_blocked, daemon=True).start()
    if hasattr(asyncio, "eager_task_factory"):
        loop.set_task_factory(asyncio.eager_task_factory)
    TASKS["blocker"] = loop.create_task(blocker(), name="eager-blocker")
    await asyncio.sleep(LIFETIME)


async def main():
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    me.set_name("main")
    MAIN.update(loop=loop, tid=threading.get_native_id(), ident=threading.get_ident())
    if EAGER:
        return await eager_main(loop)
    made = []
    if PURE:  # every task but main a pure-Python asyncio.tasks._PyTask
        loop.set_task_factory(lambda loop, coro, **kw: asyncio.tasks._PyTask(coro, loop=loop, **kw))

    def spawn(coro, name):
        t = loop.create_task(coro, name=name)
        TASKS[name] = t
        made.append(t)
        return t

    if MANY:
        for i in range(MANY):
            spawn(nap_outer(), "many-%d" % i)
    elif DEADLOCK:
        spawn(deadlock_a(), "deadlock-a")
        spawn(deadlock_b(), "deadlock-b")
    else:
        event, queue = asyncio.Event(), asyncio.Queue()
        spawn(nap_outer(), "napper")
        spawn(wait_event(event), "event-waiter")
        spawn(get_item(queue), "queue-getter")
        children = [spawn(gather_child(1), "gather-child-1"), spawn(gather_child(2), "gather-child-2")]
        spawn(gather_parent(children), "gatherer")
        target = spawn(wait_event(event), "awaited")
        spawn(await_other(target), "awaiter")
        if not PURE:
            sub = SubTask(wait_event(event), loop=loop, name="subclassed")
            TASKS["subclassed"] = sub
            made.append(sub)
        # 3.11+; not with 3.14+'s pure-Python tasks: its TaskGroup asks the C current_task(),
        # which does not know them ("cannot determine the parent task")
        if hasattr(asyncio, "TaskGroup") and not (PURE and sys.version_info >= (3, 14)):
            spawn(group_parent(), "group-parent")
        TASKS["keep"] = (event, queue)
        threading.Thread(target=side_thread, name="side-loop", daemon=True).start()
    for _ in range(2000):  # bounded: until every task (TaskGroup children too) waits
        everyone = every_task()
        if SIDE["ready"].is_set():
            everyone |= every_task(SIDE["loop"])
        if (DEADLOCK or MANY or SIDE["ready"].is_set()) and all(
                t._fut_waiter is not None for t in everyone if t is not me):
            break
        await asyncio.sleep(0.005)
    else:
        raise RuntimeError("tasks did not park")
    truth = take_truth(me)
    main_ident = threading.get_ident()
    threading.Thread(target=report_when_parked, args=(main_ident, truth), daemon=True).start()
    time.sleep(LIFETIME)  # PARK main


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except BaseException as e:  # noqa: B902 (the test must hear about any failure)
        try:
            report("error: %r" % (e,))
        finally:
            sys.exit(3)
