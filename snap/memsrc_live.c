#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../analyze/u64map.h"
#include "pysnap/error.h"
#include "memsrc_live.h"
#include "pagecopy.h"

#define PAGE PS_PAGE
/* Gaps smaller than this between recorded ranges are filled in, trading a few bytes for
 * fewer segments (each costs a 56-byte program header). */
#define MERGE_GAP 64
#define MAX_PAGES (1u << 20) /* 4 GiB of cache: far beyond any walk */
#define SLAB_PAGES 64u       /* pages per slab for pages read one at a time */
/* A planned page is copied only across the bytes the walk before read there: the span
 * from their first to their last byte, widened to SPAN_ALIGN and then by SPAN_PAD on each
 * side, so that a walk inside the freeze that reads a little further (a frame pushed, a
 * longer string) still finds its bytes. A page's copy costs a fixed part (the kernel's
 * page-table walk and pin, ~0.35 us here) and a part per byte (~0.1 us a KiB, the source
 * mostly out of the CPU's caches): the ~950 pages of a 200-thread walk hold ~860 KiB of
 * reads in 3.8 MiB. SPAN_PAD is at least MERGE_GAP, and both are multiples of SPAN_ALIGN. */
#define SPAN_ALIGN 64u
#define SPAN_PAD 256u

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
    struct ps_u64map spans; /* page address + 1 -> the part of it a freeze copied (span_of);
                               a cached page without an entry is whole */
    uint32_t last_span;     /* the lookaside page's span */
    struct rec *misses;     /* bytes an offline walk wanted and the copy did not hold */
    size_t nmisses, misses_cap;
    int misses_lost;        /* a miss could not be noted: the next plan takes whole pages */
    uint64_t *plan;         /* pages the next freeze copies, sorted */
    uint32_t *plan_span;    /* the part of each one to copy (span_make) */
    unsigned char **plan_dst; /* where each one's copy goes (the cache's buffers) */
    size_t nplan;
    uint8_t *plan_ok;
    struct ps_pagecopy *copier;
    struct slab *reserve;   /* pages faulted in before a freeze for the copies made during
                               it that no plan foresaw (the native stacks) */
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

/* Copy the N pages PAGES[] to DST[0..N) (a page each; only the span SPANS[i] of each when
 * SPANS is not NULL); OK[i] says which were read: process_vm_readv (pagecopy.h), else
 * /proc/PID/mem. */
