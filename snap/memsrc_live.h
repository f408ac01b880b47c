/* The live memory source of a frozen process, page-cached, recording every range read.
 * Reads go through process_vm_readv one page at a time (the walker chases pointers, so
 * there is little to batch), falling back to /proc/PID/mem. The snapshot is then exactly the
 * recorded ranges: ps_live_recorded() merges them and copies their bytes out of the cache. */
#ifndef PYSNAP_SNAP_MEMSRC_LIVE_H
#define PYSNAP_SNAP_MEMSRC_LIVE_H

#include <sys/types.h>

#include "pysnap/memsrc.h"
#include "pysnap/snapshot.h"

struct ps_live;

int ps_live_open(pid_t pid, struct ps_live **out);
struct ps_memsrc ps_live_memsrc(struct ps_live *l);
/* Copy a range outside the walker's reads into the recording (e.g. a thread's stack). */
int ps_live_record(struct ps_live *l, uint64_t addr, size_t len);
/* The merged ranges; their data is owned by L. */
int ps_live_recorded(struct ps_live *l, struct ps_range **ranges, size_t *n, size_t *bytes);
size_t ps_live_pages_read(const struct ps_live *l);
void ps_live_close(struct ps_live *l);

#endif
