/* One capture: find the runtime, freeze, walk over the recording source, thaw, then (outside
 * the pause) encode and write the file atomically. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "pysnap/model.h"
#include "pysnap/snapshot.h"
#include "freeze.h"
#include "memsrc_live.h"
#include "proc.h"
#include "asyncio_debug.h"
#include "pyfind.h"
#include "unwind.h"

#ifndef PYSNAP_VERSION
#define PYSNAP_VERSION "0.0.0"
#endif

void ps_capture_opts_default(struct ps_capture_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = 2000;
    o->compress_level = 3;
    o->max_stack = PS_UNWIND_DEFAULT_STACK;
    ps_walk_limits_default(&o->limits);
    const char *hold = getenv("PYSNAP_TEST_HOLD_MS");
    if (hold)
        o->hold_ms = (unsigned)atoi(hold);
    const char *no_prewalk = getenv("PYSNAP_TEST_NO_PREWALK");
    o->no_prewalk = no_prewalk && no_prewalk[0] == '1';
    hold = getenv("PYSNAP_TEST_HOLD_BEFORE_WALK_MS");
    if (hold)
        o->hold_before_walk_ms = (unsigned)atoi(hold);
}

/* The temporary file being written, removed by the signal handler if we are interrupted
 * after the thaw. */
static char tmp_path[PATH_MAX];
static volatile sig_atomic_t tmp_active;

static void on_fatal_signal(int sig)
{
    if (tmp_active)
        unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static const int guarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};

static void block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof guarded_signals / sizeof *guarded_signals; i++)
        sigaddset(&set, guarded_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

static int guarded_signal_pending(void)
{
    sigset_t set;
    if (sigpending(&set) != 0)
        return 0;
    for (size_t i = 0; i < sizeof guarded_signals / sizeof *guarded_signals; i++)
        if (sigismember(&set, guarded_signals[i]) == 1)
            return 1;
    return 0;
}

static void install_cleanup_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof guarded_signals / sizeof *guarded_signals; i++)
        sigaction(guarded_signals[i], &sa, NULL);
}

static int add_string(struct ps_snap_meta *m, const char *key, const char *value)
{
    return ps_snap_add_string(m, key, value);
}

void ps_proc_cmdline(pid_t pid, char *buf, size_t size)
{
    buf[0] = '\0';
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    ssize_t n = ps_proc_read_file(path, buf, size);
    for (ssize_t i = 0; i < n - 1; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
}

int ps_capture_default_name(pid_t pid, int64_t realtime_ns, char *out, size_t size)
{
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (*p == '/' || *p == ' ')
            *p = '_';
    time_t t = (time_t)(realtime_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    int n = snprintf(out, size, "pysnap-%d-%s-%s.snap", (int)pid, host, ts);
    return n > 0 && (size_t)n < size ? PS_OK : ps_error_set(PS_USAGE, "output name too long");
}

static int write_file(const char *path, int force, const unsigned char *data, size_t len)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? path + (slash - dir) + 1 : path; /* in PATH: DIR is cut below */
    if (slash)
        slash[1] = '\0';
    else
        dir[0] = '\0';
    if (!force && access(path, F_OK) == 0)
        return ps_error_set(PS_USAGE, "%s already exists (use --force to replace it)", path);
    int n = snprintf(tmp_path, sizeof tmp_path, "%s.%s.tmp.XXXXXX", dir, base);
    if (n < 0 || (size_t)n >= sizeof tmp_path)
        return ps_error_set(PS_USAGE, "output path too long");
    /* A signal between the create and tmp_active would leave the file behind: held off. */
    sigset_t old_mask;
    block_signals(&old_mask);
    int fd = mkostemp(tmp_path, O_CLOEXEC); /* mode 0600 */
    int create_errno = errno;
    if (fd >= 0)
        tmp_active = 1;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    if (fd < 0)
        return ps_error_set(PS_IO, "cannot create a file in %s: %s", dir[0] ? dir : ".",
                            strerror(create_errno));
    size_t off = 0;
    int rc = PS_OK;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = ps_error_set(PS_IO, "cannot write %s: %s", path, strerror(w < 0 ? errno : EIO));
            break;
        }
        off += (size_t)w;
    }
    if (!rc && fsync(fd) != 0)
        rc = ps_error_set(PS_IO, "cannot write %s: %s", path, strerror(errno));
    if (close(fd) != 0 && !rc)
        rc = ps_error_set(PS_IO, "cannot write %s: %s", path, strerror(errno));
    if (!rc) {
        int r = force ? rename(tmp_path, path)
                      : renameat2(AT_FDCWD, tmp_path, AT_FDCWD, path, RENAME_NOREPLACE);
        if (r != 0 && errno == EINVAL && !force) /* filesystem without RENAME_NOREPLACE */
            r = link(tmp_path, path) == 0 ? unlink(tmp_path) : -1;
        if (r != 0)
            rc = errno == EEXIST
                     ? ps_error_set(PS_USAGE, "%s already exists (use --force to replace it)", path)
                     : ps_error_set(PS_IO, "cannot create %s: %s", path, strerror(errno));
    }
    if (rc)
        unlink(tmp_path);
    tmp_active = 0;
    return rc;
}

