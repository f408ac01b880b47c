/* libFuzzer target: the walker over a fuzzed memory image.
 *
 * Input layout (little-endian):
 *   byte 0      version: bit 7 clear -> CPython 3.(8 + (b & 7)), i.e. 3.8 .. 3.15;
 *               bit 7 set   -> 3.(b & 0x7f): 3.6 and 3.7, and the unsupported-version paths
 *   byte 1      flags: bit 0 -> small walk limits (else the CLI's defaults);
 *                      bit 1 -> the image is segmented (below);
 *                      bit 2 -> no locals
 *   byte 2      micro version
 *   byte 3      release level << 4 | serial (0xf0 final; 0 also means final)
 *   bytes 4-7   reserved
 *   bytes 8-15  _PyRuntime, as an offset from FUZZ_WALKER_BASE (wrapping)
 *   bytes 16-23 _Py_HashSecret, likewise; 0: unknown (dict lookups then scan every key)
 *   bytes 24-   the image:
 *     flat:      one ps_memsrc_buffer() at FUZZ_WALKER_BASE;
 *     segmented: u32 count, count x {u64 addr, u32 len}, then the segments' bytes one after
 *                another; each segment is a ps_memsrc_buffer() at its addr (a read must
 *                fall inside one segment). Real snapshots fit this form unchanged.
 *
 * ps_walk() runs over it, then both renderers print the model (names read from the image reach
 * the JSON escaper), and the JSON must parse (fuzz_common.h). Seeds (tests/fuzz/make_corpus.py): real snapshots'
 * ranges in segmented form, and the same memory relocated into one flat image. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "pysnap/error.h"
#include "pysnap/memsrc.h"
#include "pysnap/report.h"
#include "pysnap/walker.h"

#define FUZZ_WALKER_BASE 0x7f0000000000ull /* make_corpus.py relocates flat seeds here */
#define HEADER 24
#define SEG_ENTRY 12
#define MAX_SEGS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* The segmented image: a buffer source per segment, dispatched by address. */
struct seg {
    uint64_t addr, len;
    struct ps_memsrc src;
};

struct segs {
    struct seg *v;
    size_t n;
};

static int segs_read(void *self, uint64_t addr, void *buf, size_t len)
{
    const struct segs *s = self;
    if (len == 0)
        return PS_OK; /* as the snapshot source does */
    for (size_t i = 0; i < s->n; i++)
        if (addr - s->v[i].addr < s->v[i].len)
            return ps_mem_read(&s->v[i].src, addr, buf, len);
    return PS_NOTCAPTURED;
}

static const struct ps_memsrc_ops segs_ops = {segs_read, NULL};

static void segs_free(struct segs *s)
{
    for (size_t i = 0; i < s->n; i++)
        ps_memsrc_close(&s->v[i].src);
    free(s->v);
}

/* Parse IMAGE (LEN bytes) as segments; a table or data cut short just ends the list. */
static int segs_parse(struct segs *s, const unsigned char *image, size_t len)
{
    memset(s, 0, sizeof *s);
    if (len < 4)
        return 0;
    uint64_t count = le(image, 4);
    if (count > MAX_SEGS)
        count = MAX_SEGS;
    if (count > (len - 4) / SEG_ENTRY)
        count = (len - 4) / SEG_ENTRY;
    if (count && !(s->v = calloc(count, sizeof *s->v)))
        return -1;
    size_t data = 4 + count * SEG_ENTRY;
    for (size_t i = 0; i < count && data <= len; i++) {
        const unsigned char *e = image + 4 + i * SEG_ENTRY;
        uint64_t addr = le(e, 8), n = le(e + 8, 4);
        if (n > len - data)
            n = len - data;
        struct seg *g = &s->v[s->n];
        if (ps_memsrc_buffer(&g->src, addr, image + data, n))
            return -1;
        g->addr = addr;
        g->len = n;
        s->n++;
        data += n;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    ps_error_clear();
    unsigned minor = data[0] & 0x80 ? data[0] & 0x7fu : 8u + (data[0] & 7u);
    struct ps_walk_limits lim;
    ps_walk_limits_default(&lim);
    if (data[1] & 1) /* through the parser a snapshot's limits take; unknown keys are skipped */
        ps_walk_limits_parse(&lim, "max_interps=4 max_threads=16 max_frames=32 max_name=64 "
                                   "max_dict=64 max_locals=8 max_str=32 max_items=8 "
                                   "max_depth=2 max_repr=256 max_attrs=8 budget=65536");
    if (data[1] & 4)
        lim.locals = lim.requests = 0;
    /* An exact-size heap copy, so ASan sees any read past the image. */
    size_t len = size - HEADER;
    unsigned char *image = malloc(len ? len : 1);
    if (!image)
        return 0;
    memcpy(image, data + HEADER, len);
    struct ps_memsrc mem = {NULL, NULL};
    struct segs segs = {NULL, 0};
    int ok = data[1] & 2 ? segs_parse(&segs, image, len) == 0
                         : ps_memsrc_buffer(&mem, FUZZ_WALKER_BASE, image, len) == PS_OK;
    if (data[1] & 2) {
        mem.ops = &segs_ops;
        mem.self = &segs;
    }
    if (ok) {
        uint64_t secret = le(data + 16, 8);
        struct ps_walk_target target = {
            .runtime_addr = FUZZ_WALKER_BASE + le(data + 8, 8),
            .py_version_hex = 3u << 24 | minor << 16 | (uint32_t)data[2] << 8 |
                              (data[3] ? data[3] : 0xf0u),
            .hash_secret = secret ? FUZZ_WALKER_BASE + secret : 0};
        struct ps_report report;
        memset(&report, 0, sizeof report);
        struct ps_snap_meta meta;
        memset(&meta, 0, sizeof meta);
        meta.meta.py_version_hex = target.py_version_hex;
        meta.meta.runtime_addr = target.runtime_addr;
        report.meta = &meta;
        int rc = ps_walk(&mem, &target, &lim, &report.model);
        if (rc < 0 || rc >= PS_NUM_ERRORS)
            abort();
        if (!rc)
            fuzz_render(&report);
        ps_report_free(&report);
    }
    if (data[1] & 2)
        segs_free(&segs);
    else
        ps_memsrc_close(&mem);
    free(image);
    return 0;
}
