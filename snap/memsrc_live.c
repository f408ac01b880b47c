#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../analyze/u64map.h"
#include "pysnap/error.h"
#include "memsrc_live.h"

#define PAGE 4096u
/* Gaps smaller than this between recorded ranges are filled in, trading a few bytes for
 * fewer segments (each costs a 56-byte program header). */
#define MERGE_GAP 64
#define MAX_PAGES (1u << 20) /* 4 GiB of cache: far beyond any walk */
#define IOV_BATCH 1024u      /* remote iovecs per process_vm_readv (the kernel's UIO_MAXIOV) */
#define SLAB_PAGES 64u       /* pages per slab for pages read one at a time */
/* Below this many pages a second reader costs more than it saves (430 pages: 0.44 ms alone,
 * 0.53 ms with a thread started for it). */
#define PARALLEL_MIN_PAGES 1024u

struct rec {
    uint64_t addr, len;
};

/* Page copies live in slabs, freed all at once when the cache is dropped. */
struct slab {
    struct slab *next;
    size_t used, cap; /* in pages */
    unsigned char *data;
};

struct ps_live {
    pid_t pid;
    int memfd;              /* /proc/PID/mem, opened on first need */
    int use_memfd;          /* process_vm_readv is not available */
    int offline;            /* never read the target: a page not cached is a miss */
    size_t read_calls;
    struct ps_u64map pages; /* page address + 1 -> its copy, or UNREADABLE */
    size_t npages;
    struct slab *slabs;
    uint64_t last_page;     /* one-entry lookaside in front of the map */
    const unsigned char *last_data;
    struct rec *recs;
    size_t nrecs, recs_cap;
    struct rec *held;       /* withheld ranges: secrets the snapshot must not keep */
    size_t nheld, held_cap;
    int held_lost;          /* a withheld range could not be noted */
    struct ps_range *merged;
    unsigned char *merged_data;
    uint64_t *misses;       /* pages an offline walk wanted and the copy did not hold */
    size_t nmisses, misses_cap;
    uint64_t *plan;         /* pages the next freeze copies, sorted */
    unsigned char **plan_dst; /* where each one's copy goes (the cache's buffers) */
    size_t nplan;
    uint8_t *plan_ok;
    struct iovec *iov, *iov2; /* IOV_BATCH remote iovecs each, for two readers */
    struct slab *reserve;   /* pages faulted in before a freeze for the copies made during
                               it that no plan foresaw (the native stacks) */
    long ncpus;
};

static unsigned char unreadable_marker;
#define UNREADABLE ((void *)&unreadable_marker)

static unsigned char *slab_new(struct ps_live *l, size_t cap)
{
    struct slab *s = calloc(1, sizeof *s);
    unsigned char *data = malloc(cap * PAGE);
    if (!s || !data) {
        free(s);
        free(data);
        return NULL;
    }
    s->data = data;
    s->cap = cap;
    s->next = l->slabs;
    l->slabs = s;
    return data;
}

static unsigned char *page_alloc(struct ps_live *l)
{
    struct slab *s = l->slabs;
    if (!s || s->used == s->cap) {
        if (!slab_new(l, SLAB_PAGES))
            return NULL;
        s = l->slabs;
    }
    return s->data + PAGE * s->used++;
}

static int open_memfd(struct ps_live *l)
{
    if (l->memfd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)l->pid);
        l->memfd = open(path, O_RDONLY | O_CLOEXEC);
    }
    return l->memfd >= 0 ? PS_OK : PS_READ;
}

/* One reader of pages: its own iovec array and counters, so that two can run at once. */
struct reader {
    pid_t pid;
    struct iovec *iov; /* IOV_BATCH remote iovecs */
    size_t calls;
    int no_vm_readv;   /* process_vm_readv refused (ENOSYS, EPERM): use /proc/PID/mem */
};

