/* Read a snapshot: decompress (bounded), parse the ELF core with libelf, collect the pysnap
 * notes and the captured ranges, and serve the ranges as a memory source. Every field is
 * untrusted: sizes and offsets are checked before use, counts are bounded. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <sys/mman.h>

#include "pysnap/error.h"
#include "pysnap/snapshot.h"
#include "snapshot_internal.h"

/* Larger inputs are refused rather than allocated: a snapshot is kilobytes to megabytes. */
#define MAX_FILE_BYTES PS_MAX_SNAPSHOT_BYTES
#define MAX_IMAGE_BYTES PS_MAX_IMAGE_BYTES
#define MAX_STRINGS 4096
#define MAX_THREADS (1u << 20)
#define MAX_NATIVE_FRAMES 1024   /* per thread; capture keeps 256 */
#define MAX_MODULES 65536
#define MAX_NATIVE_STRTAB (64u << 20)


const char *ps_snap_string(const struct ps_snap_meta *m, const char *key)
{
    for (size_t i = 0; i < m->nstrings; i++)
        if (strcmp(m->strings[i].key, key) == 0)
            return m->strings[i].value;
    return NULL;
}

int ps_snap_add_string(struct ps_snap_meta *m, const char *key, const char *value)
{
    if (!value)
        return PS_OK;
    struct ps_snap_string *n = realloc(m->strings, (m->nstrings + 1) * sizeof *n);
    if (!n)
        return PS_NOMEM;
    m->strings = n;
    n[m->nstrings].key = strdup(key);
    n[m->nstrings].value = strdup(value);
    if (!n[m->nstrings].key || !n[m->nstrings].value) {
        free(n[m->nstrings].key);
        free(n[m->nstrings].value);
        return PS_NOMEM;
    }
    m->nstrings++;
    return PS_OK;
}

static const char *const root_keys[PS_ROOT_COUNT] = {
    [PS_ROOT_GIL_LOCKED] = "root_gil_locked",
    [PS_ROOT_GIL_HOLDER] = "root_gil_holder",
    [PS_ROOT_GC] = "root_gc",
    [PS_ROOT_ASYNCIO_TASKS] = "root_asyncio_tasks",
};

int ps_snap_add_roots(struct ps_snap_meta *m, const uint64_t *roots)
{
    for (size_t k = 0; k < PS_ROOT_COUNT; k++) {
        char hex[32];
        int rc;
        if (!roots[k])
            continue;
        snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)roots[k]);
        if ((rc = ps_snap_add_string(m, root_keys[k], hex)))
            return rc;
    }
    return PS_OK;
}

void ps_snap_roots(const struct ps_snap_meta *m, uint64_t *roots)
{
    for (size_t k = 0; k < PS_ROOT_COUNT; k++) {
        const char *v = ps_snap_string(m, root_keys[k]);
        roots[k] = v ? strtoull(v, NULL, 16) : 0;
    }
}

void ps_snap_meta_free(struct ps_snap_meta *m)
{
    for (size_t i = 0; i < m->nstrings; i++) {
        free(m->strings[i].key);
        free(m->strings[i].value);
    }
    free(m->strings);
    for (size_t i = 0; i < m->nthreads; i++)
        free(m->threads[i].native);
    free(m->threads);
    free(m->modules);
    free(m->native_strtab);
    memset(m, 0, sizeof *m);
}

const char *ps_snap_native_str(const struct ps_snap_meta *m, uint32_t off)
{
    /* The table ends with a NUL of ours, so any offset inside it starts a terminated string. */
    if (off == PS_NO_INDEX || !m->native_strtab || off >= m->native_strtab_len)
        return NULL;
    return m->native_strtab + off;
}

const struct ps_note_module *ps_snap_module(const struct ps_snap_meta *m, uint32_t index)
{
    return index < m->nmodules ? &m->modules[index] : NULL;
}

