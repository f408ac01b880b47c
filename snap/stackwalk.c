/* The sampler's walk of one process: see stackwalk.h and doc/sampling.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pysnap/clock.h"
#include "pysnap/error.h"
#include "pysnap/model.h"
#include "proc.h"
#include "stackwalk.h"

#define MAX_INTERPS 64
#define MAX_INTERPS_SEEN 8     /* interpreters whose pages a round fetches up front */
#define MAX_THREADS 4096       /* thread states per interpreter */
#define MAX_STAT_FDS 4096      /* /proc/PID/task/TID/stat kept open, at most, in all; past
                                  that (or half the descriptor limit) opened per read */
#define CODES_MIN 1024         /* code cache slots (a power of two) */
#define CODES_MAX (1u << 17)   /* past this many entries the cache starts again */
#define NAME_CHARS 256
#define CODE_HEADER_MAX 512    /* bytes of a code object read to validate a cache entry */
#define NAMES_EVERY_NS 1000000000LL /* threading names: at most one full walk a second */
/* glibc x86-64: struct pthread's kernel tid; before 3.11 a thread state has no native id. */
#define GLIBC_PTHREAD_TID_OFFSET 0x2d0

struct code_entry {
    uint64_t addr;                    /* 0: empty slot */
    uint64_t type, name, qualname, file; /* as read from the object: what validates a hit */
    uint64_t checked;                 /* round of the last validation */
    struct ps_code_names cn;          /* its strings (and line table) */
};

struct tstate_entry {
    uint64_t tstate;
    uint64_t frame;  /* the chain's first read of the last round (a cframe or a frame) */
    uint32_t tid;
    int fd;          /* /proc/PID/task/TID/stat, -1 when not open */
    int walked;      /* its stack was walked last round: fetch its first frame up front */
    char *name;      /* threading's name, else NULL */
};

/* A frame found in the chain, before its code object is validated. */
struct pending {
    uint64_t code, instr;
    int32_t owner;
    int32_t lasti; /* before 3.11, with lines */
};

struct tinfo {
    uint64_t tstate;
    uint64_t frame; /* tstate's frame field: 3.11/3.12 a _PyCFrame, dereferenced only for
                       the threads walked; else the innermost frame */
    uint32_t tid;
    uint8_t holds_gil;
};

struct ps_stackwalk {
    pid_t pid;
    struct ps_direct *d;
    struct ps_memsrc mem;
    struct ps_walk_target target;
    struct ps_pyoffsets off;
    unsigned max_frames;
    int lines;
    uint64_t round;
    /* code cache: open addressing on the address */
    struct code_entry *codes;
    size_t codes_cap, codes_len;
    uint32_t code_hdr;               /* bytes of header that hold every field validated */
    /* thread states as last seen, in list order */
    struct tstate_entry *ts;
    size_t nts;
    uint64_t interps[MAX_INTERPS_SEEN]; /* the last round's interpreters and GILs */
    uint64_t gils[MAX_INTERPS_SEEN]; /* where each GIL's state is (its holder root before 3.7) */
    size_t ninterps;
    int no_gil;                      /* the last round found no interpreter with a GIL */
    int gil_held;                    /* the last round: one of its threads held a GIL */
    int64_t names_at;
    int names_wanted;
    /* a target in a pid namespace of its own (a container seen from outside): its thread
     * states hold the tids of that namespace, /proc here and the profile want ours */
    int other_ns;
    struct ps_tid_pair *pairs;
    size_t npairs;
    uint64_t pairs_round;            /* the round that listed them (at most one listing a round) */
    /* this round's results, reused */
    struct ps_sw_thread *out;
    size_t nout, out_cap;
    struct ps_frame *frames;         /* pool for every thread's frames of the round */
    size_t nframes, frames_cap;
    struct pending *pend;
    size_t pend_cap;
    uint64_t *scratch;               /* addresses to prefetch */
    uint32_t *scratch_len;
    size_t scratch_cap, scratch_len_cap;
    struct tinfo *ti;                /* the thread states of the round */
    size_t ti_cap;
};

