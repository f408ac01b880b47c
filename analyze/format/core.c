/* An ordinary ELF core (gdb's gcore, a kernel core dump) of a Python process, presented as a
 * snapshot so that the same walker and renderers analyze it.
 *
 * Memory: the core's PT_LOAD segments, plus what the core left out of the file-backed
 * mappings its NT_FILE note lists (read-only code and data, the first page only of an ELF
 * image, ...), read from those files on disk (under --sysroot when given; --exe stands in for
 * the executable). The runtime: the mapped file with _PyRuntime (libpython or the
 * executable), its load bias from its offset-0 mapping. Threads: one per NT_PRSTATUS note
 * (tid and registers). Everything in the core is untrusted: counts and sizes are bounded. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pysnap/elfsyms.h"
#include "pysnap/error.h"
#include "pysnap/snapfmt.h"
#include "pysnap/snapshot.h"
#include "snapshot_internal.h"

#define MAX_CORE_BYTES ((uint64_t)1 << 36)    /* 64 GiB: refuse larger */
#define MAX_FILE_FILL ((uint64_t)1 << 31)     /* bytes read from mapped files, in all */
#define MAX_MAPPINGS 65536
#define MAX_CORE_THREADS 65536
#define MAX_CANDIDATES 64

struct mapping {
    uint64_t start, end, offset; /* offset in bytes */
    const char *path;            /* inside the NT_FILE note */
};

struct core {
    struct ps_snapshot *s;
    const char *exe, *sysroot;
    struct mapping *maps;
    size_t nmaps;
    uint64_t entry;              /* AT_ENTRY, 0 if unknown */
    const char *exe_map_path;    /* the NT_FILE path --exe stands in for */
    size_t cap_ranges;
    uint64_t filled;
};

/* Map the core (private: libelf may touch it): a gcore of a process with many threads is hundreds of MB, of which
 * the walk touches a few pages. */
