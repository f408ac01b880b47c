/* The task walk: every asyncio task the interpreter's own registries know (never a heap
 * scan), each one's coroutine chain down cr_await, what it waits on, which tasks wait for
 * which, and cycles among them (deadlocks). It runs inside ps_walk(), over the same memory
 * source, so a capture records exactly what its analysis reads. Every loop is bounded and
 * every object is checked (type name, sane pointers) before its fields are trusted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncio_offsets.h"
#include "pysnap/error.h"
#include "pysnap/model.h"
#include "pysnap/tasks.h"
#include "walker_internal.h"

#define MAX_TASKS 4096        /* tasks kept per interpreter */
#define MAX_CHAIN 64          /* coroutines followed down one await chain */
#define MAX_SET_SLOTS (1u << 26) /* slots of a set table */
#define SET_CHUNK 512             /* set entries read at once */
#define MAX_CHILDREN 1024     /* items of a gather's _children looked at */
#define MAX_STACK_SLOTS (1 << 16)

struct tasks_walk {
    struct ps_walker *w;
    const struct ps_asyncio_offsets *ao;
    struct ps_interp *in;
    struct ps_u64map seen; /* task address -> index + 1 */
    struct ps_u64map loops; /* loop address -> tid + 1 */
    struct ps_task *cur;    /* the task whose TaskGroup children link_waits collects */
    struct ps_request_find *req; /* the request finder of the chain being walked */
    int status;
};

static void note(struct tasks_walk *k, int rc)
{
    if (rc && rc != PS_NOMEM && !k->status)
        k->status = rc;
}

const char *ps_task_state_name(int state)
{
    switch (state) {
    case PS_TASK_PENDING: return "pending";
    case PS_TASK_CANCELLED: return "cancelled";
    case PS_TASK_FINISHED: return "finished";
    default: return "unknown";
    }
}

static void frame_free(struct ps_frame *f)
{
    free(f->function);
    free(f->qualname);
    free(f->file);
    for (size_t l = 0; l < f->nlocals; l++)
        ps_value_free(&f->locals[l]);
    free(f->locals);
}

void ps_task_free(struct ps_task *t)
{
    for (size_t i = 0; i < t->nframes; i++)
        frame_free(&t->frames[i]);
    free(t->frames);
    free(t->name);
    free(t->type);
    free(t->awaited_type);
    free(t->waits_for);
    ps_request_free(t->request);
}

static struct ps_frame *task_add_frame(struct ps_task *t)
{
    if (t->nframes == t->frames_cap) {
        size_t cap = t->frames_cap ? t->frames_cap * 2 : 4;
        struct ps_frame *p = realloc(t->frames, cap * sizeof *p);
        if (!p)
            return NULL;
        t->frames = p;
        t->frames_cap = cap;
    }
    struct ps_frame *f = &t->frames[t->nframes++];
    memset(f, 0, sizeof *f);
    f->line = -1;
    return f;
}

/* A module's __dict__ from sys.modules, or 0. */
static int module_dict(struct ps_walker *w, uint64_t interp, const char *name, uint64_t *md)
{
    uint64_t modules, mod;
    int rc;
    *md = 0;
    if ((rc = ps_w_field_u64(w, interp, w->off.interp.modules, &modules)) || !modules)
        return rc;
    if ((rc = ps_py_dict_get(w, modules, name, &mod)) || !mod)
        return rc;
    /* PyModuleObject: the header, then md_dict. */
    return w_u64(w, mod + (uint64_t)w->off.object.ob_type + 8, md);
}

static int add_task(struct tasks_walk *k, uint64_t addr, uint32_t tid)
{
    struct ps_interp *in = k->in;
    if (!addr || (addr & 7) || ps_u64map_get(&k->seen, addr))
        return PS_OK;
    if (in->ntasks >= MAX_TASKS) {
        note(k, PS_LIMIT);
        return PS_OK;
    }
    if (in->ntasks == in->tasks_cap) {
        size_t cap = in->tasks_cap ? in->tasks_cap * 2 : 16;
        struct ps_task *p = realloc(in->tasks, cap * sizeof *p);
        if (!p)
            return PS_NOMEM;
        in->tasks = p;
        in->tasks_cap = cap;
    }
    struct ps_task *t = &in->tasks[in->ntasks++];
    memset(t, 0, sizeof *t);
    t->addr = addr;
    t->tid = tid;
    return ps_u64map_put(&k->seen, addr, (void *)(uintptr_t)in->ntasks);
}

