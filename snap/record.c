/* pysnap record: a loop over the sampler into a profile. See include/pysnap/record.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/record.h"
#include "pysnap/sampler.h"

#define MAX_TORN_TRACKS 4096

struct torn_count {
    pid_t pid;
    uint32_t tid;
    const char *cmdline; /* owned by the sampler, alive until it closes */
    uint64_t n;
};

struct recorder {
    const struct ps_record_opts *o;
    struct ps_profile *prof;
    struct torn_count *torn;
    size_t ntorn;
    int64_t last_progress;
    int err;
};

/* Torn samples per thread, to show them in that thread's track at the end. */
static void count_torn(struct recorder *r, const struct ps_sample_thread *t)
{
    for (size_t i = 0; i < r->ntorn; i++)
        if (r->torn[i].pid == t->pid && r->torn[i].tid == t->tid) {
            r->torn[i].n++;
            return;
        }
    if (r->ntorn >= MAX_TORN_TRACKS)
        return;
    struct torn_count *n = realloc(r->torn, (r->ntorn + 1) * sizeof *n);
    if (!n)
        return;
    r->torn = n;
    r->torn[r->ntorn++] = (struct torn_count){t->pid, t->tid, t->cmdline, 1};
}

static int on_thread(void *arg, const struct ps_sample_thread *t)
{
    struct recorder *r = arg;
    if (t->torn) {
        count_torn(r, t);
        return 0;
    }
    int rc = ps_profile_add_thread(r->prof, (uint64_t)t->pid, t->cmdline, t->thread,
                                   r->o->sampler.native);
    if (rc)
        r->err = rc;
    return rc;
}

static void progress(const struct recorder *r, const struct ps_sampler_stats *st, int final)
{
    fprintf(stderr, "\rpysnap record: %.1f/%.1f s, %llu samples, %llu torn, %llu process%s%s",
            st->elapsed, r->o->duration, (unsigned long long)st->thread_samples,
            (unsigned long long)st->torn, (unsigned long long)st->processes,
            st->processes == 1 ? "" : "es", final ? "\n" : "   ");
    fflush(stderr);
}

static int on_round(void *arg, struct ps_sampler *s)
{
    struct recorder *r = arg;
    if (!r->o->progress)
        return 0;
    struct ps_sampler_stats st;
    ps_sampler_stats(s, &st);
    int64_t quarter = (int64_t)(st.elapsed * 4);
    if (quarter != r->last_progress) {
        progress(r, &st, 0);
        r->last_progress = quarter;
    }
    return 0;
}

/* The torn samples as a `<torn>` stack of their thread, when they are not negligible;
 * 1 when shown. */
static int add_torn(struct recorder *r, uint64_t torn, uint64_t kept)
{
    if (!torn || (double)torn <= PS_RECORD_TORN_SHOWN * (double)(torn + kept))
        return 0;
    struct ps_frame f = {0};
    f.kind = PS_FRAME_PYTHON;
    f.function = PS_RECORD_TORN_FRAME;
    f.file = "";
    f.line = -1;
    for (size_t i = 0; i < r->ntorn; i++) {
        struct ps_thread th = {0};
        th.tid = r->torn[i].tid;
        th.frames = &f;
        th.nframes = 1;
        for (uint64_t k = 0; k < r->torn[i].n; k++) {
            int rc = ps_profile_add_thread(r->prof, (uint64_t)r->torn[i].pid, r->torn[i].cmdline,
                                           &th, 0);
            if (rc) {
                r->err = rc;
                return 0;
            }
        }
    }
    return 1;
}

int ps_record(const struct ps_record_opts *o, struct ps_profile *prof, struct ps_record_stats *st)
{
    memset(st, 0, sizeof *st);
    if (o->sampler.pid <= 0 || o->rate == 0 || !(o->duration > 0))
        return ps_error_set(PS_USAGE, "record needs a pid, a rate and a duration");
    struct ps_sampler *s;
    int rc = ps_sampler_open(&o->sampler, &s);
    if (rc)
        return rc;
    struct recorder r = {o, prof, NULL, 0, -1, 0};
    struct ps_sampler_sink sink = {on_thread, on_round, &r};
    struct ps_sampler_run run = {o->rate, o->duration, o->stop};
    rc = ps_sampler_run(s, &run, &sink);
    struct ps_sampler_stats ss;
    ps_sampler_stats(s, &ss);
    if (o->progress)
        progress(&r, &ss, 1);
    int shown = rc || r.err ? 0 : add_torn(&r, ss.torn, ss.thread_samples);
    ps_sampler_close(s);
    free(r.torn);
    *st = (struct ps_record_stats){
        .ticks = ss.ticks,
        .nominal = (uint64_t)(ss.elapsed * o->rate + 0.5),
        .late = ss.late,
        .process_samples = ss.process_samples,
        .thread_samples = ss.thread_samples,
        .dropped = ss.torn,
        .torn = ss.torn,
        .torn_shown = shown == 1,
        .processes = ss.processes,
        .pauses = ss.pauses,
        .pause_total = ss.pause_total,
        .pause_max = ss.pause_max,
        .cpu = ss.cpu,
        .elapsed = ss.elapsed,
        .interrupted = ss.interrupted,
        .gil_held = ss.gil_held,
        .no_gil = ss.no_gil,
    };
    if (r.err)
        return r.err;
    return rc;
}

void ps_record_gil_text(const struct ps_record_stats *st, char *buf, size_t size)
{
    /* Process samples of processes with a GIL: the torn ones (tid 0) included, whose GIL was
     * not read, so the share is a lower bound when many are torn. */
    uint64_t with_gil = st->process_samples > st->no_gil ? st->process_samples - st->no_gil : 0;
    if (!st->process_samples)
        snprintf(buf, size, "%s", "");
    else if (!with_gil)
        snprintf(buf, size, "no GIL (free-threaded build)");
    else
        snprintf(buf, size, "GIL held in %.1f%% of the process samples%s",
                 100.0 * (double)st->gil_held / (double)with_gil,
                 st->no_gil ? " of the processes that have one (others: no GIL)" : "");
}