static void copy_pages(struct ps_live *l, const uint64_t *pages, const uint32_t *spans,
                       size_t n, unsigned char *const *dst, uint8_t *ok)
{
    int refused = l->use_memfd;
    if (!refused)
        l->read_calls += ps_pagecopy_run(l->copier, pages, spans, n, dst, ok, &refused);
    else
        memset(ok, 0, n);
    if (refused) {
        /* process_vm_readv not allowed here: the rest through /proc/PID/mem. */
        l->use_memfd = 1;
        if (open_memfd(l) == PS_OK)
            for (size_t i = 0; i < n; i++)
                if (!ok[i]) {
                    uint32_t sp = spans ? spans[i] : PS_SPAN_FULL;
                    size_t len = ps_span_len(sp);
                    l->read_calls++;
                    ok[i] = pread(l->memfd, dst[i] + ps_span_lo(sp), len,
                                  (off_t)(pages[i] + ps_span_lo(sp))) == (ssize_t)len;
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

/* The span of PAGE that the cache holds: all of it unless a freeze copied a part. */
static uint32_t span_of(const struct ps_live *l, uint64_t page)
{
    void *v = ps_u64map_get(&l->spans, page + 1);
    return v ? (uint32_t)(uintptr_t)v : PS_SPAN_FULL;
}

static int span_set(struct ps_live *l, uint64_t page, uint32_t span)
{
    return ps_u64map_put(&l->spans, page + 1, (void *)(uintptr_t)span) ? PS_NOMEM : PS_OK;
}

/* LEN bytes at ADDR (within one page) that an offline walk wanted and the copy lacked. */
static void note_miss(struct ps_live *l, uint64_t addr, size_t len)
{
    if (l->nmisses) {
        struct rec *last = &l->misses[l->nmisses - 1];
        if (last->addr == addr && last->len == len)
            return;
    }
    if (l->nmisses == l->misses_cap) {
        size_t ncap = l->misses_cap ? l->misses_cap * 2 : 64;
        struct rec *nm = realloc(l->misses, ncap * sizeof *nm);
        if (!nm) {
            /* Still a miss: the walk must not be taken; the next plan copies whole pages. */
            l->misses_lost = 1;
            return;
        }
        l->misses = nm;
        l->misses_cap = ncap;
    }
    l->misses[l->nmisses].addr = addr;
    l->misses[l->nmisses].len = len;
    l->nmisses++;
}

/* The cached copy of PAGE, for reading the bytes [OFF, OFF+LEN) of it; NULL when they
 * cannot be read. Online, a page not cached, or cached only in part (a freeze's span that
 * does not hold these bytes), is read whole now; offline, that is a miss. */
static const unsigned char *get_page(struct ps_live *l, uint64_t page, size_t off, size_t len)
{
    if (l->last_data && l->last_page == page && ps_span_covers(l->last_span, off, len))
        return l->last_data;
    void *p = ps_u64map_get(&l->pages, page + 1);
    if (p == UNREADABLE)
        return NULL;
    uint32_t span = p ? span_of(l, page) : PS_SPAN_FULL;
    if (!p || !ps_span_covers(span, off, len)) {
        if (l->offline) {
            note_miss(l, page + off, len);
            return NULL;
        }
        if (!p && l->npages >= MAX_PAGES)
            return NULL;
        unsigned char *buf = p ? p : page_alloc(l);
        uint8_t ok;
        if (!buf)
            return NULL;
        copy_pages(l, &page, NULL, 1, &buf, &ok);
        if (!ok) { /* unmapped since a freeze copied part of it: as a live read would find */
            if (p)
                l->npages--;
            ps_u64map_put(&l->pages, page + 1, UNREADABLE);
            return NULL;
        }
        if ((!p && cache_put(l, page, buf)) || (p && span_set(l, page, PS_SPAN_FULL)))
            return NULL;
        p = buf;
        span = PS_SPAN_FULL;
    }
    l->last_page = page;
    l->last_data = p;
    l->last_span = span;
    return p;
}

/* Whether the bytes [ADDR, ADDR+LEN) are all in the cache (no read, no miss noted). */
static int cached(const struct ps_live *l, uint64_t addr, uint64_t len)
{
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        void *p = ps_u64map_get(&l->pages, page + 1);
        size_t off = (size_t)(addr - page), n = PAGE - off < len ? PAGE - off : (size_t)len;
        uint32_t span = span_of(l, page);
        if (!p || p == UNREADABLE || !ps_span_covers(span, off, n))
            return 0;
        addr += n;
        len -= n;
    }
    return 1;
}

static int copy_out(struct ps_live *l, uint64_t addr, void *out, size_t len)
{
    unsigned char *o = out;
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        size_t off = (size_t)(addr - page), in_page = PAGE - off;
        size_t n = len < in_page ? len : in_page;
        const unsigned char *p = get_page(l, page, off, n);
        if (!p)
            return PS_READ;
        memcpy(o, p + off, n);
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
    l->copier = ps_pagecopy_open(pid);
    if (!l->copier) {
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

/* Part of a page the next freeze must copy. */
struct piece {
    uint64_t page;
    unsigned lo, hi;
};

static int piece_cmp(const void *a, const void *b)
{
    const struct piece *x = a, *y = b;
    return x->page < y->page ? -1 : x->page > y->page;
}

/* Append the pieces of [ADDR, ADDR+LEN), a piece a page, to V (room for them counted by
 * count_pieces). */
static size_t add_pieces(struct piece *v, size_t n, uint64_t addr, uint64_t len)
{
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        unsigned off = (unsigned)(addr - page);
        unsigned k = PAGE - off < len ? PAGE - off : (unsigned)len;
        v[n++] = (struct piece){page, off, off + k};
        addr += k;
        len -= k;
    }
    return n;
}

static size_t count_pieces(uint64_t addr, uint64_t len)
{
    return len && addr + len > addr ? (size_t)((addr + len - 1) / PAGE - addr / PAGE + 1) : 0;
}

/* The index of PAGE in the (sorted) plan, or NPLAN. */
static size_t plan_index(const struct ps_live *l, uint64_t page)
{
    size_t lo = 0, hi = l->nplan;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->plan[mid] < page)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->nplan && l->plan[lo] == page ? lo : l->nplan;
}

/* The pages of a set of spans to read whole: not cached, or cached in part (a plan's
 * page), with where each one's copy goes. */
struct wants {
    uint64_t *page;
    unsigned char **dst;
    uint8_t *ok;
    size_t *slot;  /* where it is in the freeze's one copy: a page cached in part is a plan's
                      page, its index in the plan (< nplan); the others are added after it */
    size_t n;
};

static void wants_free(struct wants *w)
{
    free(w->page);
    free(w->dst);
    free(w->ok);
    free(w->slot);
}

static int wants_collect(struct ps_live *l, const struct ps_live_span *spans, size_t nspans,
                         struct wants *w)
{
    memset(w, 0, sizeof *w);
    size_t total = 0;
    for (size_t i = 0; i < nspans; i++)
        total += count_pieces(spans[i].addr, spans[i].len);
    w->page = malloc((total ? total : 1) * sizeof *w->page);
    if (!w->page)
        return PS_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < nspans; i++) {
        uint64_t a = spans[i].addr, len = spans[i].len;
        if (!len || a + len < a)
            continue;
        for (uint64_t p = a & ~(uint64_t)(PAGE - 1); p < a + len && n < total; p += PAGE) {
            void *have = ps_u64map_get(&l->pages, p + 1);
            if (!have || (have != UNREADABLE && span_of(l, p) != PS_SPAN_FULL))
                w->page[n++] = p;
        }
    }
    qsort(w->page, n, sizeof *w->page, u64_cmp);
    size_t u = 0, fresh = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || w->page[i] != w->page[u - 1]) {
            w->page[u++] = w->page[i];
            fresh += !ps_u64map_get(&l->pages, w->page[i] + 1);
        }
    if (!u || l->offline || l->npages + fresh > MAX_PAGES)
        return PS_OK; /* nothing to read (w->n stays 0) */
    w->dst = malloc(u * sizeof *w->dst);
    w->ok = malloc(u);
    w->slot = malloc(u * sizeof *w->slot);
    /* The reserve first, fresh memory for what it cannot hold. */
    struct slab *r = l->reserve;
    size_t from_reserve = r ? (r->cap - r->used < fresh ? r->cap - r->used : fresh) : 0;
    unsigned char *buf = fresh > from_reserve ? slab_new(l, fresh - from_reserve) : NULL;
    if (!w->dst || !w->ok || !w->slot || (!buf && fresh > from_reserve))
        return PS_NOMEM;
    for (size_t i = 0, k = 0; i < u; i++) {
        unsigned char *have = ps_u64map_get(&l->pages, w->page[i] + 1);
        w->slot[i] = have ? plan_index(l, w->page[i]) : l->nplan;
        w->dst[i] = have ? have
                         : k < from_reserve ? r->data + PAGE * (r->used + k++)
                                            : buf + PAGE * (k++ - from_reserve);
    }
    if (r)
        r->used += from_reserve;
    if (buf)
        l->slabs->used = fresh - from_reserve;
    w->n = u;
    return PS_OK;
}

