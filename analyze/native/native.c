/* Native frames at analysis (see native.h): merge with the Python frames, decode the system
 * call and the instruction at the PC, refine thread states. */
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/native.h"
#include "pysnap/pyoffsets.h"
#include "pysnap/report.h"

#include "disasm.h"

/* user_regs_struct words (NT_PRSTATUS order). */
#define REG_RDI 14
#define REG_ORIG_RAX 15
#define REG_RIP 16

#define MAX_RAW_FRAMES (1u << 16) /* interpreter frames followed, shims included */
#define GIL_STRUCT_BYTES 256      /* struct _gil_runtime_state is 208-216 bytes (3.8-3.15) */
#define MAX_INSN 15               /* longest x86 instruction */

/* x86-64 system call numbers of calls a thread is commonly found in (asm/unistd_64.h). */
static const struct {
    uint16_t nr;
    const char *name;
} syscalls[] = {
    {0, "read"}, {1, "write"}, {2, "open"}, {3, "close"}, {7, "poll"}, {8, "lseek"},
    {9, "mmap"}, {14, "rt_sigprocmask"}, {15, "rt_sigreturn"}, {16, "ioctl"},
    {17, "pread64"}, {18, "pwrite64"}, {19, "readv"}, {20, "writev"}, {23, "select"},
    {24, "sched_yield"}, {26, "msync"}, {28, "madvise"}, {34, "pause"}, {35, "nanosleep"},
    {37, "alarm"}, {40, "sendfile"}, {41, "socket"}, {42, "connect"}, {43, "accept"},
    {44, "sendto"}, {45, "recvfrom"}, {46, "sendmsg"}, {47, "recvmsg"}, {48, "shutdown"},
    {56, "clone"}, {57, "fork"}, {58, "vfork"}, {59, "execve"}, {60, "exit"}, {61, "wait4"},
    {62, "kill"}, {65, "semop"}, {69, "msgsnd"}, {70, "msgrcv"}, {72, "fcntl"},
    {73, "flock"}, {74, "fsync"}, {75, "fdatasync"}, {128, "rt_sigtimedwait"},
    {130, "rt_sigsuspend"}, {131, "sigaltstack"}, {186, "gettid"}, {202, "futex"},
    {204, "sched_getaffinity"}, {208, "io_getevents"}, {217, "getdents64"},
    {219, "restart_syscall"}, {220, "semtimedop"}, {228, "clock_gettime"},
    {230, "clock_nanosleep"}, {231, "exit_group"}, {232, "epoll_wait"}, {233, "epoll_ctl"},
    {234, "tgkill"}, {243, "mq_timedreceive"}, {247, "waitid"}, {257, "openat"},
    {270, "pselect6"}, {271, "ppoll"}, {275, "splice"}, {276, "tee"},
    {277, "sync_file_range"}, {281, "epoll_pwait"}, {288, "accept4"}, {295, "preadv"},
    {296, "pwritev"}, {299, "recvmmsg"}, {307, "sendmmsg"}, {318, "getrandom"},
    {326, "copy_file_range"}, {327, "preadv2"}, {328, "pwritev2"}, {426, "io_uring_enter"},
    {441, "epoll_pwait2"}, {449, "futex_waitv"},
};
#define NR_FUTEX 202
#define NR_RESTART 219

static void syscall_name(uint64_t nr, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof syscalls / sizeof *syscalls; i++)
        if (syscalls[i].nr == nr) {
            snprintf(buf, size, "%s", syscalls[i].name);
            return;
        }
    snprintf(buf, size, "syscall_%llu", (unsigned long long)nr);
}

/* A sleep interrupted (by a signal, or by an earlier capture) resumes in restart_syscall:
 * the libc function it was called from says which call that continues. */
static void restarted_call(const char *innermost, char *buf, size_t size)
{
    static const char *const known[] = {"clock_nanosleep", "nanosleep", "ppoll", "poll",
                                        "futex", "epoll_wait", "select"};
    for (size_t i = 0; innermost && i < sizeof known / sizeof *known; i++)
        if (strstr(innermost, known[i])) {
            snprintf(buf, size, "%s", strstr(known[i], "futex") ? "futex" : known[i]);
            return;
        }
}

