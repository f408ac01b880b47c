#include <errno.h>
#include <fcntl.h>
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

struct rec {
    uint64_t addr, len;
};

struct ps_live {
    pid_t pid;
    int memfd;            /* /proc/PID/mem, opened on first need */
    int use_memfd;        /* process_vm_readv is not available */
    struct ps_u64map pages; /* page address -> 4 KiB copy, or UNREADABLE */
    size_t npages;
    struct rec *recs;
    size_t nrecs, recs_cap;
    struct ps_range *merged;
    unsigned char *merged_data;
};

static unsigned char unreadable_marker;
#define UNREADABLE ((void *)&unreadable_marker)

static int fetch_page(struct ps_live *l, uint64_t page, unsigned char *buf)
{
    if (!l->use_memfd) {
        struct iovec local = {buf, PAGE}, remote = {(void *)(uintptr_t)page, PAGE};
        ssize_t n = process_vm_readv(l->pid, &local, 1, &remote, 1, 0);
        if (n == (ssize_t)PAGE)
            return PS_OK;
        if (n < 0 && (errno == ENOSYS || errno == EPERM))
            l->use_memfd = 1;
        else
            return PS_READ;
    }
    if (l->memfd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)l->pid);
        l->memfd = open(path, O_RDONLY | O_CLOEXEC);
        if (l->memfd < 0)
            return PS_READ;
    }
    return pread(l->memfd, buf, PAGE, (off_t)page) == (ssize_t)PAGE ? PS_OK : PS_READ;
}

static const unsigned char *get_page(struct ps_live *l, uint64_t page)
{
    void *p = ps_u64map_get(&l->pages, page + 1); /* +1: page 0 is a valid key too */
    if (p)
        return p == UNREADABLE ? NULL : p;
    if (l->npages >= MAX_PAGES)
        return NULL;
    unsigned char *buf = malloc(PAGE);
    if (!buf)
        return NULL;
    if (fetch_page(l, page, buf)) {
        free(buf);
        ps_u64map_put(&l->pages, page + 1, UNREADABLE);
        return NULL;
    }
    if (ps_u64map_put(&l->pages, page + 1, buf)) {
        free(buf);
        return NULL;
    }
    l->npages++;
    return buf;
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

static const struct ps_memsrc_ops live_ops = {live_read, NULL};

int ps_live_open(pid_t pid, struct ps_live **out)
{
    struct ps_live *l = calloc(1, sizeof *l);
    if (!l)
        return PS_NOMEM;
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

int ps_live_record(struct ps_live *l, uint64_t addr, size_t len)
{
    /* Record only what can be read, page by page: a stack copy may run into a guard page. */
    uint64_t end = addr + len;
    while (addr < end) {
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        size_t n = PAGE - (size_t)(addr - page);
        if (n > end - addr)
            n = (size_t)(end - addr);
        if (!get_page(l, page))
            break;
        int rc = add_rec(l, addr, n);
        if (rc)
            return rc;
        addr += n;
    }
    return PS_OK;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int ps_live_recorded(struct ps_live *l, struct ps_range **ranges, size_t *n, size_t *bytes)
{
    qsort(l->recs, l->nrecs, sizeof *l->recs, rec_cmp);
    size_t m = 0;
    for (size_t i = 0; i < l->nrecs; i++) {
        struct rec r = l->recs[i];
        if (m > 0) {
            struct rec *last = &l->recs[m - 1];
            /* Both ends of a small gap lie in cached pages, so the gap bytes are cached too
             * (the gap is shorter than a page). */
            if (r.addr <= last->addr + last->len + MERGE_GAP) {
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
    size_t off = 0;
    for (size_t i = 0; i < m; i++) {
        int rc = copy_out(l, l->recs[i].addr, l->merged_data + off, l->recs[i].len);
        if (rc)
            return ps_error_set(PS_READ, "recorded range 0x%llx left the page cache",
                                (unsigned long long)l->recs[i].addr);
        l->merged[i].addr = l->recs[i].addr;
        l->merged[i].len = l->recs[i].len;
        l->merged[i].data = l->merged_data + off;
        off += l->recs[i].len;
    }
    *ranges = l->merged;
    *n = m;
    *bytes = total;
    return PS_OK;
}

size_t ps_live_pages_read(const struct ps_live *l)
{
    return l->npages;
}

static void free_page(void *p)
{
    if (p != UNREADABLE)
        free(p);
}

void ps_live_close(struct ps_live *l)
{
    if (!l)
        return;
    if (l->memfd >= 0)
        close(l->memfd);
    ps_u64map_free(&l->pages, free_page);
    free(l->recs);
    free(l->merged);
    free(l->merged_data);
    free(l);
}
