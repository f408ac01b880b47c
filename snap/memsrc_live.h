/* The live memory source of a process, page-cached, recording every range read.
 *
 * A capture uses it in two ways. Walking the running target, it reads pages on demand (one
 * process_vm_readv each, /proc/PID/mem as fallback); the bytes it read become the plan of
 * the next freeze: each page it read, only across the bytes read there (widened a little).
 * Frozen, ps_live_copy_frozen() copies the plan and the native stacks with a few batched
 * process_vm_readv calls (many iovecs each), shared by two readers (pagecopy.h), and
 * nothing else; after the thaw the walk runs "offline" against that copy, where bytes
 * outside it are not read but counted as a miss (and planned for the next freeze). A walk
 * with no miss read only bytes copied while every thread was stopped: the snapshot is
 * exactly its recorded ranges, which ps_live_recorded() merges and copies out of the
 * cache. */
#ifndef PYSNAP_SNAP_MEMSRC_LIVE_H
#define PYSNAP_SNAP_MEMSRC_LIVE_H

#include <sys/types.h>

#include "pysnap/memsrc.h"
#include "pysnap/snapshot.h"

struct ps_live;

int ps_live_open(pid_t pid, struct ps_live **out);
struct ps_memsrc ps_live_memsrc(struct ps_live *l);
/* A range outside the walker's reads (a thread's stack, the code around its PC). */
struct ps_live_span {
    uint64_t addr, len;
};
/* Turn the bytes read so far (the walk's, the stacks'), those the last offline walk missed
 * and what the last plan copied into the plan, then drop the cache and the recording; the
 * plan's buffer is allocated and faulted in here, and the copy rehearsed, so that the copy
 * inside the freeze only copies. */
int ps_live_plan(struct ps_live *l);
/* Before a freeze, for the pages of the spans ps_live_copy_frozen() will copy (what no plan
 * foresees: the native stacks): memory for the pages of SPANS (the expected ones, at most
 * MAX_PAGES) allocated, faulted in, and their copy rehearsed into it with the target
 * running. The copy inside the freeze then goes to that memory, already faulted in, from
 * remote pages already read once: a stack page's first process_vm_readv costs ~3 us, a
 * second ~1 us (1000 threads, this VM). Pages beyond the reserve are allocated then. */
int ps_live_reserve(struct ps_live *l, const struct ps_live_span *spans, size_t nspans,
                    size_t max_pages);
/* While frozen: copy the plan, and every page of SPANS whole (the native stacks and the
 * code at each PC: known only once the threads are stopped), in one copy; record SPANS up
 * to the first unreadable page of each. A page that cannot be read any more becomes
 * unreadable, as in a live read. An error (out of memory) leaves the plan copied. */
int ps_live_copy_frozen(struct ps_live *l, const struct ps_live_span *spans, size_t nspans);
/* Offline: a page not in the cache is never read; the read fails and the page is counted
 * as missed (the count restarts when offline is set). */
void ps_live_set_offline(struct ps_live *l, int offline);
size_t ps_live_misses(const struct ps_live *l);
size_t ps_live_plan_pages(const struct ps_live *l);
/* The bytes the plan copies (the spans of its pages). */
size_t ps_live_plan_bytes(const struct ps_live *l);
/* The merged ranges, copied out of the cache only; their data is owned by L. */
int ps_live_recorded(struct ps_live *l, struct ps_range **ranges, size_t *n, size_t *bytes);
size_t ps_live_pages_read(const struct ps_live *l);
/* System calls that read the target (process_vm_readv or pread) since the open. */
size_t ps_live_read_calls(const struct ps_live *l);
void ps_live_close(struct ps_live *l);

#endif
