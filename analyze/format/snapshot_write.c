/* Serialize a snapshot: an ELF64 core (one PT_NOTE, one PT_LOAD per range), optionally
 * zstd-compressed as a whole. Layout in FORMAT.md. The ELF is laid out by hand: a core has
 * no sections, only headers, notes and segment bytes, and we want the byte order fixed. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "pysnap/error.h"
#include "pysnap/snapshot.h"
#include "snapshot_internal.h"

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
    if (more > SIZE_MAX / 2 - b->len)
        return PS_NOMEM;
    if (b->len + more <= b->cap)
        return PS_OK;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->len + more)
        ncap *= 2;
    unsigned char *np = realloc(b->p, ncap);
    if (!np)
        return PS_NOMEM;
    b->p = np;
    b->cap = ncap;
    return PS_OK;
}

static int buf_put(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len))
        return PS_NOMEM;
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    return PS_OK;
}

static int buf_pad(struct buf *b, size_t align)
{
    static const unsigned char zeros[16];
    size_t pad = (align - b->len % align) % align;
    return buf_put(b, zeros, pad);
}

static int put_note(struct buf *b, const char *owner, uint32_t type, const void *desc,
                    size_t desclen)
{
    Elf64_Nhdr nh = {.n_namesz = (uint32_t)strlen(owner) + 1,
                     .n_descsz = (uint32_t)desclen,
                     .n_type = type};
    if (buf_put(b, &nh, sizeof nh) || buf_put(b, owner, nh.n_namesz) || buf_pad(b, 4) ||
        buf_put(b, desc, desclen) || buf_pad(b, 4))
        return PS_NOMEM;
    return PS_OK;
}

/* PS_NT_MODULES once (if any native stack), then one PS_NT_NATIVE per unwound thread. */
static int build_native_notes(const struct ps_snap_meta *meta, struct buf *notes)
{
    int any = 0;
    for (size_t i = 0; i < meta->nthreads; i++)
        any |= meta->threads[i].has_native && meta->threads[i].nnative > 0;
    if (!any)
        return PS_OK;
    if (meta->nmodules > UINT32_MAX || meta->native_strtab_len > UINT32_MAX)
        return ps_error_set(PS_LIMIT, "too many native modules or symbols");
    struct ps_note_modules mh = {(uint32_t)meta->nmodules, (uint32_t)meta->native_strtab_len};
    struct buf b = {0};
    int rc = buf_put(&b, &mh, sizeof mh);
    if (!rc)
        rc = buf_put(&b, meta->modules, meta->nmodules * sizeof *meta->modules);
    if (!rc)
        rc = buf_put(&b, meta->native_strtab, meta->native_strtab_len);
    if (!rc)
        rc = put_note(notes, PS_NOTE_OWNER, PS_NT_MODULES, b.p, b.len);
    for (size_t i = 0; i < meta->nthreads && !rc; i++) {
        const struct ps_snap_thread *t = &meta->threads[i];
        if (!t->has_native || t->nnative == 0)
            continue;
        size_t n = t->nnative > UINT16_MAX ? UINT16_MAX : t->nnative;
        struct ps_note_native nh = {t->info.tid, (uint16_t)n, t->native_flags};
        b.len = 0;
        rc = buf_put(&b, &nh, sizeof nh);
        if (!rc)
            rc = buf_put(&b, t->native, n * sizeof *t->native);
        if (!rc)
            rc = put_note(notes, PS_NOTE_OWNER, PS_NT_NATIVE, b.p, b.len);
    }
    free(b.p);
    return rc;
}

