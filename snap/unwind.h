/* Native stacks of a captured process, in three steps around the freeze:
 *
 *   ps_unwind_open    before the freeze: read /proc/PID/maps (where the stacks are);
 *   ps_unwind_spans   while frozen: each stopped thread's used stack (from SP minus the
 *                     red zone up to the end of its stack mapping, capped) and the code
 *                     around its PC, for the recording source to copy with the rest
 *                     (ps_live_copy_frozen), so both land in the snapshot;
 *   ps_unwind_run     after the thaw: unwind every thread with libdwfl over those copies only
 *                     (eh_frame / debug_frame CFI of the on-disk binaries, opened with
 *                     ps_mapped_open), symbolize each PC (.symtab where present, .dynsym on
 *                     stripped files, module + offset otherwise) and store frames and modules
 *                     in the snapshot metadata, so analysis needs no binaries.
 *
 * Unwinding is best effort: a thread that cannot be unwound keeps no (or fewer) native
 * frames, marked; it never fails the capture. */
#ifndef PYSNAP_SNAP_UNWIND_H
#define PYSNAP_SNAP_UNWIND_H

#include <stddef.h>
#include <sys/types.h>

#include "pysnap/snapshot.h"
#include "freeze.h"
#include "memsrc_live.h"

#define PS_UNWIND_RED_ZONE 128          /* x86-64 ABI: leaf functions use 128 bytes below SP */
#define PS_UNWIND_DEFAULT_STACK (256u << 10)
#define PS_UNWIND_CODE_BEFORE 64        /* code bytes kept around each thread's PC */
#define PS_UNWIND_CODE_AFTER 64
#define PS_UNWIND_MAX_FRAMES 256        /* native frames kept per thread (innermost) */

struct ps_unwind;

/* Prepare for PID. MAX_STACK bounds the bytes copied per thread; 0 turns native stacks off
 * (every other call is then a no-op). Returns PS_OK or PS_NOMEM; an unreadable maps file is
 * not an error (stacks are then copied up to MAX_STACK from SP). */
int ps_unwind_open(pid_t pid, size_t max_stack, struct ps_unwind **out);

/* Before each freeze: reserve memory for the stack copies of ps_unwind_spans' spans and
 * rehearse them (the stacks' top pages, found in the maps), so that the copy inside the
 * pause neither faults memory in nor reads a stack page for the first time. */
void ps_unwind_reserve(struct ps_unwind *u, struct ps_live *live);

/* While FZ holds the target stopped: the spans to copy, every stopped thread's stack and
 * the code around its PC (*NSPANS of them, malloc'd; NULL when native stacks are off or out
 * of memory: the snapshot then has none). Reads only the registers FZ holds. */
struct ps_live_span *ps_unwind_spans(struct ps_unwind *u, const struct ps_freeze *fz, size_t *nspans);

/* After the thaw: unwind each thread of META that has registers, reading target memory only
 * from RANGES (sorted, non-overlapping: what the snapshot will hold), and fill the threads'
 * native frames and META's modules and string table. Returns PS_OK or PS_NOMEM. */
int ps_unwind_run(struct ps_unwind *u, const struct ps_range *ranges, size_t nranges,
                  struct ps_snap_meta *meta);

void ps_unwind_close(struct ps_unwind *u);

#endif