static int fill_meta(const struct ps_capture_opts *o, const struct ps_freeze *fz,
                     const struct ps_pyfind *py, uint32_t version_hex, struct ps_snap_meta *m)
{
    m->meta.format_major = PS_FORMAT_MAJOR;
    m->meta.format_minor = PS_FORMAT_MINOR;
    m->meta.pid = (uint64_t)o->pid;
    m->meta.captured_at_ns = fz->realtime_start_ns;
    m->meta.pause_ns = ps_freeze_pause_ns(fz);
    m->meta.runtime_addr = py->runtime_addr;
    m->meta.py_version_hex = version_hex;
    m->meta.flags = fz->partial ? PS_META_PARTIAL : 0;
    m->threads = calloc(fz->ntasks ? fz->ntasks : 1, sizeof *m->threads);
    if (!m->threads)
        return PS_NOMEM;
    for (size_t i = 0; i < fz->ntasks; i++) {
        const struct ps_ftask *t = &fz->tasks[i];
        if ((t->gone && !t->has_regs) || t->other_process)
            continue;
        struct ps_snap_thread *st = &m->threads[m->nthreads++];
        st->info.tid = (uint32_t)t->tid;
        /* After the thaw (no cost to the pause): the id the target itself knows the thread
         * by (threading's native_id, its logs), when it runs in a pid namespace. */
        st->info.ns_tid = (uint32_t)ps_proc_ns_tid(o->pid, t->tid);
        st->info.os_state = (uint8_t)t->state;
        memcpy(st->info.comm, t->comm, sizeof st->info.comm);
        if (t->has_regs) {
            st->has_regs = 1;
            memcpy(st->regs, &t->regs, sizeof st->regs);
        }
    }
    m->meta.nthreads = (uint32_t)m->nthreads;
    char host[256] = "", exe[PATH_MAX] = "", cmdline[4096] = "", path[64];
    gethostname(host, sizeof host - 1);
    snprintf(path, sizeof path, "/proc/%d/exe", (int)o->pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    ps_proc_cmdline(o->pid, cmdline, sizeof cmdline);
    int rc;
    if ((rc = add_string(m, "tool_version", PYSNAP_VERSION)) || (rc = add_string(m, "host", host)) ||
        (rc = add_string(m, "exe", exe)) || (rc = add_string(m, "cmdline", cmdline)) ||
        (rc = add_string(m, "python_path", py->path)))
        return rc;
    /* Analysis must repeat the capture's walk read for read: keep its limits. */
    char limits[512];
    ps_walk_limits_format(&o->limits, limits, sizeof limits);
    char secret[32];
    snprintf(secret, sizeof secret, "0x%llx", (unsigned long long)py->hash_secret);
    char asyncio_debug[32];
    snprintf(asyncio_debug, sizeof asyncio_debug, "0x%llx", (unsigned long long)py->asyncio_debug);
    if ((rc = add_string(m, "asyncio_debug", asyncio_debug)) || (rc = ps_snap_add_roots(m, py->roots)))
        return rc;
    if ((rc = add_string(m, "hash_secret", secret)) || (rc = add_string(m, "walk_limits", limits)) ||
        (rc = add_string(m, "redact", o->limits.redact ? o->limits.redact : "")))
        return rc;
    if (!o->limits.locals)
        m->meta.flags |= PS_META_NO_LOCALS;
    if (fz->partial &&
        (rc = add_string(m, "partial_reason", fz->partial_reason)))
        return rc;
    if (o->capture_id) { /* one --children / --count capture: its snapshots belong together */
        char index[16];
        snprintf(index, sizeof index, "%d", o->capture_index);
        if ((rc = add_string(m, "capture_id", o->capture_id)) ||
            (rc = add_string(m, "capture_index", index)))
            return rc;
    }
    return PS_OK;
}

void ps_capture_id_new(char *buf, size_t size)
{
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (*p == '/' || *p == ' ')
            *p = '_';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
    unsigned rnd = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 16);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &rnd, sizeof rnd) != sizeof rnd)
            rnd ^= (unsigned)ts.tv_sec;
        close(fd);
    }
    snprintf(buf, size, "%s-%s-%08x", host, when, rnd);
}