/* Copy the N remote pages PAGES[] to the local pages DST[i] with process_vm_readv, many
 * iovecs per call (one per page, so a failure stops at a page boundary; the pages after an
 * unreadable one go in the next call). OK[i] says which were read. */
static void vm_read_pages(struct reader *rd, const uint64_t *pages, size_t n,
                          unsigned char *const *dst, uint8_t *ok)
{
    struct iovec local[64];
    memset(ok, 0, n);
    size_t i = 0;
    while (i < n && !rd->no_vm_readv) {
        size_t k = n - i < IOV_BATCH ? n - i : IOV_BATCH;
        /* Consecutive local pages make one local iovec. */
        size_t nl = 0;
        for (size_t j = 0; j < k; j++) {
            rd->iov[j].iov_base = (void *)(uintptr_t)pages[i + j];
            rd->iov[j].iov_len = PAGE;
            if (nl && (unsigned char *)local[nl - 1].iov_base + local[nl - 1].iov_len == dst[i + j])
                local[nl - 1].iov_len += PAGE;
            else if (nl < sizeof local / sizeof *local) {
                local[nl].iov_base = dst[i + j];
                local[nl].iov_len = PAGE;
                nl++;
            } else {
                k = j; /* out of local iovecs: the rest in the next call */
                break;
            }
        }
        ssize_t r = process_vm_readv(rd->pid, local, (unsigned long)nl, rd->iov, (unsigned long)k, 0);
        rd->calls++;
        if (r < 0 && (errno == ENOSYS || errno == EPERM)) {
            rd->no_vm_readv = 1;
            break;
        }
        if (r < 0 && errno == ESRCH)
            return; /* the target is gone: nothing more to read */
        size_t full = r > 0 ? (size_t)r / PAGE : 0;
        memset(ok + i, 1, full);
        i += full;
        if (full < k)
            i++; /* that page is unreadable; go on after it */
    }
}

/* vm_read_pages, then /proc/PID/mem for what it could not read because the call is not
 * allowed here. */
static void read_pages(struct ps_live *l, const uint64_t *pages, size_t n,
                       unsigned char *const *dst, uint8_t *ok)
{
    struct reader rd = {l->pid, l->iov, 0, l->use_memfd};
    vm_read_pages(&rd, pages, n, dst, ok);
    l->read_calls += rd.calls;
    l->use_memfd = rd.no_vm_readv;
    if (l->use_memfd && open_memfd(l) == PS_OK) {
        for (size_t j = 0; j < n; j++) {
            if (ok[j])
                continue;
            l->read_calls++;
            ok[j] = pread(l->memfd, dst[j], PAGE, (off_t)pages[j]) == (ssize_t)PAGE;
        }
    }
}

static int cache_put(struct ps_live *l, uint64_t page, void *data)
{
    if (ps_u64map_put(&l->pages, page + 1, data)) /* +1: page 0 is a valid key too */
        return PS_NOMEM;
    if (data != UNREADABLE)
        l->npages++;
    return PS_OK;
}

static void note_miss(struct ps_live *l, uint64_t page)
{
    if (l->nmisses && l->misses[l->nmisses - 1] == page)
        return;
    if (l->nmisses == l->misses_cap) {
        size_t ncap = l->misses_cap ? l->misses_cap * 2 : 64;
        uint64_t *nm = realloc(l->misses, ncap * sizeof *nm);
        if (!nm) {
            /* Still a miss: the count must not stay zero, or the walk would be taken. */
            if (l->nmisses == 0)
                l->nmisses = 1;
            return;
        }
        l->misses = nm;
        l->misses_cap = ncap;
    }
    l->misses[l->nmisses++] = page;
}