/* The eval loop: _PyEval_EvalFrameDefault (3.6+), PyEval_EvalFrameEx (2.7), also as the
 * compiler's local clones name them (name.lto_priv.0). */
int ps_native_is_eval(const char *fn)
{
    static const char *const evals[] = {"_PyEval_EvalFrameDefault", "PyEval_EvalFrameEx"};
    for (size_t i = 0; fn && i < sizeof evals / sizeof *evals; i++) {
        size_t n = strlen(evals[i]);
        if (strncmp(fn, evals[i], n) == 0 && (fn[n] == '\0' || fn[n] == '.'))
            return 1;
    }
    return 0;
}

/* take_gil, also as the compiler's local clones name it (take_gil.lto_priv.0 in Debian's
 * LTO build, named by its detached debug info). */
static int is_gil_wait_function(const char *fn)
{
    return fn && strncmp(fn, "take_gil", 8) == 0 && (fn[8] == '\0' || fn[8] == '.');
}

/* The collector's own functions, as the frames of a thread running a collection name them
 * (3.8-3.12 gcmodule.c: gc_collect_impl -> collect_with_callback -> collect; 3.13+ gc.c:
 * gc_collect_impl -> _PyGC_Collect -> gc_collect_main; automatic ones through
 * _Py_RunGC / gc_collect_generations / _PyObject_GC_Alloc). Compared without the compiler's
 * clone suffix, and only in the python's own module ("collect" is a common name). */
static int is_gc_function(const char *fn)
{
    static const char *const names[] = {
        "collect", "collect_with_callback", "collect_generations", "gc_collect_main",
        "gc_collect_impl", "gc_collect_generations", "gc_collect_increment", "gc_collect_full",
        "gc_collect_young", "_PyGC_Collect", "PyGC_Collect", "_PyGC_CollectNoFail",
        "_Py_RunGC", "gc_collect_region"};
    if (!fn)
        return 0;
    size_t len = strcspn(fn, ".");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && strncmp(fn, names[i], len) == 0)
            return 1;
    return 0;
}

/* Which thread runs the collection of IN, when one runs: the one with a collector function
 * among its native frames in the python module (needs the python's symbols: .symtab, debug
 * info, or an exported name such as 3.13+'s _PyGC_Collect). */
static void find_collector(const struct ps_snap_meta *meta, struct ps_interp *in)
{
    const char *python = ps_snap_string(meta, "python_path");
    if (!in->gc_known || !in->gc_collecting || !python)
        return;
    for (size_t j = 0; j < in->nthreads && !in->gc_collector_tid; j++) {
        const struct ps_thread *t = &in->threads[j];
        for (size_t i = 0; i < t->nframes; i++) {
            const struct ps_frame *f = &t->frames[i];
            if (f->kind == PS_FRAME_NATIVE && f->file && strcmp(f->file, python) == 0 &&
                is_gc_function(f->function)) {
                in->gc_collector_tid = t->tid;
                break;
            }
        }
    }
}

/* --- the version's layout, chosen as the walker does -------------------------------------- */