/* Everything done while the target is stopped: read the version, walk the interpreter.
 * The model itself is thrown away; what matters is what the walk read. */
static int walk_frozen(const struct ps_capture_opts *o, struct ps_live *live,
                       const struct ps_pyfind *py, uint32_t *version_hex)
{
    struct ps_memsrc mem = ps_live_memsrc(live);
    *version_hex = py->version_hex;
    if (py->version_addr) {
        uint32_t v;
        if (ps_mem_u32(&mem, py->version_addr, &v) == PS_OK && (v >> 24) == 3)
            *version_hex = v;
    }
    if (!*version_hex)
        return ps_error_set(PS_UNSUPPORTED, "cannot tell the CPython version of %s", py->path);
    struct ps_walk_target target = {py->runtime_addr, *version_hex, py->hash_secret,
                                    py->asyncio_debug, {0}};
    memcpy(target.roots, py->roots, sizeof target.roots);
    struct ps_model model = {0};
    int rc = ps_walk(&mem, &target, &o->limits, &model);
    /* The library name of 3.6-3.10 gives no micro version; sys.hexversion does. Same
     * major.minor only: the table chosen (and so analysis) stays the same. */
    if (!rc && model.hexversion && (model.hexversion >> 16) == (*version_hex >> 16))
        *version_hex = model.hexversion;
    ps_model_free(&model);
    return rc;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    if (ms)
        nanosleep(&t, NULL);
}

/* The walk failed with RC: if the target has exited meanwhile (killed while frozen: SIGKILL
 * still acts on a stopped tracee), that is the cause, not the failed read it led to. */
static int explain_exit(pid_t pid, int rc)
{
    int gone = kill(pid, 0) != 0 && errno == ESRCH;
    if (!gone && ps_proc_check_alive(pid) == PS_OK)
        return rc;
    ps_error_clear();
    return ps_error_set(PS_NOPROC, "process %d exited during the capture (while frozen): "
                        "nothing to capture", (int)pid);
}

static uint64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    int64_t d = (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
    return d > 0 ? (uint64_t)d : 0;
}

/* Plan, freeze and copy, thaw, walk the copy; again if the walk missed a page; encode: the
 * snapshot's bytes in *FILE. */