/* After the copy of W, and of the plan: the pages it read are cached whole, the others
 * unreadable. */
static int wants_finish(struct ps_live *l, const struct wants *w)
{
    int rc = PS_OK;
    for (size_t i = 0; i < w->n && !rc; i++) {
        int had = w->slot[i] < l->nplan;
        if (had && w->ok[i])
            rc = span_set(l, w->page[i], PS_SPAN_FULL);
        else if (!had) /* a page cached in part is the plan's: unreadable with it */
            rc = cache_put(l, w->page[i], w->ok[i] ? w->dst[i] : UNREADABLE);
    }
    l->last_data = NULL;
    return rc;
}

/* Record the readable part of each span: a stack copy may run into a guard page. */
static int record_ranges(struct ps_live *l, const struct ps_live_span *spans, size_t nspans)
{
    int rc = PS_OK;
    for (size_t i = 0; i < nspans && !rc; i++) {
        uint64_t addr = spans[i].addr, end = addr + spans[i].len;
        if (end < addr)
            continue;
        while (!rc && addr < end) {
            uint64_t page = addr & ~(uint64_t)(PAGE - 1);
            size_t k = PAGE - (size_t)(addr - page);
            if (k > end - addr)
                k = (size_t)(end - addr);
            if (!get_page(l, page, (size_t)(addr - page), k))
                break;
            rc = add_rec(l, addr, k);
            addr += k;
        }
    }
    return rc;
}

