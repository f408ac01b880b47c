/* Native stacks: copy while frozen, unwind with libdwfl after the thaw (see unwind.h).
 *
 * libdwfl sees the target through two ops tables of ours: Dwfl_Callbacks.find_elf opens each
 * module's file with ps_mapped_open (so a target in a container or a chroot works), and
 * Dwfl_Thread_Callbacks serves registers from the registers saved at the freeze and memory
 * from the recorded ranges only: the process runs again, so its live memory is not what the
 * stacks were. */
#include <elf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "../analyze/u64map.h"
#include "pysnap/error.h"
#include "mapped.h"
#include "proc.h"
#include "unwind.h"

#define MAX_MODULES 4096
#define MAX_SYMBOL 512   /* bytes kept of a symbol name */
#define MAX_STRTAB (16u << 20)

/* user_regs_struct word of each x86-64 DWARF register 0..16 (rax, rdx, rcx, rbx, rsi, rdi,
 * rbp, rsp, r8..r15, rip). */
static const unsigned dwarf_to_user[17] = {10, 12, 11, 5, 13, 14, 4, 19, 9, 8, 7, 6, 3, 2, 1, 0, 16};
#define USER_RIP 16
#define USER_RSP 19

struct module_ref {
    Dwfl_Module *mod;
    uint32_t index;
};

struct ps_unwind {
    pid_t pid;
    size_t max_stack;
    struct ps_maps maps;
    int have_maps;
    uint64_t vdso;             /* AT_SYSINFO_EHDR of the target, 0 if unknown */
    /* During ps_unwind_run. */
    const struct ps_range *ranges;
    size_t nranges;
    struct ps_snap_meta *meta;
    struct ps_note_module *modules;
    size_t nmodules;
    struct module_ref *refs;
    char *strtab;
    size_t strtab_len, strtab_cap;
    struct ps_u64map interned; /* string hash -> offset + 1 */
    /* Lookup address -> struct sym_hit: libdwfl scans a module's whole symbol table for each
     * lookup, and threads parked the same way share their return addresses. */
    struct ps_u64map symcache;
    int nomem;
    int read_failed;           /* a stack read of the thread being unwound missed */
};

/* find_elf has no argument of ours: the capture is single-threaded and runs one unwind at a
 * time, so the current one is kept here. */
static struct ps_unwind *current;

static uint64_t read_vdso_addr(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t av[2], vdso = 0;
    while (read(fd, av, sizeof av) == (ssize_t)sizeof av && av[0] != AT_NULL)
        if (av[0] == AT_SYSINFO_EHDR)
            vdso = av[1];
    close(fd);
    return vdso;
}

int ps_unwind_open(pid_t pid, size_t max_stack, struct ps_unwind **out)
{
    struct ps_unwind *u = calloc(1, sizeof *u);
    if (!u)
        return PS_NOMEM;
    u->pid = pid;
    u->max_stack = max_stack;
    if (max_stack) {
        int rc = ps_proc_read_maps(pid, &u->maps);
        if (rc == PS_NOMEM) {
            free(u);
            return rc;
        }
        ps_error_clear(); /* unreadable maps only make the stack copies blind */
        u->have_maps = rc == PS_OK;
        u->vdso = read_vdso_addr(pid);
    }
    *out = u;
    return PS_OK;
}

void ps_unwind_close(struct ps_unwind *u)
{
    if (!u)
        return;
    if (u->have_maps)
        ps_proc_maps_free(&u->maps);
    free(u);
}

/* --- during the freeze ------------------------------------------------------------------- */

static const struct ps_mapping *mapping_of(const struct ps_unwind *u, uint64_t addr)
{
    size_t lo = 0, hi = u->have_maps ? u->maps.n : 0;
    while (lo < hi) { /* maps are sorted by address */
        size_t mid = lo + (hi - lo) / 2;
        const struct ps_mapping *m = &u->maps.v[mid];
        if (addr < m->start)
            hi = mid;
        else if (addr >= m->end)
            lo = mid + 1;
        else
            return m;
    }
    return NULL;
}