/* Every key of a set object (entries are {key, hash}); dummies and NULLs are skipped by the
 * callers' validation. CB returns PS_NOMEM to stop. */
typedef int (*key_cb)(struct tasks_walk *k, uint64_t key);

static int set_foreach(struct tasks_walk *k, uint64_t set, key_cb cb, int collecting)
{
    struct ps_walker *w = k->w;
    uint64_t mask, table, ents[2 * SET_CHUNK];
    int rc;
    if (!ps_py_is(w, set, "set"))
        return PS_CORRUPT;
    if ((rc = ps_w_field_u64(w, set, w->off.more.set_mask, &mask)) ||
        (rc = ps_w_field_u64(w, set, w->off.more.set_table, &table)))
        return rc;
    if (mask >= MAX_SET_SLOTS || ((mask + 1) & mask))
        return PS_LIMIT;
    /* In chunks, and when COLLECTING tasks no further than the task limit: a server's set of
     * a million tasks must not make the capture read all of its table. */
    for (uint64_t base = 0; base <= mask; base += SET_CHUNK) {
        if ((collecting && k->in->ntasks >= MAX_TASKS) || (!collecting && base >= MAX_CHILDREN * 4))
            return PS_LIMIT;
        uint64_t n = mask + 1 - base < SET_CHUNK ? mask + 1 - base : SET_CHUNK;
        if ((rc = ps_mem_read(w->mem, table + base * 16, ents, n * 16)))
            return rc;
        for (uint64_t i = 0; i < n; i++)
            if (ents[2 * i] && (rc = cb(k, ents[2 * i])) == PS_NOMEM)
                return rc;
    }
    return PS_OK;
}

static int task_key(struct tasks_walk *k, uint64_t key)
{
    return add_task(k, key, 0);
}

/* A WeakSet keeps weak references in its `data` set; a dead one points to None. */
static int weakref_key(struct tasks_walk *k, uint64_t ref)
{
    uint64_t obj;
    if (w_u64(k->w, ref + (uint64_t)k->ao->weakref_object, &obj) || !obj)
        return PS_OK;
    return add_task(k, obj, 0);
}

/* The tasks of a WeakSet: the live referents of the weak references in its `data` set. */
static int weakset_tasks(struct tasks_walk *k, uint64_t ws)
{
    uint64_t data;
    int rc;
    if ((rc = ps_py_getattr(k->w, ws, "data", &data)) || !data)
        return rc ? rc : PS_CORRUPT;
    return set_foreach(k, data, weakref_key, 1);
}

static int collect_weakset(struct tasks_walk *k, uint64_t md, const char *name)
{
    uint64_t ws;
    int rc;
    if ((rc = ps_py_dict_get(k->w, md, name, &ws)) || !ws)
        return rc;
    return weakset_tasks(k, ws);
}

/* 3.6: the WeakSet is the static all_tasks of the _asyncio extension (a captured root). */
static int collect_static_weakset(struct tasks_walk *k)
{
    uint64_t at = k->w->roots[PS_ROOT_ASYNCIO_TASKS], ws;
    int rc;
    if (!at)
        return PS_UNSUPPORTED; /* the extension's symbol was not found at capture */
    if ((rc = w_u64(k->w, at, &ws)) || !ws)
        return rc;
    if (!ps_py_is(k->w, ws, "WeakSet"))
        return PS_CORRUPT;
    return weakset_tasks(k, ws);
}

/* 3.14+: a circular list of struct llist_node {next, prev} through each task's task_node,
 * headed in the thread state (or, for tasks of threads gone, the interpreter). */
static int collect_llist(struct tasks_walk *k, uint64_t head, uint32_t tid)
{
    uint64_t node;
    int rc;
    if ((rc = w_u64(k->w, head, &node)))
        return rc;
    for (unsigned n = 0; node && node != head; n++) {
        if (n >= MAX_TASKS)
            return PS_LIMIT;
        uint64_t task = node - (uint64_t)k->ao->task_node, coro;
        /* An _asyncio.Task, or a subclass of it (whose coroutine field holds a coroutine). */
        if (!ps_py_is(k->w, task, "_asyncio.Task") &&
            (ps_w_field_u64(k->w, task, k->ao->task_coro, &coro) ||
             !ps_py_is(k->w, coro, "coroutine")))
            return PS_CORRUPT;
        if ((rc = add_task(k, task, tid)))
            return rc;
        if ((rc = w_u64(k->w, node, &node)))
            return rc;
    }
    return PS_OK;
}

