/* The capture's live source (snap/memsrc_live.c) over this process's own memory: a plan
 * copies of each page only the bytes the walk before it read there (widened), the freeze's
 * copy overwrites the rehearsal's, an offline read outside a page's span is a miss (never
 * stale bytes) and the next plan covers it, a span copied with the plan (a native stack)
 * makes its pages whole, and the recorded ranges come out of the copy exactly. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "memsrc_live.h"
#include "pysnap/error.h"

#define PAGE 4096u

int main(void)
{
    unsigned char *buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(buf != MAP_FAILED);
    if (buf == MAP_FAILED)
        return CHECK_DONE();
    for (size_t i = 0; i < 4 * PAGE; i++)
        buf[i] = (unsigned char)(i * 13 + 1);
    uint64_t base = (uint64_t)(uintptr_t)buf;
    struct ps_live *l;
    CHECK(ps_live_open(getpid(), &l) == PS_OK);
    struct ps_memsrc m = ps_live_memsrc(l);
    unsigned char got[64];

    /* The walk before the freeze: 16 bytes at 1000 of page 0. */
    CHECK(ps_mem_read(&m, base + 1000, got, 16) == PS_OK);
    CHECK(memcmp(got, buf + 1000, 16) == 0);
    CHECK(ps_live_plan(l) == PS_OK);
    CHECK(ps_live_plan_pages(l) == 1);
    /* [1000, 1016) widened to 64-byte lines, then by 256 bytes: [704, 1280) */
    CHECK(ps_live_plan_bytes(l) == 1280 - 704);
    memset(buf + 990, 0x5a, 40); /* changed after the rehearsal: the freeze's copy has it */
    CHECK(ps_live_copy_frozen(l, NULL, 0) == PS_OK);
    ps_live_set_offline(l, 1);
    CHECK(ps_mem_read(&m, base + 1000, got, 16) == PS_OK);
    CHECK(got[0] == 0x5a && got[15] == 0x5a);
    CHECK(ps_mem_read(&m, base + 704, got, 8) == PS_OK);   /* the span's first bytes */
    CHECK(ps_mem_read(&m, base + 1272, got, 8) == PS_OK);  /* and its last */
    CHECK(ps_live_misses(l) == 0);
    CHECK(ps_mem_read(&m, base + 1276, got, 8) != PS_OK);  /* past the span: a miss */
    CHECK(ps_mem_read(&m, base + 3000, got, 8) != PS_OK);  /* far from it */
    CHECK(ps_mem_read(&m, base + PAGE + 8, got, 8) != PS_OK); /* a page not planned */
    CHECK(ps_live_misses(l) == 3);
    ps_live_set_offline(l, 0);

    /* The next plan covers the misses; a stack-like span copied with it makes page 0 and
     * page 2 whole. */
    CHECK(ps_live_plan(l) == PS_OK);
    CHECK(ps_live_plan_pages(l) == 2);
    buf[3000] = 0xa5;
    struct ps_live_span stack = {base + 2 * PAGE + 100, PAGE}; /* pages 2 and 3 */
    struct ps_live_span code = {base + 10, 20};                 /* in page 0 */
    struct ps_live_span spans[2] = {stack, code};
    CHECK(ps_live_copy_frozen(l, spans, 2) == PS_OK);
    ps_live_set_offline(l, 1);
    CHECK(ps_mem_read(&m, base + 3000, got, 1) == PS_OK && got[0] == 0xa5);
    CHECK(ps_mem_read(&m, base + 1276, got, 8) == PS_OK);
    CHECK(ps_mem_read(&m, base + PAGE + 8, got, 8) == PS_OK);
    CHECK(ps_mem_read(&m, base + 2000, got, 8) == PS_OK); /* page 0 is whole now */
    CHECK(ps_mem_read(&m, base + 3 * PAGE + 4000, got, 8) == PS_OK);
    CHECK(ps_live_misses(l) == 0);

    /* The recording: what was read, and the spans, out of the copy. */
    struct ps_range *ranges;
    size_t n, bytes;
    CHECK(ps_live_recorded(l, &ranges, &n, &bytes) == PS_OK);
    int found_stack = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += memcmp(ranges[i].data, (void *)(uintptr_t)ranges[i].addr, ranges[i].len) != 0;
        found_stack |= ranges[i].addr <= stack.addr && ranges[i].addr + ranges[i].len >= stack.addr + stack.len;
    }
    CHECK(bad == 0);
    CHECK(found_stack);
    ps_live_close(l);
    return CHECK_DONE();
}