static int choose_offsets(const struct ps_memsrc *mem, const struct ps_snap_meta *meta,
                          struct ps_pyoffsets *off)
{
    uint32_t hex = meta->meta.py_version_hex;
    int major = (int)(hex >> 24), minor = (int)((hex >> 16) & 0xff);
    const struct ps_pyoffsets *base = ps_pyoffsets_builtin(major, minor);
    unsigned char dbg[1024];
    size_t len = 16, want;
    int has_debug = ps_mem_read(mem, meta->meta.runtime_addr, dbg, len) == PS_OK &&
                    memcmp(dbg, "xdebugpy", 8) == 0;
    if (has_debug && (want = ps_pyoffsets_debug_size(dbg, len)) > len && want <= sizeof dbg) {
        if (ps_mem_read(mem, meta->meta.runtime_addr, dbg, want) == PS_OK)
            len = want;
        else
            has_debug = 0;
    }
    if (has_debug && ps_pyoffsets_debug_free_threaded(dbg, len))
        base = ps_pyoffsets_for(major, minor, 1);
    int known = base != NULL;
    if (!base && has_debug)
        base = ps_pyoffsets_nearest_below(major, minor);
    if (!base)
        return PS_UNSUPPORTED;
    *off = *base;
    if (has_debug && ps_pyoffsets_apply_debug(off, dbg, len, hex) != PS_OK) {
        ps_error_clear();
        if (!known)
            return PS_UNSUPPORTED;
        *off = *base;
    }
    return PS_OK;
}

static int read_field(const struct ps_memsrc *mem, uint64_t base, ps_off off, uint64_t *out)
{
    return off == PS_OFF_NONE ? PS_CORRUPT : ps_mem_u64(mem, base + (uint64_t)(int64_t)off, out);
}

/* --- which Python frames each eval-loop call runs ----------------------------------------- */

/* Sizes of the groups of Python frames run by one eval-loop call each, innermost first, for
 * the first NPY visible frames of the thread state TSTATE (visible: what the walker keeps:
 * no shims, no frame before its first traceable instruction), and for each group the
 * address of the shim frame that closes it (3.12+: a local variable of the eval-loop call,
 * so it lies in that call's native stack frame), or 0. Returns the number of groups, or -1
 * when the chain cannot be followed or does not give NPY frames. */
static long python_groups(const struct ps_memsrc *mem, const struct ps_pyoffsets *o,
                          uint64_t tstate, size_t npy, size_t *groups, uint64_t *shims)
{
    if (o->frame_model != PS_FRAMES_INTERP) {
        for (size_t i = 0; i < npy; i++) /* one eval-loop call per frame object */
            groups[i] = 1;
        return (long)npy;
    }
    uint64_t frame;
    if (read_field(mem, tstate, o->tstate.frame, &frame))
        return -1;
    if (frame && o->tstate.cframe_current != PS_OFF_NONE &&
        read_field(mem, frame, o->tstate.cframe_current, &frame))
        return -1;
    size_t ngroups = 0, count = 0, seen = 0;
    for (unsigned n = 0; frame; n++) {
        uint64_t previous, code, instr;
        uint8_t owner, is_entry = 0;
        if (n >= MAX_RAW_FRAMES || read_field(mem, frame, o->iframe.previous, &previous) ||
            read_field(mem, frame, o->iframe.code, &code) ||
            read_field(mem, frame, o->iframe.instr, &instr) || o->iframe.owner == PS_OFF_NONE ||
            ps_mem_u8(mem, frame + (uint64_t)o->iframe.owner, &owner))
            return -1;
        code &= ~(uint64_t)(uint32_t)o->iframe.stackref_mask;
        int shim = (int32_t)owner == o->iframe.owner_cstack ||
                   (int32_t)owner == o->iframe.owner_interpreter;
        if (seen == npy && !shim)
            break; /* past the frames the walker kept and the shim that closes them */
        if (shim) {
            /* 3.12+: a shim sits at the entry of each eval-loop call; a run of them (3.15's
             * base frame after the last entry) closes one group only. */
            if (count > 0 || (ngroups == 0 && seen == 0)) {
                if (ngroups >= npy + 1)
                    return -1;
                shims[ngroups] = frame;
                groups[ngroups++] = count;
                count = 0;
            }
            frame = previous;
            continue;
        }
        /* 3.11: no shims; the entry frame says so itself, in the bool just before owner. */
        if (o->iframe.owner_cstack < 0 && ps_mem_u8(mem, frame + (uint64_t)o->iframe.owner - 1,
                                                    &is_entry))
            return -1;
        int32_t firsttraceable = 0;
        if (o->code.firsttraceable != PS_OFF_NONE &&
            ps_mem_i32(mem, code + (uint64_t)o->code.firsttraceable, &firsttraceable))
            return -1;
        uint64_t start = o->code.code_adaptive != PS_OFF_NONE
                             ? code + (uint64_t)o->code.code_adaptive : 0;
        int incomplete = (int32_t)owner != o->iframe.owner_generator &&
                         instr < start + 2 * (uint64_t)(uint32_t)firsttraceable;
        if (!incomplete) {
            count++;
            seen++;
        }
        if (is_entry && (count > 0 || (ngroups == 0 && seen == 0))) {
            if (ngroups >= npy + 1)
                return -1;
            groups[ngroups++] = count;
            count = 0;
        }
        frame = previous;
    }
    if (seen != npy)
        return -1;
    if (count > 0) /* the rest of a group cut by the frame limit */
        groups[ngroups++] = count;
    return (long)ngroups;
}