static int capture_encode(const struct ps_capture_opts *o, struct ps_capture_result *r,
                          unsigned char **file_out, size_t *file_len_out, int64_t *realtime_ns)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(r, 0, sizeof *r);
    if (o->pid <= 0)
        return ps_error_set(PS_USAGE, "invalid pid %d", (int)o->pid);
    if (kill(o->pid, 0) != 0 && errno == ESRCH)
        return ps_proc_noproc_error(o->pid);

    int rc = ps_proc_check_alive(o->pid);
    if (rc)
        return rc;
    struct ps_maps maps;
    rc = ps_proc_read_maps(o->pid, &maps);
    if (rc)
        return rc;
    struct ps_pyfind py;
    rc = ps_pyfind(o->pid, &maps, &py);
    if (!rc) { /* before the freeze: reading ELF files costs no pause */
        py.asyncio_debug = ps_find_asyncio_debug(o->pid, &maps);
        const struct ps_pyoffsets *t = ps_pyoffsets_builtin((int)(py.version_hex >> 24),
                                                            (int)((py.version_hex >> 16) & 0xff));
        py.roots[PS_ROOT_ASYNCIO_TASKS] =
            t ? ps_find_asyncio_object(o->pid, &maps, t->roots.asyncio_tasks) : 0;
    }
    ps_proc_maps_free(&maps);
    if (rc)
        return rc;

    struct ps_live *live;
    if ((rc = ps_live_open(o->pid, &live)))
        return rc;
    struct ps_unwind *uw;
    if ((rc = ps_unwind_open(o->pid, o->max_stack, &uw))) {
        ps_live_close(live);
        return rc;
    }
    /* Walk the running target first: what it reads is the plan of the freeze. Torn reads do
     * no harm (its result is thrown away); a failure leaves misses for the next round. */
    uint32_t version_hex = 0;
    if (!o->no_prewalk)
        (void)walk_frozen(o, live, &py, &version_hex);
    ps_error_clear();
    sigset_t old_mask;
    block_signals(&old_mask);
    struct ps_freeze fz = {0};
    version_hex = 0;
    struct timespec t_stopped = {0}, t_copied = {0}, t_walked = {0}, t_stacks = {0};
    unsigned freezes = 0;
    size_t calls_before = 0, calls_frozen = 0;
    for (;;) {
        /* The last freeze walks while frozen (misses read live), so a target that keeps
         * changing still gets a consistent snapshot. */
        int last = freezes + 1 >= PS_CAPTURE_MAX_FREEZES;
        if ((rc = ps_live_plan(live)))
            break;
        ps_unwind_reserve(uw, live);
        if (fz.tasks)
            ps_freeze_free(&fz);
        freezes++;
        if ((rc = ps_freeze(o->pid, o->timeout_ms, &fz)))
            break;
        calls_before = ps_live_read_calls(live);
        clock_gettime(CLOCK_MONOTONIC, &t_stopped);
        sleep_ms(o->hold_before_walk_ms);
        /* Native stacks and the code at each PC (for unwinding after the thaw) are copied
         * with the planned memory, in one copy. */
        size_t nspans;
        struct ps_live_span *spans = ps_unwind_spans(uw, &fz, &nspans);
        clock_gettime(CLOCK_MONOTONIC, &t_stacks);
        (void)ps_live_copy_frozen(live, spans, nspans); /* out of memory: no native stacks */
        free(spans);
        clock_gettime(CLOCK_MONOTONIC, &t_copied);
        if (last) {
            rc = walk_frozen(o, live, &py, &version_hex);
            if (rc) /* a walk that failed because the target died says so */
                rc = explain_exit(o->pid, rc);
        }
        clock_gettime(CLOCK_MONOTONIC, &t_walked);
        calls_frozen = ps_live_read_calls(live) - calls_before;
        sleep_ms(o->hold_ms);
        ps_thaw(&fz);
        if (rc || last || guarded_signal_pending())
            break; /* a pending signal ends pysnap at the unblock below: no other freeze */
        /* Against the copy only: with no miss, every byte it read was copied while all
         * threads were stopped. */
        ps_live_set_offline(live, 1);
        rc = walk_frozen(o, live, &py, &version_hex);
        ps_live_set_offline(live, 0);
        if (!ps_live_misses(live)) {
            if (rc) /* the copy failed because the target died while frozen: say so */
                rc = explain_exit(o->pid, rc);
            break;
        }
        rc = PS_OK; /* the memory changed under the plan: plan again, with what was missed */
        ps_error_clear();
    }
    /* From here the target runs. A signal that arrived while frozen is acted on now; the
     * handlers remove a half-written file. */
    install_cleanup_handlers();
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    struct ps_snap_meta meta = {0};
    struct ps_range *ranges = NULL;
    size_t nranges = 0, bytes = 0;
    unsigned char *file = NULL;
    size_t file_len = 0;
    if (!rc)
        rc = ps_live_recorded(live, &ranges, &nranges, &bytes);
    if (!rc)
        rc = fill_meta(o, &fz, &py, version_hex, &meta);
    if (!rc)
        rc = ps_unwind_run(uw, ranges, nranges, &meta);
    if (!rc) {
        meta.meta.capture_ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                                          (t1.tv_nsec - t0.tv_nsec));
        rc = ps_snapshot_encode(&meta, ranges, nranges, o->compress_level, &file, &file_len);
    }
    if (!rc) {
        r->file_size = file_len;
        *file_out = file;
        *file_len_out = file_len;
        *realtime_ns = fz.realtime_start_ns;
        file = NULL;
        r->nthreads = meta.nthreads;
        r->pause_ns = meta.meta.pause_ns;
        r->capture_ns = meta.meta.capture_ns;
        r->bytes_captured = bytes;
        r->ranges = nranges;
        r->partial = fz.partial;
        r->stop_ns = ns_between(&fz.t_start, &t_stopped);
        r->stacks_ns = ns_between(&t_stopped, &t_stacks);
        r->copy_ns = ns_between(&t_stacks, &t_copied);
        r->walk_ns = ns_between(&t_copied, &t_walked);
        r->resume_ns = ns_between(&fz.t_thaw, &fz.t_end);
        r->pages_read = ps_live_pages_read(live);
        r->plan_pages = ps_live_plan_pages(live);
        r->plan_bytes = ps_live_plan_bytes(live);
        r->read_calls = calls_frozen;
        r->freezes = freezes;
    }
    free(file);
    ps_snap_meta_free(&meta);
    ps_unwind_close(uw);
    ps_live_close(live);
    if (fz.tasks)
        ps_freeze_free(&fz);
    return rc;
}

int ps_capture_to_memory(const struct ps_capture_opts *o, unsigned char **buf, size_t *len,
                         struct ps_capture_result *r)
{
    int64_t when;
    *buf = NULL;
    *len = 0;
    return capture_encode(o, r, buf, len, &when);
}

int ps_capture(const struct ps_capture_opts *o, struct ps_capture_result *r)
{
    unsigned char *file = NULL;
    size_t len = 0;
    int64_t when = 0;
    /* Refuse before freezing anything; the rename below still refuses a file that appears
     * meanwhile. */
    if (o->output && !o->force && access(o->output, F_OK) == 0)
        return ps_error_set(PS_USAGE, "%s already exists (use --force to replace it)", o->output);
    int rc = capture_encode(o, r, &file, &len, &when);
    if (!rc && !o->output)
        rc = ps_capture_default_name(o->pid, when, r->path, sizeof r->path);
    else if (!rc)
        snprintf(r->path, sizeof r->path, "%s", o->output);
    if (!rc)
        rc = write_file(r->path, o->force, file, len);
    free(file);
    return rc;
}