/* The pages of a thread's stack that a freeze copies, as the maps foresee them: a glibc
 * thread's stack is an anonymous rw-p mapping right above its guard page (---p), with its
 * thread pointer near the top and its stack pointer just below (5.5 KB below the top for a
 * 3.11 thread parked in time.sleep): its top pages. A mapping mistaken for a stack costs a
 * rehearsed copy before the freeze, nothing during it. The cap keeps a process with tens of
 * thousands of threads from costing more than 64 MB before anything is known. */
#define RESERVE_PAGES_PER_STACK 3
#define RESERVE_MAX_PAGES 16384

void ps_unwind_reserve(struct ps_unwind *u, struct ps_live *live)
{
    if (!u || !u->max_stack || !u->have_maps)
        return;
    struct ps_live_span *spans = malloc(u->maps.n * sizeof *spans);
    if (!spans)
        return;
    size_t n = 0;
    const uint64_t top = RESERVE_PAGES_PER_STACK * 4096u;
    for (size_t i = 1; i < u->maps.n; i++) {
        const struct ps_mapping *guard = &u->maps.v[i - 1], *m = &u->maps.v[i];
        if (!m->path && strcmp(m->perms, "rw-p") == 0 && strcmp(guard->perms, "---p") == 0 &&
            guard->end == m->start && m->end - m->start > top)
            spans[n++] = (struct ps_live_span){m->end - top, top};
    }
    (void)ps_live_reserve(live, spans, n, RESERVE_MAX_PAGES); /* out of memory: the copies
                                                                allocate as they go */
    free(spans);
}

struct ps_live_span *ps_unwind_spans(struct ps_unwind *u, const struct ps_freeze *fz, size_t *nspans)
{
    *nspans = 0;
    if (!u || !u->max_stack)
        return NULL;
    struct ps_live_span *spans = malloc((2 * fz->ntasks + 1) * sizeof *spans);
    if (!spans)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < fz->ntasks; i++) {
        const struct ps_ftask *t = &fz->tasks[i];
        if (!t->has_regs)
            continue;
        uint64_t sp = t->regs.rsp, pc = t->regs.rip;
        uint64_t lo = sp > PS_UNWIND_RED_ZONE ? sp - PS_UNWIND_RED_ZONE : 0;
        uint64_t hi = sp + u->max_stack < sp ? UINT64_MAX : sp + u->max_stack;
        const struct ps_mapping *m = mapping_of(u, sp);
        if (m) {
            if (lo < m->start)
                lo = m->start;
            if (hi > m->end)
                hi = m->end;
        }
        /* glibc keeps a thread's struct pthread (its thread pointer) right above its stack:
         * nothing of the stack lies higher. That bound matters where the stacks of several
         * threads share one mapping (glibc 2.41+ guards them with MADV_GUARD_INSTALL, not
         * with PROT_NONE mappings in between). Not for the main thread: its TLS is
         * elsewhere, not within the cap above its SP. */
        uint64_t tp = t->regs.fs_base;
        if (tp > sp && tp < hi)
            hi = tp;
        /* A thread created after the maps were read has no mapping here: copy up to the
         * cap; the copy stops at the first unreadable page. */
        if (hi > lo)
            spans[n++] = (struct ps_live_span){lo, hi - lo};
        if (pc > PS_UNWIND_CODE_BEFORE)
            spans[n++] = (struct ps_live_span){pc - PS_UNWIND_CODE_BEFORE,
                                               PS_UNWIND_CODE_BEFORE + PS_UNWIND_CODE_AFTER};
    }
    *nspans = n;
    return spans;
}

/* --- after the thaw: libdwfl callbacks ---------------------------------------------------- */

