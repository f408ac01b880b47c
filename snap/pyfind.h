/* Finding the CPython runtime in a live process: which mapped file holds _PyRuntime, where it
 * is loaded, and which version it is. Works for shared libpython, a static python, and a
 * process whose /proc/PID/exe is something else (a loader, an embedding program). */
#ifndef PYSNAP_SNAP_PYFIND_H
#define PYSNAP_SNAP_PYFIND_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "pysnap/pyoffsets.h"

struct ps_pyfind {
    char path[PATH_MAX];   /* the file with _PyRuntime, as the target sees it */
    uint64_t bias;         /* load bias of that file */
    uint64_t runtime_addr; /* _PyRuntime in the target (3.6: interp_head) */
    uint64_t roots[PS_ROOT_COUNT]; /* the version's static roots (3.6), 0 if none */
    uint64_t version_addr; /* Py_Version in the target, 0 when the build has none */
    uint32_t version_hex;  /* from the file name when version_addr is 0 */
    uint64_t hash_secret;  /* _Py_HashSecret in the target, 0 if not found */
    uint64_t asyncio_debug; /* .AsyncioDebug (3.14+) in the target, 0 if none (capture.c) */
};

/* PS_NOTPYTHON with a detail when no mapped file has _PyRuntime. */
int ps_pyfind(pid_t pid, const struct ps_maps *maps, struct ps_pyfind *out);

#endif
