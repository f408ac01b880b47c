/* The freeze's page copier (snap/pagecopy.c), over this process's own memory: every page of
 * a copy large enough to be shared by the two readers arrives exactly, only its span when a
 * span is given (the bytes around it untouched), adjacent pages merged into one iovec
 * included; a page that cannot be read (a hole in the middle of the run) fails alone, the
 * pages after it are still copied; a copy of a few pages (not shared) as well; and the
 * second reader is stopped and joined by the close. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "pagecopy.h"

#define NPAGES 300 /* more than four chunks: both readers take some */
#define HOLE 137

static unsigned char expect(size_t i)
{
    return (unsigned char)(i * 7 + i / PS_PAGE);
}

int main(void)
{
    unsigned char *src = mmap(NULL, NPAGES * PS_PAGE, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *dst = malloc(NPAGES * PS_PAGE);
    uint64_t pages[NPAGES];
    uint32_t spans[NPAGES];
    unsigned char *to[NPAGES];
    uint8_t ok[NPAGES];
    CHECK(src != MAP_FAILED && dst);
    if (src == MAP_FAILED || !dst) {
        free(dst);
        return CHECK_DONE();
    }
    for (size_t i = 0; i < NPAGES * PS_PAGE; i++)
        src[i] = expect(i);
    CHECK(munmap(src + HOLE * PS_PAGE, PS_PAGE) == 0);
    struct ps_pagecopy *pc = ps_pagecopy_open(getpid());
    CHECK(pc != NULL);
    if (!pc) {
        free(dst);
        return CHECK_DONE();
    }

    for (int round = 0; round < 3; round++) {
        /* round 0: whole pages; 1: spans (every third page whole, so that runs of adjacent
         * whole pages merge, the others a span inside); 2: a copy of 5 pages */
        size_t n = round == 2 ? 5 : NPAGES;
        memset(dst, 0xee, NPAGES * PS_PAGE);
        for (size_t i = 0; i < n; i++) {
            pages[i] = (uint64_t)(uintptr_t)(src + i * PS_PAGE);
            to[i] = dst + i * PS_PAGE;
            spans[i] = i % 3 ? ps_span_make(64 * (unsigned)(i % 5), PS_PAGE - 128 * (unsigned)(i % 7))
                             : PS_SPAN_FULL;
        }
        int refused = -1;
        size_t calls = ps_pagecopy_run(pc, pages, round == 1 ? spans : NULL, n, to, ok, &refused);
        CHECK(refused == 0);
        CHECK(calls >= 1 && calls <= n);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            if (i == HOLE) {
                CHECK(!ok[i]);
                continue;
            }
            CHECK(ok[i]);
            uint32_t sp = round == 1 ? spans[i] : PS_SPAN_FULL;
            for (size_t b = 0; b < PS_PAGE; b++) {
                unsigned char want = b >= ps_span_lo(sp) && b < ps_span_hi(sp)
                                         ? expect(i * PS_PAGE + b) : 0xee;
                bad += dst[i * PS_PAGE + b] != want;
            }
        }
        CHECK(bad == 0);
    }
    ps_pagecopy_close(pc);
    ps_pagecopy_close(NULL);
    free(dst);
    munmap(src, NPAGES * PS_PAGE);
    return CHECK_DONE();
}
