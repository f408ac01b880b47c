/* A live memory source for sampling a running process without stopping it: every read goes
 * to the target (process_vm_readv, else /proc/PID/mem) through a page cache that lives for
 * one sample only (ps_direct_reset between samples), and nothing is recorded. The target
 * keeps running, so a walk over it may see structures mid-update: callers must treat a
 * failed or inconsistent walk as a torn sample and drop it. */
#ifndef PYSNAP_SNAP_MEMSRC_DIRECT_H
#define PYSNAP_SNAP_MEMSRC_DIRECT_H

#include <sys/types.h>

#include "pysnap/memsrc.h"

struct ps_direct;

int ps_direct_open(pid_t pid, struct ps_direct **out);
struct ps_memsrc ps_direct_memsrc(struct ps_direct *d);
/* Forget every cached page: the next sample reads fresh memory. */
void ps_direct_reset(struct ps_direct *d);
/* Fetch, in as few system calls as possible (one process_vm_readv per 256 pages), every page
 * of the N ranges ADDRS[i], LENS[i] bytes (at most a page each; 0 addresses are skipped) that
 * this sample has not read yet: the walk that follows finds them cached. A page that cannot
 * be read is left for the ordinary read to fail on. */
void ps_direct_prefetch(struct ps_direct *d, const uint64_t *addrs, const uint32_t *lens,
                        size_t n);
/* Read system calls made since open. */
size_t ps_direct_calls(const struct ps_direct *d);
/* Pages read from the target since open (for the statistics). */
size_t ps_direct_pages_read(const struct ps_direct *d);
/* errno of the last failed read (EPERM: ptrace access refused), 0 if none. */
int ps_direct_last_errno(const struct ps_direct *d);
void ps_direct_close(struct ps_direct *d);

#endif
