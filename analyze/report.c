/* From snapshot to report: walk, then merge the OS view of each thread into the model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/native.h"
#include "pysnap/report.h"

void ps_format_version(uint32_t hex, char *buf, size_t size)
{
    static const char *levels[16] = {[0xa] = "a", [0xb] = "b", [0xc] = "rc"};
    unsigned level = (hex >> 4) & 0xf;
    if (level == 0) /* only major.minor known (pre-3.11 builds without Py_Version) */
        snprintf(buf, size, "%u.%u", hex >> 24, (hex >> 16) & 0xff);
    else if (level == 0xf || !levels[level])
        snprintf(buf, size, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
    else
        snprintf(buf, size, "%u.%u.%u%s%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff,
                 levels[level], hex & 0xf);
}

uint32_t ps_report_version(const struct ps_report *r)
{
    uint32_t hex = r->meta->meta.py_version_hex, walked = r->model.hexversion;
    return walked && (walked >> 16) == (hex >> 16) ? walked : hex;
}

const char *ps_thread_state_name(int state)
{
    switch (state) {
    case PS_TSTATE_RUNNING: return "running";
    case PS_TSTATE_SLEEPING: return "sleeping";
    case PS_TSTATE_WAITING_FOR_GIL: return "waiting_for_gil";
    case PS_TSTATE_IDLE: return "idle";
    case PS_TSTATE_SUSPENDED: return "suspended";
    default: return "unknown";
    }
}

/* The first thread of M with TID after AFTER (NULL: from the start), or NULL. */
static struct ps_thread *find_thread(struct ps_model *m, uint32_t tid, const struct ps_thread *after)
{
    int past = after == NULL;
    for (size_t i = 0; i < m->ninterps; i++)
        for (size_t j = 0; j < m->interps[i].nthreads; j++) {
            struct ps_thread *t = &m->interps[i].threads[j];
            if (past && t->tid == tid)
                return t;
            if (t == after)
                past = 1;
        }
    return NULL;
}

/* What the snapshot can tell without native frames: GIL holder runs (without a GIL: a thread
 * state attached to its thread); one parked by a stop-the-world pause is suspended; a thread
 * with no Python frames is idle; otherwise the kernel's view (R runs, S/D sleeps). */
static int derive_state(const struct ps_interp *in, const struct ps_thread *t)
{
    if (t->py_state == 1 + PS_PY_SUSPENDED)
        return PS_TSTATE_SUSPENDED;
    if (t->holds_gil || (in->free_threaded && t->py_state == 1 + PS_PY_ATTACHED))
        return PS_TSTATE_RUNNING;
    if (t->nframes == 0)
        return PS_TSTATE_IDLE;
    switch (t->os_state) {
    case 'R': return PS_TSTATE_RUNNING;
    case 'S': case 'D': return PS_TSTATE_SLEEPING;
    default: return PS_TSTATE_UNKNOWN;
    }
}

/* x86-64 user_regs_struct: rsp is word 19. */
#define REG_RSP 19
/* The most an OS thread's used stack spans above its SP, when its native stack does not say. */
#define STACK_SPAN_MAX (8u << 20)
/* An address this close to its thread state is inside it (the idle root _PyCFrame). */
#define TSTATE_SPAN 16384

/* Before 3.13 subinterpreters run code on the interpreter's first thread state, whatever OS
 * thread calls in, so thread_id and native_thread_id may name the thread that created the
 * interpreter. The thread state's current _PyCFrame (3.10-3.12) lives on the C stack of
 * the thread really running it: the owner is the thread whose stack, from its SP up, holds
 * it. */
static uint32_t stack_owner(const struct ps_snap_meta *meta, uint64_t addr)
{
    uint32_t best = 0;
    uint64_t best_dist = UINT64_MAX;
    for (size_t i = 0; i < meta->nthreads; i++) {
        const struct ps_snap_thread *st = &meta->threads[i];
        if (!st->has_regs || st->regs[REG_RSP] > addr)
            continue;
        uint64_t dist = addr - st->regs[REG_RSP], span = STACK_SPAN_MAX;
        if (st->has_native && st->nnative && st->native[st->nnative - 1].sp > st->regs[REG_RSP] &&
            !(st->native_flags & (PS_NATIVE_TRUNCATED | PS_NATIVE_INCOMPLETE)))
            span = st->native[st->nnative - 1].sp - st->regs[REG_RSP] + 4096;
        if (dist < span && dist < best_dist) {
            best = st->info.tid;
            best_dist = dist;
        }
    }
    return best;
}

/* The walk gives the ids the target knows its threads by; the thread notes say which id
 * the capture saw each under (different in a container seen from the host). */
static int capture_tids(const struct ps_snap_meta *meta, struct ps_model *m)
{
    struct ps_tid_pair *pairs = malloc((meta->nthreads ? meta->nthreads : 1) * sizeof *pairs);
    if (!pairs)
        return PS_NOMEM;
    for (size_t i = 0; i < meta->nthreads; i++)
        pairs[i] = (struct ps_tid_pair){meta->threads[i].info.tid, meta->threads[i].info.ns_tid};
    ps_model_map_tids(m, pairs, meta->nthreads);
    free(pairs);
    return PS_OK;
}