/* --- building the merged frame list -------------------------------------------------------- */

/* Names from the file are untrusted bytes: keep valid UTF-8, make anything else '?', so every
 * renderer prints them as they are. */
static void sanitize_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        size_t k = 1;
        while (n > 1 && k < n && (p[k] & 0xc0) == 0x80)
            k++;
        int overlong = (n == 2 && *p < 0xc2) || (n == 3 && *p == 0xe0 && p[1] < 0xa0) ||
                       (n == 4 && *p == 0xf0 && p[1] < 0x90) || (n == 4 && *p > 0xf4) ||
                       (n == 3 && *p == 0xed && p[1] >= 0xa0) ||
                       (n == 4 && *p == 0xf4 && p[1] >= 0x90);
        if (n == 0 || k != n || overlong || (n == 1 && *p < 0x20)) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static int make_native_frame(const struct ps_snap_meta *meta, const struct ps_note_native_frame *nf,
                             struct ps_frame *f)
{
    memset(f, 0, sizeof *f);
    f->kind = PS_FRAME_NATIVE;
    f->line = -1;
    f->offset = nf->offset;
    const char *sym = ps_snap_native_str(meta, nf->symbol);
    const struct ps_note_module *mod = ps_snap_module(meta, nf->module);
    const char *path = mod ? ps_snap_native_str(meta, mod->path) : NULL;
    if (sym) {
        size_t len = strcspn(sym, "@"); /* "pthread_cond_timedwait@@GLIBC_2.3.2" */
        if (!(f->function = strndup(sym, len ? len : strlen(sym))))
            return PS_NOMEM;
        sanitize_utf8(f->function);
    } else if (!mod) {
        f->offset = nf->pc; /* nothing known: the address itself */
    }
    if (path && !(f->file = strdup(path)))
        return PS_NOMEM;
    if (f->file)
        sanitize_utf8(f->file);
    return PS_OK;
}

/* Which native frame runs each group: the frame whose stack holds the group's shim (3.12+:
 * exact, needs no symbols), else the eval-loop frames by name, in order. OWNER[g] is a
 * native frame index, or NNAT when the group could not be placed. Returns how many groups
 * were placed. */
static size_t place_groups(const struct ps_snap_meta *meta, const struct ps_snap_thread *st,
                           size_t ngroups, const uint64_t *shims, size_t *owner)
{
    size_t nnat = st->nnative, placed = 0;
    int by_stack = ngroups > 0;
    for (size_t g = 0; g < ngroups; g++)
        by_stack &= shims[g] != 0;
    for (size_t k = 0; k < nnat && by_stack; k++)
        by_stack &= st->native[k].sp != 0 && (k == 0 || st->native[k].sp >= st->native[k - 1].sp);
    size_t k = 0;
    for (size_t g = 0; g < ngroups; g++) {
        owner[g] = nnat;
        if (by_stack) {
            /* Frame k spans [sp_k, sp_k+1); groups go outward, so k only grows. */
            while (k < nnat && !(shims[g] >= st->native[k].sp &&
                                 (k + 1 == nnat || shims[g] < st->native[k + 1].sp)))
                k++;
        } else {
            while (k < nnat && !ps_native_is_eval(ps_snap_native_str(meta, st->native[k].symbol)))
                k++;
        }
        if (k == nnat)
            break;
        owner[g] = k++;
        placed++;
    }
    return placed;
}

