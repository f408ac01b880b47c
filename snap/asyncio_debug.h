/* 3.14+: where a live target keeps _Py_AsyncioModuleDebugOffsets, the layout of asyncio's C
 * tasks and of their per-thread lists that the interpreter publishes for debuggers. */
#ifndef PYSNAP_SNAP_ASYNCIO_DEBUG_H
#define PYSNAP_SNAP_ASYNCIO_DEBUG_H

#include <stdint.h>
#include <sys/types.h>

#include "proc.h"

/* The address, in PID, of the .AsyncioDebug section of whichever mapped file has one (the
 * _asyncio extension module, or a python/libpython with _asyncio built in); 0 when none
 * (before 3.14, or asyncio not imported). Reads the files through /proc/PID/root. */
uint64_t ps_find_asyncio_debug(pid_t pid, const struct ps_maps *maps);

/* The address, in PID, of the data object SYMBOL of the mapped _asyncio extension module
 * (3.6: its static all_tasks), 0 when absent or SYMBOL is NULL. */
uint64_t ps_find_asyncio_object(pid_t pid, const struct ps_maps *maps, const char *symbol);

#endif
