/* The live memory source of a process, page-cached, recording every range read.
 *
 * A capture uses it in two ways. Walking the running target, it reads pages on demand (one
 * process_vm_readv each, /proc/PID/mem as fallback); those pages become the plan of the
 * next freeze. Frozen, ps_live_copy_plan() copies every planned page with a few batched
 * process_vm_readv calls (many iovecs each) and nothing else; after the thaw the walk runs
 * "offline" against that copy, where a page outside the plan is not read but counted as a
 * miss (and planned for the next freeze). A walk with no miss read only bytes copied while
 * every thread was stopped: the snapshot is exactly its recorded ranges, which
 * ps_live_recorded() merges and copies out of the cache. */
#ifndef PYSNAP_SNAP_MEMSRC_LIVE_H
#define PYSNAP_SNAP_MEMSRC_LIVE_H

#include <sys/types.h>

#include "pysnap/memsrc.h"
#include "pysnap/snapshot.h"

struct ps_live;

int ps_live_open(pid_t pid, struct ps_live **out);
struct ps_memsrc ps_live_memsrc(struct ps_live *l);
/* Copy a range outside the walker's reads into the recording (e.g. a thread's stack), up
 * to its first unreadable page; ps_live_record_spans() does many, reading every page not
 * cached yet in one batch. */
struct ps_live_span {
    uint64_t addr, len;
};
int ps_live_record(struct ps_live *l, uint64_t addr, size_t len);
int ps_live_record_spans(struct ps_live *l, const struct ps_live_span *spans, size_t n);
/* Turn the pages read so far (and those the last offline walk missed) into the plan, then
 * drop the cache and the recording; the plan's buffer is allocated and faulted in here, so
 * that the copy inside the freeze only copies. */
int ps_live_plan(struct ps_live *l);
/* Before a freeze, for the pages ps_live_record_spans() will copy during it (what no plan
 * foresees: the native stacks): memory for the pages of SPANS (the expected ones, at most
 * MAX_PAGES) allocated, faulted in, and their copy rehearsed into it with the target
 * running. The copy inside the freeze then goes to that memory, already faulted in, from
 * remote pages already read once: a stack page's first process_vm_readv costs ~3 us, a
 * second ~1 us (1000 threads, this VM). Pages beyond the reserve are allocated then. */
int ps_live_reserve(struct ps_live *l, const struct ps_live_span *spans, size_t nspans,
                    size_t max_pages);
/* While frozen: copy every planned page (a page that cannot be read any more becomes
 * unreadable, as in a live read). */
void ps_live_copy_plan(struct ps_live *l);
/* Offline: a page not in the cache is never read; the read fails and the page is counted
 * as missed (the count restarts when offline is set). */
void ps_live_set_offline(struct ps_live *l, int offline);
size_t ps_live_misses(const struct ps_live *l);
size_t ps_live_plan_pages(const struct ps_live *l);
/* The merged ranges, copied out of the cache only; their data is owned by L. */
int ps_live_recorded(struct ps_live *l, struct ps_range **ranges, size_t *n, size_t *bytes);
size_t ps_live_pages_read(const struct ps_live *l);
/* System calls that read the target (process_vm_readv or pread) since the open. */
size_t ps_live_read_calls(const struct ps_live *l);
void ps_live_close(struct ps_live *l);

#endif
