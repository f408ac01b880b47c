/* A source of target memory.
 *
 * Implementations: live (process_vm_readv, page-cached), recording (a live source that keeps
 * every range read, which is what a snapshot stores), snapshot (the PT_LOAD segments of a
 * .snap) and buffer (one in-memory image, for tests and fuzzing).
 *
 * The walker only ever sees a ps_memsrc: it cannot tell capture from analysis, which is what
 * makes the snapshot reproduce the capture-time walk exactly. */
#ifndef PYSNAP_MEMSRC_H
#define PYSNAP_MEMSRC_H

#include <stddef.h>
#include <stdint.h>

struct ps_memsrc_ops {
    /* read: copy LEN bytes at ADDR into BUF. Returns PS_OK, or PS_NOTCAPTURED if any byte of
     * the range is not available, PS_READ on an I/O error. Never writes past LEN; on failure
     * the contents of BUF are unspecified (never a partial success). LEN may be 0. */
    int (*read)(void *self, uint64_t addr, void *buf, size_t len);
    /* close: release SELF. May be NULL when there is nothing to release. */
    void (*close)(void *self);
    /* withhold: the LEN bytes at ADDR hold a secret (a redacted value) that a snapshot must
     * not keep. A recording source writes them as '*' wherever it keeps them, and never fills
     * a gap between recorded ranges across them. NULL for sources that keep nothing. */
    void (*withhold)(void *self, uint64_t addr, uint64_t len);
};

struct ps_memsrc {
    const struct ps_memsrc_ops *ops;
    void *self;
};

static inline int ps_mem_read(const struct ps_memsrc *m, uint64_t addr, void *buf, size_t len)
{
    return m->ops->read(m->self, addr, buf, len);
}

static inline void ps_mem_withhold(const struct ps_memsrc *m, uint64_t addr, uint64_t len)
{
    if (m->ops->withhold && len)
        m->ops->withhold(m->self, addr, len);
}

/* Little-endian x86-64 target: these read native words. */
int ps_mem_u64(const struct ps_memsrc *m, uint64_t addr, uint64_t *out);
int ps_mem_u32(const struct ps_memsrc *m, uint64_t addr, uint32_t *out);
int ps_mem_i32(const struct ps_memsrc *m, uint64_t addr, int32_t *out);
int ps_mem_u8(const struct ps_memsrc *m, uint64_t addr, uint8_t *out);

void ps_memsrc_close(struct ps_memsrc *m);

/* Buffer source: one contiguous image of LEN bytes mapped at BASE (not copied; BUF must
 * outlive the source). */
int ps_memsrc_buffer(struct ps_memsrc *out, uint64_t base, const void *buf, size_t len);

#endif