/* PS_NT_MODULES: header, records, string table (FORMAT.md). The first one counts. */
static int parse_modules(struct ps_snap_meta *m, const unsigned char *desc, size_t len)
{
    struct ps_note_modules h;
    if (m->modules || m->native_strtab || len < sizeof h)
        return PS_OK;
    memcpy(&h, desc, sizeof h);
    if (h.nmodules > MAX_MODULES || h.strtab_size > MAX_NATIVE_STRTAB ||
        (size_t)h.nmodules * sizeof(struct ps_note_module) + h.strtab_size > len - sizeof h)
        return PS_OK; /* malformed: the frames then show addresses only */
    size_t recs = (size_t)h.nmodules * sizeof(struct ps_note_module);
    m->modules = malloc(recs ? recs : 1);
    m->native_strtab = malloc((size_t)h.strtab_size + 1);
    if (!m->modules || !m->native_strtab)
        return PS_NOMEM;
    memcpy(m->modules, desc + sizeof h, recs);
    memcpy(m->native_strtab, desc + sizeof h + recs, h.strtab_size);
    m->native_strtab[h.strtab_size] = '\0';
    m->nmodules = h.nmodules;
    m->native_strtab_len = h.strtab_size;
    return PS_OK;
}

/* PS_NT_NATIVE notes wait here until every thread note is read. */
struct native_seen {
    struct ps_note_native hdr;
    struct ps_note_native_frame *frames;
};

static int parse_native(struct native_seen **seen, size_t *nseen, const unsigned char *desc,
                        size_t len)
{
    struct ps_note_native h;
    if (len < sizeof h || *nseen >= MAX_THREADS)
        return PS_OK;
    memcpy(&h, desc, sizeof h);
    if (h.nframes == 0 || h.nframes > MAX_NATIVE_FRAMES ||
        (size_t)h.nframes * sizeof(struct ps_note_native_frame) > len - sizeof h)
        return PS_OK;
    struct native_seen *ns = realloc(*seen, (*nseen + 1) * sizeof *ns);
    if (!ns)
        return PS_NOMEM;
    *seen = ns;
    size_t bytes = (size_t)h.nframes * sizeof(struct ps_note_native_frame);
    if (!(ns[*nseen].frames = malloc(bytes)))
        return PS_NOMEM;
    memcpy(ns[*nseen].frames, desc + sizeof h, bytes);
    ns[*nseen].hdr = h;
    (*nseen)++;
    return PS_OK;
}

static int decompress(const unsigned char *in, size_t in_len, unsigned char **out,
                      size_t *out_len)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds)
        return PS_NOMEM;
    size_t cap = in_len * 4 + 65536, len = 0;
    unsigned long long declared = ZSTD_getFrameContentSize(in, in_len);
    /* The declared size is untrusted: believe it up front only for a plausible ratio (real
     * snapshots compress about 4:1); beyond that the buffer grows as data really arrives. */
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR &&
        declared <= MAX_IMAGE_BYTES && declared / 64 <= in_len)
        cap = (size_t)declared + 1; /* +1 lets the loop see the end without growing */
    unsigned char *buf = malloc(cap);
    int rc = buf ? PS_OK : PS_NOMEM;
    ZSTD_inBuffer ib = {in, in_len, 0};
    size_t ret = 1;
    while (!rc) {
        if (len == cap) {
            if (cap >= MAX_IMAGE_BYTES) {
                rc = ps_error_set(PS_BADSNAP, "snapshot decompresses to more than %zu bytes",
                                  MAX_IMAGE_BYTES);
                break;
            }
            size_t ncap = cap * 2 > MAX_IMAGE_BYTES ? MAX_IMAGE_BYTES : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = PS_NOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ZSTD_outBuffer ob = {buf + len, cap - len, 0};
        ret = ZSTD_decompressStream(ds, &ob, &ib);
        len += ob.pos;
        if (ZSTD_isError(ret)) {
            rc = ps_error_set(PS_BADSNAP, "snapshot is corrupt: zstd: %s",
                              ZSTD_getErrorName(ret));
            break;
        }
        if (ret == 0 && ib.pos == ib.size)
            break; /* frame complete, all input used */
        if (ret == 0) {
            /* Another frame follows; keep going (zstd concatenation is legal). */
            continue;
        }
        if (ib.pos == ib.size && ob.pos < ob.size) {
            rc = ps_error_set(PS_BADSNAP, "snapshot is truncated (compressed stream ends early)");
            break;
        }
    }
    ZSTD_freeDStream(ds);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return PS_OK;
}

