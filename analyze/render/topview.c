/* The aggregation behind `pysnap top`: see include/pysnap/topview.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/topview.h"
#include "render_common.h"

#define MAX_ENTRIES (1u << 20) /* distinct functions + lines; past it, frames are not counted */
#define MAX_DEPTH 1024         /* frames kept per thread stack (the innermost) */
#define MAX_THREADS 65536
#define FUNCTION_LINE INT_MIN  /* the line of a function entry (one per function and file) */

/* Counts of one span; WIN grows, SHOWN is the last closed window, ALL since start. */
struct counts {
    uint64_t win, shown, all;
};

struct entry {
    char *function, *file;
    int line;                /* FUNCTION_LINE for a function entry */
    uint8_t kind;
    uint32_t function_id;    /* line entry: its function entry */
    uint64_t stamp;          /* the last sample that counted it in TOTAL (recursion) */
    struct counts own, total;
};

struct thread {
    uint64_t pid;
    uint32_t tid;
    char *name;
    uint8_t state, holds_gil;
    char os_state;
    int64_t seen_ns;
    uint32_t *stack;         /* line entry ids, innermost first */
    size_t depth, cap;
    struct counts samples;
};

struct process {
    uint64_t pid;
    char *cmdline, *python;
    int exited;
    int no_gil;                           /* ps_top_set_no_gil */
    struct counts samples, rounds, gil_rounds;
    unsigned threads, on_cpu;             /* ps_top_set_threads */
};

struct ps_top {
    struct entry *entries;
    size_t nentries, entries_cap;
    uint32_t *index;          /* open addressing: entry id + 1, 0 empty */
    size_t index_cap;
    struct thread *threads;
    size_t nthreads, threads_cap;
    struct process *procs;
    size_t nprocs;
    struct counts rounds, samples, late, torn;
    uint64_t late_seen, torn_seen; /* the sampler's totals at the last call */
    uint64_t stamp;
    int64_t start_ns, win_start_ns, shown_ns, shown_start_ns;
    struct ps_top_row *rows;
    size_t rows_cap;
    size_t *order;           /* thread view order */
    size_t order_cap;
    struct ps_top_frame *frames; /* one thread's stack, for ps_top_thread_at */
    size_t frames_cap;
};

const char *const ps_top_sort_names[PS_TOP_NSORT] = {"%Own", "%Total", "OwnTime", "TotalTime",
                                                     "Function", "File"};

static void count(struct counts *c, uint64_t n)
{
    c->win += n;
    c->all += n;
}

static uint64_t span_of(const struct counts *c, enum ps_top_span span)
{
    return span == PS_TOP_WINDOW ? c->shown : c->all;
}

int ps_top_new(int64_t now_ns, struct ps_top **out)
{
    struct ps_top *t = calloc(1, sizeof *t);
    if (!t)
        return PS_NOMEM;
    t->start_ns = t->win_start_ns = t->shown_ns = t->shown_start_ns = now_ns;
    *out = t;
    return PS_OK;
}

void ps_top_free(struct ps_top *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nentries; i++) {
        free(t->entries[i].function);
        free(t->entries[i].file);
    }
    for (size_t i = 0; i < t->nthreads; i++) {
        free(t->threads[i].name);
        free(t->threads[i].stack);
    }
    for (size_t i = 0; i < t->nprocs; i++) {
        free(t->procs[i].cmdline);
        free(t->procs[i].python);
    }
    free(t->entries);
    free(t->index);
    free(t->threads);
    free(t->procs);
    free(t->rows);
    free(t->order);
    free(t->frames);
    free(t);
}

static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return PS_OK;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*(void **)pp, n * size);
    if (!p)
        return PS_NOMEM;
    *(void **)pp = p;
    *cap = n;
    return PS_OK;
}

static int set_str(char **dst, const char *s)
{
    if (*dst && s && !strcmp(*dst, s))
        return PS_OK;
    char *c = s ? strdup(s) : NULL;
    if (s && !c)
        return PS_NOMEM;
    free(*dst);
    *dst = c;
    return PS_OK;
}

