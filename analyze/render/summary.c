/* analyze --summary: stuck frames per thread and hot functions across snapshots. */
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/model.h"
#include "pysnap/summary.h"
#include "pysnap/tasks.h"
#include "render_common.h"

/* One thread in one snapshot, its Python frames outermost first. */
struct sample {
    uint64_t pid;
    uint32_t tid;
    size_t snap;
    const struct ps_thread *t;
    const char *cmdline;
    const struct ps_frame **py;
    size_t npy;
};

static int python_frames(const struct ps_thread *t, const struct ps_frame ***out, size_t *n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < t->nframes; i++)
        cnt += t->frames[i].kind == PS_FRAME_PYTHON;
    *n = cnt;
    *out = NULL;
    if (!cnt)
        return PS_OK;
    const struct ps_frame **v = malloc(cnt * sizeof *v);
    if (!v)
        return PS_NOMEM;
    size_t k = 0;
    for (size_t i = t->nframes; i-- > 0;) /* frames are innermost first */
        if (t->frames[i].kind == PS_FRAME_PYTHON)
            v[k++] = &t->frames[i];
    *out = v;
    return PS_OK;
}

static int streq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int same_function(const struct ps_frame *a, const struct ps_frame *b)
{
    return streq(a->function, b->function) && streq(a->file, b->file);
}

static int same_frame(const struct ps_frame *a, const struct ps_frame *b)
{
    return same_function(a, b) && a->line == b->line;
}

/* Outermost frames A and B share (function, file, line). */
static size_t common_prefix(const struct sample *a, const struct sample *b)
{
    size_t k = 0;
    while (k < a->npy && k < b->npy && same_frame(a->py[k], b->py[k]))
        k++;
    return k;
}

static int on_cpu(const struct ps_thread *t)
{
    return t->state == PS_TSTATE_RUNNING || t->state == PS_TSTATE_WAITING_FOR_GIL;
}

static int sample_order(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return x->snap < y->snap ? -1 : x->snap > y->snap;
}

static int hot_order(const void *a, const void *b)
{
    const struct ps_hot *x = a, *y = b;
    if (x->self != y->self)
        return x->self > y->self ? -1 : 1;
    if (x->inclusive != y->inclusive)
        return x->inclusive > y->inclusive ? -1 : 1;
    int c = strcmp(x->function ? x->function : "", y->function ? y->function : "");
    return c ? c : strcmp(x->file ? x->file : "", y->file ? y->file : "");
}

/* Append every Python thread of REPORT (snapshot index SNAP) to *V. */
static int collect(const struct ps_report *r, size_t snap, struct sample **v, size_t *n,
                   size_t *cap)
{
    const char *cmd = ps_snap_string(r->meta, "cmdline");
    for (size_t i = 0; i < r->model.ninterps; i++)
        for (size_t j = 0; j < r->model.interps[i].nthreads; j++) {
            const struct ps_thread *t = &r->model.interps[i].threads[j];
            struct sample s = {r->meta->meta.pid, t->tid, snap, t, cmd, NULL, 0};
            int rc = python_frames(t, &s.py, &s.npy);
            if (rc)
                return rc;
            if (!s.npy)
                continue;
            if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 64;
                struct sample *nv = realloc(*v, nc * sizeof *nv);
                if (!nv) {
                    free(s.py);
                    return PS_NOMEM;
                }
                *v = nv;
                *cap = nc;
            }
            (*v)[(*n)++] = s;
        }
    return PS_OK;
}

static void free_samples(struct sample *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].py);
    free(v);
}

static const struct sample *find_sample(const struct sample *v, size_t n, uint64_t pid,
                                        uint32_t tid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].pid == pid && v[i].tid == tid)
            return &v[i];
    return NULL;
}

static int equal_stack(const struct sample *a, const struct sample *b)
{
    return a->npy == b->npy && common_prefix(a, b) == a->npy;
}

/* Count FN once for this sample: self when innermost. Linear search is fine: the number of
 * distinct functions in a handful of snapshots is small. */