static int grow(void **p, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return PS_OK;
    size_t n = *cap ? *cap : 16;
    while (n < want)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return PS_NOMEM;
    *p = q;
    *cap = n;
    return PS_OK;
}

static uint32_t max_off(uint32_t a, ps_off b)
{
    return b != PS_OFF_NONE && (uint32_t)b + 8 > a ? (uint32_t)b + 8 : a;
}

int ps_stackwalk_open(pid_t pid, struct ps_direct *mem, const struct ps_walk_target *target,
                      unsigned max_frames, int lines, struct ps_stackwalk **out)
{
    struct ps_stackwalk *w = calloc(1, sizeof *w);
    if (!w)
        return PS_NOMEM;
    w->pid = pid;
    w->d = mem;
    w->mem = ps_direct_memsrc(mem);
    w->target = *target;
    w->max_frames = max_frames ? max_frames : 1024;
    w->lines = lines;
    ps_direct_reset(mem);
    int rc = ps_walk_layout(&w->mem, target, &w->off);
    if (rc) {
        free(w);
        return rc;
    }
    const struct ps_pyoffsets *o = &w->off;
    uint32_t h = max_off(0, o->object.ob_type);
    h = max_off(h, o->code.name);
    h = max_off(h, o->code.qualname);
    h = max_off(h, o->code.filename);
    w->code_hdr = h < CODE_HEADER_MAX ? h : CODE_HEADER_MAX;
    w->names_wanted = 1;
    w->other_ns = ps_proc_ns_tid(pid, pid) != pid;
    w->pairs_round = UINT64_MAX;
    *out = w;
    return PS_OK;
}

/* Our tid for NS, a tid of the target's namespace; NS itself where both are one namespace or
 * the thread is not (yet) listed. The pairs are listed again, once a round at most, when a
 * tid is new to them. */
static uint32_t host_tid(struct ps_stackwalk *w, uint32_t ns)
{
    if (!w->other_ns || !ns)
        return ns;
    for (int listed = 0;; listed = 1) {
        for (size_t i = 0; i < w->npairs; i++)
            if (w->pairs[i].ns_tid == ns)
                return w->pairs[i].tid;
        if (listed || w->pairs_round == w->round)
            return ns;
        w->pairs_round = w->round;
        pid_t *tids;
        size_t n;
        if (ps_proc_list_tasks(w->pid, &tids, &n, MAX_THREADS) != PS_OK)
            return ns;
        struct ps_tid_pair *p = realloc(w->pairs, (n ? n : 1) * sizeof *p);
        if (p) {
            for (size_t i = 0; i < n; i++)
                p[i] = (struct ps_tid_pair){(uint32_t)tids[i], (uint32_t)ps_proc_ns_tid(w->pid, tids[i])};
            w->pairs = p;
            w->npairs = n;
        }
        free(tids);
        ps_error_clear();
    }
}

static int scratch_room(struct ps_stackwalk *w, size_t n)
{
    return grow((void **)&w->scratch, &w->scratch_cap, n, sizeof *w->scratch) ||
                   grow((void **)&w->scratch_len, &w->scratch_len_cap, n, sizeof *w->scratch_len)
               ? PS_NOMEM
               : PS_OK;
}

/* ---- code objects ---- */

static void code_entry_clear(struct code_entry *e)
{
    ps_code_names_free(&e->cn);
    memset(e, 0, sizeof *e);
}

static void codes_reset(struct ps_stackwalk *w)
{
    for (size_t i = 0; i < w->codes_cap; i++)
        if (w->codes[i].addr)
            code_entry_clear(&w->codes[i]);
    w->codes_len = 0;
}

static size_t code_slot(uint64_t addr, size_t cap)
{
    return (size_t)((addr >> 4) * 0x9E3779B97F4A7C15ULL >> 20) & (cap - 1);
}