static int map_whole(const char *path, unsigned char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ps_error_set(errno == ENOENT ? PS_NOTSNAP : PS_IO, "cannot open %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)SELFMAG ||
        (uint64_t)st.st_size > MAX_CORE_BYTES) {
        close(fd);
        return ps_error_set(PS_NOTSNAP, "%s is not a regular file of a core's size", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return ps_error_set(PS_IO, "cannot map %s: %s", path, strerror(e));
    *out = p;
    *len = (size_t)st.st_size;
    return PS_OK;
}

static int add_string(struct ps_snap_meta *m, const char *key, const char *value)
{
    return ps_snap_add_string(m, key, value);
}

static int add_range(struct core *c, uint64_t addr, uint64_t len, const unsigned char *data)
{
    struct ps_snapshot *s = c->s;
    if (s->nranges == c->cap_ranges) {
        size_t cap = c->cap_ranges ? c->cap_ranges * 2 : 64;
        struct ps_range *n = realloc(s->ranges, cap * sizeof *n);
        if (!n)
            return PS_NOMEM;
        s->ranges = n;
        c->cap_ranges = cap;
    }
    s->ranges[s->nranges++] = (struct ps_range){addr, len, data};
    return PS_OK;
}

static int map_cmp(const void *a, const void *b)
{
    const struct mapping *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->path < y->path ? -1 : x->path > y->path; /* stable: NT_FILE order */
}

/* NT_FILE: count, page size, COUNT x {start, end, page offset}, then COUNT paths. */
static int parse_nt_file(struct core *c, const unsigned char *desc, size_t len)
{
    uint64_t count, pagesz;
    if (len < 16)
        return ps_error_set(PS_BADSNAP, "core is corrupt: short NT_FILE note");
    memcpy(&count, desc, 8);
    memcpy(&pagesz, desc + 8, 8);
    if (count > MAX_MAPPINGS || count * 24 > len - 16 || pagesz == 0 || pagesz > (1u << 30))
        return ps_error_set(PS_BADSNAP, "core is corrupt: NT_FILE lists %llu mappings",
                            (unsigned long long)count);
    if (!(c->maps = calloc(count ? count : 1, sizeof *c->maps)))
        return PS_NOMEM;
    const char *names = (const char *)desc + 16 + count * 24, *end = (const char *)desc + len;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t v[3];
        memcpy(v, desc + 16 + i * 24, sizeof v);
        const char *nul = memchr(names, '\0', (size_t)(end - names));
        if (!nul)
            return ps_error_set(PS_BADSNAP, "core is corrupt: NT_FILE path %llu unterminated",
                                (unsigned long long)i);
        if (v[1] > v[0] && v[2] <= UINT64_MAX / pagesz)
            c->maps[c->nmaps++] = (struct mapping){v[0], v[1], v[2] * pagesz, names};
        names = nul + 1;
    }
    /* A process's mappings are disjoint (the kernel lists them in address order). Drop any
     * that overlaps an earlier one: filling overlapping mappings would make overlapping
     * ranges, and cost mappings x segments file reads. */
    qsort(c->maps, c->nmaps, sizeof *c->maps, map_cmp);
    size_t n = 0;
    for (size_t i = 0; i < c->nmaps; i++)
        if (n == 0 || c->maps[i].start >= c->maps[n - 1].end)
            c->maps[n++] = c->maps[i];
    c->nmaps = n;
    return PS_OK;
}

static void parse_auxv(struct core *c, const unsigned char *desc, size_t len)
{
    for (size_t i = 0; i + 16 <= len; i += 16) {
        uint64_t kv[2];
        memcpy(kv, desc + i, sizeof kv);
        if (kv[0] == AT_ENTRY)
            c->entry = kv[1];
    }
}

static int parse_notes(struct core *c, Elf *elf, const GElf_Phdr *ph)
{
    Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_NHDR);
    if (!d)
        return ps_error_set(PS_BADSNAP, "core is corrupt: unreadable notes (%s)", elf_errmsg(-1));
    struct ps_snap_meta *m = &c->s->meta;
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    int rc;
    while (off < d->d_size && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
        const char *name = (const char *)d->d_buf + name_off;
        const unsigned char *desc = (const unsigned char *)d->d_buf + desc_off;
        if (nh.n_namesz != sizeof "CORE" || memcmp(name, "CORE", sizeof "CORE") != 0)
            continue;
        if (nh.n_type == NT_PRSTATUS && nh.n_descsz == PS_X86_64_PRSTATUS_SIZE) {
            if (m->nthreads >= MAX_CORE_THREADS)
                continue;
            struct ps_snap_thread *n = realloc(m->threads, (m->nthreads + 1) * sizeof *n);
            if (!n)
                return PS_NOMEM;
            m->threads = n;
            struct ps_snap_thread *t = &n[m->nthreads++];
            memset(t, 0, sizeof *t);
            t->info.tid = ps_note_u32(desc, PS_X86_64_PRSTATUS_PID);
            t->has_regs = 1;
            memcpy(t->regs, desc + PS_X86_64_PRSTATUS_REGS, sizeof t->regs);
        } else if (nh.n_type == NT_PRPSINFO && nh.n_descsz == PS_X86_64_PRPSINFO_SIZE) {
            m->meta.pid = (uint64_t)(int32_t)ps_note_u32(desc, PS_X86_64_PRPSINFO_PID);
            char args[PS_X86_64_PRPSINFO_PSARGS_LEN + 1];
            memcpy(args, desc + PS_X86_64_PRPSINFO_PSARGS, PS_X86_64_PRPSINFO_PSARGS_LEN);
            args[PS_X86_64_PRPSINFO_PSARGS_LEN] = '\0';
            if ((rc = add_string(m, "cmdline", args)))
                return rc;
        } else if (nh.n_type == NT_FILE && !c->maps) {
            if ((rc = parse_nt_file(c, desc, nh.n_descsz)))
                return rc;
        } else if (nh.n_type == NT_AUXV) {
            parse_auxv(c, desc, nh.n_descsz);
        }
    }
    return PS_OK;
}