static int parse_strings(struct ps_snap_meta *m, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && m->nstrings < MAX_STRINGS) {
        const char *rec = p + i;
        const char *end = memchr(rec, '\0', len - i);
        if (!end)
            break; /* unterminated tail: ignore */
        i += (size_t)(end - rec) + 1;
        const char *eq = memchr(rec, '=', (size_t)(end - rec));
        if (!eq)
            continue;
        struct ps_snap_string *ns =
            realloc(m->strings, (m->nstrings + 1) * sizeof *m->strings);
        if (!ns)
            return PS_NOMEM;
        m->strings = ns;
        char *key = strndup(rec, (size_t)(eq - rec));
        char *value = strdup(eq + 1);
        if (!key || !value) {
            free(key);
            free(value);
            return PS_NOMEM;
        }
        m->strings[m->nstrings].key = key;
        m->strings[m->nstrings].value = value;
        m->nstrings++;
    }
    return PS_OK;
}

struct regs_seen {
    uint32_t tid;
    uint64_t regs[PS_NREGS];
};

static int parse_notes(struct ps_snapshot *s, Elf *elf, const GElf_Phdr *ph, int *have_meta,
                       struct regs_seen **regs, size_t *nregs, struct native_seen **natives,
                       size_t *nnatives)
{
    Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_NHDR);
    if (!d)
        return ps_error_set(PS_BADSNAP, "snapshot is corrupt: unreadable notes (%s)",
                            elf_errmsg(-1));
    struct ps_snap_meta *m = &s->meta;
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    while (off < d->d_size && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
        const char *name = (const char *)d->d_buf + name_off;
        const unsigned char *desc = (const unsigned char *)d->d_buf + desc_off;
        if (nh.n_namesz == sizeof "CORE" && memcmp(name, "CORE", sizeof "CORE") == 0 &&
            nh.n_type == NT_PRSTATUS && nh.n_descsz == PS_X86_64_PRSTATUS_SIZE) {
            if (*nregs >= MAX_THREADS)
                continue;
            struct regs_seen *nr = realloc(*regs, (*nregs + 1) * sizeof **regs);
            if (!nr)
                return PS_NOMEM;
            *regs = nr;
            nr[*nregs].tid = ps_note_u32(desc, PS_X86_64_PRSTATUS_PID);
            memcpy(nr[*nregs].regs, desc + PS_X86_64_PRSTATUS_REGS, sizeof nr[*nregs].regs);
            (*nregs)++;
            continue;
        }
        if (nh.n_namesz != sizeof PS_NOTE_OWNER ||
            memcmp(name, PS_NOTE_OWNER, sizeof PS_NOTE_OWNER) != 0)
            continue; /* someone else's note: skip */
        switch (nh.n_type) {
        case PS_NT_META:
            if (nh.n_descsz < sizeof(struct ps_note_meta))
                return ps_error_set(PS_BADSNAP, "snapshot is corrupt: short meta note");
            memcpy(&m->meta, desc, sizeof m->meta);
            *have_meta = 1;
            break;
        case PS_NT_STRINGS: {
            int rc = parse_strings(m, (const char *)desc, nh.n_descsz);
            if (rc)
                return rc;
            break;
        }
        case PS_NT_THREAD: {
            if (nh.n_descsz < sizeof(struct ps_note_thread) || m->nthreads >= MAX_THREADS)
                break;
            struct ps_snap_thread *nt = realloc(m->threads, (m->nthreads + 1) * sizeof *nt);
            if (!nt)
                return PS_NOMEM;
            m->threads = nt;
            memset(&nt[m->nthreads], 0, sizeof *nt);
            memcpy(&nt[m->nthreads].info, desc, sizeof nt->info);
            nt[m->nthreads].info.comm[sizeof nt->info.comm - 1] = '\0';
            m->nthreads++;
            break;
        }
        case PS_NT_NATIVE: {
            int rc = parse_native(natives, nnatives, desc, nh.n_descsz);
            if (rc)
                return rc;
            break;
        }
        case PS_NT_MODULES: {
            int rc = parse_modules(m, desc, nh.n_descsz);
            if (rc)
                return rc;
            break;
        }
        default:
            break; /* unknown pysnap note from a newer minor: skip */
        }
    }
    return PS_OK;
}

