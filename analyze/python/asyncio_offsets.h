/* What the task walk knows of one CPython version's asyncio and coroutine layout (x86-64).
 *
 * The C Task (FutureObj_HEAD + TaskObj in Modules/_asynciomodule.c) and the coroutine's
 * frame fields are in no installed header: the table (asyncio_offsets.c) was measured on each
 * interpreter by tools/gen-asyncio-offsets.py and checked against those struct definitions.
 * The walk validates what it reads (type names, pointers) before trusting it. */
#ifndef PYSNAP_ASYNCIO_OFFSETS_H
#define PYSNAP_ASYNCIO_OFFSETS_H

#include <stdint.h>

#include "pysnap/pyoffsets.h"

/* Where the tasks are registered. */
enum ps_task_registry {
    PS_TASKREG_ALL_TASKS = 1, /* 3.7-3.11: asyncio.tasks._all_tasks (WeakSet) */
    PS_TASKREG_SCHEDULED = 2, /* 3.12-3.13: _scheduled_tasks (WeakSet) + _eager_tasks (set) */
    PS_TASKREG_LLIST = 3,     /* 3.14+: C tasks on per-thread lists (tstate, interp) */
    PS_TASKREG_STATIC_WEAKSET = 4, /* 3.6: the _asyncio extension's static all_tasks WeakSet
                                      (PS_ROOT_ASYNCIO_TASKS) */
};

/* How a suspended coroutine's awaited object (what _PyGen_yf returns) is found. */
enum ps_yf_model {
    PS_YF_FRAME_STACKTOP = 1, /* 3.7-3.9: frame object's f_stacktop[-1] */
    PS_YF_FRAME_DEPTH = 2,    /* 3.10: f_valuestack[f_stackdepth - 1] */
    PS_YF_IFRAME_INDEX = 3,   /* 3.11-3.13: localsplus[stacktop - yf_slots] */
    PS_YF_IFRAME_POINTER = 4, /* 3.14+: stackpointer[-yf_slots], tagged stack refs */
};

struct ps_asyncio_offsets {
    uint8_t major, minor;
    uint8_t registry;          /* enum ps_task_registry */
    uint8_t yf_model;          /* enum ps_yf_model */
    uint8_t free_threaded;     /* the table of a free-threaded build (3.13t) */
    ps_off fut_loop, fut_state; /* FutureObj: fut_loop, fut_state (int enum) */
    ps_off task_fut_waiter, task_coro, task_name;
    ps_off task_node;          /* 3.14+: struct llist_node task_node */
    ps_off futureiter_future;  /* _asyncio.FutureIter: the future it iterates */
    ps_off weakref_object;     /* PyWeakReference.wr_object */
    ps_off gen_frame;          /* 3.8-3.10: gi_frame (PyFrameObject *) */
    ps_off gen_iframe;         /* 3.11+: the _PyInterpreterFrame inside the coroutine */
    ps_off gen_state;          /* int8 frame state: 3.11+ in the coroutine, 3.10 in the frame
                                  object (f_state); PS_OFF_NONE in 3.8-3.9 */
    int8_t state_awaiting;     /* its value while suspended in an await */
    int8_t state_running;      /* its value while executing */
    ps_off frame_stack;        /* 3.8-3.9 f_stacktop; 3.11-3.13 the iframe's int stacktop;
                                  3.14+ its stackpointer; PS_OFF_NONE in 3.10 */
    ps_off frame_valuestack;   /* 3.8-3.10: f_valuestack (bottom of the value stack) */
    ps_off frame_stackdepth;   /* 3.10: int f_stackdepth */
    int32_t yf_slots;          /* the awaited object is this many slots below the top */
    /* 3.14+ (the interpreter's _Py_AsyncioModuleDebugOffsets, section .AsyncioDebug) */
    ps_off tstate_running_loop, tstate_running_task, tstate_tasks_head;
    ps_off interp_tasks_head;
    /* 3.14+: pure-Python tasks are kept in the _asyncio module's state (non_asyncio_tasks, a
     * WeakSet): PyModuleObject.md_state, and the WeakSet's place in that state */
    ps_off module_md_state, state_py_tasks;
};

/* The table for MAJOR.MINOR (its free-threaded build when FREE_THREADED), or NULL when the
 * task walk does not know that version. */
const struct ps_asyncio_offsets *ps_asyncio_offsets(int major, int minor, int free_threaded);

#endif
