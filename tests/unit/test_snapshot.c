/* The snapshot format round-trips: meta, strings, threads, registers and ranges come back
 * as written, compressed or not; reads outside the ranges are "not captured"; damaged
 * inputs are refused with the right error. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>

#include "pysnap/error.h"
#include "pysnap/snapshot.h"
#include "../../analyze/format/snapshot_internal.h"
#include "check.h"

/* The readers take the core notes by their x86-64 layout, not the host's <sys/procfs.h> (the
 * analyzer also builds for wasm32); on x86-64 the two must agree. */
#if defined(__x86_64__) && defined(__linux__)
_Static_assert(sizeof(struct elf_prstatus) == PS_X86_64_PRSTATUS_SIZE &&
                   offsetof(struct elf_prstatus, pr_pid) == PS_X86_64_PRSTATUS_PID &&
                   offsetof(struct elf_prstatus, pr_reg) == PS_X86_64_PRSTATUS_REGS &&
                   sizeof(elf_gregset_t) == PS_NREGS * 8,
               "x86-64 elf_prstatus layout");
_Static_assert(sizeof(struct elf_prpsinfo) == PS_X86_64_PRPSINFO_SIZE &&
                   offsetof(struct elf_prpsinfo, pr_pid) == PS_X86_64_PRPSINFO_PID &&
                   offsetof(struct elf_prpsinfo, pr_fname) == PS_X86_64_PRPSINFO_FNAME &&
                   offsetof(struct elf_prpsinfo, pr_psargs) == PS_X86_64_PRPSINFO_PSARGS &&
                   sizeof(((struct elf_prpsinfo *)0)->pr_psargs) == PS_X86_64_PRPSINFO_PSARGS_LEN,
               "x86-64 elf_prpsinfo layout");
#endif

static unsigned char *dup_buf(const unsigned char *p, size_t n)
{
    unsigned char *d = malloc(n ? n : 1);
    memcpy(d, p, n);
    return d;
}

int main(void)
{
    static unsigned char a[100], b[3000];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (unsigned char)(i * 7);
    struct ps_range ranges[] = {{0x7f0000001000, sizeof a, a}, {0x7f0000001064, sizeof b, b}};
    struct ps_snap_string strings[] = {{"host", "box"}, {"tool_version", "9.9"}};
    struct ps_snap_thread threads[2];
    memset(threads, 0, sizeof threads);
    threads[0].info.tid = 41;
    threads[0].info.ns_tid = 7; /* a container seen from the host */
    threads[0].info.os_state = 'S';
    strcpy(threads[0].info.comm, "main");
    threads[0].has_regs = 1;
    for (int i = 0; i < PS_NREGS; i++)
        threads[0].regs[i] = 0x1000 + (uint64_t)i;
    threads[1].info.tid = 42;
    struct ps_snap_meta meta = {.strings = strings, .nstrings = 2, .threads = threads, .nthreads = 2};
    meta.meta.format_major = PS_FORMAT_MAJOR;
    meta.meta.pid = 41;
    meta.meta.runtime_addr = 0x7f0000001000;
    meta.meta.py_version_hex = 0x030c01f0;
    meta.meta.nthreads = 2;

    for (int level = 0; level <= 3; level += 3) {
        unsigned char *file;
        size_t len;
        CHECK(ps_snapshot_encode(&meta, ranges, 2, level, &file, &len) == PS_OK);
        struct ps_snapshot *s;
        int rc = ps_snapshot_open_buffer(dup_buf(file, len), len, &s);
        CHECK(rc == PS_OK);
        if (rc == PS_OK) {
            const struct ps_snap_meta *m = ps_snapshot_meta(s);
            CHECK(m->meta.pid == 41 && m->meta.py_version_hex == 0x030c01f0);
            CHECK(m->nthreads == 2 && m->threads[0].info.tid == 41 && m->threads[1].info.tid == 42);
            CHECK(m->threads[0].info.ns_tid == 7 && m->threads[1].info.ns_tid == 0);
            CHECK(strcmp(m->threads[0].info.comm, "main") == 0 && m->threads[0].info.os_state == 'S');
            CHECK(m->threads[0].has_regs && m->threads[0].regs[5] == 0x1005 && !m->threads[1].has_regs);
            CHECK(ps_snap_string(m, "host") && strcmp(ps_snap_string(m, "host"), "box") == 0);
            CHECK(ps_snap_string(m, "nope") == NULL);
            struct ps_memsrc mem = ps_snapshot_memsrc(s);
            unsigned char buf[200];
            /* A read spanning the two adjacent ranges. */
            CHECK(ps_mem_read(&mem, 0x7f0000001000 + 90, buf, 20) == PS_OK);
            CHECK(buf[0] == 90 && buf[9] == 99 && buf[10] == 0 && buf[11] == 7);
            CHECK(ps_mem_read(&mem, 0x7f0000000fff, buf, 2) == PS_NOTCAPTURED);
            CHECK(ps_mem_read(&mem, 0x7f0000001064 + sizeof b - 1, buf, 2) == PS_NOTCAPTURED);
            ps_snapshot_close(s);
        }
        /* Every truncation is refused, never crashes. */
        for (size_t cut = 0; cut < len; cut += (len / 97) + 1) {
            ps_error_clear();
            rc = ps_snapshot_open_buffer(dup_buf(file, cut), cut, &s);
            CHECK(rc == PS_NOTSNAP || rc == PS_BADSNAP);
            if (rc == PS_OK)
                ps_snapshot_close(s);
        }
        free(file);
    }
    /* A newer major format is refused as such. */
    meta.meta.format_major = PS_FORMAT_MAJOR + 1;
    unsigned char *file;
    size_t len;
    CHECK(ps_snapshot_encode(&meta, ranges, 2, 0, &file, &len) == PS_OK);
    struct ps_snapshot *s;
    CHECK(ps_snapshot_open_buffer(dup_buf(file, len), len, &s) == PS_NEWERSNAP);
    free(file);
    CHECK(ps_snapshot_open_buffer(dup_buf((const unsigned char *)"hello", 5), 5, &s) == PS_NOTSNAP);
    return CHECK_DONE();
}