static int range_cmp(const void *a, const void *b)
{
    const struct ps_range *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Is PATH one the kernel writes in NT_FILE: absolute, without "." or ".." components? Any
 * other is not looked up (it could name a file outside --sysroot). */
static int canonical_path(const char *path)
{
    if (path[0] != '/')
        return 0;
    for (const char *p = path; (p = strchr(p, '/')); p++) {
        size_t dots = p[1] != '.' ? 0 : p[2] != '.' ? 1 : 2;
        if (dots && (p[1 + dots] == '/' || p[1 + dots] == '\0'))
            return 0;
    }
    return 1;
}

/* Where a mapped file is on this machine: --exe for the executable, else under --sysroot;
 * "" (no file) for a path that is not canonical or too long. */
static void disk_path(const struct core *c, const char *path, char *out, size_t size)
{
    int n;
    if (c->exe && c->exe_map_path && strcmp(path, c->exe_map_path) == 0)
        n = snprintf(out, size, "%s", c->exe);
    else if (canonical_path(path))
        n = snprintf(out, size, "%s%s", c->sysroot ? c->sysroot : "", path);
    else
        n = -1;
    if (n < 0 || (size_t)n >= size)
        out[0] = '\0';
}

/* Which NT_FILE path is the executable (--exe stands in for it): with --exe, one with the
 * same file name; else the mapping holding the entry point (AT_ENTRY). */
static void choose_exe_mapping(struct core *c)
{
    const char *base = c->exe ? strrchr(c->exe, '/') : NULL;
    base = base ? base + 1 : c->exe;
    for (size_t i = 0; base && i < c->nmaps; i++) {
        const char *b = strrchr(c->maps[i].path, '/');
        if (strcmp(b ? b + 1 : c->maps[i].path, base) == 0) {
            c->exe_map_path = c->maps[i].path;
            return;
        }
    }
    for (size_t i = 0; i < c->nmaps; i++)
        if (c->entry >= c->maps[i].start && c->entry < c->maps[i].end) {
            c->exe_map_path = c->maps[i].path;
            return;
        }
}

/* Read [addr, addr+len) of mapping M from its file into a new range. Short files give
 * shorter ranges; an absent file gives none (reads there are "not captured"). */
static int fill_from_file(struct core *c, const struct mapping *mp, uint64_t addr, uint64_t len)
{
    char path[PATH_MAX];
    disk_path(c, mp->path, path, sizeof path);
    if (c->filled + len > MAX_FILE_FILL)
        return PS_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PS_OK;
    struct stat st;
    uint64_t fofs = mp->offset + (addr - mp->start);
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size <= fofs) {
        close(fd);
        return PS_OK;
    }
    if (len > (uint64_t)st.st_size - fofs)
        len = (uint64_t)st.st_size - fofs;
    unsigned char *buf = malloc(len);
    unsigned char **owned = realloc(c->s->owned, (c->s->nowned + 1) * sizeof *owned);
    if (!buf || !owned) {
        free(buf);
        if (owned)
            c->s->owned = owned;
        close(fd);
        return PS_NOMEM;
    }
    c->s->owned = owned;
    ssize_t got = pread(fd, buf, len, (off_t)fofs);
    close(fd);
    if (got <= 0) {
        free(buf);
        return PS_OK;
    }
    owned[c->s->nowned++] = buf;
    c->filled += (uint64_t)got;
    return add_range(c, addr, (uint64_t)got, buf);
}

/* Fill the parts of every file mapping that no core segment holds. The first N (sorted)
 * ranges come from the core itself; filled ranges are appended after them, which may move
 * the array (realloc): it is indexed afresh after every fill, never held in a pointer. */
static int fill_mappings(struct core *c, size_t n)
{
#define R(j) (c->s->ranges[(j)])
    for (size_t i = 0; i < c->nmaps; i++) {
        const struct mapping *mp = &c->maps[i];
        uint64_t at = mp->start;
        /* First core range that ends after AT, then walk the gaps between ranges. */
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (R(mid).addr + R(mid).len <= at)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t j = lo; at < mp->end; j++) {
            uint64_t gap_end = j < n && R(j).addr < mp->end ? R(j).addr : mp->end;
            if (gap_end > at) {
                int rc = fill_from_file(c, mp, at, gap_end - at);
                if (rc)
                    return rc;
            }
            if (j >= n || R(j).addr >= mp->end)
                break;
            at = R(j).addr + R(j).len;
        }
    }
#undef R
    return PS_OK;
}

