/* asyncio tasks as the walk finds them: every task an interpreter's asyncio registries know
 * (asyncio.tasks._all_tasks before 3.12; _scheduled_tasks and _eager_tasks in 3.12-3.13; the
 * per-thread task lists of 3.14+), the chain of coroutines each one is suspended in, what it
 * awaits, and which tasks wait for which (a cycle there is a deadlock).
 *
 * Found by ps_walk() (the task walk is part of the walk, so a capture records what analysis
 * needs); owned by the interpreter's model and freed by ps_model_free(). */
#ifndef PYSNAP_TASKS_H
#define PYSNAP_TASKS_H

#include <stddef.h>
#include <stdint.h>

struct ps_frame;
struct ps_request;

enum ps_task_state {
    PS_TASK_UNKNOWN = 0,
    PS_TASK_PENDING,
    PS_TASK_CANCELLED,
    PS_TASK_FINISHED,
};

enum ps_task_kind {
    PS_TASK_C = 1,      /* _asyncio.Task (the C accelerator) */
    PS_TASK_PYTHON = 2, /* asyncio.tasks._PyTask or another pure-Python Task */
};

struct ps_task {
    uint64_t addr;            /* the Task object */
    uint64_t loop;            /* its event loop object, 0 when unknown */
    uint32_t tid;             /* kernel tid of the thread running that loop, 0 unknown */
    char *name;               /* task.get_name() */
    char *type;               /* tp_name of the task object */
    uint8_t kind;             /* enum ps_task_kind */
    uint8_t state;            /* enum ps_task_state */
    uint8_t running;          /* the loop's current task (asyncio.current_task()) */
    uint8_t chain_truncated;  /* the coroutine chain hit its depth limit */
    uint8_t chain_cycle;      /* the chain came back to an object it had passed */
    uint8_t deadlock;         /* part of a cycle of tasks waiting for each other */
    int walk_status;          /* PS_OK, or why reading this task stopped early */
    /* The coroutine chain: the task's coroutine first, then what it awaits (cr_await), down
     * to the innermost coroutine. Python frames with function, file, line and locals. */
    struct ps_frame *frames;
    size_t nframes, frames_cap;
    /* What the innermost coroutine waits on: the task's _fut_waiter, else the awaited object
     * at the end of the chain. 0 when nothing (e.g. a running or finished task). */
    uint64_t awaited;
    char *awaited_type;
    /* Indexes (into the interpreter's tasks) of the tasks this one waits for: the task it
     * awaits, or the children of the gather() it awaits. */
    size_t *waits_for;
    size_t nwaits_for;
    uint64_t taskgroup;       /* the TaskGroup whose __aexit__ the chain waits in, or 0 */
    struct ps_request *request; /* the HTTP request (ASGI scope) it serves, or NULL */
};

/* Release one task's allocations (not the struct itself). */
void ps_task_free(struct ps_task *t);
const char *ps_task_state_name(int state);

#endif
