/* Typed reads over any memory source, and the in-memory buffer source. */
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/memsrc.h"

int ps_mem_u64(const struct ps_memsrc *m, uint64_t addr, uint64_t *out)
{
    return ps_mem_read(m, addr, out, sizeof *out);
}

int ps_mem_u32(const struct ps_memsrc *m, uint64_t addr, uint32_t *out)
{
    return ps_mem_read(m, addr, out, sizeof *out);
}

int ps_mem_i32(const struct ps_memsrc *m, uint64_t addr, int32_t *out)
{
    return ps_mem_read(m, addr, out, sizeof *out);
}

int ps_mem_u8(const struct ps_memsrc *m, uint64_t addr, uint8_t *out)
{
    return ps_mem_read(m, addr, out, sizeof *out);
}

void ps_memsrc_close(struct ps_memsrc *m)
{
    if (m->ops && m->ops->close)
        m->ops->close(m->self);
    m->ops = NULL;
    m->self = NULL;
}

struct buffer_src {
    uint64_t base;
    const unsigned char *buf;
    size_t len;
};

static int buffer_read(void *self, uint64_t addr, void *out, size_t len)
{
    const struct buffer_src *b = self;
    if (addr < b->base || addr - b->base > b->len || len > b->len - (addr - b->base))
        return PS_NOTCAPTURED;
    memcpy(out, b->buf + (addr - b->base), len);
    return PS_OK;
}

static void buffer_close(void *self)
{
    free(self);
}

static const struct ps_memsrc_ops buffer_ops = {buffer_read, buffer_close};

int ps_memsrc_buffer(struct ps_memsrc *out, uint64_t base, const void *buf, size_t len)
{
    struct buffer_src *b = malloc(sizeof *b);
    if (!b)
        return PS_NOMEM;
    b->base = base;
    b->buf = buf;
    b->len = len;
    out->ops = &buffer_ops;
    out->self = b;
    return PS_OK;
}
