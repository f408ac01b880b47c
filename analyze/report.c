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

const char *ps_thread_state_name(int state)
{
    switch (state) {
    case PS_TSTATE_RUNNING: return "running";
    case PS_TSTATE_SLEEPING: return "sleeping";
    case PS_TSTATE_WAITING_FOR_GIL: return "waiting_for_gil";
    case PS_TSTATE_IDLE: return "idle";
    default: return "unknown";
    }
}

static struct ps_thread *find_thread(struct ps_model *m, uint32_t tid)
{
    for (size_t i = 0; i < m->ninterps; i++)
        for (size_t j = 0; j < m->interps[i].nthreads; j++)
            if (m->interps[i].threads[j].tid == tid)
                return &m->interps[i].threads[j];
    return NULL;
}

/* What the snapshot can tell without native frames: GIL holder runs; a thread with no
 * Python frames is idle; otherwise the kernel's view (R runs, S/D sleeps). */
static int derive_state(const struct ps_thread *t)
{
    if (t->holds_gil)
        return PS_TSTATE_RUNNING;
    if (t->nframes == 0)
        return PS_TSTATE_IDLE;
    switch (t->os_state) {
    case 'R': return PS_TSTATE_RUNNING;
    case 'S': case 'D': return PS_TSTATE_SLEEPING;
    default: return PS_TSTATE_UNKNOWN;
    }
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
                                    asyncio_debug ? strtoull(asyncio_debug, NULL, 16) : 0};
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
    for (size_t i = 0; i < meta->nthreads; i++) {
        const struct ps_note_thread *info = &meta->threads[i].info;
        struct ps_thread *t = find_thread(m, info->tid);
        if (!t) {
            if (!(t = ps_model_add_thread(&m->interps[0])))
                return PS_NOMEM;
            t->tid = info->tid;
        }
        t->os_state = (char)info->os_state;
        if (!t->name && info->comm[0] && !(t->name = strdup(info->comm)))
            return PS_NOMEM;
    }
    for (size_t i = 0; i < m->ninterps; i++) {
        struct ps_interp *in = &m->interps[i];
        for (size_t j = 0; j < in->nthreads; j++)
            in->threads[j].state = (uint8_t)derive_state(&in->threads[j]);
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