static const unsigned char *get_page(struct ps_live *l, uint64_t page)
{
    if (l->last_data && l->last_page == page)
        return l->last_data;
    void *p = ps_u64map_get(&l->pages, page + 1);
    if (p == UNREADABLE)
        return NULL;
    if (!p) {
        if (l->offline) {
            note_miss(l, page);
            return NULL;
        }
        if (l->npages >= MAX_PAGES)
            return NULL;
        unsigned char *buf = page_alloc(l);
        uint8_t ok;
        if (!buf)
            return NULL;
        read_pages(l, &page, 1, &buf, &ok);
        if (cache_put(l, page, ok ? buf : UNREADABLE) || !ok)
            return NULL;
        p = buf;
    }
    l->last_page = page;
    l->last_data = p;
    return p;
}

static int copy_out(struct ps_live *l, uint64_t addr, void *out, size_t len)
{
    unsigned char *o = out;
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        const unsigned char *p = get_page(l, page);
        if (!p)
            return PS_READ;
        size_t in_page = PAGE - (size_t)(addr - page);
        size_t n = len < in_page ? len : in_page;
        memcpy(o, p + (addr - page), n);
        o += n;
        addr += n;
        len -= n;
    }
    return PS_OK;
}

static int add_rec(struct ps_live *l, uint64_t addr, size_t len)
{
    if (len == 0)
        return PS_OK;
    /* Consecutive reads are often of the same object: extend the last record. */
    if (l->nrecs) {
        struct rec *last = &l->recs[l->nrecs - 1];
        if (addr >= last->addr && addr <= last->addr + last->len) {
            if (addr + len > last->addr + last->len)
                last->len = addr + len - last->addr;
            return PS_OK;
        }
    }
    if (l->nrecs == l->recs_cap) {
        size_t ncap = l->recs_cap ? l->recs_cap * 2 : 1024;
        struct rec *nr = realloc(l->recs, ncap * sizeof *nr);
        if (!nr)
            return PS_NOMEM;
        l->recs = nr;
        l->recs_cap = ncap;
    }
    l->recs[l->nrecs].addr = addr;
    l->recs[l->nrecs].len = len;
    l->nrecs++;
    return PS_OK;
}

static int live_read(void *self, uint64_t addr, void *buf, size_t len)
{
    struct ps_live *l = self;
    if (addr + len < addr)
        return PS_READ;
    int rc = copy_out(l, addr, buf, len);
    if (!rc)
        rc = add_rec(l, addr, len);
    return rc;
}

/* Secrets are few (a cookie, a token): a list searched linearly. A range that cannot be
 * kept in the list fails the snapshot (ps_live_recorded) rather than leak. */
static void live_withhold(void *self, uint64_t addr, uint64_t len)
{
    struct ps_live *l = self;
    if (addr + len < addr)
        return;
    if (l->nheld == l->held_cap) {
        size_t ncap = l->held_cap ? l->held_cap * 2 : 16;
        struct rec *nh = realloc(l->held, ncap * sizeof *nh);
        if (!nh) {
            l->held_lost = 1;
            return;
        }
        l->held = nh;
        l->held_cap = ncap;
    }
    l->held[l->nheld].addr = addr;
    l->held[l->nheld].len = len;
    l->nheld++;
}

static int held_overlaps(const struct ps_live *l, uint64_t from, uint64_t to)
{
    for (size_t i = 0; i < l->nheld; i++)
        if (l->held[i].addr < to && from < l->held[i].addr + l->held[i].len)
            return 1;
    return 0;
}

/* Overwrite the withheld bytes of the kept range [ADDR, ADDR+LEN) at DATA with '*'. */
static void scrub_held(const struct ps_live *l, uint64_t addr, uint64_t len, unsigned char *data)
{
    for (size_t i = 0; i < l->nheld; i++) {
        uint64_t from = l->held[i].addr > addr ? l->held[i].addr : addr;
        uint64_t end = l->held[i].addr + l->held[i].len, to = end < addr + len ? end : addr + len;
        if (from < to)
            memset(data + (from - addr), '*', (size_t)(to - from));
    }
}