static struct process *find_process(const struct ps_top *t, uint64_t pid)
{
    for (size_t i = 0; i < t->nprocs; i++)
        if (t->procs[i].pid == pid)
            return &t->procs[i];
    return NULL;
}

int ps_top_set_process(struct ps_top *t, uint64_t pid, const char *cmdline, const char *python)
{
    struct process *p = find_process(t, pid);
    if (!p) {
        struct process *np = realloc(t->procs, (t->nprocs + 1) * sizeof *np);
        if (!np)
            return PS_NOMEM;
        t->procs = np;
        p = &t->procs[t->nprocs++];
        memset(p, 0, sizeof *p);
        p->pid = pid;
    }
    p->exited = 0;
    if (set_str(&p->cmdline, cmdline) || set_str(&p->python, python))
        return PS_NOMEM;
    return PS_OK;
}

static void drop_thread(struct ps_top *t, size_t i)
{
    free(t->threads[i].name);
    free(t->threads[i].stack);
    t->threads[i] = t->threads[--t->nthreads];
}

void ps_top_process_exited(struct ps_top *t, uint64_t pid)
{
    struct process *p = find_process(t, pid);
    if (p) {
        p->exited = 1;
        p->threads = p->on_cpu = 0;
    }
    for (size_t i = t->nthreads; i-- > 0;)
        if (t->threads[i].pid == pid)
            drop_thread(t, i);
}

/* --- interning ------------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t key_hash(uint8_t kind, const char *function, const char *file, int line)
{
    uint64_t h = fnv(0xcbf29ce484222325ull, &kind, 1);
    h = fnv(h, &line, sizeof line);
    h = fnv(h, function ? function : "", function ? strlen(function) + 1 : 1);
    return fnv(h, file ? file : "", file ? strlen(file) + 1 : 1);
}

static int streq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int rehash(struct ps_top *t)
{
    size_t cap = t->index_cap ? t->index_cap * 2 : 1024;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return PS_NOMEM;
    for (size_t i = 0; i < t->nentries; i++) {
        const struct entry *e = &t->entries[i];
        size_t h = key_hash(e->kind, e->function, e->file, e->line) & (cap - 1);
        while (idx[h])
            h = (h + 1) & (cap - 1);
        idx[h] = (uint32_t)i + 1;
    }
    free(t->index);
    t->index = idx;
    t->index_cap = cap;
    return PS_OK;
}

/* The id of (KIND, FUNCTION, FILE, LINE), added when new; -1 when full or out of memory. */
static int64_t intern(struct ps_top *t, uint8_t kind, const char *function, const char *file,
                      int line)
{
    if ((t->nentries + 1) * 2 > t->index_cap && rehash(t))
        return -1;
    size_t h = key_hash(kind, function, file, line) & (t->index_cap - 1);
    for (; t->index[h]; h = (h + 1) & (t->index_cap - 1)) {
        const struct entry *e = &t->entries[t->index[h] - 1];
        if (e->line == line && e->kind == kind && streq(e->function, function) &&
            streq(e->file, file))
            return t->index[h] - 1;
    }
    if (t->nentries >= MAX_ENTRIES ||
        grow(&t->entries, &t->entries_cap, t->nentries + 1, sizeof *t->entries))
        return -1;
    struct entry *e = &t->entries[t->nentries];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->line = line;
    e->function = strdup(function ? function : "?");
    e->file = file ? strdup(file) : NULL;
    if (!e->function || (file && !e->file)) {
        free(e->function);
        free(e->file);
        return -1;
    }
    t->index[h] = (uint32_t)t->nentries + 1;
    return (int64_t)t->nentries++;
}

/* The line entry of frame F (and, through function_id, its function entry). */
static int64_t intern_frame(struct ps_top *t, const struct ps_frame *f)
{
    int line = f->kind == PS_FRAME_PYTHON ? f->line : -1;
    int64_t fn = intern(t, f->kind, f->function, f->file, FUNCTION_LINE);
    if (fn < 0)
        return -1;
    int64_t id = intern(t, f->kind, f->function, f->file, line);
    if (id >= 0)
        t->entries[id].function_id = (uint32_t)fn;
    return id;
}

/* --- samples --------------------------------------------------------------------------- */