static int count_hot(struct ps_summary *s, size_t *cap, const struct sample *smp)
{
    for (size_t k = 0; k < smp->npy; k++) {
        const struct ps_frame *f = smp->py[k];
        int seen = 0; /* recursion: inclusive counts a sample once */
        for (size_t j = 0; j < k && !seen; j++)
            seen = same_function(smp->py[j], f);
        if (seen && k != smp->npy - 1)
            continue;
        size_t h = 0;
        while (h < s->nhot && !(streq(s->hot[h].function, f->function) &&
                                streq(s->hot[h].file, f->file)))
            h++;
        if (h == s->nhot) {
            if (s->nhot == *cap) {
                size_t nc = *cap ? *cap * 2 : 64;
                struct ps_hot *nh = realloc(s->hot, nc * sizeof *nh);
                if (!nh)
                    return PS_NOMEM;
                s->hot = nh;
                *cap = nc;
            }
            s->hot[h] = (struct ps_hot){f->function, f->file, 0, 0};
            s->nhot++;
        }
        if (!seen)
            s->hot[h].inclusive++;
        if (k == smp->npy - 1)
            s->hot[h].self++;
    }
    return PS_OK;
}

static int same_route(const struct ps_request *a, const struct ps_request *b)
{
    return a && b && streq(a->method, b->method) && streq(a->path, b->path);
}

static struct ps_summary_route *route_of(struct ps_summary *s, const struct ps_request *r)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (streq(s->routes[i].method, r->method) && streq(s->routes[i].path, r->path))
            return &s->routes[i];
    struct ps_summary_route *nr = realloc(s->routes, (s->nroutes + 1) * sizeof *nr);
    if (!nr)
        return NULL;
    s->routes = nr;
    struct ps_summary_route *rt = &nr[s->nroutes++];
    memset(rt, 0, sizeof *rt);
    rt->method = r->method;
    rt->path = r->path;
    return rt;
}

static int route_order(const void *a, const void *b)
{
    const struct ps_summary_route *x = a, *y = b;
    unsigned xs = x->threads.stuck_samples + x->tasks.stuck_samples;
    unsigned ys = y->threads.stuck_samples + y->tasks.stuck_samples;
    if (xs != ys)
        return xs > ys ? -1 : 1;
    unsigned xn = x->threads.samples + x->tasks.samples, yn = y->threads.samples + y->tasks.samples;
    if (xn != yn)
        return xn > yn ? -1 : 1;
    int c = strcmp(x->method ? x->method : "", y->method ? y->method : "");
    return c ? c : strcmp(x->path ? x->path : "", y->path ? y->path : "");
}

/* One thread's (or task's) samples, oldest first: REQ[k] the request its k-th sample served
 * (NULL: none). Each sample counts for its route, the thread once per route; when STUCK (its
 * stack never changed) and serving one route throughout, it is stuck on that route, at
 * INNERMOST. WHO: the route's threads or its tasks. */
static int count_run(struct ps_summary *s, struct ps_summary_serving *(*who)(struct ps_summary_route *),
                     const struct ps_request *const *req, size_t n, int stuck,
                     const struct ps_frame *innermost)
{
    int all_same = 1;
    for (size_t k = 0; k < n; k++) {
        all_same &= same_route(req[k], req[0]);
        if (!req[k])
            continue;
        struct ps_summary_route *rt = route_of(s, req[k]);
        if (!rt)
            return PS_NOMEM;
        struct ps_summary_serving *sv = who(rt);
        sv->samples++;
        int first = 1; /* a thread counts once per route */
        for (size_t m = 0; m < k && first; m++)
            first = !same_route(req[m], req[k]);
        sv->count += first;
    }
    if (stuck && all_same) {
        struct ps_summary_route *rt = route_of(s, req[0]);
        if (!rt)
            return PS_NOMEM;
        struct ps_summary_serving *sv = who(rt);
        if (!sv->stuck)
            sv->at = innermost;
        sv->stuck++;
        sv->stuck_samples += (unsigned)n;
    }
    return PS_OK;
}

