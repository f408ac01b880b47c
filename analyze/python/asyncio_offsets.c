/* Per-version asyncio layouts (see asyncio_offsets.h). Measured with
 * tools/gen-asyncio-offsets.py on 3.7.16, 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1, 3.13.0 (pyenv),
 * Debian's 3.11.2, and Debian sid's 3.14.10 and 3.15.2, and checked against each version's
 * FutureObj_HEAD/TaskObj (Modules/_asynciomodule.c): 3.9 added fut_cancel_msg, 3.10
 * fut_cancelled_exc_state, 3.11 fut_cancelled_exc, 3.13 moved fields around, 3.14 added
 * fut_awaited_by and task_node. The 3.14/3.15 thread and interpreter fields are the values
 * of their _Py_AsyncioModuleDebugOffsets (the .AsyncioDebug section of _asyncio); where the
 * module state keeps non_asyncio_tasks was measured through gc.get_referents(_asyncio). */
#include <stddef.h>

#include "asyncio_offsets.h"

#define NONE PS_OFF_NONE

static const struct ps_asyncio_offsets tables[] = {
    /* 3.6 (measured on 3.6.15): fields 16 bytes earlier than 3.7's, whose FutureObj_HEAD
     * added fut_callback0 and fut_context0; no task name; C tasks registered in the static
     * WeakSet all_tasks of the _asyncio extension, whose address capture finds in that file
     * (a root). */
    {.major = 3, .minor = 6, .registry = PS_TASKREG_STATIC_WEAKSET,
     .yf_model = PS_YF_FRAME_STACKTOP,
     .fut_loop = 16, .fut_state = 56, .task_fut_waiter = 88, .task_coro = 96,
     .task_name = NONE, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = 16, .gen_iframe = NONE, .gen_state = NONE, .state_awaiting = 0,
     .state_running = 0, .frame_stack = 72, .frame_valuestack = 64, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    /* 3.7: 3.8's layout without task_name (names came with 3.8), measured on 3.7.16. */
    {.major = 3, .minor = 7, .registry = PS_TASKREG_ALL_TASKS, .yf_model = PS_YF_FRAME_STACKTOP,
     .fut_loop = 16, .fut_state = 72, .task_fut_waiter = 104, .task_coro = 112,
     .task_name = NONE, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = 16, .gen_iframe = NONE, .gen_state = NONE, .state_awaiting = 0,
     .state_running = 0, .frame_stack = 72, .frame_valuestack = 64, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    {.major = 3, .minor = 8, .registry = PS_TASKREG_ALL_TASKS, .yf_model = PS_YF_FRAME_STACKTOP,
     .fut_loop = 16, .fut_state = 72, .task_fut_waiter = 104, .task_coro = 112,
     .task_name = 120, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = 16, .gen_iframe = NONE, .gen_state = NONE, .state_awaiting = 0,
     .state_running = 0, .frame_stack = 72, .frame_valuestack = 64, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    {.major = 3, .minor = 9, .registry = PS_TASKREG_ALL_TASKS, .yf_model = PS_YF_FRAME_STACKTOP,
     .fut_loop = 16, .fut_state = 80, .task_fut_waiter = 144, .task_coro = 152,
     .task_name = 160, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = 16, .gen_iframe = NONE, .gen_state = NONE, .state_awaiting = 0,
     .state_running = 0, .frame_stack = 72, .frame_valuestack = 64, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    /* 3.10: f_state (int8) at 108 of the frame object: FRAME_SUSPENDED -1, EXECUTING 0. */
    {.major = 3, .minor = 10, .registry = PS_TASKREG_ALL_TASKS, .yf_model = PS_YF_FRAME_DEPTH,
     .fut_loop = 16, .fut_state = 88, .task_fut_waiter = 152, .task_coro = 160,
     .task_name = 168, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = 16, .gen_iframe = NONE, .gen_state = 108, .state_awaiting = -1,
     .state_running = 0, .frame_stack = NONE, .frame_valuestack = 64, .frame_stackdepth = 80, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    /* 3.11/3.12: gi_frame_state FRAME_SUSPENDED -1 (also at a bare yield), EXECUTING 0. */
    {.major = 3, .minor = 11, .registry = PS_TASKREG_ALL_TASKS, .yf_model = PS_YF_IFRAME_INDEX,
     .fut_loop = 16, .fut_state = 88, .task_fut_waiter = 128, .task_coro = 136,
     .task_name = 144, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = NONE, .gen_iframe = 80, .gen_state = 75, .state_awaiting = -1,
     .state_running = 0, .frame_stack = 64, .frame_valuestack = NONE, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    {.major = 3, .minor = 12, .registry = PS_TASKREG_SCHEDULED, .yf_model = PS_YF_IFRAME_INDEX,
     .fut_loop = 16, .fut_state = 88, .task_fut_waiter = 128, .task_coro = 136,
     .task_name = 144, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = NONE, .gen_iframe = 72, .gen_state = 67, .state_awaiting = -1,
     .state_running = 0, .frame_stack = 64, .frame_valuestack = NONE, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    /* 3.13t (free-threaded, measured on 3.13.5t): 3.13's fields 16 bytes further (the object
     * header has ob_tid, ob_mutex, ob_gc_bits, ob_ref_local and ob_ref_shared), the same
     * interpreter frame inside the coroutine. */
    {.major = 3, .minor = 13, .free_threaded = 1, .registry = PS_TASKREG_SCHEDULED,
     .yf_model = PS_YF_IFRAME_INDEX,
     .fut_loop = 32, .fut_state = 112, .task_fut_waiter = 128, .task_coro = 136,
     .task_name = 144, .task_node = NONE, .futureiter_future = 32, .weakref_object = 32,
     .gen_frame = NONE, .gen_iframe = 88, .gen_state = 83, .state_awaiting = -1,
     .state_running = 0, .frame_stack = 64, .frame_valuestack = NONE, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    /* 3.13/3.14: FRAME_SUSPENDED_YIELD_FROM -1, EXECUTING 0. */
    {.major = 3, .minor = 13, .registry = PS_TASKREG_SCHEDULED, .yf_model = PS_YF_IFRAME_INDEX,
     .fut_loop = 16, .fut_state = 96, .task_fut_waiter = 112, .task_coro = 120,
     .task_name = 128, .task_node = NONE, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = NONE, .gen_iframe = 72, .gen_state = 67, .state_awaiting = -1,
     .state_running = 0, .frame_stack = 64, .frame_valuestack = NONE, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = NONE, .tstate_running_task = NONE, .tstate_tasks_head = NONE,
     .interp_tasks_head = NONE, .module_md_state = NONE, .state_py_tasks = NONE},
    {.major = 3, .minor = 14, .registry = PS_TASKREG_LLIST, .yf_model = PS_YF_IFRAME_POINTER,
     .fut_loop = 16, .fut_state = 104, .task_fut_waiter = 120, .task_coro = 128,
     .task_name = 136, .task_node = 152, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = NONE, .gen_iframe = 72, .gen_state = 67, .state_awaiting = -1,
     .state_running = 0, .frame_stack = 64, .frame_valuestack = NONE, .frame_stackdepth = NONE, .yf_slots = 1,
     .tstate_running_loop = 864, .tstate_running_task = 872, .tstate_tasks_head = 880,
     .interp_tasks_head = 10880, .module_md_state = 32, .state_py_tasks = 48},
    /* 3.15: the states were renumbered (CREATED 0, SUSPENDED_YIELD_FROM 2, EXECUTING 4) and
     * a NULL stack ref sits above the awaited object. */
    {.major = 3, .minor = 15, .registry = PS_TASKREG_LLIST, .yf_model = PS_YF_IFRAME_POINTER,
     .fut_loop = 16, .fut_state = 104, .task_fut_waiter = 120, .task_coro = 128,
     .task_name = 136, .task_node = 152, .futureiter_future = 16, .weakref_object = 16,
     .gen_frame = NONE, .gen_iframe = 72, .gen_state = 67, .state_awaiting = 2,
     .state_running = 4, .frame_stack = 64, .frame_valuestack = NONE, .frame_stackdepth = NONE, .yf_slots = 2,
     .tstate_running_loop = 1024, .tstate_running_task = 1032, .tstate_tasks_head = 1048,
     .interp_tasks_head = 10856, .module_md_state = 24, .state_py_tasks = 48},
};

const struct ps_asyncio_offsets *ps_asyncio_offsets(int major, int minor, int free_threaded)
{
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (tables[i].major == major && tables[i].minor == minor &&
            tables[i].free_threaded == !!free_threaded)
            return &tables[i];
    return NULL;
}