static const struct ps_memsrc_ops live_ops = {live_read, NULL, live_withhold};

int ps_live_open(pid_t pid, struct ps_live **out)
{
    struct ps_live *l = calloc(1, sizeof *l);
    if (!l)
        return PS_NOMEM;
    l->iov = malloc(IOV_BATCH * sizeof *l->iov);
    l->iov2 = malloc(IOV_BATCH * sizeof *l->iov2);
    l->ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!l->iov || !l->iov2) {
        free(l->iov);
        free(l->iov2);
        free(l);
        return PS_NOMEM;
    }
    l->pid = pid;
    l->memfd = -1;
    *out = l;
    return PS_OK;
}

struct ps_memsrc ps_live_memsrc(struct ps_live *l)
{
    struct ps_memsrc m = {&live_ops, l};
    return m;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A share of a copy: pages [from, to) of PAGES, into DATA (contiguous). */
struct copy_job {
    struct reader rd;
    const uint64_t *pages;
    unsigned char *const *dst;
    uint8_t *ok;
    size_t from, to;
};

static void *copy_share(void *arg)
{
    struct copy_job *j = arg;
    for (size_t i = j->from; i < j->to; i += IOV_BATCH) {
        size_t k = j->to - i < IOV_BATCH ? j->to - i : IOV_BATCH;
        vm_read_pages(&j->rd, j->pages + i, k, j->dst + i, j->ok + i);
    }
    return NULL;
}

/* Copy the N pages PAGES[] to DST[0..N) (a page each); OK[i] says which were read.
 * Two readers when there is enough to share and a second CPU: reading another process's
 * pages costs the kernel a page-table walk each, which parallelizes. The helper thread
 * inherits pysnap's scheduling (real-time during a freeze). */
static void copy_pages(struct ps_live *l, const uint64_t *pages, size_t n,
                       unsigned char *const *dst, uint8_t *ok)
{
    struct copy_job main_job = {{l->pid, l->iov, 0, l->use_memfd}, pages, dst, ok, 0, n};
    struct copy_job help_job = {{l->pid, l->iov2, 0, l->use_memfd}, pages, dst, ok, n, n};
    memset(ok, 0, n);
    pthread_t helper;
    int helped = 0;
    if (n >= PARALLEL_MIN_PAGES && l->ncpus > 1 && !l->use_memfd) {
        main_job.to = help_job.from = n / 2;
        helped = pthread_create(&helper, NULL, copy_share, &help_job) == 0;
        if (!helped)
            main_job.to = help_job.from = n;
    }
    copy_share(&main_job);
    if (helped)
        pthread_join(helper, NULL);
    l->read_calls += main_job.rd.calls + help_job.rd.calls;
    if (main_job.rd.no_vm_readv || help_job.rd.no_vm_readv || l->use_memfd) {
        /* process_vm_readv not allowed here: the rest through /proc/PID/mem. */
        l->use_memfd = 1;
        if (open_memfd(l) == PS_OK)
            for (size_t i = 0; i < n; i++)
                if (!ok[i]) {
                    l->read_calls++;
                    ok[i] = pread(l->memfd, dst[i], PAGE, (off_t)pages[i]) == (ssize_t)PAGE;
                }
    }
}

int ps_live_record_spans(struct ps_live *l, const struct ps_live_span *spans, size_t nspans)
{
    /* Every page of every span not cached yet, read in one batch. */
    size_t total = 0;
    for (size_t i = 0; i < nspans; i++) {
        uint64_t a = spans[i].addr, len = spans[i].len;
        if (len && a + len > a)
            total += (size_t)(((a + len + PAGE - 1) / PAGE) - a / PAGE);
    }
    uint64_t *want = malloc((total ? total : 1) * sizeof *want);
    if (!want)
        return PS_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < nspans; i++) {
        uint64_t a = spans[i].addr, len = spans[i].len;
        if (!len || a + len < a)
            continue;
        for (uint64_t p = a & ~(uint64_t)(PAGE - 1); p < a + len && n < total; p += PAGE)
            if (!ps_u64map_get(&l->pages, p + 1))
                want[n++] = p;
    }
    qsort(want, n, sizeof *want, u64_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || want[i] != want[u - 1])
            want[u++] = want[i];
    int rc = PS_OK;
    if (u && !l->offline && l->npages + u <= MAX_PAGES) {
        /* The reserve first, fresh memory for what it cannot hold. */
        struct slab *r = l->reserve;
        size_t from_reserve = r ? (r->cap - r->used < u ? r->cap - r->used : u) : 0;
        unsigned char *buf = u > from_reserve ? slab_new(l, u - from_reserve) : NULL;
        uint8_t *ok = malloc(u);
        unsigned char **dst = malloc(u * sizeof *dst);
        if ((buf || u == from_reserve) && ok && dst) {
            for (size_t i = 0; i < u; i++)
                dst[i] = i < from_reserve ? r->data + PAGE * (r->used + i)
                                          : buf + PAGE * (i - from_reserve);
            if (r)
                r->used += from_reserve;
            if (buf)
                l->slabs->used = u - from_reserve;
            copy_pages(l, want, u, dst, ok);
            for (size_t i = 0; i < u && !rc; i++)
                rc = cache_put(l, want[i], ok[i] ? dst[i] : UNREADABLE);
        }
        free(ok);
        free(dst);
    }
    free(want);
    /* Record only what can be read: a stack copy may run into a guard page. */
    for (size_t i = 0; i < nspans && !rc; i++) {
        uint64_t addr = spans[i].addr, end = addr + spans[i].len;
        if (end < addr)
            continue;
        while (!rc && addr < end) {
            uint64_t page = addr & ~(uint64_t)(PAGE - 1);
            size_t k = PAGE - (size_t)(addr - page);
            if (k > end - addr)
                k = (size_t)(end - addr);
            if (!get_page(l, page))
                break;
            rc = add_rec(l, addr, k);
            addr += k;
        }
    }
    return rc;
}

