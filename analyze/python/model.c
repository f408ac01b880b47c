/* Growth and release of the walk's result. */
#include <stdlib.h>
#include <string.h>

#include "pysnap/model.h"

/* Grow *ARR (of *CAP elements of SIZE bytes) to hold one more than N; zero the new slot. */
static void *grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        void *p = realloc(*arr, ncap * size);
        if (!p)
            return NULL;
        *arr = p;
        *cap = ncap;
    }
    void *slot = (char *)*arr + n * size;
    memset(slot, 0, size);
    return slot;
}

struct ps_interp *ps_model_add_interp(struct ps_model *m)
{
    struct ps_interp *in = grow((void **)&m->interps, &m->interps_cap, m->ninterps, sizeof *in);
    if (in)
        m->ninterps++;
    return in;
}

struct ps_thread *ps_model_add_thread(struct ps_interp *in)
{
    struct ps_thread *t = grow((void **)&in->threads, &in->threads_cap, in->nthreads, sizeof *t);
    if (t)
        in->nthreads++;
    return t;
}

struct ps_frame *ps_thread_add_frame(struct ps_thread *t)
{
    struct ps_frame *f = grow((void **)&t->frames, &t->frames_cap, t->nframes, sizeof *f);
    if (f) {
        f->line = -1;
        t->nframes++;
    }
    return f;
}

void ps_value_free(struct ps_value *v)
{
    free(v->name);
    free(v->type);
    free(v->repr);
    free(v->value);
    for (size_t i = 0; i < v->nattrs; i++)
        ps_value_free(&v->attrs[i]);
    free(v->attrs);
}

static void frames_free(struct ps_frame *f, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(f[k].function);
        free(f[k].qualname);
        free(f[k].file);
        for (size_t l = 0; l < f[k].nlocals; l++)
            ps_value_free(&f[k].locals[l]);
        free(f[k].locals);
    }
    free(f);
}

void ps_model_free(struct ps_model *m)
{
    for (size_t i = 0; i < m->ninterps; i++) {
        struct ps_interp *in = &m->interps[i];
        for (size_t j = 0; j < in->nthreads; j++) {
            struct ps_thread *t = &in->threads[j];
            frames_free(t->frames, t->nframes);
            frames_free(t->handling_tb, t->nhandling_tb);
            if (t->handling)
                ps_value_free(t->handling);
            free(t->handling);
            free(t->name);
            ps_request_free(t->request);
        }
        free(in->threads);
        for (size_t j = 0; j < in->ntasks; j++)
            ps_task_free(&in->tasks[j]);
        free(in->tasks);
    }
    free(m->interps);
    memset(m, 0, sizeof *m);
}

void ps_request_free(struct ps_request *r)
{
    if (!r)
        return;
    free(r->function);
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->protocol);
    free(r->remote_addr);
    free(r->host);
    free(r);
}

void ps_model_resolve_gil(struct ps_model *m)
{
    for (size_t i = 0; i < m->ninterps; i++) {
        struct ps_interp *in = &m->interps[i];
        in->gil_shared = 0;
        in->gil_holder_tid = 0;
        for (size_t k = 0; k < m->ninterps; k++)
            if (k != i && in->gil_addr && m->interps[k].gil_addr == in->gil_addr)
                in->gil_shared = 1;
        for (size_t k = 0; k < m->ninterps && in->gil_holder && !in->gil_holder_tid; k++) {
            const struct ps_interp *other = &m->interps[k];
            if (other->gil_addr != in->gil_addr)
                continue;
            for (size_t j = 0; j < other->nthreads; j++)
                if (other->threads[j].tstate == in->gil_holder)
                    in->gil_holder_tid = other->threads[j].tid;
        }
    }
}

/* The capture's id for NS_TID, or 0 when PAIRS do not know it. */
static uint32_t capture_tid(const struct ps_tid_pair *pairs, size_t n, uint32_t ns_tid)
{
    for (size_t i = 0; i < n; i++)
        if (pairs[i].ns_tid == ns_tid)
            return pairs[i].tid;
    return 0;
}

void ps_model_map_tids(struct ps_model *m, const struct ps_tid_pair *pairs, size_t n)
{
    int differ = 0;
    for (size_t i = 0; i < n && !differ; i++)
        differ = pairs[i].ns_tid && pairs[i].ns_tid != pairs[i].tid;
    if (!differ) /* the target shares the capture's pid namespace */
        return;
    for (size_t i = 0; i < m->ninterps; i++) {
        struct ps_interp *in = &m->interps[i];
        for (size_t j = 0; j < in->nthreads; j++) {
            struct ps_thread *t = &in->threads[j];
            uint32_t tid = t->tid && !t->ns_tid ? capture_tid(pairs, n, t->tid) : 0;
            if (tid) {
                t->ns_tid = t->tid;
                t->tid = tid;
            }
        }
        uint32_t tid = in->gc_collector_tid ? capture_tid(pairs, n, in->gc_collector_tid) : 0;
        in->gc_collector_tid = tid ? tid : in->gc_collector_tid;
        for (size_t j = 0; j < in->ntasks; j++) {
            struct ps_task *k = &in->tasks[j];
            tid = k->tid ? capture_tid(pairs, n, k->tid) : 0;
            k->tid = tid ? tid : k->tid;
        }
    }
    ps_model_resolve_gil(m);
}