static int is_none(struct ps_walker *w, uint64_t obj)
{
    return !obj || ps_py_is(w, obj, "NoneType");
}

static int read_name(struct tasks_walk *k, uint64_t obj, struct ps_task *t)
{
    struct ps_walker *w = k->w;
    uint64_t n;
    if (!obj)
        return PS_OK;
    if (ps_py_is(w, obj, "str"))
        return ps_py_str(w, obj, w->lim.max_name, &t->name, NULL);
    /* 3.13+ C tasks name themselves lazily: a counter until get_name() is called. */
    if (ps_py_is(w, obj, "int") && ps_py_long_u64(w, obj, &n) == PS_OK) {
        char buf[32];
        snprintf(buf, sizeof buf, "Task-%llu", (unsigned long long)n);
        return (t->name = strdup(buf)) ? PS_OK : PS_NOMEM;
    }
    return PS_OK;
}

/* The fields every task has, from the C struct or the pure-Python instance's __dict__. */
struct task_fields {
    uint64_t loop, coro, waiter, name;
};

static int read_c_task(struct tasks_walk *k, struct ps_task *t, struct task_fields *f)
{
    const struct ps_asyncio_offsets *ao = k->ao;
    int32_t state;
    int rc;
    if ((rc = ps_w_field_u64(k->w, t->addr, ao->fut_loop, &f->loop)) ||
        (rc = ps_w_field_i32(k->w, t->addr, ao->fut_state, &state)) ||
        (rc = ps_w_field_u64(k->w, t->addr, ao->task_coro, &f->coro)) ||
        (rc = ps_w_field_u64(k->w, t->addr, ao->task_fut_waiter, &f->waiter)) ||
        (ao->task_name != PS_OFF_NONE &&
         (rc = ps_w_field_u64(k->w, t->addr, ao->task_name, &f->name))))
        return rc; /* 3.7 tasks have no name: f->name stays 0 */
    if (state < 0 || state > 2)
        return PS_CORRUPT;
    t->state = (uint8_t)(PS_TASK_PENDING + state);
    t->kind = PS_TASK_C;
    return PS_OK;
}

static int read_py_task(struct tasks_walk *k, struct ps_task *t, struct task_fields *f)
{
    static const char *const states[] = {"PENDING", "CANCELLED", "FINISHED"};
    struct ps_walker *w = k->w;
    uint64_t state;
    int rc;
    if ((rc = ps_py_getattr(w, t->addr, "_loop", &f->loop)) ||
        (rc = ps_py_getattr(w, t->addr, "_state", &state)) ||
        (rc = ps_py_getattr(w, t->addr, "_fut_waiter", &f->waiter)) ||
        (rc = ps_py_getattr(w, t->addr, "_name", &f->name)))
        return rc;
    /* futures.Future has `_state = _PENDING` as a class attribute: an instance without its
     * own _state is pending. */
    if (!state)
        t->state = PS_TASK_PENDING;
    for (int i = 0; i < 3 && state; i++) {
        int eq = 0;
        if (ps_py_str_eq(w, state, states[i], &eq) == PS_OK && eq)
            t->state = (uint8_t)(PS_TASK_PENDING + i);
    }
    t->kind = PS_TASK_PYTHON;
    return PS_OK;
}

/* What a suspended coroutine awaits (_PyGen_yf), or 0; *RUNNING when it executes. Fills F
 * from its frame; *NOFRAME when it has none (finished). */