int ps_live_copy_frozen(struct ps_live *l, const struct ps_live_span *spans, size_t nspans)
{
    /* One copy of the plan and of the spans' pages that it does not hold whole, shared by
     * two readers (pagecopy.h): a plan's page that a span needs is copied whole. */
    struct wants w;
    int rc = wants_collect(l, spans, nspans, &w);
    size_t n = l->nplan + w.n;
    uint64_t *pages = malloc((n ? n : 1) * sizeof *pages);
    uint32_t *span = malloc((n ? n : 1) * sizeof *span);
    unsigned char **dst = malloc((n ? n : 1) * sizeof *dst);
    uint8_t *ok = malloc(n ? n : 1);
    if (!pages || !span || !dst || !ok) {
        /* The plan at least (the walk must not read the rehearsal's copy); no stacks. */
        copy_pages(l, l->plan, l->plan_span, l->nplan, l->plan_dst, l->plan_ok);
        rc = PS_NOMEM;
        n = 0;
        w.n = 0;
    }
    if (n) {
        memcpy(pages, l->plan, l->nplan * sizeof *pages);
        memcpy(span, l->plan_span, l->nplan * sizeof *span);
        memcpy(dst, l->plan_dst, l->nplan * sizeof *dst);
        size_t m = l->nplan;
        for (size_t i = 0; i < w.n; i++) {
            if (w.slot[i] < l->nplan) { /* a plan's page: copied whole */
                span[w.slot[i]] = PS_SPAN_FULL;
                continue;
            }
            pages[m] = w.page[i];
            span[m] = PS_SPAN_FULL;
            dst[m] = w.dst[i];
            w.slot[i] = m++;
        }
        copy_pages(l, pages, span, m, dst, ok);
        memcpy(l->plan_ok, ok, l->nplan);
        for (size_t i = 0; i < w.n; i++)
            w.ok[i] = ok[w.slot[i]];
    }
    for (size_t i = 0; i < l->nplan; i++)
        if (!l->plan_ok[i]) { /* unmapped since the plan: as unreadable as in a live walk */
            ps_u64map_put(&l->pages, l->plan[i] + 1, UNREADABLE);
            l->npages--;
        }
    l->last_data = NULL;
    if (!rc)
        rc = wants_finish(l, &w);
    if (!rc)
        rc = record_ranges(l, spans, nspans);
    free(pages);
    free(span);
    free(dst);
    free(ok);
    wants_free(&w);
    return rc;
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
    copy_pages(l, pages, NULL, k, dst, ok);
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
    ps_u64map_free(&l->spans, NULL);
    memset(&l->spans, 0, sizeof l->spans);
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
    /* What the next freeze copies, page by page: the bytes read since the last plan (the
     * walk's reads, the stacks), the bytes the last offline walk missed, and what the last
     * plan copied of a page still cached. */
    size_t n = l->nmisses + l->spans.len;
    for (size_t i = 0; i < l->nrecs; i++)
        n += count_pieces(l->recs[i].addr, l->recs[i].len);
    struct piece *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return PS_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < l->nrecs; i++)
        m = add_pieces(v, m, l->recs[i].addr, l->recs[i].len);
    for (size_t i = 0; i < l->nmisses; i++)
        m = add_pieces(v, m, l->misses[i].addr, l->misses[i].len);
    for (size_t i = 0; i < l->spans.cap && m < n; i++) {
        void *have = l->spans.keys[i] ? ps_u64map_get(&l->pages, l->spans.keys[i]) : NULL;
        if (have && have != UNREADABLE) {
            uint32_t sp = (uint32_t)(uintptr_t)l->spans.values[i];
            v[m++] = (struct piece){l->spans.keys[i] - 1, ps_span_lo(sp), ps_span_hi(sp)};
        }
    }
    qsort(v, m, sizeof *v, piece_cmp);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (ps_u64map_get(&l->pages, v[i].page + 1) == UNREADABLE)
            continue; /* not in the plan: an offline walk that needs it misses, and the next
                         plan has it */
        if (u && v[u - 1].page == v[i].page) {
            v[u - 1].lo = v[i].lo < v[u - 1].lo ? v[i].lo : v[u - 1].lo;
            v[u - 1].hi = v[i].hi > v[u - 1].hi ? v[i].hi : v[u - 1].hi;
        } else
            v[u++] = v[i];
    }
    int whole = l->misses_lost;
    l->nmisses = 0;
    l->misses_lost = 0;
    free(l->plan);
    free(l->plan_span);
    free(l->plan_ok);
    free(l->plan_dst);
    l->nplan = u;
    l->plan = malloc((u ? u : 1) * sizeof *l->plan);
    l->plan_span = malloc((u ? u : 1) * sizeof *l->plan_span);
    l->plan_ok = malloc(u ? u : 1);
    l->plan_dst = malloc((u ? u : 1) * sizeof *l->plan_dst);
    if (!l->plan || !l->plan_span || !l->plan_ok || !l->plan_dst) {
        free(v);
        l->nplan = 0;
        return PS_NOMEM;
    }
    for (size_t i = 0; i < u; i++) {
        unsigned lo = v[i].lo & ~(SPAN_ALIGN - 1), hi = (v[i].hi + SPAN_ALIGN - 1) & ~(SPAN_ALIGN - 1);
        lo = lo > SPAN_PAD ? lo - SPAN_PAD : 0;
        hi = hi + SPAN_PAD < PAGE ? hi + SPAN_PAD : PAGE;
        l->plan[i] = v[i].page;
        l->plan_span[i] = whole ? PS_SPAN_FULL : ps_span_make(lo, hi);
    }
    free(v);
    /* Each page's copy goes where the walk before cached it: memory this process has already
     * faulted in and copied into (a new slab only for the misses). The page faults of fresh
     * memory cost 10-15 us each in a VM, and were most of a capture's page faults. */
    size_t fresh = 0;
    for (size_t i = 0; i < u; i++) {
        unsigned char *old = ps_u64map_get(&l->pages, l->plan[i] + 1);
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
    /* The map holds the plan's pages and nothing else, each with its span. */
    forget_pages(l);
    for (size_t i = 0; i < u; i++) {
        int rc = cache_put(l, l->plan[i], l->plan_dst[i]);
        if (!rc)
            rc = span_set(l, l->plan[i], l->plan_span[i]);
        if (rc)
            return rc;
    }
    /* Rehearse the copy now, with the target running: its result is overwritten inside the
     * freeze, but every page's first copy is paid here. Measured on the benchmark target
     * (430 pages): a first process_vm_readv into memory costs 6-9 us a page even when the
     * memory was written beforehand, a second 1-2 us; the freeze holds only the second. */
    if (u)
        copy_pages(l, l->plan, l->plan_span, u, l->plan_dst, l->plan_ok);
    return PS_OK;
}

size_t ps_live_plan_bytes(const struct ps_live *l)
{
    size_t total = 0;
    for (size_t i = 0; i < l->nplan; i++)
        total += ps_span_len(l->plan_span[i]);
    return total;
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
            /* A small gap is filled in when its bytes are cached (a freeze's copy of a page
             * may hold only part of it). A gap holding withheld bytes stays a gap. */
            uint64_t end = last->addr + last->len;
            if (r.addr <= end + MERGE_GAP &&
                (r.addr <= end || (!held_overlaps(l, end, r.addr) && cached(l, end, r.addr - end)))) {
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
    free(l->plan_span);
    free(l->plan_ok);
    free(l->plan_dst);
    free(l->misses);
    ps_pagecopy_close(l->copier);
    free(l->recs);
    free(l->held);
    free(l->merged);
    free(l->merged_data);
    free(l);
}