static struct thread *find_thread(struct ps_top *t, uint64_t pid, uint32_t tid, int add)
{
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].pid == pid && t->threads[i].tid == tid)
            return &t->threads[i];
    if (!add || t->nthreads >= MAX_THREADS ||
        grow(&t->threads, &t->threads_cap, t->nthreads + 1, sizeof *t->threads))
        return NULL;
    struct thread *th = &t->threads[t->nthreads++];
    memset(th, 0, sizeof *th);
    th->pid = pid;
    th->tid = tid;
    return th;
}

static void count_total(struct ps_top *t, uint32_t id)
{
    struct entry *e = &t->entries[id];
    if (e->stamp != t->stamp) {
        e->stamp = t->stamp;
        count(&e->total, 1);
    }
}

int ps_top_add_thread(struct ps_top *t, uint64_t pid, const struct ps_thread *th, int counted,
                      int64_t now_ns)
{
    struct process *p = find_process(t, pid);
    if (!p) {
        int rc = ps_top_set_process(t, pid, NULL, NULL);
        if (rc)
            return rc;
        p = find_process(t, pid);
    }
    struct thread *v = find_thread(t, pid, th->tid, 1);
    if (!v)
        return PS_NOMEM;
    v->state = th->state;
    v->os_state = th->os_state;
    v->holds_gil = th->holds_gil;
    v->seen_ns = now_ns;
    if (set_str(&v->name, th->name))
        return PS_NOMEM;
    size_t n = th->nframes < MAX_DEPTH ? th->nframes : MAX_DEPTH;
    if (grow(&v->stack, &v->cap, n ? n : 1, sizeof *v->stack))
        return PS_NOMEM;
    v->depth = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id = intern_frame(t, &th->frames[i]);
        if (id >= 0)
            v->stack[v->depth++] = (uint32_t)id;
    }
    if (!counted || !v->depth)
        return PS_OK;
    count(&v->samples, 1);
    count(&p->samples, 1);
    count(&t->samples, 1);
    t->stamp++;
    struct entry *leaf = &t->entries[v->stack[0]];
    count(&leaf->own, 1);
    count(&t->entries[leaf->function_id].own, 1);
    for (size_t i = 0; i < v->depth; i++) {
        count_total(t, v->stack[i]);
        count_total(t, t->entries[v->stack[i]].function_id);
    }
    return PS_OK;
}

void ps_top_end_round(struct ps_top *t, uint64_t pid, int gil_held)
{
    struct process *p = find_process(t, pid);
    if (p) {
        count(&p->rounds, 1);
        count(&p->gil_rounds, gil_held ? 1 : 0);
    }
}

void ps_top_set_no_gil(struct ps_top *t, uint64_t pid, int no_gil)
{
    struct process *p = find_process(t, pid);
    if (p)
        p->no_gil = no_gil != 0;
}

void ps_top_set_threads(struct ps_top *t, uint64_t pid, unsigned on_cpu, unsigned nthreads)
{
    struct process *p = find_process(t, pid);
    if (p) {
        p->on_cpu = on_cpu;
        p->threads = nthreads;
    }
}

void ps_top_tick(struct ps_top *t)
{
    count(&t->rounds, 1);
}

void ps_top_counters(struct ps_top *t, uint64_t late, uint64_t torn)
{
    /* A sampler's totals only grow; one that restarted counts from its new zero. */
    count(&t->late, late >= t->late_seen ? late - t->late_seen : late);
    count(&t->torn, torn >= t->torn_seen ? torn - t->torn_seen : torn);
    t->late_seen = late;
    t->torn_seen = torn;
}

/* Apply FN to every set of counts T keeps. */
static void each_counts(struct ps_top *t, void (*fn)(struct counts *))
{
    for (size_t i = 0; i < t->nentries; i++) {
        fn(&t->entries[i].own);
        fn(&t->entries[i].total);
    }
    for (size_t i = 0; i < t->nthreads; i++)
        fn(&t->threads[i].samples);
    for (size_t i = 0; i < t->nprocs; i++) {
        fn(&t->procs[i].samples);
        fn(&t->procs[i].rounds);
        fn(&t->procs[i].gil_rounds);
    }
    fn(&t->rounds);
    fn(&t->samples);
    fn(&t->late);
    fn(&t->torn);
}