static struct code_entry *code_find(struct ps_stackwalk *w, uint64_t addr, int insert)
{
    if (!w->codes_cap)
        return NULL;
    for (size_t i = code_slot(addr, w->codes_cap), n = 0; n < w->codes_cap;
         i = (i + 1) & (w->codes_cap - 1), n++) {
        if (w->codes[i].addr == addr)
            return &w->codes[i];
        if (!w->codes[i].addr)
            return insert ? &w->codes[i] : NULL;
    }
    return NULL;
}

/* Room for one more entry. Growing keeps the strings where they are (the frames of the
 * round point to them); the cache starts again only between rounds (codes_bound). */
static int codes_room(struct ps_stackwalk *w)
{
    if (w->codes_cap && (w->codes_len + 1) * 2 <= w->codes_cap)
        return PS_OK;
    size_t cap = w->codes_cap ? w->codes_cap * 2 : CODES_MIN;
    struct code_entry *old = w->codes, *n = calloc(cap, sizeof *n);
    if (!n)
        return PS_NOMEM;
    size_t oldcap = w->codes_cap;
    w->codes = n;
    w->codes_cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].addr)
            *code_find(w, old[i].addr, 1) = old[i];
    free(old);
    return PS_OK;
}

static void codes_bound(struct ps_stackwalk *w)
{
    if (w->codes_len >= CODES_MAX)
        codes_reset(w);
}

static uint64_t hdr_u64(const unsigned char *h, ps_off off)
{
    uint64_t v = 0;
    if (off != PS_OFF_NONE)
        memcpy(&v, h + off, 8);
    return v;
}

/* The entry for the code object at ADDR, validated this round: its type and its name,
 * qualname and file pointers are those cached (a code object is immutable: a different one
 * at the same address has other strings). NULL: not a code object (torn). */
static const struct code_entry *code_get(struct ps_stackwalk *w, uint64_t addr)
{
    struct code_entry *e = code_find(w, addr, 0);
    if (e && e->checked == w->round)
        return e;
    const struct ps_pyoffsets *o = &w->off;
    unsigned char h[CODE_HEADER_MAX];
    if (!addr || (addr & 7) || ps_mem_read(&w->mem, addr, h, w->code_hdr) != PS_OK)
        return NULL;
    uint64_t type = hdr_u64(h, o->object.ob_type), name = hdr_u64(h, o->code.name),
             qual = hdr_u64(h, o->code.qualname), file = hdr_u64(h, o->code.filename);
    if (e && e->type == type && e->name == name && e->qualname == qual && e->file == file) {
        e->checked = w->round;
        return e;
    }
    /* A miss, or another object at that address: read it as the walker does. */
    struct ps_code_names cn;
    if (ps_walk_code_names(&w->mem, o, addr, NAME_CHARS, w->lines, &cn) != PS_OK)
        return NULL;
    if (!e) {
        if (codes_room(w)) {
            ps_code_names_free(&cn);
            return NULL;
        }
        e = code_find(w, addr, 1);
        w->codes_len++;
    } else {
        code_entry_clear(e);
    }
    *e = (struct code_entry){addr, type, name, qual, file, w->round, cn};
    return e;
}

/* ---- threads ---- */

/* stat files kept open by every walker of this pysnap (--children: many processes), and
 * how many may be: half the descriptor limit, so that the rest of pysnap never runs out. */
static size_t fds_kept;

static size_t fds_allowed(void)
{
    static size_t allowed;
    if (!allowed) {
        struct rlimit rl;
        size_t half = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                          ? (size_t)rl.rlim_cur / 2
                          : MAX_STAT_FDS;
        allowed = half < MAX_STAT_FDS ? half : MAX_STAT_FDS;
        if (!allowed)
            allowed = 1;
    }
    return allowed;
}

static void ts_close(struct tstate_entry *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        fds_kept--;
    }
    free(t->name);
}