static struct ps_summary_serving *threads_of(struct ps_summary_route *rt)
{
    return &rt->threads;
}

static struct ps_summary_serving *tasks_of(struct ps_summary_route *rt)
{
    return &rt->tasks;
}

/* Routes over the run V[I..J) of one thread's samples (ST its summary); REQ has room for
 * them. */
static int count_routes(struct ps_summary *s, const struct sample *v, size_t i, size_t j,
                        const struct ps_summary_thread *st, const struct ps_request **req)
{
    for (size_t k = i; k < j; k++)
        req[k - i] = v[k].t->request;
    return count_run(s, threads_of, req, j - i, st->stuck, v[i].npy ? v[i].py[v[i].npy - 1] : NULL);
}

/* One asyncio task serving a request, in one snapshot. */
struct task_sample {
    uint64_t pid, addr;
    size_t snap;
    const struct ps_task *task;
};

static int task_sample_order(const void *a, const void *b)
{
    const struct task_sample *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return x->snap < y->snap ? -1 : x->snap > y->snap;
}

/* The tasks of every snapshot that serve a request. */
static int collect_tasks(const struct ps_report *const *reports, size_t n, struct task_sample **out,
                         size_t *nout)
{
    size_t cnt = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < reports[i]->model.ninterps; j++)
            for (size_t t = 0; t < reports[i]->model.interps[j].ntasks; t++)
                cnt += reports[i]->model.interps[j].tasks[t].request != NULL;
    *out = NULL;
    *nout = 0;
    if (!cnt)
        return PS_OK;
    struct task_sample *v = malloc(cnt * sizeof *v);
    if (!v)
        return PS_NOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < reports[i]->model.ninterps; j++)
            for (size_t t = 0; t < reports[i]->model.interps[j].ntasks; t++) {
                const struct ps_task *tk = &reports[i]->model.interps[j].tasks[t];
                if (tk->request)
                    v[k++] = (struct task_sample){reports[i]->meta->meta.pid, tk->addr, i, tk};
            }
    qsort(v, k, sizeof *v, task_sample_order);
    *out = v;
    *nout = k;
    return PS_OK;
}

static int same_chain(const struct ps_task *a, const struct ps_task *b)
{
    if (a->nframes != b->nframes)
        return 0;
    for (size_t i = 0; i < a->nframes; i++)
        if (!same_frame(&a->frames[i], &b->frames[i]))
            return 0;
    return 1;
}

/* Routes over the tasks: runs of samples of the same task. A task is stuck when it was seen
 * in two snapshots or more with the same coroutine chain (count_run adds: serving the same
 * route). REQ has room for N. */
static int count_task_routes(struct ps_summary *s, const struct task_sample *v, size_t n,
                             const struct ps_request **req)
{
    int rc = PS_OK;
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i;
        int same = 1;
        for (; j < n && v[j].pid == v[i].pid && v[j].addr == v[i].addr; j++) {
            same &= same_chain(v[j].task, v[i].task);
            req[j - i] = v[j].task->request;
        }
        const struct ps_task *t = v[i].task;
        rc = count_run(s, tasks_of, req, j - i, same && j - i >= 2,
                       t->nframes ? &t->frames[t->nframes - 1] : NULL);
        i = j;
    }
    return rc;
}