/* Replace T's frames (Python only, innermost first) with the merged list: the Python frames
 * of each group go right before (inside) the native frame that runs them. */
static int merge_frames(const struct ps_memsrc *mem, const struct ps_pyoffsets *off,
                        const struct ps_snap_meta *meta, const struct ps_snap_thread *st,
                        struct ps_thread *t)
{
    size_t npy = t->nframes, nnat = st->nnative;
    struct ps_frame *out = calloc(npy + nnat + 1, sizeof *out);
    size_t *groups = calloc(npy + 2, sizeof *groups), *owner = calloc(npy + 2, sizeof *owner);
    uint64_t *shims = calloc(npy + 2, sizeof *shims);
    int rc = out && groups && owner && shims ? PS_OK : PS_NOMEM;
    long ngroups = !rc && off && npy && t->tstate
                       ? python_groups(mem, off, t->tstate, npy, groups, shims) : -1;
    size_t placed = ngroups > 0 ? place_groups(meta, st, (size_t)ngroups, shims, owner) : 0;
    size_t n = 0, pi = 0, gi = 0;
    for (size_t i = 0; i < nnat && !rc; i++) {
        for (; gi < placed && owner[gi] == i; gi++)
            for (size_t k = 0; k < groups[gi] && pi < npy; k++)
                out[n++] = t->frames[pi++];
        rc = make_native_frame(meta, &st->native[i], &out[n++]);
    }
    if (rc) {
        for (size_t i = 0; out && i < n; i++)
            if (out[i].kind == PS_FRAME_NATIVE) {
                free(out[i].function);
                free(out[i].file);
            }
        free(out);
    } else {
        /* Python frames not placed (the native stack is cut, or the groups are unknown) go
         * last, outermost. */
        while (pi < npy)
            out[n++] = t->frames[pi++];
        if (ngroups >= 0 && placed == (size_t)ngroups)
            t->native_flags |= PS_NATIVE_MERGED;
        free(t->frames);
        t->frames = out;
        t->nframes = n;
        t->frames_cap = npy + nnat + 1;
    }
    free(groups);
    free(owner);
    free(shims);
    return rc;
}

/* --- registers and code --------------------------------------------------------------------- */

static void disassemble(struct ps_disasm *cs, const struct ps_memsrc *mem, uint64_t pc,
                        char *buf, size_t size)
{
    unsigned char code[MAX_INSN];
    size_t len = MAX_INSN;
    while (len > 0 && ps_mem_read(mem, pc, code, len) != PS_OK)
        len--; /* the code copy may end before 15 bytes */
    ps_disasm_one(cs, code, len, pc, buf, size);
}

/* Is the thread stopped inside a system call? orig_rax holds its number then (-1 in user
 * space); the instruction before the PC is the `syscall` that entered it. */
static int in_syscall(const struct ps_snap_thread *st)
{
    return st->has_regs && (int64_t)st->regs[REG_ORIG_RAX] >= 0;
}

static void decode_cpu(struct ps_disasm *cs, const struct ps_memsrc *mem,
                       const struct ps_snap_thread *st, struct ps_thread *t,
                       const char *innermost)
{
    if (!st->has_regs)
        return;
    uint64_t pc = st->regs[REG_RIP];
    unsigned char before[2];
    if (in_syscall(st)) {
        syscall_name(st->regs[REG_ORIG_RAX], t->syscall, sizeof t->syscall);
        if (st->regs[REG_ORIG_RAX] == NR_RESTART)
            restarted_call(innermost, t->syscall, sizeof t->syscall);
        if (cs && ps_mem_read(mem, pc - 2, before, 2) == PS_OK && before[0] == 0x0f &&
            before[1] == 0x05) {
            disassemble(cs, mem, pc - 2, t->pc_instruction, sizeof t->pc_instruction);
            return;
        }
    }
    if (cs)
        disassemble(cs, mem, pc, t->pc_instruction, sizeof t->pc_instruction);
}

