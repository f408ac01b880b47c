/* Copying many pages of another process at once, as a freeze needs: process_vm_readv with
 * up to a thousand iovecs a call, the work shared between the calling thread and a second
 * reader thread, started beforehand and parked until a copy has work for it.
 *
 * Why two readers: copying another process's page costs the kernel a page-table walk, a pin
 * and the copy, ~1 us a page in a freeze here (the pages are scattered over the threads'
 * own memory), and that work parallelizes. Why a parked thread rather than one started
 * for each copy: starting a thread inside the pause cost about as much as it saved below
 * ~1000 pages. The readers take the pages in chunks from a shared counter, so a second
 * reader that wakes late just takes fewer chunks, and one that never wakes costs nothing.
 *
 * A page's span: the bytes [lo, hi) of it to copy, 0 <= lo < hi <= 4096, in one uint32. */
#ifndef PYSNAP_SNAP_PAGECOPY_H
#define PYSNAP_SNAP_PAGECOPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PS_PAGE 4096u
#define PS_SPAN_FULL ((uint32_t)PS_PAGE)

static inline uint32_t ps_span_make(unsigned lo, unsigned hi)
{
    return (uint32_t)lo << 16 | hi;
}

static inline unsigned ps_span_lo(uint32_t span)
{
    return span >> 16;
}

static inline unsigned ps_span_hi(uint32_t span)
{
    return span & 0xffffu;
}

static inline size_t ps_span_len(uint32_t span)
{
    return ps_span_hi(span) - ps_span_lo(span);
}

/* Whether SPAN holds the bytes [OFF, OFF+LEN) of its page. */
static inline int ps_span_covers(uint32_t span, size_t off, size_t len)
{
    return off >= ps_span_lo(span) && off + len <= ps_span_hi(span);
}

struct ps_pagecopy;

/* A copier of PID's pages; the second reader is started when there is a second CPU (on
 * failure to start it, the calling thread does all the work). NULL when out of memory. */
struct ps_pagecopy *ps_pagecopy_open(pid_t pid);
void ps_pagecopy_close(struct ps_pagecopy *pc);

/* Copy the span SPANS[i] (the whole page when SPANS is NULL) of each remote page PAGES[i]
 * to the same bytes of the local page DST[i]; OK[i] says which were copied (a page that
 * cannot be read is skipped, the ones after it are still copied). The second reader runs
 * with the calling thread's scheduling policy (real-time in a freeze). Returns the number
 * of process_vm_readv calls made; *REFUSED is set when the kernel refuses the call itself
 * (ENOSYS, EPERM: the caller falls back on /proc/PID/mem for the pages not OK). */
size_t ps_pagecopy_run(struct ps_pagecopy *pc, const uint64_t *pages, const uint32_t *spans,
                       size_t n, unsigned char *const *dst, uint8_t *ok, int *refused);

#endif