int ps_summary_build(const struct ps_report *const *reports, size_t n,
                     const struct ps_report *baseline, struct ps_summary *out)
{
    memset(out, 0, sizeof *out);
    out->nsnapshots = n;
    out->has_baseline = baseline != NULL;
    struct sample *v = NULL, *base = NULL;
    struct task_sample *tv = NULL;
    const struct ps_request **req = NULL; /* the requests of one run of samples */
    size_t nv = 0, cv = 0, nb = 0, cb = 0, ntv = 0, hot_cap = 0;
    int rc = PS_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = collect(reports[i], i, &v, &nv, &cv);
    if (!rc && baseline)
        rc = collect(baseline, 0, &base, &nb, &cb);
    if (!rc)
        rc = collect_tasks(reports, n, &tv, &ntv);
    size_t nreq = nv > ntv ? nv : ntv; /* room for the longest run */
    if (!rc && !(req = malloc((nreq ? nreq : 1) * sizeof *req)))
        rc = PS_NOMEM;
    /* processes: distinct pids */
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = reports[j]->meta->meta.pid == reports[i]->meta->meta.pid;
        out->nprocesses += !seen;
    }
    if (nv > 1)
        qsort(v, nv, sizeof *v, sample_order);
    for (size_t i = 0; i < nv && !rc; i++) {
        out->thread_samples++;
        if (!on_cpu(v[i].t))
            continue;
        const struct sample *b = base ? find_sample(base, nb, v[i].pid, v[i].tid) : NULL;
        if (b && equal_stack(&v[i], b)) {
            out->set_aside++;
            continue;
        }
        out->counted++;
        rc = count_hot(out, &hot_cap, &v[i]);
    }
    if (!rc && out->nhot > 1)
        qsort(out->hot, out->nhot, sizeof *out->hot, hot_order);
    /* Threads: runs of samples with the same (pid, tid). */
    for (size_t i = 0; i < nv && !rc;) {
        size_t j = i;
        while (j < nv && v[j].pid == v[i].pid && v[j].tid == v[i].tid)
            j++;
        struct ps_summary_thread *nt = realloc(out->threads, (out->nthreads + 1) * sizeof *nt);
        if (!nt) {
            rc = PS_NOMEM;
            break;
        }
        out->threads = nt;
        struct ps_summary_thread *st = &nt[out->nthreads++];
        memset(st, 0, sizeof *st);
        st->pid = v[i].pid;
        st->tid = v[i].tid;
        st->name = v[i].t->name;
        st->cmdline = v[i].cmdline;
        st->first = v[i].t;
        st->samples = (unsigned)(j - i);
        st->same = (unsigned)v[i].npy;
        st->min_depth = st->max_depth = (unsigned)v[i].npy;
        const struct sample *b = base ? find_sample(base, nb, v[i].pid, v[i].tid) : NULL;
        st->as_baseline = b != NULL;
        for (size_t k = i; k < j; k++) {
            st->on_cpu += on_cpu(v[k].t);
            size_t c = common_prefix(&v[i], &v[k]);
            if (c < st->same)
                st->same = (unsigned)c;
            if (v[k].npy < st->min_depth)
                st->min_depth = (unsigned)v[k].npy;
            if (v[k].npy > st->max_depth)
                st->max_depth = (unsigned)v[k].npy;
            if (b && !equal_stack(&v[k], b))
                st->as_baseline = 0;
        }
        st->stuck = st->samples >= 2 && st->same == st->min_depth && st->min_depth == st->max_depth;
        rc = count_routes(out, v, i, j, st, req);
        i = j;
    }
    if (!rc)
        rc = count_task_routes(out, tv, ntv, req);
    free(tv);
    free(req);
    if (!rc && out->nroutes > 1)
        qsort(out->routes, out->nroutes, sizeof *out->routes, route_order);
    free_samples(v, nv);
    free_samples(base, nb);
    if (rc)
        ps_summary_free(out);
    return rc;
}

void ps_summary_free(struct ps_summary *s)
{
    free(s->hot);
    free(s->threads);
    free(s->routes);
    memset(s, 0, sizeof *s);
}

/* The frame at DEPTH (0 = outermost) of a thread's Python stack. */
static const struct ps_frame *py_frame_at(const struct ps_thread *t, unsigned depth)
{
    unsigned k = 0;
    for (size_t i = t->nframes; i-- > 0;)
        if (t->frames[i].kind == PS_FRAME_PYTHON && k++ == depth)
            return &t->frames[i];
    return NULL;
}

/* What a route's threads (NOUN "thread") or tasks did: "N threads stuck in ROUTE at F, samples
 * S/T", else "ROUTE: T thread-samples, N threads, none stuck"; nothing when none served it. */