/* The mapped file with _PyRuntime: python-named files first, then any other. */
static int find_runtime(struct core *c, uint64_t *runtime, uint64_t *version_addr,
                        uint32_t *version_hex, uint64_t *secret, uint64_t *roots,
                        const char **pypath)
{
    size_t tried = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < c->nmaps && tried < MAX_CANDIDATES * 2; i++) {
            const struct mapping *mp = &c->maps[i];
            int is_exe = c->exe_map_path && strcmp(mp->path, c->exe_map_path) == 0;
            if (mp->offset != 0 || (ps_looks_like_python(mp->path) || is_exe) != (pass == 0))
                continue;
            char path[PATH_MAX];
            struct ps_elf_pysyms s;
            disk_path(c, mp->path, path, sizeof path);
            tried++;
            uint32_t named = ps_version_from_name(mp->path);
            if (ps_elf_pysyms(path, &s) != 0 || ps_elf_pyroots(path, named, &s) != 0 || !s.runtime)
                continue;
            uint64_t bias = mp->start - s.first_load;
            *runtime = bias + s.runtime;
            *version_addr = s.version ? bias + s.version : 0;
            *version_hex = named;
            *secret = s.hash_secret ? bias + s.hash_secret : 0;
            for (size_t k = 0; k < PS_ROOT_COUNT; k++)
                roots[k] = s.roots[k] ? bias + s.roots[k] : 0;
            *pypath = mp->path;
            return PS_OK;
        }
    return ps_error_set(PS_NOTPYTHON,
                        "the core's process has no CPython runtime: none of its %zu mapped files "
                        "with an ELF header has _PyRuntime%s (missing binaries? see --exe, "
                        "--sysroot)",
                        tried, c->sysroot ? " under the sysroot" : "");
}

static int build(struct core *c, const char *core_path, const struct stat *st)
{
    struct ps_snapshot *s = c->s;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return ps_error_set(PS_IO, "libelf: %s", elf_errmsg(-1));
    if (s->image_len < SELFMAG || memcmp(s->image, ELFMAG, SELFMAG) != 0)
        return ps_error_set(PS_NOTSNAP, "%s is not an ELF core", core_path);
    Elf *elf = elf_memory((char *)s->image, s->image_len);
    GElf_Ehdr eh;
    size_t nphdr = 0;
    int rc = PS_OK;
    if (!elf || !gelf_getehdr(elf, &eh) || eh.e_type != ET_CORE ||
        gelf_getclass(elf) != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
        elf_getphdrnum(elf, &nphdr) != 0) {
        rc = ps_error_set(PS_NOTSNAP, "%s is not an x86-64 ELF core", core_path);
        goto out;
    }
    for (size_t i = 0; i < nphdr && !rc; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_offset > s->image_len ||
            ph.p_filesz > s->image_len - ph.p_offset) {
            rc = ps_error_set(PS_BADSNAP, "%s is truncated or corrupt (segment %zu)", core_path, i);
            break;
        }
        if (ph.p_type == PT_NOTE)
            rc = parse_notes(c, elf, &ph);
        else if (ph.p_type == PT_LOAD && ph.p_filesz > 0 && ph.p_vaddr + ph.p_filesz > ph.p_vaddr)
            rc = add_range(c, ph.p_vaddr, ph.p_filesz, s->image + ph.p_offset);
    }
    if (rc)
        goto out;
    if (!c->maps) {
        rc = ps_error_set(PS_NOTSNAP, "%s: the core has no NT_FILE note (which files were "
                          "mapped where); pysnap cannot read it", core_path);
        goto out;
    }
    if (s->nranges > 1) /* a core may have no PT_LOAD: ranges NULL, which qsort may not get */
        qsort(s->ranges, s->nranges, sizeof *s->ranges, range_cmp);
    /* Core segments may not overlap: the memory source takes the first that holds an
     * address. Drop any segment that starts inside its predecessor. */
    size_t n = 0;
    for (size_t i = 0; i < s->nranges; i++)
        if (n == 0 || s->ranges[i].addr >= s->ranges[n - 1].addr + s->ranges[n - 1].len)
            s->ranges[n++] = s->ranges[i];
    s->nranges = n;
    choose_exe_mapping(c);
    if ((rc = fill_mappings(c, n)))
        goto out;
    if (s->nranges > 1)
        qsort(s->ranges, s->nranges, sizeof *s->ranges, range_cmp);

    uint64_t runtime = 0, version_addr = 0, secret = 0, roots[PS_ROOT_COUNT] = {0};
    uint32_t version_hex = 0;
    const char *pypath = NULL;
    if ((rc = find_runtime(c, &runtime, &version_addr, &version_hex, &secret, roots, &pypath)))
        goto out;
    struct ps_memsrc mem = ps_snapshot_memsrc(s);
    uint32_t v;
    if (version_addr && ps_mem_u32(&mem, version_addr, &v) == PS_OK && (v >> 24) == 3)
        version_hex = v;
    if (!version_hex) {
        rc = ps_error_set(PS_UNSUPPORTED, "cannot tell the CPython version of %s", pypath);
        goto out;
    }
    struct ps_snap_meta *m = &s->meta;
    m->meta.format_major = PS_FORMAT_MAJOR;
    m->meta.runtime_addr = runtime;
    m->meta.py_version_hex = version_hex;
    m->meta.nthreads = (uint32_t)m->nthreads;
    m->meta.captured_at_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    if (!m->meta.pid && m->nthreads)
        m->meta.pid = m->threads[0].info.tid; /* the first NT_PRSTATUS is the main thread */
    char hex[32];
    snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)secret);
    const char *exe_path = c->exe_map_path ? c->exe_map_path : NULL;
    if ((rc = add_string(m, "source", "elf-core")) || (rc = add_string(m, "python_path", pypath)) ||
        (rc = add_string(m, "hash_secret", hex)) || (rc = ps_snap_add_roots(m, roots)) ||
        (exe_path && (rc = add_string(m, "exe", exe_path))))
        goto out;
