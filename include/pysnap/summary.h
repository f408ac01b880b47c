/* Several snapshots read together (analyze --summary): which thread stacks stayed the same
 * across them (stuck), and which functions are hottest over the threads on CPU, across
 * snapshots and processes. Python frames only; a frame is (function, file). */
#ifndef PYSNAP_SUMMARY_H
#define PYSNAP_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "pysnap/report.h"

/* One function: in how many counted thread-samples it is the innermost Python frame (self)
 * and anywhere on the stack (inclusive, a recursive function counted once per sample). */
struct ps_hot {
    const char *function, *file; /* owned by the reports */
    unsigned self, inclusive;
};

/* One thread (pid, tid) over the snapshots it appears in. */
struct ps_summary_thread {
    uint64_t pid;
    uint32_t tid;
    const char *name, *cmdline;  /* owned by the reports */
    unsigned samples;            /* snapshots holding this thread with Python frames */
    unsigned on_cpu;             /* of which running or waiting for the GIL */
    unsigned same;               /* outermost frames identical (function, file, line) in every
                                    sample: the part of the stack that did not move */
    unsigned min_depth, max_depth;
    int stuck;                   /* 2+ samples and the whole stack identical in all */
    int as_baseline;             /* every sample equals this thread's baseline stack */
    const struct ps_thread *first; /* the thread in its first sample (frames innermost first) */
};

/* Who served a route, of one kind: threads, or asyncio tasks (an ASGI server such as uvicorn
 * serves each request in a task; a task is the same Task object, pid and address, from one
 * snapshot to the next). */
struct ps_summary_serving {
    unsigned samples;            /* thread- (task-) samples serving it */
    unsigned count;              /* distinct threads (pid, tid) or tasks that served it */
    unsigned stuck;              /* of which stuck on it throughout (the whole stack, or
                                    coroutine chain, unchanged in every snapshot) */
    unsigned stuck_samples;      /* their samples */
    const struct ps_frame *at;   /* the innermost frame of the first stuck one, or NULL */
};

/* One route (method + path) of the HTTP requests threads and tasks were serving (model.h
 * ps_request). */
struct ps_summary_route {
    const char *method, *path;   /* owned by the reports */
    struct ps_summary_serving threads, tasks;
};

struct ps_summary {
    size_t nsnapshots, nprocesses;
    unsigned thread_samples;     /* threads with Python frames, over all snapshots */
    unsigned counted;            /* of which on CPU and not set aside: what ps_hot counts */
    unsigned set_aside;          /* on CPU, but the same stack as at baseline */
    int has_baseline;
    struct ps_hot *hot;          /* most self first, then most inclusive */
    size_t nhot;
    struct ps_summary_thread *threads; /* by pid, then tid */
    size_t nthreads;
    struct ps_summary_route *routes; /* most stuck samples first, then most samples */
    size_t nroutes;
};

/* REPORTS[N] (each with its meta), BASELINE optional (NULL). Returns PS_OK or PS_NOMEM. */
int ps_summary_build(const struct ps_report *const *reports, size_t n,
                     const struct ps_report *baseline, struct ps_summary *out);
void ps_summary_free(struct ps_summary *s);
/* MAX_HOT: functions listed (0: all). */
int ps_summary_render_text(FILE *out, const struct ps_summary *s, size_t max_hot);
int ps_summary_render_json(FILE *out, const struct ps_summary *s);

#endif
