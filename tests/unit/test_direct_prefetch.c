/* The direct live source's batched prefetch (snap/memsrc_direct.c), over this process's own
 * memory: pages fetched in one call read back exactly; a page that cannot be read (a hole
 * in the middle of a batch) leaves the others readable and fails only its own reads; the
 * pages of a batch cost one system call, reads of prefetched pages none. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "memsrc_direct.h"

#define NPAGES 8

int main(void)
{
    size_t page = 4096;
    unsigned char *buf = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(buf != MAP_FAILED);
    if (buf == MAP_FAILED)
        return CHECK_DONE();
    for (size_t i = 0; i < NPAGES * page; i++)
        buf[i] = (unsigned char)(i * 7 + i / page);
    CHECK(munmap(buf + 3 * page, page) == 0); /* a hole: page 3 */

    struct ps_direct *d;
    CHECK(ps_direct_open(getpid(), &d) == 0);
    struct ps_memsrc m = ps_direct_memsrc(d);
    uint64_t addrs[NPAGES];
    uint32_t lens[NPAGES];
    for (int i = 0; i < NPAGES; i++) {
        addrs[i] = (uint64_t)(uintptr_t)(buf + (size_t)i * page + 100);
        lens[i] = 64;
    }
    size_t calls0 = ps_direct_calls(d);
    ps_direct_prefetch(d, addrs, lens, 3); /* pages 0-2: one call */
    CHECK(ps_direct_calls(d) == calls0 + 1);
    unsigned char got[64];
    for (int i = 0; i < 3; i++) {
        CHECK(ps_mem_read(&m, addrs[i], got, sizeof got) == 0);
        CHECK(memcmp(got, buf + (size_t)i * page + 100, sizeof got) == 0);
    }
    CHECK(ps_direct_calls(d) == calls0 + 1); /* all cached */

    /* A batch with the hole: the call stops there; what follows is read when asked. */
    ps_direct_reset(d);
    ps_direct_prefetch(d, addrs, lens, NPAGES);
    for (int i = 0; i < NPAGES; i++) {
        int rc = ps_mem_read(&m, addrs[i], got, sizeof got);
        CHECK(i == 3 ? rc != 0 : rc == 0);
        if (i != 3)
            CHECK(memcmp(got, buf + (size_t)i * page + 100, sizeof got) == 0);
    }
    /* a range across a page boundary: both pages fetched */
    ps_direct_reset(d);
    uint64_t across = (uint64_t)(uintptr_t)(buf + 5 * page - 16);
    uint32_t len = 32;
    ps_direct_prefetch(d, &across, &len, 1);
    size_t calls1 = ps_direct_calls(d);
    CHECK(ps_mem_read(&m, across, got, 32) == 0);
    CHECK(memcmp(got, buf + 5 * page - 16, 32) == 0);
    CHECK(ps_direct_calls(d) == calls1);
    ps_direct_close(d);
    return CHECK_DONE();
}