static void route_line(FILE *out, const struct ps_request *route, const struct ps_summary_serving *sv,
                       const char *noun)
{
    fputs("  ", out);
    if (sv->stuck) {
        ps_tprintf(out, "%u %s%s stuck in ", sv->stuck, noun, sv->stuck == 1 ? "" : "s");
        ps_request_route_text(out, route);
        fputs(" at ", out);
        ps_text_safe(out, sv->at ? sv->at->function : "?");
        ps_tprintf(out, ", samples %u/%u", sv->stuck_samples, sv->samples);
        if (sv->count > sv->stuck)
            ps_tprintf(out, " (%u %s%s served it)", sv->count, noun, sv->count == 1 ? "" : "s");
        fputc('\n', out);
    } else {
        ps_request_route_text(out, route);
        ps_tprintf(out, ": %u %s-sample%s, %u %s%s, none stuck\n", sv->samples, noun,
                   sv->samples == 1 ? "" : "s", sv->count, noun, sv->count == 1 ? "" : "s");
    }
}

int ps_summary_render_text(FILE *out, const struct ps_summary *s, size_t max_hot)
{
    ps_tprintf(out, "Summary of %zu snapshot%s of %zu process%s: %u thread-samples with Python "
                 "frames, %u on CPU",
            s->nsnapshots, s->nsnapshots == 1 ? "" : "s", s->nprocesses,
            s->nprocesses == 1 ? "" : "es", s->thread_samples, s->counted + s->set_aside);
    if (s->has_baseline)
        ps_tprintf(out, " (%u set aside: same stack as at baseline)", s->set_aside);
    fputc('\n', out);
    ps_tprintf(out, "\nHottest functions (thread-samples on CPU; self: innermost frame, "
                 "total: anywhere on the stack)\n");
    if (!s->nhot)
        ps_tprintf(out, "  (no thread was on CPU)\n");
    else
        ps_tprintf(out, "   self  total  function (file)\n");
    for (size_t i = 0; i < s->nhot && (!max_hot || i < max_hot); i++)
        ps_tprintf(out, "  %5u  %5u  %s (%s)\n", s->hot[i].self, s->hot[i].inclusive,
                s->hot[i].function ? s->hot[i].function : "?",
                s->hot[i].file ? s->hot[i].file : "?");
    if (s->nroutes)
        ps_tprintf(out, "\nRequests (per route: thread- and task-samples serving it; threads and asyncio "
                     "tasks stuck at the same frame in every snapshot)\n");
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct ps_summary_route *rt = &s->routes[i];
        struct ps_request route = {.method = (char *)rt->method, .path = (char *)rt->path};
        if (rt->threads.samples)
            route_line(out, &route, &rt->threads, "thread");
        if (rt->tasks.samples)
            route_line(out, &route, &rt->tasks, "task");
    }
    ps_tprintf(out, "\nThreads (frames that stayed the same in every snapshot)\n");
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct ps_summary_thread *t = &s->threads[i];
        ps_tprintf(out, "  pid %llu thread %u", (unsigned long long)t->pid, t->tid);
        if (t->name)
            ps_tprintf(out, " \"%s\"", t->name);
        if (t->cmdline && *t->cmdline)
            ps_tprintf(out, " [%.60s]", t->cmdline);
        ps_tprintf(out, ": %u sample%s, %u on CPU", t->samples, t->samples == 1 ? "" : "s",
                t->on_cpu);
        if (t->as_baseline)
            ps_tprintf(out, ", unchanged since baseline");
        if (t->stuck)
            ps_tprintf(out, ", STUCK: the whole stack (%u frames) never changed\n", t->same);
        else if (t->samples < 2)
            ps_tprintf(out, "\n");
        else
            ps_tprintf(out, ", outermost %u of %u-%u frames the same\n", t->same, t->min_depth,
                    t->max_depth);
        if (t->first && t->first->request)
            ps_request_text(out, t->first->request, "      ");
        if (t->samples < 2 || !t->same)
            continue;
        const struct ps_frame *f = py_frame_at(t->first, t->same - 1);
        if (f)
            ps_tprintf(out, "      %s: File \"%s\", line %d, in %s\n",
                    t->stuck ? "stuck at" : "the same down to", f->file, f->line, f->function);
    }
    return ferror(out) ? PS_IO : PS_OK;
}