/* The /proc state letter of TID (the stat file kept open), 0 when gone. */
static char read_state(struct ps_stackwalk *w, struct tstate_entry *t)
{
    char buf[512];
    ssize_t n = -1;
    if (t->fd < 0) {
        char path[96];
        snprintf(path, sizeof path, "/proc/%d/task/%u/stat", (int)w->pid, t->tid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return 0;
        n = pread(fd, buf, sizeof buf - 1, 0);
        if (fds_kept < fds_allowed()) {
            t->fd = fd;
            fds_kept++;
        } else {
            close(fd);
        }
    } else {
        n = pread(t->fd, buf, sizeof buf - 1, 0);
    }
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *close_paren = strrchr(buf, ')'); /* comm may hold ')': the last one ends it */
    return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

/* threading's names, from a whole walk (at most once a second, after the thread list
 * changed: names are not worth a walk of sys.modules per sample). */
static void refresh_names(struct ps_stackwalk *w)
{
    int64_t now = ps_mono_ns();
    if (!w->names_wanted || (w->names_at && now - w->names_at < NAMES_EVERY_NS))
        return;
    if (!w->nts)
        return; /* the first round lists the threads; the next one names them */
    w->names_at = now;
    w->names_wanted = 0;
    struct ps_walk_limits lim;
    ps_walk_limits_default(&lim);
    lim.locals = 0;
    lim.max_frames = 1;
    struct ps_model m = {0};
    ps_direct_reset(w->d);
    if (ps_walk(&w->mem, &w->target, &lim, &m) == PS_OK)
        for (size_t i = 0; i < m.ninterps; i++)
            for (size_t j = 0; j < m.interps[i].nthreads; j++) {
                const struct ps_thread *t = &m.interps[i].threads[j];
                for (size_t k = 0; k < w->nts && t->name && !t->name_from_os; k++)
                    if (w->ts[k].tstate == t->tstate && !w->ts[k].name)
                        w->ts[k].name = strdup(t->name);
            }
    ps_model_free(&m);
    ps_error_clear();
}

/* The thread states of this round, in list order, against the cache: entries are kept (and
 * their /proc file) for states still there with the same tid. */
static int sync_threads(struct ps_stackwalk *w, const struct tinfo *ti, size_t n)
{
    int same = n == w->nts;
    for (size_t i = 0; i < n && same; i++)
        same = w->ts[i].tstate == ti[i].tstate && w->ts[i].tid == ti[i].tid;
    if (same)
        return PS_OK;
    struct tstate_entry *nt = calloc(n ? n : 1, sizeof *nt);
    if (!nt)
        return PS_NOMEM;
    for (size_t i = 0; i < n; i++) {
        nt[i] = (struct tstate_entry){ti[i].tstate, 0, ti[i].tid, -1, 0, NULL};
        for (size_t j = 0; j < w->nts; j++)
            if (w->ts[j].tstate == ti[i].tstate && w->ts[j].tid == ti[i].tid && w->ts[j].tstate) {
                nt[i] = w->ts[j];
                w->ts[j].tstate = 0; /* moved */
                w->ts[j].fd = -1;
                w->ts[j].name = NULL;
                break;
            }
    }
    for (size_t j = 0; j < w->nts; j++)
        ts_close(&w->ts[j]);
    free(w->ts);
    w->ts = nt;
    w->nts = n;
    w->names_wanted = 1;
    return PS_OK;
}

/* ---- frames ---- */

/* The chain of frames from FRAME into w->pend; *NP frames. PS_CORRUPT when it is longer
 * than the limit (a torn read can close a loop) or an owner is not one CPython has. */
static int read_chain(struct ps_stackwalk *w, uint64_t frame, size_t *np)
{
    const struct ps_pyoffsets *o = &w->off;
    size_t n = 0;
    int interp = o->frame_model == PS_FRAMES_INTERP;
    for (unsigned depth = 0; frame; depth++) {
        if (depth >= w->max_frames || (frame & 7))
            return PS_CORRUPT;
        struct pending p = {0, 0, -1};
        uint64_t next;
        int rc;
        if (interp) {
            uint8_t owner;
            if ((rc = ps_mem_u64(&w->mem, frame + (uint64_t)o->iframe.previous, &next)) ||
                (rc = ps_mem_u64(&w->mem, frame + (uint64_t)o->iframe.code, &p.code)) ||
                (rc = ps_mem_u64(&w->mem, frame + (uint64_t)o->iframe.instr, &p.instr)) ||
                (rc = ps_mem_u8(&w->mem, frame + (uint64_t)o->iframe.owner, &owner)))
                return rc;
            if (owner > 4)
                return PS_CORRUPT;
            p.owner = owner;
            p.code &= ~(uint64_t)(uint32_t)o->iframe.stackref_mask;
        } else {
            if ((rc = ps_mem_u64(&w->mem, frame + (uint64_t)o->frameobj.back, &next)) ||
                (rc = ps_mem_u64(&w->mem, frame + (uint64_t)o->frameobj.code, &p.code)) ||
                (w->lines &&
                 (rc = ps_mem_i32(&w->mem, frame + (uint64_t)o->frameobj.lasti, &p.lasti))))
                return rc;
            /* Every frame of a live stack is marked executing. One that is not was left while
             * the chain was read (its f_back may already link the free list): torn, whatever
             * function it held. */
            uint8_t state;
            if (o->frameobj.executing != PS_OFF_NONE &&
                ((rc = ps_mem_u8(&w->mem, frame + (uint64_t)o->frameobj.executing, &state)) ||
                 (int8_t)state != o->frameobj.executing_value))
                return rc ? rc : PS_CORRUPT;
        }
        frame = next;
        /* Shim frames (C stack; 3.14+ the interpreter's entry and base frames) are not
         * Python's: frame.f_back skips them too. */
        if (interp && (p.owner == o->iframe.owner_cstack || p.owner == o->iframe.owner_interpreter))
            continue;
        if (grow((void **)&w->pend, &w->pend_cap, n + 1, sizeof *w->pend))
            return PS_NOMEM;
        w->pend[n++] = p;
    }
    *np = n;
    return PS_OK;
}

/* Validate the code objects of the N pending frames (their pages fetched in one call) and
 * append the frames to the pool. PS_CORRUPT when one is not a code object. */
static int resolve_frames(struct ps_stackwalk *w, size_t n, size_t *first)
{
    const struct ps_pyoffsets *o = &w->off;
    if (scratch_room(w, n))
        return PS_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct code_entry *e = code_find(w, w->pend[i].code, 0);
        if (!e || e->checked != w->round) {
            w->scratch[k] = w->pend[i].code;
            w->scratch_len[k++] = w->code_hdr;
        }
    }
    if (k > 1)
        ps_direct_prefetch(w->d, w->scratch, w->scratch_len, k);
    if (grow((void **)&w->frames, &w->frames_cap, w->nframes + n, sizeof *w->frames))
        return PS_NOMEM;
    *first = w->nframes;
    for (size_t i = 0; i < n; i++) {
        const struct code_entry *e = code_get(w, w->pend[i].code);
        if (!e)
            return PS_CORRUPT;
        /* 3.11+: a frame that has not reached its first traceable instruction is not shown
         * by frame.f_back either (it is being set up). */
        if (o->frame_model == PS_FRAMES_INTERP && o->code.code_adaptive != PS_OFF_NONE &&
            w->pend[i].owner != o->iframe.owner_generator &&
            w->pend[i].instr < e->addr + (uint64_t)o->code.code_adaptive +
                                   2 * (uint64_t)(uint32_t)e->cn.firsttraceable)
            continue;
        struct ps_frame *f = &w->frames[w->nframes++];
        memset(f, 0, sizeof *f);
        f->kind = PS_FRAME_PYTHON;
        f->function = e->cn.name;
        f->qualname = e->cn.qualname;
        f->file = e->cn.file;
        f->line = w->lines ? ps_walk_code_line(o, &e->cn, e->addr, w->pend[i].instr,
                                               w->pend[i].lasti)
                           : -1;
    }
    return PS_OK;
}

/* ---- the round ---- */

static int read_tstate(struct ps_stackwalk *w, uint64_t tstate, uint64_t *next, struct tinfo *ti)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t thread_id = 0, native = 0, frame = 0;
    int rc, known = 0;
    if ((rc = ps_mem_u64(&w->mem, tstate + (uint64_t)o->tstate.next, next)) ||
        (rc = ps_mem_u64(&w->mem, tstate + (uint64_t)o->tstate.frame, &frame)))
        return rc;
    if (o->tstate.native_thread_id != PS_OFF_NONE) {
        if ((rc = ps_mem_u64(&w->mem, tstate + (uint64_t)o->tstate.native_thread_id, &native)))
            return rc;
    } else {
        /* The tid of a known state does not change: read it through pthread once (the cache
         * holds it as ours already). */
        for (size_t i = 0; i < w->nts && !known; i++)
            if (w->ts[i].tstate == tstate) {
                native = w->ts[i].tid;
                known = 1;
            }
        uint32_t tid = 0;
        if (!known && !(rc = ps_mem_u64(&w->mem, tstate + (uint64_t)o->tstate.thread_id,
                                        &thread_id)) &&
            thread_id && !ps_mem_u32(&w->mem, thread_id + GLIBC_PTHREAD_TID_OFFSET, &tid))
            native = tid;
    }
    ti->tstate = tstate;
    ti->tid = known ? (uint32_t)native : host_tid(w, (uint32_t)native);
    ti->frame = frame;
    return PS_OK;
}

