/* Native stacks in the snapshot (PS_NT_NATIVE, PS_NT_MODULES) round-trip; hostile notes are
 * dropped or resolve to "unknown", never read out of bounds; analysis turns them into merged
 * frames, the system call, the instruction at the PC and the thread state. */
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/model.h"
#include "pysnap/native.h"
#include "pysnap/snapshot.h"
#include "check.h"

#define CODE_ADDR 0x401000ull

static unsigned char *dup_buf(const unsigned char *p, size_t n)
{
    unsigned char *d = malloc(n ? n : 1);
    memcpy(d, p, n);
    return d;
}

/* Find the first occurrence of NEEDLE in HAY. */
static unsigned char *find(unsigned char *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

int main(void)
{
    /* Code around the PC: "mov eax, 202; syscall; ret", the PC after the syscall. */
    static unsigned char code[64] = {0xb8, 0xca, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3};
    struct ps_range ranges[] = {{CODE_ADDR, sizeof code, code}};
    static char strtab[] = "/lib/libc.so.6\0pthread_cond_timedwait@@GLIBC_2.3.2\0take_gil\0"
                           "\x01\x02\x03\x04";
    struct ps_note_module modules[] = {
        {.start = 0x400000, .end = 0x500000, .bias = 0x400000, .path = 0,
         .build_id = sizeof strtab - 5, .build_id_len = 4}};
    struct ps_note_native_frame frames[] = {
        {.pc = CODE_ADDR + 7, .sp = 0x7000, .offset = 0x21c, .module = 0, .symbol = 15,
         .flags = PS_FRAME_ACTIVATION},
        {.pc = 0x401234, .sp = 0x7100, .offset = 0xb5, .module = 0, .symbol = 51 /* take_gil */},
        {.pc = 0x401300, .sp = 0x7200, .offset = 7, .module = 9, .symbol = 9999},
    };
    struct ps_snap_thread threads[2];
    memset(threads, 0, sizeof threads);
    threads[0].info.tid = 41;
    threads[0].info.os_state = 'S';
    threads[0].has_regs = 1;
    threads[0].regs[15] = 202;           /* orig_rax: futex */
    threads[0].regs[16] = CODE_ADDR + 7; /* rip, after the syscall */
    threads[0].native = frames;
    threads[0].nnative = 3;
    threads[0].has_native = 1;
    threads[1].info.tid = 42;
    struct ps_snap_meta meta = {.threads = threads, .nthreads = 2, .modules = modules,
                                .nmodules = 1, .native_strtab = strtab,
                                .native_strtab_len = sizeof strtab - 1};
    meta.meta.format_major = PS_FORMAT_MAJOR;
    meta.meta.format_minor = PS_FORMAT_MINOR;
    meta.meta.nthreads = 2;
    meta.meta.py_version_hex = 0x030c01f0;
    meta.meta.runtime_addr = 0x900000; /* not captured: no layout, frames still attach */

    unsigned char *file;
    size_t len;
    CHECK(ps_snapshot_encode(&meta, ranges, 1, 0, &file, &len) == PS_OK);
    struct ps_snapshot *s;
    CHECK(ps_snapshot_open_buffer(dup_buf(file, len), len, &s) == PS_OK);
    const struct ps_snap_meta *m = ps_snapshot_meta(s);
    CHECK(m->threads[0].has_native && m->threads[0].nnative == 3 && !m->threads[1].has_native);
    CHECK(m->threads[0].native[1].pc == 0x401234 && m->threads[0].native[1].sp == 0x7100);
    CHECK(m->nmodules == 1 && strcmp(ps_snap_native_str(m, m->modules[0].path), "/lib/libc.so.6") == 0);
    CHECK(memcmp(ps_snap_native_str(m, m->modules[0].build_id), "\x01\x02\x03\x04", 4) == 0);
    /* Out-of-range indexes resolve to nothing. */
    CHECK(ps_snap_module(m, 9) == NULL && ps_snap_native_str(m, 9999) == NULL);
    CHECK(ps_snap_native_str(m, PS_NO_INDEX) == NULL);

    /* Analysis: one Python thread known to the walk, one native-only thread. */
    struct ps_model model = {0};
    struct ps_interp *in = ps_model_add_interp(&model);
    struct ps_thread *t = ps_model_add_thread(in);
    t->tid = 41;
    t->tstate = 0x1234;
    t->state = PS_TSTATE_SLEEPING;
    struct ps_frame *pf = ps_thread_add_frame(t);
    pf->kind = PS_FRAME_PYTHON;
    pf->function = strdup("spin");
    pf->file = strdup("/app.py");
    pf->line = 3;
    struct ps_thread *t2 = ps_model_add_thread(in);
    t2->tid = 42;
    CHECK(ps_native_attach(s, &model) == PS_OK);
    t = &in->threads[0];
    CHECK(strcmp(t->syscall, "futex") == 0);
    CHECK(strcmp(t->pc_instruction, "syscall") == 0);
    CHECK(t->state == PS_TSTATE_WAITING_FOR_GIL); /* take_gil is among its frames */
    CHECK(t->nframes == 4 && (t->native_flags & PS_NATIVE_HAS));
    CHECK(t->frames[0].kind == PS_FRAME_NATIVE &&
          strcmp(t->frames[0].function, "pthread_cond_timedwait") == 0 &&
          strcmp(t->frames[0].file, "/lib/libc.so.6") == 0 && t->frames[0].offset == 0x21c);
    CHECK(t->frames[2].kind == PS_FRAME_NATIVE && t->frames[2].function == NULL &&
          t->frames[2].file == NULL && t->frames[2].offset == 0x401300);
    /* No layout to place the Python frame by: it goes outermost, unmerged. */
    CHECK(t->frames[3].kind == PS_FRAME_PYTHON && !(t->native_flags & PS_NATIVE_MERGED));
    CHECK(in->threads[1].nframes == 0 && in->threads[1].syscall[0] == '\0');
    ps_model_free(&model);
    ps_snapshot_close(s);

    /* Hostile counts: a native note claiming more frames than it holds is dropped; a
     * modules note whose string table overruns it is dropped (names become unknown). */
    struct ps_note_native hdr = {41, 3, 0};
    unsigned char *p = find(file, len, &hdr, sizeof hdr);
    CHECK(p != NULL);
    unsigned char *bad = dup_buf(file, len);
    ((struct ps_note_native *)(void *)(bad + (p - file)))->nframes = 1000;
    CHECK(ps_snapshot_open_buffer(bad, len, &s) == PS_OK);
    CHECK(!ps_snapshot_meta(s)->threads[0].has_native);
    ps_snapshot_close(s);
    struct ps_note_modules mh = {1, sizeof strtab - 1};
    p = find(file, len, &mh, sizeof mh);
    CHECK(p != NULL);
    bad = dup_buf(file, len);
    ((struct ps_note_modules *)(void *)(bad + (p - file)))->strtab_size = 0x7fffffff;
    CHECK(ps_snapshot_open_buffer(bad, len, &s) == PS_OK);
    m = ps_snapshot_meta(s);
    CHECK(m->threads[0].has_native && m->nmodules == 0 && ps_snap_native_str(m, 15) == NULL);
    ps_snapshot_close(s);
    /* Every truncation is refused or read safely. */
    for (size_t cut = 0; cut < len; cut += 7) {
        int rc = ps_snapshot_open_buffer(dup_buf(file, cut), cut, &s);
        if (rc == PS_OK)
            ps_snapshot_close(s);
    }
    free(file);
    return CHECK_DONE();
}