static int coro_step(struct tasks_walk *k, uint64_t coro, struct ps_frame *f, uint64_t *next,
                     int *running, int *noframe)
{
    struct ps_walker *w = k->w;
    const struct ps_asyncio_offsets *ao = k->ao;
    const struct ps_pyoffsets *o = &w->off;
    uint64_t frame, top = 0;
    int8_t state = 0;
    int rc;
    *next = 0;
    *running = *noframe = 0;
    if (ao->gen_iframe != PS_OFF_NONE) { /* 3.11+: the frame lives in the coroutine */
        frame = coro + (uint64_t)ao->gen_iframe;
        if ((rc = ps_mem_read(w->mem, coro + (uint64_t)ao->gen_state, &state, 1)) ||
            (rc = ps_w_fill_iframe(w, frame, f)) ||
            (rc = ps_request_frame(w, k->req, frame, 0, f)))
            return rc;
        *running = state == ao->state_running;
        if (state != ao->state_awaiting)
            return PS_OK;
        if (ao->yf_model == PS_YF_IFRAME_INDEX) {
            int32_t stacktop;
            if ((rc = ps_w_field_i32(w, frame, ao->frame_stack, &stacktop)))
                return rc;
            int32_t slot = stacktop - ao->yf_slots;
            if (slot < 0 || slot >= MAX_STACK_SLOTS)
                return PS_CORRUPT;
            rc = w_u64(w, frame + (uint64_t)o->iframe.localsplus + (uint64_t)slot * 8, &top);
        } else {
            uint64_t sp, base = frame + (uint64_t)o->iframe.localsplus;
            if ((rc = ps_w_field_u64(w, frame, ao->frame_stack, &sp)))
                return rc;
            if (sp < base + (uint64_t)ao->yf_slots * 8 || sp - base > MAX_STACK_SLOTS * 8ull)
                return PS_CORRUPT;
            rc = w_u64(w, sp - (uint64_t)ao->yf_slots * 8, &top);
            top &= ~(uint64_t)(uint32_t)o->iframe.stackref_mask;
        }
    } else { /* 3.8-3.10: a frame object, NULL once the coroutine finished */
        if ((rc = ps_w_field_u64(w, coro, ao->gen_frame, &frame)))
            return rc;
        if (!frame) {
            *noframe = 1;
            return PS_OK;
        }
        if ((rc = ps_w_fill_frameobj(w, frame, f)) ||
            (rc = ps_request_frame(w, k->req, frame, 1, f)))
            return rc;
        uint64_t base, stacktop;
        if ((rc = ps_w_field_u64(w, frame, ao->frame_valuestack, &base)))
            return rc;
        if (ao->yf_model == PS_YF_FRAME_STACKTOP) {
            /* f_stacktop is NULL while the frame executes. */
            if ((rc = ps_w_field_u64(w, frame, ao->frame_stack, &stacktop)))
                return rc;
            *running = stacktop == 0;
            if (stacktop <= base)
                return PS_OK;
        } else {
            int32_t depth;
            if ((rc = ps_mem_read(w->mem, frame + (uint64_t)ao->gen_state, &state, 1)) ||
                (rc = ps_w_field_i32(w, frame, ao->frame_stackdepth, &depth)))
                return rc;
            *running = state == ao->state_running;
            if (state != ao->state_awaiting || depth <= 0)
                return PS_OK;
            if (depth > MAX_STACK_SLOTS)
                return PS_CORRUPT;
            stacktop = base + (uint64_t)depth * 8;
        }
        if (stacktop - base > MAX_STACK_SLOTS * 8ull)
            return PS_CORRUPT;
        rc = w_u64(w, stacktop - 8, &top);
    }
    if (rc)
        return rc;
    *next = (top & 7) ? 0 : top;
    return PS_OK;
}

/* A task at the end of `async with TaskGroup()` waits in TaskGroup.__aexit__ (3.13+: in
 * _aexit): its first local, self, is the group, whose _tasks are the children it waits for. */
static void note_taskgroup(struct tasks_walk *k, struct ps_task *t, uint64_t coro,
                           const struct ps_frame *f)
{
    struct ps_walker *w = k->w;
    uint64_t self;
    if (t->taskgroup || k->ao->gen_iframe == PS_OFF_NONE || !f->function ||
        (strcmp(f->function, "__aexit__") != 0 && strcmp(f->function, "_aexit") != 0))
        return;
    if (w_u64(w, coro + (uint64_t)k->ao->gen_iframe + (uint64_t)w->off.iframe.localsplus, &self))
        return;
    self &= ~(uint64_t)(uint32_t)w->off.iframe.stackref_mask;
    if (ps_py_is(w, self, "TaskGroup"))
        t->taskgroup = self;
}

/* Follow the task's coroutine down cr_await; *TERMINAL is what the innermost coroutine
 * awaits (a _asyncio.FutureIter is replaced by its future), 0 when nothing. */