static int range_cmp(const void *a, const void *b)
{
    const struct ps_range *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int parse_elf(struct ps_snapshot *s)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return ps_error_set(PS_IO, "libelf: %s", elf_errmsg(-1));
    Elf *elf = elf_memory((char *)s->image, s->image_len);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        if (elf)
            elf_end(elf);
        return ps_error_set(PS_NOTSNAP, "not a pysnap snapshot (not an ELF file)");
    }
    int rc = PS_OK;
    struct regs_seen *regs = NULL;
    struct native_seen *natives = NULL;
    size_t nnatives = 0;
    size_t nregs = 0, nphdr = 0;
    int have_meta = 0;
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh)) {
        rc = ps_error_set(PS_BADSNAP, "snapshot is corrupt: bad ELF header (%s)", elf_errmsg(-1));
        goto out;
    }
    if (eh.e_type != ET_CORE) {
        rc = ps_error_set(PS_NOTSNAP, "not a pysnap snapshot (an ELF file, but not a core)");
        goto out;
    }
    if (gelf_getclass(elf) != ELFCLASS64 || eh.e_machine != EM_X86_64) {
        rc = ps_error_set(PS_NOTSNAP,
                          "snapshot is from another architecture (ELF machine %u); "
                          "pysnap reads x86-64 snapshots",
                          (unsigned)eh.e_machine);
        goto out;
    }
    if (elf_getphdrnum(elf, &nphdr) != 0) {
        rc = ps_error_set(PS_BADSNAP, "snapshot is corrupt: %s", elf_errmsg(-1));
        goto out;
    }
    if (nphdr > 0 && !(s->ranges = calloc(nphdr, sizeof *s->ranges))) {
        rc = PS_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < nphdr && !rc; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph)) {
            rc = ps_error_set(PS_BADSNAP, "snapshot is corrupt: program header %zu", i);
            break;
        }
        if (ph.p_offset > s->image_len || ph.p_filesz > s->image_len - ph.p_offset) {
            rc = ps_error_set(PS_BADSNAP,
                              "snapshot is truncated: segment %zu ends at %llu, file has %zu bytes",
                              i, (unsigned long long)(ph.p_offset + ph.p_filesz), s->image_len);
            break;
        }
        if (ph.p_type == PT_NOTE) {
            rc = parse_notes(s, elf, &ph, &have_meta, &regs, &nregs, &natives, &nnatives);
        } else if (ph.p_type == PT_LOAD && ph.p_filesz > 0) {
            if (ph.p_vaddr + ph.p_filesz < ph.p_vaddr) {
                rc = ps_error_set(PS_BADSNAP, "snapshot is corrupt: segment %zu wraps", i);
                break;
            }
            struct ps_range *r = &s->ranges[s->nranges++];
            r->addr = ph.p_vaddr;
            r->len = ph.p_filesz;
            r->data = s->image + ph.p_offset;
        }
    }
    if (rc)
        goto out;
    if (!have_meta) {
        rc = ps_error_set(PS_NOTSNAP, "not a pysnap snapshot (an ELF core without pysnap notes)");
        goto out;
    }
    if (s->meta.meta.format_major > PS_FORMAT_MAJOR) {
        rc = ps_error_set(PS_NEWERSNAP,
                          "snapshot format %u.%u is newer than this pysnap reads (%u.x): "
                          "upgrade pysnap",
                          s->meta.meta.format_major, s->meta.meta.format_minor, PS_FORMAT_MAJOR);
        goto out;
    }
    qsort(s->ranges, s->nranges, sizeof *s->ranges, range_cmp);
    for (size_t i = 0; i < s->meta.nthreads; i++)
        for (size_t j = 0; j < nregs; j++)
            if (regs[j].tid == s->meta.threads[i].info.tid) {
                s->meta.threads[i].has_regs = 1;
                memcpy(s->meta.threads[i].regs, regs[j].regs, sizeof regs[j].regs);
                break;
            }
    /* Native stacks move to their thread (the first note of a tid counts). */
    for (size_t j = 0; j < nnatives; j++)
        for (size_t i = 0; i < s->meta.nthreads; i++) {
            struct ps_snap_thread *t = &s->meta.threads[i];
            if (t->info.tid != natives[j].hdr.tid || t->has_native)
                continue;
            t->native = natives[j].frames;
            t->nnative = natives[j].hdr.nframes;
            t->native_flags = natives[j].hdr.flags;
            t->has_native = 1;
            natives[j].frames = NULL;
            break;
        }
