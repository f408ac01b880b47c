/* Sampling profiler (pysnap record): the Python stacks of a process (and optionally its
 * descendants) RATE times a second for DURATION seconds into a ps_profile (profile.h).
 * A loop over the sampler (sampler.h; doc/sampling.md): by default the target is not
 * stopped and each sample is one validated walk; a thread whose walk fails validation is
 * torn: counted, never recorded half, and shown as its own `<torn>` stack when torn samples
 * are not negligible (over PS_RECORD_TORN_SHOWN of the samples). With BLOCKING each process
 * is frozen (ptrace, as capture does) for each of its samples. */
#ifndef PYSNAP_RECORD_H
#define PYSNAP_RECORD_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "pysnap/profile.h"
#include "pysnap/sampler.h"

#define PS_RECORD_TORN_SHOWN 0.001 /* torn samples shown as `<torn>` above this share */
#define PS_RECORD_TORN_FRAME "<torn>"

struct ps_record_opts {
    struct ps_sampler_opts sampler; /* which process, which threads, how (sampler.h) */
    double duration;   /* seconds */
    unsigned rate;     /* samples per second */
    int progress;      /* a progress line on stderr, rewritten in place */
    volatile sig_atomic_t *stop; /* set (by a signal handler) to end early; may be NULL */
};

struct ps_record_stats {
    uint64_t ticks;          /* sampling rounds done */
    uint64_t nominal;        /* rounds the rate asks for in the time sampled */
    uint64_t late;           /* rounds skipped because sampling fell behind the rate */
    uint64_t process_samples;/* process walks done */
    uint64_t thread_samples; /* threads recorded with a stack */
    uint64_t dropped;        /* torn thread samples (== torn; the old name) */
    uint64_t torn;           /* torn thread samples: counted, not recorded */
    int torn_shown;          /* the torn samples are in the profile as `<torn>` */
    uint64_t processes;      /* Python processes sampled */
    uint64_t pauses;         /* blocking: freezes */
    double pause_total;      /* blocking: seconds the target stood still, summed */
    double pause_max;        /* blocking: longest freeze, seconds */
    double cpu;              /* seconds of CPU the sampling used */
    double elapsed;          /* seconds */
    int interrupted;         /* ended by *stop */
    uint64_t gil_held;       /* process samples in which one of its threads held the GIL */
    uint64_t no_gil;         /* process samples of a process without a GIL (free-threaded) */
};

/* What a record says of the GIL, into BUF: "GIL held in 97.0% of the process
 * samples", "no GIL
 * (free-threaded build)", or for a mix of both (--children) the share among the processes
 * that have one. Empty when there was no process sample. */
void ps_record_gil_text(const struct ps_record_stats *st, char *buf, size_t size);

/* Returns PS_OK when at least one process could be sampled (a process that exits meanwhile
 * just stops being sampled), else the error of the first one (PS_NOPROC, PS_NOTPYTHON,
 * PS_PERM, ...). */
int ps_record(const struct ps_record_opts *o, struct ps_profile *prof, struct ps_record_stats *st);

#endif