static int chain_frames(struct tasks_walk *k, struct ps_task *t, uint64_t coro,
                        uint64_t *terminal);

/* The chain, and the request its frames serve (an ASGI scope). */
static int walk_chain(struct tasks_walk *k, struct ps_task *t, uint64_t coro, uint64_t *terminal)
{
    struct ps_request_find rf = {NULL, 1};
    k->req = &rf;
    int rc = chain_frames(k, t, coro, terminal);
    k->req = NULL;
    t->request = rf.found;
    return rc;
}

static int chain_frames(struct tasks_walk *k, struct ps_task *t, uint64_t coro, uint64_t *terminal)
{
    struct ps_walker *w = k->w;
    uint64_t visited[MAX_CHAIN];
    uint64_t obj = coro;
    int rc = PS_OK;
    *terminal = 0;
    for (unsigned depth = 0; obj; depth++) {
        if (depth >= MAX_CHAIN) {
            t->chain_truncated = 1;
            return PS_OK;
        }
        for (unsigned i = 0; i < depth; i++)
            if (visited[i] == obj) {
                t->chain_cycle = 1;
                return PS_OK;
            }
        visited[depth] = obj;
        if (!ps_py_is(w, obj, "coroutine")) {
            if (ps_py_is(w, obj, "_asyncio.FutureIter") &&
                (rc = ps_w_field_u64(w, obj, k->ao->futureiter_future, &obj)))
                return rc;
            *terminal = obj;
            return PS_OK;
        }
        struct ps_frame *f = task_add_frame(t);
        if (!f)
            return PS_NOMEM;
        uint64_t next;
        int running, noframe;
        rc = coro_step(k, obj, f, &next, &running, &noframe);
        if (noframe || (rc && !f->function)) {
            frame_free(f); /* no frame to show */
            t->nframes--;
        }
        if (rc)
            return rc;
        if (!noframe)
            note_taskgroup(k, t, obj, f);
        obj = next;
    }
    return PS_OK;
}

static int read_task(struct tasks_walk *k, struct ps_task *t)
{
    struct ps_walker *w = k->w;
    struct task_fields f = {0};
    const char *tn;
    uint64_t probe = 0;
    int rc;
    if ((rc = ps_py_typename(w, t->addr, &tn)))
        return rc;
    if (!(t->type = strdup(tn)))
        return PS_NOMEM;
    if (strcmp(tn, "_asyncio.Task") == 0)
        rc = read_c_task(k, t, &f);
    else if ((rc = ps_py_getattr(w, t->addr, "_coro", &probe)) == PS_OK && probe) {
        f.coro = probe;
        rc = read_py_task(k, t, &f);
    } else {
        /* A Python subclass of the C Task keeps the C layout: trust it only when its
         * coroutine field holds a coroutine. */
        rc = read_c_task(k, t, &f);
        if (!rc && !ps_py_is(w, f.coro, "coroutine"))
            rc = PS_CORRUPT;
    }
    if (rc)
        return rc;
    if ((rc = read_name(k, f.name, t)) == PS_NOMEM)
        return rc;
    t->loop = is_none(w, f.loop) ? 0 : f.loop;
    if (t->state != PS_TASK_PENDING || is_none(w, f.coro))
        return PS_OK; /* a done task awaits nothing */
    uint64_t terminal = 0;
    rc = walk_chain(k, t, f.coro, &terminal);
    t->awaited = !is_none(w, f.waiter) ? f.waiter : terminal;
    if (t->awaited) {
        const char *an;
        if (ps_py_typename(w, t->awaited, &an) == PS_OK) {
            if (!(t->awaited_type = strdup(an)))
                return PS_NOMEM;
        } else {
            t->awaited = 0;
        }
    }
    return rc;
}

static int add_wait(struct ps_task *t, size_t idx)
{
    for (size_t i = 0; i < t->nwaits_for; i++)
        if (t->waits_for[i] == idx)
            return PS_OK;
    size_t *p = realloc(t->waits_for, (t->nwaits_for + 1) * sizeof *p);
    if (!p)
        return PS_NOMEM;
    t->waits_for = p;
    t->waits_for[t->nwaits_for++] = idx;
    return PS_OK;
}