/* Where interpreter IN's GIL lives (struct _gil_runtime_state), or 0. */
static uint64_t gil_address(const struct ps_memsrc *mem, const struct ps_pyoffsets *o,
                            const struct ps_snap_meta *meta, const struct ps_interp *in)
{
    uint64_t gil = 0;
    if (!o)
        return 0;
    if (o->runtime.gil != PS_OFF_NONE)
        return meta->meta.runtime_addr + (uint64_t)o->runtime.gil;
    if (in->addr && read_field(mem, in->addr, o->interp.gil_ptr, &gil) != PS_OK)
        return 0;
    return gil;
}

static void refine_state(const struct ps_snap_thread *st, struct ps_thread *t, uint64_t gil)
{
    int gil_wait = 0;
    for (size_t i = 0; i < t->nframes && !gil_wait; i++)
        gil_wait = t->frames[i].kind == PS_FRAME_NATIVE &&
                   is_gil_wait_function(t->frames[i].function);
    /* Without symbols (a stripped python): a futex wait on a word of the GIL's own
     * structure (its condition variables and mutexes) is a wait for the GIL.
     * A futex wait that was interrupted (by an earlier capture's freeze, a debugger or a
     * signal) goes on as restart_syscall, whose registers are still the futex call's. */
    if (!gil_wait && gil && in_syscall(st) &&
        (st->regs[REG_ORIG_RAX] == NR_FUTEX || st->regs[REG_ORIG_RAX] == NR_RESTART) &&
        st->regs[REG_RDI] >= gil && st->regs[REG_RDI] < gil + GIL_STRUCT_BYTES)
        gil_wait = 1;
    if (t->holds_gil || t->state == PS_TSTATE_SUSPENDED)
        return;
    if (gil_wait && t->tstate)
        t->state = PS_TSTATE_WAITING_FOR_GIL;
    else if (in_syscall(st) && t->state != PS_TSTATE_IDLE)
        t->state = PS_TSTATE_SLEEPING;
}

int ps_native_attach(struct ps_snapshot *snap, struct ps_model *m)
{
    const struct ps_snap_meta *meta = ps_snapshot_meta(snap);
    struct ps_memsrc mem = ps_snapshot_memsrc(snap);
    struct ps_pyoffsets offsets;
    const struct ps_pyoffsets *off =
        choose_offsets(&mem, meta, &offsets) == PS_OK ? &offsets : NULL;
    struct ps_disasm *cs = ps_disasm_open();
    int rc = PS_OK;
    for (size_t i = 0; i < m->ninterps && !rc; i++) {
        struct ps_interp *in = &m->interps[i];
        uint64_t gil = gil_address(&mem, off, meta, in);
        for (size_t j = 0; j < in->nthreads && !rc; j++) {
            struct ps_thread *t = &in->threads[j];
            const struct ps_snap_thread *st = NULL;
            for (size_t k = 0; k < meta->nthreads && !st; k++)
                if (meta->threads[k].info.tid == t->tid && t->tid)
                    st = &meta->threads[k];
            if (!st)
                continue;
            const char *innermost = NULL;
            if (st->has_native && st->nnative) {
                innermost = ps_snap_native_str(meta, st->native[0].symbol);
                t->native_flags |= PS_NATIVE_HAS;
                if (st->native_flags & (PS_NATIVE_TRUNCATED | PS_NATIVE_INCOMPLETE))
                    t->native_flags |= PS_NATIVE_CUT;
                if ((rc = merge_frames(&mem, off, meta, st, t)))
                    break;
            }
            decode_cpu(cs, &mem, st, t, innermost);
            refine_state(st, t, gil);
        }
        find_collector(meta, in);
    }
    ps_disasm_close(cs);
    return rc;
}