out:
    free(regs);
    for (size_t j = 0; j < nnatives; j++)
        free(natives[j].frames);
    free(natives);
    elf_end(elf);
    return rc;
}

int ps_snapshot_open_buffer(unsigned char *buf, size_t len, struct ps_snapshot **out)
{
    struct ps_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        free(buf);
        return PS_NOMEM;
    }
    int rc;
    static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (len >= 4 && memcmp(buf, zstd_magic, 4) == 0) {
        rc = decompress(buf, len, &s->image, &s->image_len);
        free(buf);
    } else if (len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0) {
        s->image = buf;
        s->image_len = len;
        rc = PS_OK;
    } else {
        free(buf);
        rc = ps_error_set(PS_NOTSNAP, len == 0 ? "not a pysnap snapshot (empty file)"
                                               : "not a pysnap snapshot (unknown file type)");
    }
    if (!rc)
        rc = parse_elf(s);
    if (rc) {
        ps_snapshot_close(s);
        return rc;
    }
    *out = s;
    return PS_OK;
}

int ps_snapshot_open(const char *path, struct ps_snapshot **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps_error_set(errno == ENOENT ? PS_NOTSNAP : PS_IO, "cannot open %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ps_error_set(PS_NOTSNAP, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return ps_error_set(PS_NOTSNAP, "%s is too large to be a snapshot (%llu MiB; this "
                            "build reads at most %zu MiB)", path,
                            (unsigned long long)st.st_size >> 20, MAX_FILE_BYTES >> 20);
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return PS_NOMEM;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            free(buf);
            return ps_error_set(PS_IO, "cannot read %s: %s", path, n ? strerror(e) : "short read");
        }
        got += (size_t)n;
    }
    close(fd);
    int rc = ps_snapshot_open_buffer(buf, len, out);
    if (rc && ps_error_detail() && rc != PS_NOMEM) {
        /* Prefix the path: "x.snap: snapshot is truncated ..." says which file. */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s: %s", path, ps_error_detail());
        ps_error_clear();
        ps_error_set(rc, "%s", tmp);
    }
    return rc;
}

const struct ps_snap_meta *ps_snapshot_meta(const struct ps_snapshot *s)
{
    return &s->meta;
}

static int snapshot_read(void *self, uint64_t addr, void *buf, size_t len)
{
    const struct ps_snapshot *s = self;
    unsigned char *out = buf;
    /* A read may span adjacent ranges; each step consumes at least one byte. */
    while (len > 0) {
        size_t lo = 0, hi = s->nranges;
        while (lo < hi) { /* first range with addr > target */
            size_t mid = lo + (hi - lo) / 2;
            if (s->ranges[mid].addr <= addr)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            return PS_NOTCAPTURED;
        const struct ps_range *r = &s->ranges[lo - 1];
        uint64_t skip = addr - r->addr;
        if (skip >= r->len)
            return PS_NOTCAPTURED;
        size_t n = r->len - skip < len ? (size_t)(r->len - skip) : len;
        memcpy(out, r->data + skip, n);
        out += n;
        addr += n;
        len -= n;
    }
    return PS_OK;
}

static const struct ps_memsrc_ops snapshot_ops = {snapshot_read, NULL};

struct ps_memsrc ps_snapshot_memsrc(struct ps_snapshot *s)
{
    struct ps_memsrc m = {&snapshot_ops, s};
    return m;
}

void ps_snapshot_close(struct ps_snapshot *s)
{
    if (!s)
        return;
    ps_snap_meta_free(&s->meta);
    free(s->ranges);
    if (s->image_mapped)
        munmap(s->image, s->image_len);
    else
        free(s->image);
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s);
}