static int child_key(struct tasks_walk *k, uint64_t key)
{
    uintptr_t idx = (uintptr_t)ps_u64map_get(&k->seen, key);
    return idx ? add_wait(k->cur, idx - 1) : PS_OK;
}

/* Which tasks T waits for: the task it awaits, the children of the gather it awaits, or
 * those of the TaskGroup it waits in. */
static int link_waits(struct tasks_walk *k, struct ps_task *t)
{
    struct ps_walker *w = k->w;
    uintptr_t idx;
    uint64_t children, size, items[64];
    if (t->taskgroup) {
        uint64_t group_tasks;
        k->cur = t;
        if (ps_py_getattr(w, t->taskgroup, "_tasks", &group_tasks) == PS_OK && group_tasks &&
            set_foreach(k, group_tasks, child_key, 0) == PS_NOMEM)
            return PS_NOMEM;
    }
    if (!t->awaited)
        return PS_OK;
    if ((idx = (uintptr_t)ps_u64map_get(&k->seen, t->awaited)))
        return add_wait(t, idx - 1);
    if (ps_py_getattr(w, t->awaited, "_children", &children) || !children ||
        !ps_py_is(w, children, "list") ||
        ps_w_field_u64(w, children, w->off.object.ob_size, &size) || (int64_t)size < 0)
        return PS_OK;
    uint64_t list;
    if (ps_w_field_u64(w, children, w->off.list.ob_item, &list))
        return PS_OK;
    for (uint64_t i = 0; i < size && i < MAX_CHILDREN; i += 64) {
        size_t n = size - i < 64 ? (size_t)(size - i) : 64;
        if (ps_mem_read(w->mem, list + i * 8, items, n * 8))
            return PS_OK;
        for (size_t j = 0; j < n; j++)
            if ((idx = (uintptr_t)ps_u64map_get(&k->seen, items[j])) && add_wait(t, idx - 1))
                return PS_NOMEM;
    }
    return PS_OK;
}

/* Deadlock: a task that can reach itself through waits_for. Bounded: N searches of N. */
static int mark_deadlocks(struct ps_interp *in)
{
    size_t n = in->ntasks;
    size_t *stack = malloc((n + 1) * sizeof *stack);
    unsigned char *seen = malloc(n + 1);
    if (!stack || !seen) {
        free(stack);
        free(seen);
        return PS_NOMEM;
    }
    for (size_t s = 0; s < n; s++) {
        size_t top = 0;
        memset(seen, 0, n);
        stack[top++] = s;
        while (top && !in->tasks[s].deadlock) {
            const struct ps_task *t = &in->tasks[stack[--top]];
            for (size_t i = 0; i < t->nwaits_for; i++) {
                size_t d = t->waits_for[i];
                if (d == s) {
                    in->tasks[s].deadlock = 1;
                    break;
                }
                if (d < n && !seen[d]) {
                    seen[d] = 1;
                    stack[top++] = d;
                }
            }
        }
    }
    free(stack);
    free(seen);
    return PS_OK;
}

/* Thread of a loop: BaseEventLoop._thread_id is threading.get_ident() of the thread in
 * run_forever(), which is PyThreadState.thread_id. */
static uint32_t loop_tid(struct tasks_walk *k, uint64_t loop)
{
    uintptr_t cached = (uintptr_t)ps_u64map_get(&k->loops, loop);
    if (cached)
        return (uint32_t)(cached - 1);
    uint64_t tid_obj, ident;
    uint32_t tid = 0;
    if (ps_py_getattr(k->w, loop, "_thread_id", &tid_obj) == PS_OK && tid_obj &&
        ps_py_is(k->w, tid_obj, "int") && ps_py_long_u64(k->w, tid_obj, &ident) == PS_OK)
        for (size_t i = 0; i < k->in->nthreads; i++)
            if (k->in->threads[i].thread_id == ident)
                tid = k->in->threads[i].tid;
    if (ps_u64map_put(&k->loops, loop, (void *)(uintptr_t)(tid + 1)))
        return tid;
    return tid;
}

static int current_cb(void *arg, uint64_t loop, uint64_t task)
{
    struct tasks_walk *k = arg;
    (void)loop;
    uintptr_t idx = (uintptr_t)ps_u64map_get(&k->seen, task);
    if (idx)
        k->in->tasks[idx - 1].running = 1;
    return PS_OK;
}