int ps_summary_render_json(FILE *out, const struct ps_summary *s)
{
    fprintf(out, "{\"summary\": {\"snapshots\": %zu, \"processes\": %zu, \"thread_samples\": %u, "
                 "\"on_cpu\": %u, \"counted\": %u, \"set_aside\": %u, \"baseline\": %s,\n "
                 "\"hot\": [",
            s->nsnapshots, s->nprocesses, s->thread_samples, s->counted + s->set_aside,
            s->counted, s->set_aside, s->has_baseline ? "true" : "false");
    for (size_t i = 0; i < s->nhot; i++) {
        fputs(i ? ",\n  {\"function\": " : "\n  {\"function\": ", out);
        ps_json_str(out, s->hot[i].function);
        fputs(", \"file\": ", out);
        ps_json_str(out, s->hot[i].file);
        fprintf(out, ", \"self\": %u, \"inclusive\": %u}", s->hot[i].self, s->hot[i].inclusive);
    }
    fputs("],\n \"threads\": [", out);
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct ps_summary_thread *t = &s->threads[i];
        fprintf(out, "%s{\"pid\": %llu, \"tid\": %u, \"name\": ", i ? ",\n  " : "\n  ",
                (unsigned long long)t->pid, t->tid);
        ps_json_str(out, t->name);
        fputs(", \"cmdline\": ", out);
        ps_json_str(out, t->cmdline);
        fprintf(out, ", \"samples\": %u, \"on_cpu\": %u, \"stuck\": %s, \"same_frames\": %u, "
                     "\"min_depth\": %u, \"max_depth\": %u, \"unchanged_since_baseline\": %s, "
                     "\"request\": ",
                t->samples, t->on_cpu, t->stuck ? "true" : "false", t->same, t->min_depth,
                t->max_depth, t->as_baseline ? "true" : "false");
        ps_request_json(out, t->first ? t->first->request : NULL);
        fputs(", \"same\": [", out);
        /* The frames that stayed the same, innermost first like every frame list. */
        for (unsigned k = t->same; k-- > 0;) {
            const struct ps_frame *f = py_frame_at(t->first, k);
            if (!f)
                continue;
            fputs(k + 1 == t->same ? "{\"function\": " : ", {\"function\": ", out);
            ps_json_str(out, f->function);
            fputs(", \"file\": ", out);
            ps_json_str(out, f->file);
            fprintf(out, ", \"line\": %d}", f->line);
        }
        fputs("]}", out);
    }
    fputs("],\n \"routes\": [", out);
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct ps_summary_route *rt = &s->routes[i];
        fputs(i ? ",\n  {\"method\": " : "\n  {\"method\": ", out);
        ps_json_str(out, rt->method);
        fputs(", \"path\": ", out);
        ps_json_str(out, rt->path);
        fprintf(out, ", \"samples\": %u, \"threads\": %u, \"stuck_threads\": %u, "
                     "\"stuck_samples\": %u, \"task_samples\": %u, \"tasks\": %u, "
                     "\"stuck_tasks\": %u, \"stuck_task_samples\": %u, \"stuck_at\": ",
                rt->threads.samples, rt->threads.count, rt->threads.stuck, rt->threads.stuck_samples,
                rt->tasks.samples, rt->tasks.count, rt->tasks.stuck, rt->tasks.stuck_samples);
        const struct ps_frame *at = rt->threads.at ? rt->threads.at : rt->tasks.at;
        if (at) {
            fputs("{\"function\": ", out);
            ps_json_str(out, at->function);
            fputs(", \"file\": ", out);
            ps_json_str(out, at->file);
            fprintf(out, ", \"line\": %d}}", at->line);
        } else {
            fputs("null}", out);
        }
    }
    fputs("]}}\n", out);
    return ferror(out) ? PS_IO : PS_OK;
}
