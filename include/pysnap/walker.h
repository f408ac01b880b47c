/* The walker: from _PyRuntime to interpreters, threads and frames, over any memory source.
 * It runs at capture (over the recording live source, deciding what the snapshot holds) and
 * at analysis (over the snapshot), doing the same reads both times. Every loop over target
 * memory is bounded by these limits. */
#ifndef PYSNAP_WALKER_H
#define PYSNAP_WALKER_H

#include <stdint.h>

#include "pysnap/memsrc.h"
#include "pysnap/model.h"
#include "pysnap/pyoffsets.h"

struct ps_walk_limits {
    unsigned max_interps;   /* interpreters followed */
    unsigned max_threads;   /* thread states per interpreter */
    unsigned max_frames;    /* Python frames per thread */
    unsigned max_name;      /* characters kept of a name or file name */
    unsigned max_dict;      /* entries looked at in one dict */
    /* Locals. Chosen at capture and stored in the snapshot, so that analysis repeats exactly
     * the reads the capture made. */
    unsigned locals;        /* 0: no values of locals are read */
    unsigned requests;      /* find the HTTP request each thread serves (request.c); with
                               locals 0 too, no value is read at all */
    unsigned max_locals;    /* per frame */
    unsigned max_str;       /* characters (or bytes) of one str/bytes value */
    unsigned max_items;     /* items shown per container */
    unsigned max_depth;     /* nesting of containers */
    unsigned max_repr;      /* characters of one rendered value */
    unsigned max_attrs;     /* instance attributes shown per local */
    uint64_t budget;        /* bytes of target memory read for values, whole walk */
    const char *redact;     /* POSIX extended regex (case-insensitive) of names whose values
                               are never read; NULL or "" for none */
};

/* The default --redact pattern. */
#define PS_REDACT_DEFAULT \
    "password|passwd|secret|token|api_?key|apikey|authorization|cookie|session|private_?key|credential"

/* Limits as "key=value" words (what the snapshot stores) and back. Unknown keys are ignored
 * by the parser; the redact pattern is stored separately. */
void ps_walk_limits_format(const struct ps_walk_limits *lim, char *buf, size_t size);
void ps_walk_limits_parse(struct ps_walk_limits *lim, const char *s);

void ps_walk_limits_default(struct ps_walk_limits *lim);

struct ps_walk_target {
    uint64_t runtime_addr;   /* _PyRuntime (the table's roots.runtime: interp_head on 3.6) */
    uint32_t py_version_hex; /* PY_VERSION_HEX */
    uint64_t hash_secret;    /* _Py_HashSecret, or 0: dict lookups then scan every key */
    uint64_t asyncio_debug;  /* 3.14+: _Py_AsyncioModuleDebugOffsets (.AsyncioDebug), or 0 */
    uint64_t roots[PS_ROOT_COUNT]; /* the table's roots.symbol addresses (enum ps_root), 0
                                    * where the version has none or they were not found */
};

/* Walk the target into *OUT (which must be zeroed). Returns PS_OK even when parts of the walk
 * failed (those are recorded in the model's walk_status fields); returns an error when
 * nothing could be walked: PS_UNSUPPORTED (unknown version whose debug offsets do not
 * validate), PS_NOMEM, or the read error at _PyRuntime. */
int ps_walk(const struct ps_memsrc *mem, const struct ps_walk_target *target,
            const struct ps_walk_limits *lim, struct ps_model *out);

/* For samplers that walk stacks themselves (snap/sampler.c), with the walker's own knowledge:
 * the layout ps_walk would use for TARGET (built-in table, debug offsets, validated). */
int ps_walk_layout(const struct ps_memsrc *mem, const struct ps_walk_target *target,
                   struct ps_pyoffsets *out);
/* The code object at CODE: its name, qualname (NULL where the version has none) and file,
 * malloc'd, at most MAX_NAME characters each, and its type (*TYPE: the address of `code`);
 * with LINES also what ps_walk_code_line needs (its line table, malloc'd). PS_CORRUPT when
 * CODE is not a code object, or a read error. */
struct ps_code_names {
    char *name, *qualname, *file;
    uint64_t type;
    int32_t firsttraceable; /* 3.11+: first instruction that frame.f_back shows, else 0 */
    int32_t firstlineno;
    unsigned char *lines;   /* the line table (LINES), else NULL */
    size_t nlines;
};
int ps_walk_code_names(const struct ps_memsrc *mem, const struct ps_pyoffsets *off,
                       uint64_t code, unsigned max_name, int lines, struct ps_code_names *out);
/* The line a frame of the code object C (at CODE, read with LINES) is at: 3.11+ from the
 * frame's instruction pointer INSTR, before from its f_lasti LASTI. -1 when unknown. */
int ps_walk_code_line(const struct ps_pyoffsets *off, const struct ps_code_names *c,
                      uint64_t code, uint64_t instr, int32_t lasti);
void ps_code_names_free(struct ps_code_names *c);

/* The GIL of the interpreter at INTERP, as ps_walk reports it (for samplers): from the
 * runtime's or the interpreter's GIL state (3.7+), or from the static ROOTS of
 * ps_walk_target (3.6: gil_locked, gil_last_holder; 2.7: _PyThreadState_Current, NULL while
 * no thread holds it). NONE: a free-threaded build running without its GIL (no holder, ever).
 * Returns PS_OK (KNOWN or NONE set), PS_UNSUPPORTED when the roots it needs were not found,
 * or the read error. */
struct ps_gil_state {
    int known;       /* locked and holder were read */
    int none;        /* there is no GIL */
    int locked;
    uint64_t holder; /* the PyThreadState holding it, 0 when it is free */
    uint64_t addr;   /* where its state is (the holder root before 3.7) */
};
int ps_walk_gil(const struct ps_memsrc *mem, const struct ps_pyoffsets *off,
                const uint64_t roots[PS_ROOT_COUNT], uint64_t runtime, uint64_t interp,
                struct ps_gil_state *out);

#endif
