#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pysnap/error.h"
#include "memsrc_direct.h"

#define PAGE 4096u
#define CACHE_PAGES 4096u /* per sample: a walk of a few hundred frames reads far fewer */
#define PREFETCH_BATCH 256u /* pages per process_vm_readv of a prefetch (IOV_MAX is 1024) */

struct ps_direct {
    pid_t pid;
    int memfd, use_memfd;
    /* Direct-mapped page cache for one sample: slot = page number mod CACHE_PAGES. */
    uint64_t tags[CACHE_PAGES]; /* page address + 1, 0: empty */
    unsigned char *data;        /* CACHE_PAGES * PAGE */
    uint64_t *used;             /* slots filled this sample, to clear them cheaply */
    size_t nused;
    size_t pages_read;
    size_t calls;               /* read system calls made */
    int last_errno;             /* of the last failed read */
};

static int fetch(struct ps_direct *d, uint64_t page, unsigned char *buf)
{
    if (!d->use_memfd) {
        struct iovec local = {buf, PAGE}, remote = {(void *)(uintptr_t)page, PAGE};
        ssize_t n = process_vm_readv(d->pid, &local, 1, &remote, 1, 0);
        if (n == (ssize_t)PAGE)
            return PS_OK;
        d->last_errno = n < 0 ? errno : EIO;
        if (n < 0 && (errno == ENOSYS || errno == EPERM))
            d->use_memfd = 1;
        else
            return PS_READ;
    }
    if (d->memfd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)d->pid);
        if ((d->memfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            d->last_errno = errno;
            return PS_READ;
        }
    }
    ssize_t n = pread(d->memfd, buf, PAGE, (off_t)page);
    if (n == (ssize_t)PAGE)
        return PS_OK;
    d->last_errno = n < 0 ? errno : EIO;
    return PS_READ;
}

/* Mark SLOT as holding PAGE (read this sample). */
static void fill_slot(struct ps_direct *d, size_t slot, uint64_t page)
{
    if (!d->tags[slot]) { /* a slot may be listed twice: then reset clears all */
        if (d->nused < CACHE_PAGES)
            d->used[d->nused] = slot;
        d->nused++;
    }
    d->tags[slot] = page + 1;
    d->pages_read++;
}

static int direct_read(void *self, uint64_t addr, void *buf, size_t len)
{
    struct ps_direct *d = self;
    if (addr + len < addr)
        return PS_READ;
    unsigned char *o = buf;
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PAGE - 1);
        size_t slot = (size_t)(page / PAGE) % CACHE_PAGES;
        unsigned char *p = d->data + slot * PAGE;
        if (d->tags[slot] != page + 1) {
            if (fetch(d, page, p)) {
                d->tags[slot] = 0;
                return PS_READ;
            }
            fill_slot(d, slot, page);
            d->calls++;
        }
        size_t in_page = PAGE - (size_t)(addr - page);
        size_t n = len < in_page ? len : in_page;
        memcpy(o, p + (addr - page), n);
        o += n;
        addr += n;
        len -= n;
    }
    return PS_OK;
}

void ps_direct_prefetch(struct ps_direct *d, const uint64_t *addrs, const uint32_t *lens,
                        size_t n)
{
    struct iovec local[PREFETCH_BATCH], remote[PREFETCH_BATCH];
    uint64_t pages[PREFETCH_BATCH];
    size_t slots[PREFETCH_BATCH];
    size_t k = 0;
    for (size_t i = 0; i <= n; i++) {
        /* Each range's first and last page: objects are small, so those are all of them. */
        for (int end = 0; i < n && end < 2 && k < PREFETCH_BATCH; end++) {
            uint64_t a = addrs[i] + (end && lens[i] ? lens[i] - 1 : 0);
            uint64_t page = a & ~(uint64_t)(PAGE - 1);
            size_t slot = (size_t)(page / PAGE) % CACHE_PAGES;
            int dup = d->tags[slot] == page + 1 || !addrs[i];
            for (size_t j = 0; j < k && !dup; j++)
                dup = slots[j] == slot; /* one page per slot per batch */
            if (dup)
                continue;
            local[k] = (struct iovec){d->data + slot * PAGE, PAGE};
            remote[k] = (struct iovec){(void *)(uintptr_t)page, PAGE};
            pages[k] = page;
            slots[k++] = slot;
        }
        if (k && (k == PREFETCH_BATCH || i == n)) {
            /* One call for the whole batch; it stops at the first page it cannot read: those
             * after it are left to the ordinary reads (which report the failure). */
            ssize_t got = d->use_memfd ? -1 : process_vm_readv(d->pid, local, k, remote, k, 0);
            for (size_t j = 0; got > 0 && j < k && (size_t)got >= (j + 1) * PAGE; j++)
                fill_slot(d, slots[j], pages[j]);
            d->calls++;
            k = 0;
        }
    }
}

static const struct ps_memsrc_ops direct_ops = {direct_read, NULL};

int ps_direct_open(pid_t pid, struct ps_direct **out)
{
    struct ps_direct *d = calloc(1, sizeof *d);
    if (!d)
        return PS_NOMEM;
    d->data = malloc((size_t)CACHE_PAGES * PAGE);
    d->used = malloc(CACHE_PAGES * sizeof *d->used);
    if (!d->data || !d->used) {
        free(d->data);
        free(d->used);
        free(d);
        return PS_NOMEM;
    }
    d->pid = pid;
    d->memfd = -1;
    *out = d;
    return PS_OK;
}

struct ps_memsrc ps_direct_memsrc(struct ps_direct *d)
{
    struct ps_memsrc m = {&direct_ops, d};
    return m;
}

void ps_direct_reset(struct ps_direct *d)
{
    if (d->nused > CACHE_PAGES)
        memset(d->tags, 0, sizeof d->tags);
    else
        for (size_t i = 0; i < d->nused; i++)
            d->tags[d->used[i]] = 0;
    d->nused = 0;
}

size_t ps_direct_pages_read(const struct ps_direct *d)
{
    return d->pages_read;
}

size_t ps_direct_calls(const struct ps_direct *d)
{
    return d->calls;
}

int ps_direct_last_errno(const struct ps_direct *d)
{
    return d->last_errno;
}

void ps_direct_close(struct ps_direct *d)
{
    if (!d)
        return;
    if (d->memfd >= 0)
        close(d->memfd);
    free(d->data);
    free(d->used);
    free(d);
}
