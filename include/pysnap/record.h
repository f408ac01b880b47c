/* Sampling profiler (pysnap record): walk the Python stacks of a process (and optionally its
 * descendants) RATE times a second for DURATION seconds into a ps_profile (profile.h).
 *
 * By default the target is not stopped: the walker runs over a direct live source
 * (process_vm_readv), so a sample may be torn (the interpreter changed what was being read);
 * a thread whose walk fails or is inconsistent is dropped and counted, never recorded half.
 * With BLOCKING each process is frozen (ptrace, as capture does) for each of its samples. */
#ifndef PYSNAP_RECORD_H
#define PYSNAP_RECORD_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "pysnap/profile.h"

struct ps_record_opts {
    pid_t pid;
    int children;      /* also every descendant (re-listed once a second) */
    double duration;   /* seconds */
    unsigned rate;     /* samples per second */
    int blocking;      /* freeze each process for each sample */
    int gil_only;      /* only the thread holding the GIL */
    int idle;          /* also threads that are neither on CPU nor holding the GIL */
    int native;        /* native frames too: each sample is a whole in-memory capture
                          (frozen, stacks copied and unwound), so this implies blocking */
    int progress;      /* a progress line on stderr, rewritten in place */
    volatile sig_atomic_t *stop; /* set (by a signal handler) to end early; may be NULL */
};

struct ps_record_stats {
    uint64_t ticks;          /* sampling rounds done */
    uint64_t late;           /* rounds skipped because sampling fell behind the rate */
    uint64_t process_samples;/* process walks that succeeded */
    uint64_t thread_samples; /* threads recorded */
    uint64_t dropped;        /* torn or failed walks (process or thread) */
    uint64_t processes;      /* Python processes sampled */
    double elapsed;          /* seconds */
    int interrupted;         /* ended by *stop */
};

/* Returns PS_OK when at least one process could be sampled (a process that exits meanwhile
 * just stops being sampled), else the error of the first one (PS_NOPROC, PS_NOTPYTHON,
 * PS_PERM, ...). */
int ps_record(const struct ps_record_opts *o, struct ps_profile *prof, struct ps_record_stats *st);

#endif
