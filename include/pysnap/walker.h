/* The walker: from _PyRuntime to interpreters, threads and frames, over any memory source.
 * It runs at capture (over the recording live source, deciding what the snapshot holds) and
 * at analysis (over the snapshot), doing the same reads both times. Every loop over target
 * memory is bounded by these limits. */
#ifndef PYSNAP_WALKER_H
#define PYSNAP_WALKER_H

#include <stdint.h>

#include "pysnap/memsrc.h"
#include "pysnap/model.h"

struct ps_walk_limits {
    unsigned max_interps;   /* interpreters followed */
    unsigned max_threads;   /* thread states per interpreter */
    unsigned max_frames;    /* Python frames per thread */
    unsigned max_name;      /* characters kept of a name or file name */
    unsigned max_dict;      /* entries looked at in one dict */
};

void ps_walk_limits_default(struct ps_walk_limits *lim);

struct ps_walk_target {
    uint64_t runtime_addr;   /* _PyRuntime */
    uint32_t py_version_hex; /* PY_VERSION_HEX */
};

/* Walk the target into *OUT (which must be zeroed). Returns PS_OK even when parts of the walk
 * failed (those are recorded in the model's walk_status fields); returns an error when
 * nothing could be walked: PS_UNSUPPORTED (unknown version whose debug offsets do not
 * validate), PS_NOMEM, or the read error at _PyRuntime. */
int ps_walk(const struct ps_memsrc *mem, const struct ps_walk_target *target,
            const struct ps_walk_limits *lim, struct ps_model *out);

#endif