/* 3.14+: tasks that are not _asyncio.Task (pure-Python ones) are not on the lists but in
 * the _asyncio module state's non_asyncio_tasks WeakSet. */
static int collect_module_state(struct tasks_walk *k, uint64_t interp)
{
    struct ps_walker *w = k->w;
    uint64_t modules, mod, state, ws, data;
    int rc;
    if (k->ao->module_md_state == PS_OFF_NONE)
        return PS_OK;
    if ((rc = ps_w_field_u64(w, interp, w->off.interp.modules, &modules)) || !modules ||
        (rc = ps_py_dict_get(w, modules, "_asyncio", &mod)) || !mod ||
        (rc = ps_w_field_u64(w, mod, k->ao->module_md_state, &state)) || !state ||
        (rc = ps_w_field_u64(w, state, k->ao->state_py_tasks, &ws)))
        return rc;
    if (!ps_py_is(w, ws, "WeakSet"))
        return PS_CORRUPT;
    if ((rc = ps_py_getattr(w, ws, "data", &data)) || !data)
        return rc ? rc : PS_CORRUPT;
    return set_foreach(k, data, weakref_key, 1);
}

static int collect(struct tasks_walk *k, uint64_t interp, uint64_t md)
{
    struct ps_walker *w = k->w;
    const struct ps_asyncio_offsets *ao = k->ao;
    uint64_t eager;
    int rc = PS_OK;
    switch (ao->registry) {
    case PS_TASKREG_ALL_TASKS:
        return collect_weakset(k, md, "_all_tasks");
    case PS_TASKREG_STATIC_WEAKSET:
        return collect_static_weakset(k);
    case PS_TASKREG_SCHEDULED:
        if ((rc = collect_weakset(k, md, "_scheduled_tasks")) == PS_NOMEM)
            return rc;
        note(k, rc);
        if ((rc = ps_py_dict_get(w, md, "_eager_tasks", &eager)) || !eager)
            return rc;
        return set_foreach(k, eager, task_key, 1);
    case PS_TASKREG_LLIST:
        for (size_t i = 0; i < k->in->nthreads; i++) {
            const struct ps_thread *t = &k->in->threads[i];
            if (!t->tstate)
                continue;
            if ((rc = collect_llist(k, t->tstate + (uint64_t)ao->tstate_tasks_head, t->tid)) ==
                PS_NOMEM)
                return rc;
            note(k, rc);
        }
        if ((rc = collect_llist(k, interp + (uint64_t)ao->interp_tasks_head, 0)) == PS_NOMEM)
            return rc;
        note(k, rc);
        /* Pure-Python tasks register themselves in asyncio.tasks' own sets (3.14's
         * _py_register_task), other Task-likes in the module state. */
        if ((rc = collect_weakset(k, md, "_scheduled_tasks")) == PS_NOMEM)
            return rc;
        note(k, rc);
        if ((rc = ps_py_dict_get(w, md, "_eager_tasks", &eager)) == PS_OK && eager &&
            (rc = set_foreach(k, eager, task_key, 1)) == PS_NOMEM)
            return rc;
        note(k, rc);
        return collect_module_state(k, interp);
    default:
        return PS_UNSUPPORTED;
    }
}

/* Which task each thread's loop runs now: the _current_tasks dict {loop: task} before
 * 3.14, the thread state's asyncio_running_task since. */
static int mark_running(struct tasks_walk *k, uint64_t md)
{
    const struct ps_asyncio_offsets *ao = k->ao;
    uint64_t current;
    int rc;
    if (ao->tstate_running_task == PS_OFF_NONE) {
        if ((rc = ps_py_dict_get(k->w, md, "_current_tasks", &current)) || !current)
            return rc;
        return ps_py_dict_foreach(k->w, current, current_cb, k);
    }
    for (size_t i = 0; i < k->in->nthreads; i++) {
        const struct ps_thread *t = &k->in->threads[i];
        uint64_t task;
        if (t->tstate && ps_w_field_u64(k->w, t->tstate, ao->tstate_running_task, &task) == PS_OK)
            current_cb(k, 0, task);
    }
    return PS_OK;
}