int ps_live_record(struct ps_live *l, uint64_t addr, size_t len)
{
    struct ps_live_span one = {addr, len};
    return ps_live_record_spans(l, &one, 1);
}


/* A reserve partly used by an earlier freeze joins the slabs (its pages are cached); an
 * unused one is freed. */
static void drop_reserve(struct ps_live *l)
{
    struct slab *r = l->reserve;
    l->reserve = NULL;
    if (r && r->used) {
        r->next = l->slabs;
        l->slabs = r;
    } else if (r) {
        free(r->data);
        free(r);
    }
}

int ps_live_reserve(struct ps_live *l, const struct ps_live_span *spans, size_t nspans,
                    size_t max_pages)
{
    drop_reserve(l);
    size_t n = 0;
    for (size_t i = 0; i < nspans; i++) {
        uint64_t a = spans[i].addr, len = spans[i].len;
        if (len && a + len > a)
            n += (size_t)(((a + len + PAGE - 1) / PAGE) - a / PAGE);
    }
    if (n > max_pages)
        n = max_pages;
    if (n == 0)
        return PS_OK;
    struct slab *s = calloc(1, sizeof *s);
    unsigned char *data = malloc(n * PAGE);
    uint64_t *pages = malloc(n * sizeof *pages);
    unsigned char **dst = malloc(n * sizeof *dst);
    uint8_t *ok = malloc(n);
    if (!s || !data || !pages || !dst || !ok) {
        free(s);
        free(data);
        free(pages);
        free(dst);
        free(ok);
        return PS_NOMEM;
    }
    memset(data, 0, n * PAGE); /* fault every page in now, not inside the freeze */
    size_t k = 0;
    for (size_t i = 0; i < nspans && k < n; i++) {
        uint64_t a = spans[i].addr, len = spans[i].len;
        if (!len || a + len < a)
            continue;
        for (uint64_t p = a & ~(uint64_t)(PAGE - 1); p < a + len && k < n; p += PAGE, k++) {
            pages[k] = p;
            dst[k] = data + PAGE * k;
        }
    }
    /* The rehearsal: the same copy, into the same memory, with the target running. */
    copy_pages(l, pages, k, dst, ok);
    free(pages);
    free(dst);
    free(ok);
    s->data = data;
    s->cap = n;
    l->reserve = s;
    return PS_OK;
}