static int build_notes(const struct ps_snap_meta *meta, struct buf *notes)
{
    /* The notes by their x86-64 layout (snapshot_internal.h), whatever the host's headers. */
    unsigned char ps[PS_X86_64_PRPSINFO_SIZE] = {0};
    int32_t pid = (int32_t)meta->meta.pid;
    memcpy(ps + PS_X86_64_PRPSINFO_PID, &pid, sizeof pid);
    const char *exe = ps_snap_string(meta, "exe");
    const char *cmdline = ps_snap_string(meta, "cmdline");
    if (exe) {
        const char *base = strrchr(exe, '/');
        strncpy((char *)ps + PS_X86_64_PRPSINFO_FNAME, base ? base + 1 : exe,
                PS_X86_64_PRPSINFO_FNAME_LEN - 1);
    }
    if (cmdline)
        strncpy((char *)ps + PS_X86_64_PRPSINFO_PSARGS, cmdline, PS_X86_64_PRPSINFO_PSARGS_LEN - 1);
    if (put_note(notes, "CORE", NT_PRPSINFO, ps, sizeof ps))
        return PS_NOMEM;

    /* gdb and eu-stack take the first NT_PRSTATUS as the main thread. */
    for (size_t i = 0; i < meta->nthreads; i++) {
        const struct ps_snap_thread *t = &meta->threads[i];
        if (!t->has_regs)
            continue;
        unsigned char pr[PS_X86_64_PRSTATUS_SIZE] = {0};
        int32_t tid = (int32_t)t->info.tid;
        memcpy(pr + PS_X86_64_PRSTATUS_PID, &tid, sizeof tid);
        memcpy(pr + PS_X86_64_PRSTATUS_REGS, t->regs, sizeof t->regs);
        if (put_note(notes, "CORE", NT_PRSTATUS, pr, sizeof pr))
            return PS_NOMEM;
    }

    if (put_note(notes, PS_NOTE_OWNER, PS_NT_META, &meta->meta, sizeof meta->meta))
        return PS_NOMEM;

    struct buf strings = {0};
    for (size_t i = 0; i < meta->nstrings; i++) {
        const struct ps_snap_string *s = &meta->strings[i];
        if (buf_put(&strings, s->key, strlen(s->key)) || buf_put(&strings, "=", 1) ||
            buf_put(&strings, s->value, strlen(s->value) + 1)) {
            free(strings.p);
            return PS_NOMEM;
        }
    }
    int rc = put_note(notes, PS_NOTE_OWNER, PS_NT_STRINGS, strings.p, strings.len);
    free(strings.p);
    if (rc)
        return rc;

    for (size_t i = 0; i < meta->nthreads; i++)
        if (put_note(notes, PS_NOTE_OWNER, PS_NT_THREAD, &meta->threads[i].info,
                     sizeof meta->threads[i].info))
            return PS_NOMEM;
    return build_native_notes(meta, notes);
}

static int build_elf(const struct ps_snap_meta *meta, const struct ps_range *ranges,
                     size_t nranges, struct buf *out)
{
    struct buf notes = {0};
    int rc = build_notes(meta, &notes);
    if (rc) {
        free(notes.p);
        return rc;
    }
    if (nranges > (size_t)PN_XNUM - 2) {
        free(notes.p);
        return ps_error_set(PS_LIMIT, "too many captured ranges (%zu)", nranges);
    }
    size_t nphdr = 1 + nranges;
    Elf64_Ehdr eh;
    memset(&eh, 0, sizeof eh);
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof eh;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = (uint16_t)nphdr;

    uint64_t off = sizeof eh + nphdr * sizeof(Elf64_Phdr);
    if (buf_put(out, &eh, sizeof eh)) {
        free(notes.p);
        return PS_NOMEM;
    }
    Elf64_Phdr ph = {.p_type = PT_NOTE, .p_offset = off, .p_filesz = notes.len, .p_align = 4};
    rc = buf_put(out, &ph, sizeof ph);
    off += notes.len;
    for (size_t i = 0; i < nranges && !rc; i++) {
        off = (off + 7) & ~(uint64_t)7;
        Elf64_Phdr lp = {.p_type = PT_LOAD,
                         .p_flags = PF_R,
                         .p_offset = off,
                         .p_vaddr = ranges[i].addr,
                         .p_filesz = ranges[i].len,
                         .p_memsz = ranges[i].len,
                         .p_align = 8};
        rc = buf_put(out, &lp, sizeof lp);
        off += ranges[i].len;
    }
    if (!rc)
        rc = buf_put(out, notes.p, notes.len);
    free(notes.p);
    for (size_t i = 0; i < nranges && !rc; i++) {
        rc = buf_pad(out, 8);
        if (!rc)
            rc = buf_put(out, ranges[i].data, ranges[i].len);
    }
    return rc;
}

int ps_snapshot_encode(const struct ps_snap_meta *meta, const struct ps_range *ranges,
                       size_t nranges, int compress_level, unsigned char **out,
                       size_t *out_len)
{
    struct buf elf = {0};
    int rc = build_elf(meta, ranges, nranges, &elf);
    if (rc) {
        free(elf.p);
        return rc;
    }
    if (compress_level <= 0) {
        *out = elf.p;
        *out_len = elf.len;
        return PS_OK;
    }
    size_t bound = ZSTD_compressBound(elf.len);
    unsigned char *z = malloc(bound);
    if (!z) {
        free(elf.p);
        return PS_NOMEM;
    }
    /* With a content checksum, a corrupt compressed stream is an error on reading, never
     * silently different memory. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    size_t zlen = cc ? ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, compress_level)
                     : (size_t)-1;
    if (cc && !ZSTD_isError(zlen))
        zlen = ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    if (cc && !ZSTD_isError(zlen))
        zlen = ZSTD_compress2(cc, z, bound, elf.p, elf.len);
    ZSTD_freeCCtx(cc);
    free(elf.p);
    if (ZSTD_isError(zlen)) {
        free(z);
        return ps_error_set(PS_IO, "zstd compression failed: %s", ZSTD_getErrorName(zlen));
    }
    *out = z;
    *out_len = zlen;
    return PS_OK;
}