int ps_stackwalk_round(struct ps_stackwalk *w, ps_sw_want want, void *want_arg,
                       ps_sw_state_lookup lookup, void *lookup_arg,
                       const struct ps_sw_thread **threads, size_t *nthreads)
{
    const struct ps_pyoffsets *o = &w->off;
    *threads = NULL;
    *nthreads = 0;
    refresh_names(w);
    codes_bound(w);
    w->round++;
    w->nout = 0;
    w->nframes = 0;
    ps_direct_reset(w->d);
    /* What the last round read first, in one call: _PyRuntime's head, the interpreters and
     * their GILs, the thread states, each thread's first frame (or _PyCFrame). Usually
     * nothing of it moved, and the walk below finds it all cached; what did move is read
     * as it is met. */
    if (scratch_room(w, 2 + 2 * w->ninterps + 2 * w->nts))
        return PS_NOMEM;
    size_t k = 0;
    w->scratch[k] = w->target.runtime_addr + (uint64_t)o->runtime.interpreters_head;
    w->scratch_len[k++] = 8;
    if (w->target.roots[PS_ROOT_GIL_LOCKED]) { /* 3.6: the GIL's other static */
        w->scratch[k] = w->target.roots[PS_ROOT_GIL_LOCKED];
        w->scratch_len[k++] = 8;
    }
    for (size_t i = 0; i < w->ninterps; i++) {
        w->scratch[k] = w->interps[i];
        w->scratch_len[k++] = 8;
        w->scratch[k] = w->gils[i];
        w->scratch_len[k++] = 8;
    }
    for (size_t i = 0; i < w->nts; i++) {
        w->scratch[k] = w->ts[i].tstate;
        w->scratch_len[k++] = 8;
        if (w->ts[i].walked) { /* likely on CPU again; the others' stacks are not read */
            w->scratch[k] = w->ts[i].frame;
            w->scratch_len[k++] = 8;
        }
    }
    ps_direct_prefetch(w->d, w->scratch, w->scratch_len, k);
    uint64_t interp;
    int rc = ps_mem_u64(&w->mem, w->target.runtime_addr + (uint64_t)o->runtime.interpreters_head,
                        &interp);
    if (rc)
        return rc;
    size_t nti = 0;
    unsigned ni, nogil = 0;
    for (ni = 0; interp && !rc; ni++) {
        uint64_t tstate;
        if (ni >= MAX_INTERPS || (interp & 7)) {
            rc = PS_CORRUPT;
            break;
        }
        if (ni < MAX_INTERPS_SEEN) {
            w->interps[ni] = interp;
            w->ninterps = ni + 1;
        }
        if ((rc = ps_mem_u64(&w->mem, interp + (uint64_t)o->interp.threads_head, &tstate)))
            break;
        /* The walker's own reading of the GIL (3.6's statics, 2.7's current thread state,
         * a free-threaded build's absent one); a failed read is a round without a holder. */
        struct ps_gil_state gil;
        if (ps_walk_gil(&w->mem, o, w->target.roots, w->target.runtime_addr, interp, &gil))
            memset(&gil, 0, sizeof gil);
        if (ni < MAX_INTERPS_SEEN)
            w->gils[ni] = gil.addr;
        nogil += gil.none;
        for (unsigned n = 0; tstate; n++) {
            uint64_t next;
            if (n >= MAX_THREADS || (tstate & 7)) {
                rc = PS_CORRUPT; /* a loop in the list, or not a list */
                break;
            }
            if (grow((void **)&w->ti, &w->ti_cap, nti + 1, sizeof *w->ti)) {
                rc = PS_NOMEM;
                break;
            }
            if ((rc = read_tstate(w, tstate, &next, &w->ti[nti])))
                break;
            w->ti[nti++].holds_gil = gil.holder && gil.holder == tstate;
            tstate = next;
        }
        if (!rc)
            rc = ps_mem_u64(&w->mem, interp + (uint64_t)o->interp.next, &interp);
    }
    if (!rc) {
        w->no_gil = ni && nogil == ni;
        w->gil_held = 0;
        for (size_t i = 0; i < nti; i++)
            w->gil_held |= w->ti[i].holds_gil;
        rc = sync_threads(w, w->ti, nti);
    }
    if (!rc && grow((void **)&w->out, &w->out_cap, nti, sizeof *w->out))
        rc = PS_NOMEM;
    for (size_t i = 0; !rc && i < nti; i++)
        w->ts[i].frame = w->ti[i].frame;
    for (size_t i = 0; !rc && i < nti; i++) {
        struct tstate_entry *te = &w->ts[i];
        char state = lookup ? lookup(lookup_arg, te->tid) : read_state(w, te);
        int holds = w->ti[i].holds_gil;
        te->walked = want(want_arg, state, holds);
        if (!te->walked)
            continue;
        struct ps_sw_thread *t = &w->out[w->nout++];
        memset(t, 0, sizeof *t);
        t->tid = te->tid;
        t->os_state = state;
        t->holds_gil = (uint8_t)holds;
        size_t np = 0, first = 0;
        uint64_t frame = w->ti[i].frame;
        int trc = PS_OK;
        if (frame && o->tstate.cframe_current != PS_OFF_NONE)
            trc = ps_mem_u64(&w->mem, frame + (uint64_t)o->tstate.cframe_current, &frame);
        if (!trc)
            trc = read_chain(w, frame, &np);
        if (!trc)
            trc = resolve_frames(w, np, &first);
        if (trc == PS_NOMEM)
            rc = trc;
        t->torn = trc != PS_OK;
        t->th.tid = te->tid;
        t->th.tstate = te->tstate;
        t->th.name = te->name;
        t->th.os_state = state;
        t->th.holds_gil = t->holds_gil;
        t->th.state = state == 'R' ? PS_TSTATE_RUNNING : PS_TSTATE_UNKNOWN;
        t->th.nframes = t->torn ? 0 : w->nframes - first;
        t->frame0 = first;
    }
    if (rc)
        return rc;
    for (size_t i = 0; i < w->nout; i++) /* the pool may have moved while it grew */
        w->out[i].th.frames = w->frames + w->out[i].frame0;
    *threads = w->out;
    *nthreads = w->nout;
    return PS_OK;
}

int ps_stackwalk_gil(const struct ps_stackwalk *w)
{
    return w->no_gil ? -1 : w->gil_held;
}

void ps_stackwalk_close(struct ps_stackwalk *w)
{
    if (!w)
        return;
    codes_reset(w);
    free(w->codes);
    for (size_t i = 0; i < w->nts; i++)
        ts_close(&w->ts[i]);
    free(w->ts);
    free(w->out);
    free(w->frames);
    free(w->pend);
    free(w->scratch);
    free(w->scratch_len);
    free(w->ti);
    free(w->pairs);
    free(w);
}