/* Forget which pages are cached and every recorded range; the slabs stay. */
static void forget_pages(struct ps_live *l)
{
    ps_u64map_free(&l->pages, NULL);
    memset(&l->pages, 0, sizeof l->pages);
    l->npages = 0;
    l->last_data = NULL;
    l->nrecs = 0;
    l->nheld = 0;
    l->held_lost = 0;
}

/* Forget every page and every recorded range, and free the slabs. */
static void drop_cache(struct ps_live *l)
{
    forget_pages(l);
    while (l->slabs) {
        struct slab *s = l->slabs;
        l->slabs = s->next;
        free(s->data);
        free(s);
    }
}

int ps_live_plan(struct ps_live *l)
{
    /* The readable pages cached so far, and the ones the last offline walk missed. */
    size_t n = l->npages + l->nmisses, m = 0;
    uint64_t *plan = malloc((n ? n : 1) * sizeof *plan);
    if (!plan)
        return PS_NOMEM;
    for (size_t i = 0; i < l->pages.cap; i++)
        if (l->pages.keys[i] && l->pages.values[i] != UNREADABLE && m < n)
            plan[m++] = l->pages.keys[i] - 1;
    for (size_t i = 0; i < l->nmisses && m < n; i++)
        plan[m++] = l->misses[i];
    qsort(plan, m, sizeof *plan, u64_cmp);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || plan[i] != plan[u - 1])
            plan[u++] = plan[i];
    l->nmisses = 0;
    free(l->plan);
    free(l->plan_ok);
    free(l->plan_dst);
    l->plan = plan;
    l->nplan = u;
    l->plan_ok = malloc(u ? u : 1);
    l->plan_dst = malloc((u ? u : 1) * sizeof *l->plan_dst);
    if (!l->plan_ok || !l->plan_dst)
        return PS_NOMEM;
    /* Each page's copy goes where the walk before cached it: memory this process has already
     * faulted in and copied into (a new slab only for the misses). The page faults of fresh
     * memory cost 10-15 us each in a VM, and were most of a capture's page faults. */
    size_t fresh = 0;
    for (size_t i = 0; i < u; i++) {
        unsigned char *old = ps_u64map_get(&l->pages, plan[i] + 1);
        l->plan_dst[i] = old != UNREADABLE ? old : NULL;
        fresh += !l->plan_dst[i];
    }
    unsigned char *data = fresh ? slab_new(l, fresh) : NULL;
    if (fresh && !data)
        return PS_NOMEM;
    if (fresh)
        l->slabs->used = fresh;
    for (size_t i = 0, k = 0; i < u; i++)
        if (!l->plan_dst[i])
            l->plan_dst[i] = data + PAGE * k++;
    /* The map holds the plan's pages and nothing else (a page unreadable before is not in the
     * plan: an offline walk that needs it misses, and the next plan has it). */
    forget_pages(l);
    for (size_t i = 0; i < u; i++) {
        int rc = cache_put(l, plan[i], l->plan_dst[i]);
        if (rc)
            return rc;
    }
    /* Rehearse the copy now, with the target running: its result is overwritten inside the
     * freeze, but every page's first copy is paid here. Measured on the benchmark target
     * (430 pages): a first process_vm_readv into memory costs 6-9 us a page even when the
     * memory was written beforehand, a second 1-2 us; the freeze holds only the second. */
    if (u)
        copy_pages(l, plan, u, l->plan_dst, l->plan_ok);
    return PS_OK;
}