static void fix_tids(const struct ps_snap_meta *meta, struct ps_model *m)
{
    for (size_t i = 0; i < m->ninterps; i++)
        for (size_t j = 0; j < m->interps[i].nthreads; j++) {
            struct ps_thread *t = &m->interps[i].threads[j];
            uint64_t a = t->cstack_addr;
            if (!a || t->nframes == 0 || (a >= t->tstate && a - t->tstate < TSTATE_SPAN))
                continue;
            uint32_t owner = stack_owner(meta, a);
            if (!owner || owner == t->tid)
                continue;
            /* threading named the thread the ids belong to, not this one. */
            t->tid = owner;
            t->ns_tid = 0;
            for (size_t k = 0; k < meta->nthreads; k++)
                if (meta->threads[k].info.tid == owner && meta->threads[k].info.ns_tid != owner)
                    t->ns_tid = meta->threads[k].info.ns_tid;
            free(t->name);
            t->name = NULL;
            t->daemon_known = t->daemon = 0;
        }
    ps_model_resolve_gil(m);
}

/* A thread without a name of its own in one interpreter takes the threading name it has in
 * another (a thread that entered a subinterpreter is named in the one that started it). */
static int share_names(struct ps_model *m)
{
    for (size_t i = 0; i < m->ninterps; i++)
        for (size_t j = 0; j < m->interps[i].nthreads; j++) {
            struct ps_thread *t = &m->interps[i].threads[j];
            const struct ps_thread *o = NULL;
            while (!t->name && t->tid && (o = find_thread(m, t->tid, o)))
                if (o->name && !o->name_from_os) {
                    if (!(t->name = strdup(o->name)))
                        return PS_NOMEM;
                    t->daemon_known = o->daemon_known;
                    t->daemon = o->daemon;
                }
        }
    return PS_OK;
}

static int tid_order(const void *a, const void *b)
{
    const struct ps_thread *x = a, *y = b;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

int ps_report_build(struct ps_snapshot *snap, struct ps_report *out)
{
    memset(out, 0, sizeof *out);
    const struct ps_snap_meta *meta = ps_snapshot_meta(snap);
    out->meta = meta;
    struct ps_memsrc mem = ps_snapshot_memsrc(snap);
    const char *secret = ps_snap_string(meta, "hash_secret");
    const char *asyncio_debug = ps_snap_string(meta, "asyncio_debug");
    struct ps_walk_target target = {meta->meta.runtime_addr, meta->meta.py_version_hex,
                                    secret ? strtoull(secret, NULL, 16) : 0,
                                    asyncio_debug ? strtoull(asyncio_debug, NULL, 16) : 0, {0}};
    ps_snap_roots(meta, target.roots);
    /* The capture's own limits: the same walk reads exactly what was captured. */
    struct ps_walk_limits lim;
    ps_walk_limits_default(&lim);
    ps_walk_limits_parse(&lim, ps_snap_string(meta, "walk_limits"));
    const char *redact = ps_snap_string(meta, "redact");
    if (redact)
        lim.redact = redact;
    if (meta->meta.flags & PS_META_NO_LOCALS)
        lim.locals = 0;
    int rc = ps_walk(&mem, &target, &lim, &out->model);
    if (rc)
        return rc;
    struct ps_model *m = &out->model;
    if (m->ninterps == 0 && !ps_model_add_interp(m))
        return PS_NOMEM;
    if ((rc = capture_tids(meta, m)))
        return rc;
    fix_tids(meta, m);
    if ((rc = share_names(m)))
        return rc;
    for (size_t i = 0; i < meta->nthreads; i++) {
        const struct ps_note_thread *info = &meta->threads[i].info;
        struct ps_thread *t = find_thread(m, info->tid, NULL);
        if (!t) {
            if (!(t = ps_model_add_thread(&m->interps[0])))
                return PS_NOMEM;
            t->tid = info->tid;
            t->ns_tid = info->ns_tid != info->tid ? info->ns_tid : 0;
        }
        /* A thread running in a subinterpreter has a thread state in each interpreter it
         * entered: every one of them gets the OS view. */
        for (; t; t = find_thread(m, info->tid, t)) {
            t->os_state = (char)info->os_state;
            char comm[sizeof info->comm + 1];
            memcpy(comm, info->comm, sizeof info->comm);
            comm[sizeof info->comm] = '\0';
            if (!t->name && comm[0]) {
                if (!(t->name = strdup(comm)))
                    return PS_NOMEM;
                t->name_from_os = 1;
            }
        }
    }
    for (size_t i = 0; i < m->ninterps; i++) {
        struct ps_interp *in = &m->interps[i];
        for (size_t j = 0; j < in->nthreads; j++)
            in->threads[j].state = (uint8_t)derive_state(in, &in->threads[j]);
        if (in->nthreads > 1) /* threads is NULL when empty: qsort's args are nonnull */
            qsort(in->threads, in->nthreads, sizeof *in->threads, tid_order);
    }
    /* Native stacks: merged frames, syscall, instruction, and the states they tell. */
    return ps_native_attach(snap, m);
}

void ps_report_free(struct ps_report *r)
{
    ps_model_free(&r->model);
}
