/* Freezing a process without SIGSTOP: PTRACE_SEIZE every thread (with PTRACE_O_TRACECLONE,
 * so a thread they create is attached at birth), PTRACE_INTERRUPT them all, collect the
 * stops (bounded by a deadline) and each one's registers as it stops, then prove the set
 * complete (the thread count of /proc/PID/status, else a new listing); thaw with
 * PTRACE_DETACH, re-injecting any signal that arrived meanwhile. With many threads two
 * tracer threads share the work (freeze_split.h). Because the threads are SEIZEd, if pysnap
 * dies for any reason the kernel detaches them and they run on. */
#ifndef PYSNAP_SNAP_FREEZE_H
#define PYSNAP_SNAP_FREEZE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>
#include <time.h>

#include "../analyze/u64map.h"

struct ps_ftask {
    pid_t tid;
    char state;     /* /proc state letter before the freeze */
    char comm[16];
    uint8_t seized, interrupted, stopped, gone;
    uint8_t to_interrupt;  /* seized in this listing round, interrupt pending */
    uint8_t other_process; /* a clone child outside the thread group: held, not captured */
    uint8_t foreign;       /* stopped by the other tracer thread of a split freeze: only it
                              may wait for, read or detach it; this is a copy */
    int pending_sig;/* signal to re-inject on detach */
    int has_regs;
    struct user_regs_struct regs;
};

struct ps_freeze {
    pid_t pid;
    struct ps_ftask *tasks;
    size_t ntasks, cap;
    struct ps_u64map index;  /* tid -> task index + 1: finding a task is O(1), so no phase
                                of the freeze grows faster than the thread count */
    int partial;             /* some thread could not be stopped in time, or threads were
                                still being born when the relisting gave up */
    const char *partial_reason; /* static string when partial */
    struct timespec t_start; /* CLOCK_MONOTONIC before the first interrupt */
    struct timespec t_thaw;  /* before the first detach */
    struct timespec t_end;   /* after the last detach */
    int64_t realtime_start_ns;
    struct ps_freeze_split *split; /* the other tracer thread, until the thaw */
    int boosted;             /* pysnap runs SCHED_FIFO until the thaw; old policy below */
    int old_policy;
    int old_priority;
};

/* Freeze PID. On error nothing stays attached or allocated. TIMEOUT_MS bounds the wait for all stops.
 * From the freeze to the end of the thaw pysnap runs at real-time priority (SCHED_FIFO 1)
 * where it is allowed to (CAP_SYS_NICE), so that the pause is not stretched by other work,
 * nor by the target's own threads preempting pysnap as they are detached one by one. */
int ps_freeze(pid_t pid, unsigned timeout_ms, struct ps_freeze *fz);
/* Resume every stopped thread; safe to call twice. Records t_end. */
void ps_thaw(struct ps_freeze *fz);
void ps_freeze_free(struct ps_freeze *fz);
uint64_t ps_freeze_pause_ns(const struct ps_freeze *fz);

#endif