static void roll(struct counts *c)
{
    c->shown = c->win;
    c->win = 0;
}

void ps_top_roll(struct ps_top *t, int64_t now_ns, int64_t stale_ns)
{
    for (size_t i = t->nthreads; i-- > 0;)
        if (now_ns - t->threads[i].seen_ns > stale_ns)
            drop_thread(t, i);
    each_counts(t, roll);
    t->shown_start_ns = t->win_start_ns;
    t->shown_ns = t->win_start_ns = now_ns;
}

static void zero(struct counts *c)
{
    memset(c, 0, sizeof *c);
}

void ps_top_reset(struct ps_top *t, int64_t now_ns)
{
    each_counts(t, zero);
    t->start_ns = t->win_start_ns = t->shown_ns = t->shown_start_ns = now_ns;
}

/* --- reading --------------------------------------------------------------------------- */

static double pct(uint64_t n, uint64_t of)
{
    return of ? 100.0 * (double)n / (double)of : 0.0;
}

/* Seconds a round stood for, since start. */
static double round_seconds(const struct ps_top *t)
{
    return t->rounds.all ? (double)(t->shown_ns - t->start_ns) / 1e9 / (double)t->rounds.all : 0;
}

static enum ps_top_sort sort_key;

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int cmp_rows(const void *pa, const void *pb)
{
    const struct ps_top_row *a = pa, *b = pb;
    double x = 0, y = 0;
    int c = 0;
    switch (sort_key) {
    case PS_TOP_SORT_OWN: x = a->own_pct, y = b->own_pct; break;
    case PS_TOP_SORT_TOTAL: x = a->total_pct, y = b->total_pct; break;
    case PS_TOP_SORT_OWNTIME: x = a->own_time, y = b->own_time; break;
    case PS_TOP_SORT_TOTALTIME: x = a->total_time, y = b->total_time; break;
    case PS_TOP_SORT_FUNCTION: c = cmp_str(a->function, b->function); break;
    case PS_TOP_SORT_FILE: c = cmp_str(a->file, b->file); break;
    default: break;
    }
    if (!c && x != y)
        c = x > y ? -1 : 1;
    /* Ties: by own then total samples, then by name, so the order never flickers. */
    if (!c && a->own != b->own)
        c = a->own > b->own ? -1 : 1;
    if (!c && a->total != b->total)
        c = a->total > b->total ? -1 : 1;
    if (!c)
        c = cmp_str(a->function, b->function);
    if (!c)
        c = cmp_str(a->file, b->file);
    if (!c)
        c = (a->line > b->line) - (a->line < b->line);
    return c;
}