/* Copy LEN bytes at ADDR out of the recorded ranges (sorted); 0 or -1 when not recorded. */
static int ranges_read(const struct ps_unwind *u, uint64_t addr, void *buf, size_t len)
{
    unsigned char *out = buf;
    while (len > 0) {
        size_t lo = 0, hi = u->nranges;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (u->ranges[mid].addr <= addr)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            return -1;
        const struct ps_range *r = &u->ranges[lo - 1];
        uint64_t skip = addr - r->addr;
        if (skip >= r->len)
            return -1;
        size_t n = r->len - skip < len ? (size_t)(r->len - skip) : len;
        memcpy(out, r->data + skip, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

/* The vDSO is not a file: use our own, which is the same kernel's (same code, same CFI);
 * libdwfl places it at the target's address. */
static Elf *own_vdso(void)
{
    const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
    if (!base || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
        return NULL;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    size_t size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
    size_t ph_end = eh->e_phoff + (size_t)eh->e_phnum * eh->e_phentsize;
    if (ph_end > size)
        size = ph_end;
    return elf_memory((char *)base, size);
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    (void)mod, (void)userdata;
    *elfp = NULL;
    if (strcmp(name, "[vdso]") == 0) {
        *elfp = own_vdso();
        return -1;
    }
    if (name[0] != '/' || !current)
        return -1;
    /* The mapping the module was reported for (report_modules: at file offset 0). */
    const struct ps_mapping *m = ps_mapped_find(&current->maps, name, base);
    int fd = m ? ps_mapped_open(current->pid, &current->maps, m) : -1;
    if (fd >= 0)
        *file_name = strdup(name);
    return fd;
}

static char *debuginfo_path;

/* Separate debug files by build ID under the local debuginfo path only. Not
 * dwfl_standard_find_debuginfo: when nothing is found locally it loads libdebuginfod (and
 * with it libcurl, gnutls, krb5, ldap: ~30 libraries, ~25 ms per capture here) and, where
 * DEBUGINFOD_URLS is set, would fetch over the network while capturing. */
static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = dwfl_build_id_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    (void)dwfl;
    struct ps_unwind *u = arg;
    size_t i = (size_t)(uintptr_t)*thread_argp;
    while (i < u->meta->nthreads && !u->meta->threads[i].has_regs)
        i++;
    if (i >= u->meta->nthreads)
        return 0;
    *thread_argp = (void *)(uintptr_t)(i + 1);
    return (pid_t)u->meta->threads[i].info.tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
    (void)dwfl;
    struct ps_unwind *u = arg;
    for (size_t i = 0; i < u->meta->nthreads; i++)
        if ((pid_t)u->meta->threads[i].info.tid == tid && u->meta->threads[i].has_regs) {
            *thread_argp = (void *)(uintptr_t)(i + 1);
            return true;
        }
    return false;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    (void)dwfl;
    uint64_t v;
    if (ranges_read(arg, addr, &v, sizeof v) != 0) {
        ((struct ps_unwind *)arg)->read_failed = 1;
        return false;
    }
    *result = v;
    return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
    size_t i = (size_t)(uintptr_t)thread_arg - 1;
    const struct ps_snap_thread *t = &current->meta->threads[i];
    Dwarf_Word regs[17];
    for (unsigned r = 0; r < 17; r++)
        regs[r] = t->regs[dwarf_to_user[r]];
    if (!dwfl_thread_state_registers(thread, 0, 17, regs))
        return false;
    dwfl_thread_state_register_pc(thread, t->regs[USER_RIP]);
    return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

/* --- string table and modules ------------------------------------------------------------ */

static uint64_t hash_bytes(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h | 1; /* u64map keys are non-zero */
}

/* Offset of LEN bytes (plus a NUL) in the string table, shared with an equal earlier entry. */
static uint32_t intern(struct ps_unwind *u, const void *data, size_t len)
{
    uint64_t h = hash_bytes(data, len);
    void *hit = ps_u64map_get(&u->interned, h);
    if (hit) {
        size_t off = (size_t)(uintptr_t)hit - 1;
        if (off + len < u->strtab_len && memcmp(u->strtab + off, data, len) == 0 &&
            u->strtab[off + len] == '\0')
            return (uint32_t)off;
    }
    if (u->strtab_len + len + 1 > MAX_STRTAB)
        return PS_NO_INDEX;
    if (u->strtab_len + len + 1 > u->strtab_cap) {
        size_t ncap = u->strtab_cap ? u->strtab_cap * 2 : 4096;
        while (ncap < u->strtab_len + len + 1)
            ncap *= 2;
        char *n = realloc(u->strtab, ncap);
        if (!n) {
            u->nomem = 1;
            return PS_NO_INDEX;
        }
        u->strtab = n;
        u->strtab_cap = ncap;
    }
    size_t off = u->strtab_len;
    memcpy(u->strtab + off, data, len);
    u->strtab[off + len] = '\0';
    u->strtab_len += len + 1;
    if (!hit && ps_u64map_put(&u->interned, h, (void *)(uintptr_t)(off + 1)))
        u->nomem = 1;
    return (uint32_t)off;
}

static uint32_t intern_str(struct ps_unwind *u, const char *s)
{
    size_t len = strnlen(s, MAX_SYMBOL);
    return intern(u, s, len);
}

/* Our index of MOD, adding its record on first use. */
static uint32_t module_index(struct ps_unwind *u, Dwfl_Module *mod)
{
    for (size_t i = 0; i < u->nmodules; i++)
        if (u->refs[i].mod == mod)
            return u->refs[i].index;
    if (u->nmodules >= MAX_MODULES)
        return PS_NO_INDEX;
    struct ps_note_module *nm = realloc(u->modules, (u->nmodules + 1) * sizeof *nm);
    if (nm)
        u->modules = nm;
    struct module_ref *nr = nm ? realloc(u->refs, (u->nmodules + 1) * sizeof *nr) : NULL;
    if (!nr) {
        u->nomem = 1;
        return PS_NO_INDEX;
    }
    u->refs = nr;
    struct ps_note_module *m = &u->modules[u->nmodules];
    memset(m, 0, sizeof *m);
    Dwarf_Addr start = 0, end = 0, bias = 0;
    const char *name = dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
    m->start = start;
    m->end = end;
    if (dwfl_module_getelf(mod, &bias))
        m->bias = bias;
    m->path = intern_str(u, name ? name : "?");
    const unsigned char *bits;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(mod, &bits, &vaddr);
    m->build_id = PS_NO_INDEX;
    if (n > 0 && n <= 255) {
        m->build_id = intern(u, bits, (size_t)n);
        m->build_id_len = m->build_id == PS_NO_INDEX ? 0 : (uint16_t)n;
    }
    u->refs[u->nmodules].mod = mod;
    u->refs[u->nmodules].index = (uint32_t)u->nmodules;
    return (uint32_t)u->nmodules++;
}

/* --- unwinding ---------------------------------------------------------------------------- */

struct frames_ctx {
    struct ps_unwind *u;
    Dwfl *dwfl;
    struct ps_note_native_frame *frames;
    size_t n;
    uint16_t flags;
};

struct sym_hit {
    int named;
    uint32_t symbol; /* interned name, or PS_NO_INDEX */
    uint64_t start;  /* the symbol's address, or the module's bias when unnamed */
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
    struct frames_ctx *c = arg;
    if (c->n >= PS_UNWIND_MAX_FRAMES) {
        c->flags |= PS_NATIVE_TRUNCATED;
        return DWARF_CB_ABORT;
    }
    Dwarf_Addr pc;
    bool activation = false;
    if (!dwfl_frame_pc(state, &pc, &activation) || pc == 0) {
        c->flags |= PS_NATIVE_INCOMPLETE;
        return DWARF_CB_ABORT;
    }
    struct ps_note_native_frame *f = &c->frames[c->n++];
    memset(f, 0, sizeof *f);
    f->pc = pc;
    Dwarf_Word sp;
    if (dwfl_frame_reg(state, 7 /* rsp */, &sp) == 0)
        f->sp = sp;
    f->flags = activation ? PS_FRAME_ACTIVATION : 0;
    f->module = f->symbol = PS_NO_INDEX;
    /* A return address may lie past the end of a call's function (noreturn calls): look the
     * symbol up at the call instruction. */
    Dwarf_Addr lookup = activation ? pc : pc - 1;
    Dwfl_Module *mod = dwfl_addrmodule(c->dwfl, lookup);
    if (!mod)
        return DWARF_CB_OK;
    f->module = module_index(c->u, mod);
    struct sym_hit *hit = ps_u64map_get(&c->u->symcache, lookup);
    if (!hit && (hit = malloc(sizeof *hit)) != NULL) {
        GElf_Off off = 0;
        GElf_Sym sym;
        const char *name = dwfl_module_addrinfo(mod, lookup, &off, &sym, NULL, NULL, NULL);
        hit->named = name && *name;
        hit->symbol = hit->named ? intern_str(c->u, name) : PS_NO_INDEX;
        hit->start = lookup - off;
        if (!hit->named) {
            Dwarf_Addr bias = 0;
            dwfl_module_getelf(mod, &bias);
            hit->start = bias;
        }
        if (ps_u64map_put(&c->u->symcache, lookup, hit)) {
            free(hit);
            hit = NULL;
        }
    }
    if (!hit) {
        c->u->nomem = 1;
        return DWARF_CB_ABORT;
    }
    /* Named: the offset from the symbol; else from the module's load bias. */
    f->symbol = hit->symbol;
    uint64_t o = pc - hit->start;
    f->offset = o > UINT32_MAX ? UINT32_MAX : (uint32_t)o;
    return DWARF_CB_OK;
}

static void report_modules(struct ps_unwind *u, Dwfl *dwfl)
{
    dwfl_report_begin(dwfl);
    /* One module per run of consecutive mappings of the same file with code in it, as
     * libdwfl's own /proc reader groups them. */
    for (size_t i = 0; u->have_maps && i < u->maps.n;) {
        const struct ps_mapping *m = &u->maps.v[i];
        size_t j = i + 1;
        int exec = strchr(m->perms, 'x') != NULL;
        if (m->path)
            while (j < u->maps.n && u->maps.v[j].path && strcmp(u->maps.v[j].path, m->path) == 0) {
                exec |= strchr(u->maps.v[j].perms, 'x') != NULL;
                j++;
            }
        if (m->path && exec && m->offset == 0)
            dwfl_report_module(dwfl, m->path, m->start, u->maps.v[j - 1].end);
        else if (!m->path && u->vdso && m->start == u->vdso)
            dwfl_report_module(dwfl, "[vdso]", m->start, m->end);
        i = j;
    }
    dwfl_report_end(dwfl, NULL, NULL);
}

int ps_unwind_run(struct ps_unwind *u, const struct ps_range *ranges, size_t nranges,
                  struct ps_snap_meta *meta)
{
    if (!u || !u->max_stack || !u->have_maps)
        return PS_OK;
    u->ranges = ranges;
    u->nranges = nranges;
    u->meta = meta;
    current = u;
    int rc = PS_OK;
    Dwfl *dwfl = dwfl_begin(&dwfl_callbacks);
    struct ps_note_native_frame *buf = calloc(PS_UNWIND_MAX_FRAMES, sizeof *buf);
    if (!dwfl || !buf) {
        rc = PS_NOMEM;
        goto out;
    }
    report_modules(u, dwfl);
    if (!dwfl_attach_state(dwfl, NULL, u->pid, &thread_callbacks, u))
        goto out; /* no module to tell the architecture by: no native stacks */
    for (size_t i = 0; i < meta->nthreads && !u->nomem; i++) {
        struct ps_snap_thread *t = &meta->threads[i];
        if (!t->has_regs)
            continue;
        struct frames_ctx c = {u, dwfl, buf, 0, 0};
        u->read_failed = 0;
        int r = dwfl_getthread_frames(dwfl, (pid_t)t->info.tid, frame_cb, &c);
        /* libdwfl ends quietly (0) where a caller's memory was not copied, and where a PC
         * lies outside every module (no CFI: JIT code): both leave the stack cut. At the
         * true outermost frame the CFI itself ends the chain, with no read. */
        if (r == -1 || u->read_failed || (c.n > 0 && buf[c.n - 1].module == PS_NO_INDEX))
            c.flags |= PS_NATIVE_INCOMPLETE;
        if (c.n == 0)
            continue;
        if (!(t->native = malloc(c.n * sizeof *t->native))) {
            rc = PS_NOMEM;
            break;
        }
        memcpy(t->native, buf, c.n * sizeof *buf);
        t->nnative = c.n;
        t->native_flags = c.flags;
        t->has_native = 1;
    }
    if (u->nomem)
        rc = PS_NOMEM;
    if (!rc) {
        meta->modules = u->modules;
        meta->nmodules = u->nmodules;
        meta->native_strtab = u->strtab;
        meta->native_strtab_len = u->strtab_len;
        u->modules = NULL;
        u->strtab = NULL;
    }
out:
    if (dwfl)
        dwfl_end(dwfl);
    free(buf);
    free(u->modules);
    free(u->refs);
    free(u->strtab);
    ps_u64map_free(&u->interned, NULL);
    ps_u64map_free(&u->symcache, free);
    u->modules = NULL;
    u->refs = NULL;
    u->strtab = NULL;
    u->nmodules = u->strtab_len = u->strtab_cap = 0;
    current = NULL;
    return rc;
}