out:
    if (elf)
        elf_end(elf);
    return rc;
}

int ps_core_open(const char *core_path, const char *exe, const char *sysroot,
                 struct ps_snapshot **out)
{
    struct ps_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return PS_NOMEM;
    struct core c = {.s = s, .exe = exe, .sysroot = sysroot && *sysroot ? sysroot : NULL};
    struct stat st;
    int rc = map_whole(core_path, &s->image, &s->image_len);
    s->image_mapped = s->image != NULL;
    if (!rc && stat(core_path, &st) != 0)
        rc = ps_error_set(PS_IO, "cannot stat %s: %s", core_path, strerror(errno));
    if (!rc)
        rc = build(&c, core_path, &st);
    free(c.maps);
    if (rc) {
        ps_snapshot_close(s);
        return rc;
    }
    *out = s;
    return PS_OK;
}

int ps_is_plain_core(const char *path)
{
    unsigned char h[EI_NIDENT + 2];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, h, sizeof h);
    /* ELF, 64-bit little-endian, e_type ET_CORE... */
    int core = n == (ssize_t)sizeof h && memcmp(h, ELFMAG, SELFMAG) == 0 &&
               h[EI_CLASS] == ELFCLASS64 && h[EI_DATA] == ELFDATA2LSB &&
               (h[EI_NIDENT] | h[EI_NIDENT + 1] << 8) == ET_CORE;
    /* ...without pysnap notes (a .snap written with --no-compress has them). libelf reads
     * the program headers and notes only, not the whole (large) file. */
    Elf *elf = core && elf_version(EV_CURRENT) != EV_NONE ? elf_begin(fd, ELF_C_READ_MMAP, NULL)
                                                           : NULL;
    size_t nph = 0;
    if (elf && elf_getphdrnum(elf, &nph) == 0) {
        for (size_t i = 0; i < nph && i < MAX_MAPPINGS && core; i++) {
            GElf_Phdr ph;
            if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
                continue;
            Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
            size_t off = 0, name_off, desc_off;
            GElf_Nhdr nh;
            while (d && off < d->d_size && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0)
                if (nh.n_namesz == sizeof PS_NOTE_OWNER &&
                    memcmp((const char *)d->d_buf + name_off, PS_NOTE_OWNER, sizeof PS_NOTE_OWNER) == 0)
                    core = 0;
        }
    }
    if (elf)
        elf_end(elf);
    close(fd);
    return core;
}
