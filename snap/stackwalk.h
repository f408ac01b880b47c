/* The sampler's walk of one process (snap/sampler.c): every Python thread's state, and the
 * stacks of the threads a round wants, over a direct live source, with what does not change
 * between samples kept from one round to the next (layout, thread list, code objects keyed
 * by address and validated at each use, /proc files open). doc/sampling.md.
 *
 * One walk per thread per round; a thread's walk either validates (every read succeeded,
 * every code object is a code object whose name and file are those cached, the chain ended
 * within the frame limit) or is torn, and then no frame of it is reported. */
#ifndef PYSNAP_SNAP_STACKWALK_H
#define PYSNAP_SNAP_STACKWALK_H

#include <stdint.h>
#include <sys/types.h>

#include "pysnap/model.h"
#include "pysnap/walker.h"
#include "memsrc_direct.h"

struct ps_stackwalk;

/* One thread of a round. FRAMES (innermost first, strings owned by the walker's caches) stay
 * valid until the next round. */
struct ps_sw_thread {
    uint32_t tid;
    char os_state;    /* 0 when not read */
    uint8_t holds_gil;
    uint8_t torn;
    struct ps_thread th; /* frames, tid, name, holds_gil, os_state */
    size_t frame0;       /* the walker's: where the frames start in its pool */
};

/* Which threads a round walks: a callback on (tid, os_state, holds_gil). */
typedef int (*ps_sw_want)(void *arg, char os_state, int holds_gil);

/* Prepare for PID whose runtime is TARGET, read through MEM (the walker takes no ownership).
 * LINES: resolve each frame's line (line tables cached with the code objects). */
int ps_stackwalk_open(pid_t pid, struct ps_direct *mem, const struct ps_walk_target *target,
                      unsigned max_frames, int lines, struct ps_stackwalk **out);

/* What to read of each thread's /proc state: 1 read it now (running target), 0 take STATES
 * (tid -> state letter, e.g. read before a freeze) through LOOKUP. */
typedef char (*ps_sw_state_lookup)(void *arg, uint32_t tid);

/* One round: every thread's state, and the stack of those WANT accepts. Returns PS_OK with
 * *THREADS / *N (the walker's array, valid until the next round), or an error when the
 * process walk itself failed (torn at the interpreter or thread list, or the process gone). */
int ps_stackwalk_round(struct ps_stackwalk *w, ps_sw_want want, void *want_arg,
                       ps_sw_state_lookup lookup, void *lookup_arg,
                       const struct ps_sw_thread **threads, size_t *n);

/* The GIL in the last round: 1 one of its threads (of any interpreter) held it, 0 none did
 * (or it could not be read), -1 the process has no GIL (a free-threaded build running without
 * one): no thread ever holds it, and holds_gil is 0 for that reason, not because it is free. */
int ps_stackwalk_gil(const struct ps_stackwalk *w);

void ps_stackwalk_close(struct ps_stackwalk *w);

#endif