void ps_live_copy_plan(struct ps_live *l)
{
    if (!l->nplan)
        return;
    copy_pages(l, l->plan, l->nplan, l->plan_dst, l->plan_ok);
    for (size_t i = 0; i < l->nplan; i++)
        if (!l->plan_ok[i]) { /* unmapped since the plan: as unreadable as in a live walk */
            ps_u64map_put(&l->pages, l->plan[i] + 1, UNREADABLE);
            l->npages--;
        }
    l->last_data = NULL;
}

void ps_live_set_offline(struct ps_live *l, int offline)
{
    l->offline = offline;
    if (offline)
        l->nmisses = 0;
}

size_t ps_live_misses(const struct ps_live *l)
{
    return l->nmisses;
}

size_t ps_live_plan_pages(const struct ps_live *l)
{
    return l->nplan;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int ps_live_recorded(struct ps_live *l, struct ps_range **ranges, size_t *n, size_t *bytes)
{
    if (l->held_lost)
        return PS_NOMEM;
    qsort(l->recs, l->nrecs, sizeof *l->recs, rec_cmp);
    size_t m = 0;
    for (size_t i = 0; i < l->nrecs; i++) {
        struct rec r = l->recs[i];
        if (m > 0) {
            struct rec *last = &l->recs[m - 1];
            /* Both ends of a small gap lie in cached pages, so the gap bytes are cached too
             * (the gap is shorter than a page). A gap holding withheld bytes stays a gap. */
            uint64_t end = last->addr + last->len;
            if (r.addr <= end + MERGE_GAP && (r.addr <= end || !held_overlaps(l, end, r.addr))) {
                if (r.addr + r.len > last->addr + last->len)
                    last->len = r.addr + r.len - last->addr;
                continue;
            }
        }
        l->recs[m++] = r;
    }
    l->nrecs = m;
    size_t total = 0;
    for (size_t i = 0; i < m; i++)
        total += l->recs[i].len;
    free(l->merged);
    free(l->merged_data);
    l->merged = calloc(m ? m : 1, sizeof *l->merged);
    l->merged_data = malloc(total ? total : 1);
    if (!l->merged || !l->merged_data)
        return PS_NOMEM;
    /* Only what is cached: never a read of the (running) target here. */
    int offline = l->offline;
    l->offline = 1;
    size_t off = 0;
    for (size_t i = 0; i < m; i++) {
        int rc = copy_out(l, l->recs[i].addr, l->merged_data + off, l->recs[i].len);
        if (rc) {
            l->offline = offline;
            return ps_error_set(PS_READ, "recorded range 0x%llx left the page cache",
                                (unsigned long long)l->recs[i].addr);
        }
        scrub_held(l, l->recs[i].addr, l->recs[i].len, l->merged_data + off);
        l->merged[i].addr = l->recs[i].addr;
        l->merged[i].len = l->recs[i].len;
        l->merged[i].data = l->merged_data + off;
        off += l->recs[i].len;
    }
    l->offline = offline;
    *ranges = l->merged;
    *n = m;
    *bytes = total;
    return PS_OK;
}

size_t ps_live_pages_read(const struct ps_live *l)
{
    return l->npages;
}

size_t ps_live_read_calls(const struct ps_live *l)
{
    return l->read_calls;
}

void ps_live_close(struct ps_live *l)
{
    if (!l)
        return;
    if (l->memfd >= 0)
        close(l->memfd);
    drop_reserve(l);
    drop_cache(l);
    free(l->plan);
    free(l->plan_ok);
    free(l->plan_dst);
    free(l->misses);
    free(l->iov);
    free(l->iov2);
    free(l->recs);
    free(l->held);
    free(l->merged);
    free(l->merged_data);
    free(l);
}