/* 3.14+: the interpreter's own _Py_AsyncioModuleDebugOffsets, where the capture found them
 * (.AsyncioDebug): 13 words, the task object's size, task_name, task_awaited_by, task_is_task,
 * task_awaited_by_is_set, task_coro, task_node; the interpreter state's size and tasks head;
 * the thread state's size, running loop, running task and tasks head. They replace the
 * table's values once every offset lies inside its structure. */
#define ADBG_WORDS 13

static int apply_asyncio_debug(struct ps_walker *w, struct ps_asyncio_offsets *own)
{
    uint64_t d[ADBG_WORDS];
    if (!w->asyncio_debug || own->registry != PS_TASKREG_LLIST ||
        ps_mem_read(w->mem, w->asyncio_debug, d, sizeof d))
        return 0;
    uint64_t task = d[0], interp = d[7], tstate = d[9];
    if (task < 64 || task > 4096 || d[1] + 8 > task || d[5] + 8 > task || d[6] + 16 > task ||
        interp > (1u << 24) || d[8] + 16 > interp || tstate > (1u << 20) ||
        d[10] + 8 > tstate || d[11] + 8 > tstate || d[12] + 16 > tstate)
        return 0;
    own->task_name = (ps_off)d[1];
    own->task_coro = (ps_off)d[5];
    own->task_node = (ps_off)d[6];
    own->interp_tasks_head = (ps_off)d[8];
    own->tstate_running_loop = (ps_off)d[10];
    own->tstate_running_task = (ps_off)d[11];
    own->tstate_tasks_head = (ps_off)d[12];
    return 1;
}

/* Like asyncio.all_tasks(), leave out tasks that are done: the registries keep them until
 * they are unregistered or collected. Tasks whose state could not be read stay. */
static int keep_pending(struct tasks_walk *k)
{
    struct ps_interp *in = k->in;
    size_t n = 0;
    ps_u64map_free(&k->seen, NULL);
    memset(&k->seen, 0, sizeof k->seen);
    for (size_t i = 0; i < in->ntasks; i++) {
        struct ps_task *t = &in->tasks[i];
        if (t->state == PS_TASK_FINISHED || t->state == PS_TASK_CANCELLED) {
            ps_task_free(t);
            continue;
        }
        if (n != i)
            in->tasks[n] = *t;
        n++;
        if (ps_u64map_put(&k->seen, in->tasks[n - 1].addr, (void *)(uintptr_t)n))
            return PS_NOMEM;
    }
    in->ntasks = n;
    return PS_OK;
}

int ps_walk_tasks(struct ps_walker *w, uint64_t interp, struct ps_interp *in)
{
    struct tasks_walk k = {.w = w, .in = in};
    struct ps_asyncio_offsets own;
    uint64_t md;
    int rc;
    if (!(k.ao = ps_asyncio_offsets(w->off.major, w->off.minor, w->off.free_threaded))) {
        in->tasks_status = PS_UNSUPPORTED;
        return PS_OK;
    }
    own = *k.ao;
    in->tasks_debug_offsets = (uint8_t)apply_asyncio_debug(w, &own);
    k.ao = &own;
    /* No asyncio.tasks in sys.modules: the program does not use asyncio. */
    if ((rc = module_dict(w, interp, "asyncio.tasks", &md)) || !md) {
        in->tasks_status = rc;
        return rc == PS_NOMEM ? rc : PS_OK;
    }
    w->no_attrs = 1; /* until out: */
    if ((rc = collect(&k, interp, md)) == PS_NOMEM)
        goto out;
    note(&k, rc);
    for (size_t i = 0; i < in->ntasks; i++) {
        struct ps_task *t = &in->tasks[i];
        if ((rc = read_task(&k, t)) == PS_NOMEM)
            goto out;
        t->walk_status = rc;
        if (!t->tid && t->loop)
            t->tid = loop_tid(&k, t->loop);
    }
    if ((rc = keep_pending(&k)))
        goto out;
    if ((rc = mark_running(&k, md)) == PS_NOMEM)
        goto out;
    note(&k, rc);
    for (size_t i = 0; i < in->ntasks; i++)
        if ((rc = link_waits(&k, &in->tasks[i])))
            goto out;
    rc = mark_deadlocks(in);
out:
    w->no_attrs = 0;
    in->tasks_status = k.status;
    ps_u64map_free(&k.seen, NULL);
    ps_u64map_free(&k.loops, NULL);
    return rc == PS_NOMEM ? rc : PS_OK;
}
