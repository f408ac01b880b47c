"""Measure the asyncio layout of the running CPython (x86-64) and print it as one row of
analyze/python/asyncio_offsets_table.c.

The C `_asyncio.Task` struct (FutureObj_HEAD + TaskObj in Modules/_asynciomodule.c) and the
coroutine object's frame fields are not in any installed header, so instead of typing numbers
off the struct definitions this looks for known object addresses inside live objects with
ctypes: the task's loop, coroutine, name and awaited future; the coroutine's frame and the
awaited iterator on top of the frame's value stack; the byte that changes with the
coroutine's state. Each value is cross-checked against Modules/_asynciomodule.c and
Include/internal/pycore_frame.h of that version (see the comments in the table).

usage: PYTHON tools/gen-asyncio-offsets.py LOCALSPLUS STACKTOP
  LOCALSPLUS  _PyInterpreterFrame.localsplus of this version (3.11+; 0 before), from
              analyze/python/pyoffsets_table.c
  STACKTOP    _PyInterpreterFrame.stacktop (3.11-3.13) or stackpointer (3.14+), 0 before 3.11
"""

import asyncio
import ctypes
import sys

WORD = 8


def words(addr, n):
    raw = ctypes.string_at(addr, n * WORD)
    return [int.from_bytes(raw[i:i + WORD], "little") for i in range(0, len(raw), WORD)]


def find_word(addr, n, value, start=0):
    ws = words(addr, n)
    hits = [i * WORD for i, w in enumerate(ws) if w == value and i * WORD >= start]
    return hits


def one(hits, what):
    if len(hits) != 1:
        sys.exit("%s: expected one hit, found %r" % (what, hits))
    return hits[0]


def main():
    localsplus, stacktop = int(sys.argv[1]), int(sys.argv[2])
    out = {}
    loop = asyncio.new_event_loop()
    fut = loop.create_future()
    other = loop.create_future()

    async def waiter(marker):
        await fut

    marker = object()
    coro = waiter(marker)
    # 3.6/3.7: tasks have no name (3.8 added it).
    task = loop.create_task(coro, name="measured") if sys.version_info >= (3, 8) else loop.create_task(coro)
    loop.call_soon(loop.stop)
    loop.run_forever()  # one step: the task now waits on fut
    assert type(task).__module__ == "_asyncio", type(task)
    n = sys.getsizeof(task) // WORD
    out["task_loop"] = one(find_word(id(task), n, id(loop)), "loop")
    out["task_coro"] = one(find_word(id(task), n, id(coro)), "coro")
    if sys.version_info >= (3, 8):
        out["task_name"] = one(find_word(id(task), n, id(task.get_name())), "name")
    out["task_fut_waiter"] = one(find_word(id(task), n, id(fut)), "fut_waiter")
    # fut_state: the one int that goes 0 -> 2 (PENDING -> FINISHED) when a result is set.
    before = ctypes.string_at(id(other), sys.getsizeof(other))
    other.set_result(None)
    after = ctypes.string_at(id(other), sys.getsizeof(other))
    cand = [i for i in range(16, len(before) - 3, 4)
            if int.from_bytes(before[i:i + 4], "little") == 0
            and int.from_bytes(after[i:i + 4], "little") == 2]
    out["fut_state"] = one(cand, "fut_state")
    # FutureIter: PyObject_HEAD, then the future.
    it = coro.cr_await
    out["futureiter_future"] = one(find_word(id(it), 8, id(fut)), "FutureIter.future")

    cn = 64
    if sys.version_info >= (3, 11):
        # The frame lives inside the coroutine: its first local is MARKER.
        pos = one(find_word(id(coro), cn, id(marker)), "marker in gi_iframe")
        iframe = pos - localsplus
        out["gen_iframe"] = iframe
        top = one(find_word(id(coro), cn, id(it), start=pos), "awaited iterator")
        if sys.version_info >= (3, 14):
            # The awaited iterator is stackpointer[-yf_slots] (1 in 3.14; 3.15 keeps a
            # NULL above it).
            sp = words(id(coro) + iframe + stacktop, 1)[0]
            out["yf_slots"] = (sp - (id(coro) + top)) // WORD
        else:
            st = ctypes.c_int.from_address(id(coro) + iframe + stacktop).value
            assert st == (top - pos) // WORD + 1, (st, top, pos)
    else:
        fr = coro.cr_frame
        out["gen_frame"] = one(find_word(id(coro), 8, id(fr)), "gi_frame")
        fn = sys.getsizeof(fr) // WORD + 16
        top = one(find_word(id(fr), fn, id(it)), "awaited iterator in the frame")
        if sys.version_info >= (3, 10):
            vs = [i * WORD for i, w in enumerate(words(id(fr), 16))
                  if id(fr) < w <= id(fr) + top]
            out["frame_valuestack"] = one(vs, "f_valuestack")
            base = words(id(fr) + out["frame_valuestack"], 1)[0]
            depth = (id(fr) + top - base) // WORD + 1
            cand = [i for i in range(16, 128, 4)
                    if ctypes.c_int.from_address(id(fr) + i).value == depth
                    and i != out["frame_valuestack"] and i != out["frame_valuestack"] + 4]
            # f_stackdepth follows f_lasti, f_lineno... take the int after f_lineno.
            out["frame_stackdepth_candidates"] = cand
        else:
            st = [i * WORD for i, w in enumerate(words(id(fr), 16)) if w == id(fr) + top + WORD]
            out["frame_stacktop"] = one(st, "f_stacktop")

    # The coroutine's state byte: created, awaiting, running, done.
    seen = {}

    async def probe(m):
        seen["running"] = ctypes.string_at(id(seen["self"]), cn * WORD)
        await fut2

    fut2 = loop.create_future()
    c = probe(marker)
    seen["self"] = c
    seen["created"] = ctypes.string_at(id(c), cn * WORD)
    t2 = loop.create_task(c)
    loop.call_soon(loop.stop)
    loop.run_forever()
    seen["awaiting"] = ctypes.string_at(id(c), cn * WORD)
    fut2.set_result(None)
    keep = c
    loop.call_soon(loop.stop)
    loop.run_forever()
    seen["done"] = ctypes.string_at(id(keep), 16)  # only the header is certain now
    assert t2.done()
    states = ("created", "awaiting", "running")
    end = out.get("gen_iframe", 64 * WORD)
    cand = [i for i in range(16, end)
            if len(set(seen[s][i] for s in states)) == 3]
    out["gen_state_candidates"] = [(i, [ctypes.c_int8.from_buffer_copy(seen[s][i:i + 1]).value
                                        for s in states]) for i in cand]
    if sys.version_info >= (3, 14):
        # Task-likes that are not _asyncio.Task: the module state's non_asyncio_tasks WeakSet.
        import gc
        import weakref
        mod = sys.modules["_asyncio"]
        get_state = ctypes.pythonapi.PyModule_GetState
        get_state.restype, get_state.argtypes = ctypes.c_void_p, [ctypes.py_object]
        state = get_state(mod)
        out["module_md_state"] = one(find_word(id(mod), 8, state), "md_state")
        ws = [o for o in gc.get_referents(mod) if isinstance(o, weakref.WeakSet)]
        out["state_py_tasks"] = one(find_word(state, 64, id(one(ws, "WeakSet"))), "non_asyncio_tasks")
    print(sys.version.split()[0], out)
    loop.close()


main()
