/* A freeze whose first round is shared by two tracer threads (freeze_split.c), and the
 * pieces of freeze.c it is built from. A tracee belongs to the thread that seized it: only
 * that thread may interrupt, read or detach it, so each tracer thread seizes, stops and
 * later detaches its own half. Waiting is the exception: a thread may wait for a tracee
 * of any thread of its process, but each waits for its own. If pysnap dies, every tracer
 * thread exits with it and the kernel detaches and resumes their tracees, as with one. */
#ifndef PYSNAP_SNAP_FREEZE_SPLIT_H
#define PYSNAP_SNAP_FREEZE_SPLIT_H

#include <stddef.h>
#include <sys/types.h>

#include "freeze.h"

/* The first round is split from this many threads up, on a machine of more than one CPU
 * (freeze.c, split_first_round; doc/how-it-works.md, "The pause at scale"). */
#define PS_FREEZE_SPLIT_MIN 100

/* The first round of FZ's freeze over the listed TIDS: this thread and a helper each seize
 * half, both interrupt once all are seized, each waits for its own (TIMEOUT_MS); the
 * helper's tasks are then adopted into FZ (copies, marked foreign) and the helper waits
 * for the thaw. Without a helper (it cannot be started) this thread does it all. */
int ps_freeze_split(struct ps_freeze *fz, const pid_t *tids, size_t n, unsigned timeout_ms);
/* At the thaw: the helper detaches its half (begin), and is joined (end); no-ops without
 * a helper. */
void ps_freeze_split_thaw_begin(struct ps_freeze *fz);
void ps_freeze_split_thaw_end(struct ps_freeze *fz);

/* freeze.c, for the calling tracer thread: seize the threads of TIDS not yet known in FZ
 * (*ADDED counts them); interrupt those seized and not yet interrupted; wait for FZ's
 * stops (bounded by a timer of the calling thread's own, whose SIGALRM handler ps_freeze
 * installs), reading each one's registers as it stops; detach FZ's stopped threads. */
int ps_freeze_seize(struct ps_freeze *fz, const pid_t *tids, size_t n, size_t *added);
void ps_freeze_interrupt(struct ps_freeze *fz);
int ps_freeze_wait(struct ps_freeze *fz, unsigned timeout_ms);
void ps_freeze_detach(struct ps_freeze *fz);
/* Add a copy of T (a task of another tracer thread) to FZ, marked foreign. */
int ps_freeze_adopt(struct ps_freeze *fz, const struct ps_ftask *t);

#endif