int ps_top_rows(struct ps_top *t, enum ps_top_group group, enum ps_top_span span,
                enum ps_top_sort sort, const struct ps_top_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (grow(&t->rows, &t->rows_cap, t->nentries + 1, sizeof *t->rows))
        return PS_NOMEM;
    uint64_t rounds = span_of(&t->rounds, span);
    double per_round = round_seconds(t);
    /* Function mode shows each function's hottest line: a pass over the line entries. */
    uint32_t *hot = NULL;
    if (group == PS_TOP_FUNCTION) {
        hot = malloc((t->nentries + 1) * sizeof *hot);
        if (!hot)
            return PS_NOMEM;
        for (size_t i = 0; i < t->nentries; i++)
            hot[i] = UINT32_MAX;
        for (size_t i = 0; i < t->nentries; i++) {
            const struct entry *e = &t->entries[i];
            if (e->line == FUNCTION_LINE)
                continue;
            uint32_t *h = &hot[e->function_id];
            if (*h == UINT32_MAX ||
                span_of(&e->total, span) > span_of(&t->entries[*h].total, span))
                *h = (uint32_t)i;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < t->nentries; i++) {
        const struct entry *e = &t->entries[i];
        if ((e->line == FUNCTION_LINE) != (group == PS_TOP_FUNCTION) ||
            (!e->total.all && !e->total.shown))
            continue;
        struct ps_top_row *r = &t->rows[k++];
        r->function = e->function;
        r->file = e->file;
        r->kind = e->kind;
        r->line = group == PS_TOP_LINE ? e->line
                  : hot[i] != UINT32_MAX ? t->entries[hot[i]].line
                                         : -1;
        r->own = span_of(&e->own, span);
        r->total = span_of(&e->total, span);
        r->own_pct = pct(r->own, rounds);
        r->total_pct = pct(r->total, rounds);
        r->own_time = (double)e->own.all * per_round;
        r->total_time = (double)e->total.all * per_round;
    }
    free(hot);
    sort_key = sort < PS_TOP_NSORT ? sort : PS_TOP_SORT_OWN;
    qsort(t->rows, k, sizeof *t->rows, cmp_rows);
    *rows = t->rows;
    *n = k;
    return PS_OK;
}

void ps_top_totals(const struct ps_top *t, enum ps_top_span span, struct ps_top_totals *out)
{
    memset(out, 0, sizeof *out);
    out->rounds = span_of(&t->rounds, span);
    out->samples = span_of(&t->samples, span);
    out->torn = span_of(&t->torn, span);
    out->late = span_of(&t->late, span);
    out->seconds = (double)(span == PS_TOP_WINDOW ? t->shown_ns - t->shown_start_ns
                                                  : t->shown_ns - t->start_ns) / 1e9;
    out->rate = out->seconds > 0 ? (double)out->rounds / out->seconds : 0;
    uint64_t rounds = 0, gil = 0;
    size_t with_gil = 0;
    for (size_t i = 0; i < t->nprocs; i++) {
        const struct process *p = &t->procs[i];
        if (!p->no_gil) { /* a process without a GIL has no share of it to count */
            rounds += span_of(&p->rounds, span);
            gil += span_of(&p->gil_rounds, span);
            with_gil++;
        }
        out->on_cpu += p->on_cpu;
        out->threads += p->threads;
    }
    out->gil_pct = pct(gil, rounds);
    out->no_gil = t->nprocs && !with_gil;
}

size_t ps_top_nprocesses(const struct ps_top *t)
{
    return t->nprocs;
}

void ps_top_process_at(const struct ps_top *t, size_t i, enum ps_top_span span,
                       struct ps_top_process *out)
{
    const struct process *p = &t->procs[i];
    out->pid = p->pid;
    out->cmdline = p->cmdline;
    out->python = p->python;
    out->exited = p->exited;
    out->samples = span_of(&p->samples, span);
    out->share_pct = pct(out->samples, span_of(&t->samples, span));
    out->gil_pct = pct(span_of(&p->gil_rounds, span), span_of(&p->rounds, span));
    out->no_gil = p->no_gil;
    out->on_cpu = p->on_cpu;
    out->threads = p->threads;
}

size_t ps_top_nthreads(const struct ps_top *t)
{
    return t->nthreads;
}

static const struct ps_top *order_top;
static enum ps_top_span order_span;

static int cmp_threads(const void *pa, const void *pb)
{
    const struct thread *a = &order_top->threads[*(const size_t *)pa];
    const struct thread *b = &order_top->threads[*(const size_t *)pb];
    if (a->pid != b->pid) { /* processes in the order they were named */
        const struct process *p = find_process(order_top, a->pid);
        const struct process *q = find_process(order_top, b->pid);
        return (p > q) - (p < q);
    }
    uint64_t x = span_of(&a->samples, order_span), y = span_of(&b->samples, order_span);
    if (x != y)
        return x > y ? -1 : 1;
    return (a->tid > b->tid) - (a->tid < b->tid);
}

void ps_top_thread_at(struct ps_top *t, size_t i, enum ps_top_span span,
                      struct ps_top_thread *out)
{
    memset(out, 0, sizeof *out);
    if (i >= t->nthreads)
        return;
    if (i == 0 || t->order_cap < t->nthreads) { /* sorted once per pass over the threads */
        if (grow(&t->order, &t->order_cap, t->nthreads, sizeof *t->order))
            return;
        for (size_t k = 0; k < t->nthreads; k++)
            t->order[k] = k;
        order_top = t;
        order_span = span;
        qsort(t->order, t->nthreads, sizeof *t->order, cmp_threads);
    }
    const struct thread *th = &t->threads[t->order[i]];
    out->pid = th->pid;
    out->tid = th->tid;
    out->name = th->name;
    out->state = th->state;
    out->os_state = th->os_state;
    out->holds_gil = th->holds_gil;
    out->samples = span_of(&th->samples, span);
    if (grow(&t->frames, &t->frames_cap, th->depth + 1, sizeof *t->frames))
        return;
    for (size_t k = 0; k < th->depth; k++) {
        const struct entry *e = &t->entries[th->stack[k]];
        t->frames[k] = (struct ps_top_frame){e->function, e->file, e->line, e->kind};
    }
    out->frames = t->frames;
    out->nframes = th->depth;
}

/* --- text ------------------------------------------------------------------------------ */

static void where(char *buf, size_t size, const char *file, int line)
{
    char f[1024];
    ps_term_escape(file ? file : "?", f, sizeof f, 0);
    if (line >= 0)
        snprintf(buf, size, "%s:%d", f, line);
    else
        snprintf(buf, size, "%s", f);
}

/* "97.0%", or "none" where there is no GIL (a free-threaded build): never a 0% for it. */
static void gil_text(int no_gil, double pct_held, char *buf, size_t size)
{
    if (no_gil)
        snprintf(buf, size, "none");
    else
        snprintf(buf, size, "%.1f%%", pct_held);
}

int ps_top_write_text(FILE *out, struct ps_top *t, enum ps_top_group group,
                      enum ps_top_span span, enum ps_top_sort sort, size_t max_rows,
                      int64_t wall_ns)
{
    const struct ps_top_row *rows;
    size_t n;
    int rc = ps_top_rows(t, group, span, sort, &rows, &n);
    if (rc)
        return rc;
    struct ps_top_totals w, all;
    ps_top_totals(t, PS_TOP_WINDOW, &w);
    ps_top_totals(t, PS_TOP_SINCE_START, &all);
    const struct ps_top_totals *s = span == PS_TOP_WINDOW ? &w : &all;
    char when[64], a[1024], b[1536];
    ps_format_time(wall_ns, when, sizeof when);
    fprintf(out, "pysnap top %s window %.2f s, since start %.1f s\n", when, w.seconds,
            all.seconds);
    char gil[32];
    gil_text(s->no_gil, s->gil_pct, gil, sizeof gil);
    fprintf(out, "rounds %llu rate %.1f/s samples %llu torn %llu late %llu gil %s "
            "threads %u/%u (%s)\n",
            (unsigned long long)s->rounds, s->rate, (unsigned long long)s->samples,
            (unsigned long long)s->torn, (unsigned long long)s->late, gil, s->on_cpu,
            s->threads, span == PS_TOP_WINDOW ? "window" : "since start");
    for (size_t i = 0; i < t->nprocs; i++) {
        struct ps_top_process p;
        ps_top_process_at(t, i, span, &p);
        gil_text(p.no_gil, p.gil_pct, gil, sizeof gil);
        fprintf(out, "process %llu share %.1f%% gil %s threads %u/%u python %s%s cmd %s\n",
                (unsigned long long)p.pid, p.share_pct, gil, p.on_cpu, p.threads,
                p.python ? ps_term_escape(p.python, b, 32, 0) : "?", p.exited ? " exited" : "",
                ps_term_escape(p.cmdline ? p.cmdline : "", a, 200, 0));
    }
    fprintf(out, "  %%Own  %%Total  OwnTime  TotalTime  Function (file:line)\n");
    for (size_t i = 0; i < n && (!max_rows || i < max_rows); i++) {
        const struct ps_top_row *r = &rows[i];
        where(b, sizeof b, r->file, r->line);
        fprintf(out, "%5.1f%%  %5.1f%%  %6.2fs  %8.2fs  %s (%s)\n", r->own_pct, r->total_pct,
                r->own_time, r->total_time, ps_term_escape(r->function, a, sizeof a, 0), b);
    }
    fprintf(out, "(end)\n");
    return ferror(out) ? PS_IO : PS_OK;
}
