/* What pysnap knows of one CPython version's memory layout (x86-64).
 *
 * One table per major.minor, generated from the real headers by tools/gen-offsets (an
 * offsetof() probe compiled against each version's internal headers) and committed as
 * analyze/python/pyoffsets_table.c, so a build needs no Python headers. For 3.13+ the table is then
 * overlaid with the interpreter's own _Py_DebugOffsets, after validating them.
 *
 * All offsets are byte offsets into the named structure; PS_OFF_NONE marks a field that the
 * version does not have. The walker reads fields only through these tables: no
 * `if (version == ...)` in the walker. Where the shape differs (frame objects before 3.11,
 * interpreter frames since), `frame_model` selects one small reader per era. */
#ifndef PYSNAP_PYOFFSETS_H
#define PYSNAP_PYOFFSETS_H

#include <stddef.h>
#include <stdint.h>

#define PS_OFF_NONE (-1)

typedef int32_t ps_off;

enum ps_frame_model {
    PS_FRAMES_FRAMEOBJECT = 1, /* 3.6-3.10: PyFrameObject chain via f_back */
    PS_FRAMES_INTERP = 2,      /* 3.11+: _PyInterpreterFrame chain via previous */
};

/* How an instance without tp_dictoffset>0 keeps its attribute dict. */
enum ps_dict_model {
    PS_DICT_OFFSET = 1,    /* 3.6-3.10: dict pointer at tp_dictoffset */
    PS_DICT_PREHEADER = 2, /* 3.11: dict at obj-3 words, split values at obj-4 words */
    PS_DICT_TAGGED = 3,    /* 3.12: obj-3 words holds dict, or values|1 */
    PS_DICT_INLINE = 4,    /* 3.13+: values inline after tp_basicsize; dict at obj-3 words */
};

/* PyThreadState.state (3.13+, Include/internal/pycore_pystate.h). */
enum ps_py_tstate_state {
    PS_PY_DETACHED = 0,  /* not running Python (released the GIL / detached for a call) */
    PS_PY_ATTACHED = 1,  /* running Python */
    PS_PY_SUSPENDED = 2, /* parked by a stop-the-world pause (free-threaded GC, fork) */
};

/* How the line of an instruction is encoded in the code object. */
/* Py_HASH_ALGORITHM of the build, for str hashes. */
enum ps_hash_algorithm {
    PS_HASH_UNKNOWN = 0,
    PS_HASH_SIPHASH24 = 1,
    PS_HASH_SIPHASH13 = 3,
};

enum ps_linetable_model {
    PS_LINES_LNOTAB = 1,   /* 3.6-3.9: co_lnotab, byte pairs */
    PS_LINES_310 = 2,      /* 3.10: co_linetable, (sdelta, ldelta) pairs */
    PS_LINES_LOCATION = 3, /* 3.11+: PEP 657 location table */
    PS_LINES_LNOTAB_UNSIGNED = 4, /* 2.7: co_lnotab with unsigned line increments */
};

/* Where a walk starts, beyond ps_walk_target.runtime_addr (the table's roots.runtime symbol).
 * 3.7+ keep everything in _PyRuntime; 3.6 has no _PyRuntime: the interpreter list is the
 * static `interp_head` (pystate.c), the GIL two statics of Python/ceval_gil.h and the GC state
 * statics of Modules/gcmodule.c. Capture looks these symbols up by name (.symtab: static
 * symbols need a build that keeps it) and stores their addresses in the snapshot; the walker
 * then reads gil.locked, gil.last_holder and gc.collecting relative to them. */
enum ps_root {
    PS_ROOT_GIL_LOCKED = 0, /* base of gil.locked when not inside a gil state */
    PS_ROOT_GIL_HOLDER = 1, /* base of gil.last_holder when not inside a gil state */
    PS_ROOT_GC = 2,         /* base of gc.collecting when not in the runtime/interpreter */
    PS_ROOT_ASYNCIO_TASKS = 3, /* 3.6: the _asyncio extension's static all_tasks (WeakSet *),
                               found in that file by roots.asyncio_tasks */
    PS_ROOT_COUNT = 4,
};

struct ps_pyoffsets {
    uint8_t major, minor;
    uint8_t frame_model;    /* enum ps_frame_model */
    uint8_t dict_model;     /* enum ps_dict_model */
    uint8_t linetable_model;/* enum ps_linetable_model */
    uint8_t debug_build;    /* Py_TRACE_REFS: PyObject has _ob_next/_ob_prev (not implied by
                             * Py_DEBUG since 3.8: Debian's python3.11-dbg has the release
                             * layout) */
    uint8_t free_threaded;  /* a --disable-gil build (3.13t+): bigger object header (ob_tid,
                             * split reference counts, ob_mutex), no GC pre-header, a GIL
                             * structure that is normally disabled */

    struct {
        const char *runtime;      /* symbol of runtime_addr: "_PyRuntime", "interp_head" (3.6) */
        const char *runtime_getter; /* 2.7/3.6: an exported function whose first instruction
                                       loads the runtime symbol (mov rax, [rip + disp32]):
                                       found so in a build stripped of .symtab; or NULL */
        const char *symbol[PS_ROOT_COUNT]; /* enum ps_root: static symbols, NULL if none */
        const char *asyncio_tasks; /* 3.6: the symbol of PS_ROOT_ASYNCIO_TASKS in the _asyncio
                                      extension module (not in libpython); NULL otherwise */
    } roots;

    struct {
        ps_off interpreters_head; /* _PyRuntime.interpreters.head; 0 when runtime_addr is
                                     interp_head itself (3.6) */
        ps_off gil;               /* _PyRuntime.ceval.gil (embedded), until 3.11 */
        ps_off tstate_current;    /* _PyRuntime.gilstate.tstate_current, until 3.11 */
        ps_off gc;                /* _PyRuntime.gc (embedded), 3.8 only: 3.9+ use interp.gc */
    } runtime;

    struct {
        ps_off next, id, threads_head;
        ps_off modules;           /* sys.modules dict pointer */
        ps_off gil_ptr;           /* interp->ceval.gil (pointer), 3.12+ */
        ps_off gc;                /* interp->gc (embedded struct _gc_runtime_state) */
    } interp;

    struct {
        ps_off locked;            /* _gil_runtime_state.locked (int) */
        ps_off last_holder;       /* _gil_runtime_state.last_holder (PyThreadState*) */
        ps_off enabled;           /* free-threaded: _gil_runtime_state.enabled (int, 0: no
                                     GIL); PS_OFF_NONE in GIL builds */
    } gil;

    struct {
        ps_off collecting;        /* offset inside struct _gc_runtime_state */
        ps_off frame;             /* 3.15+: _PyInterpreterFrame that started the collection */
    } gc;

    struct {
        ps_off next, interp, thread_id, native_thread_id;
        ps_off frame;             /* tstate->frame (<=3.10), ->cframe (3.11/3.12),
                                     ->current_frame (3.13+) */
        ps_off cframe_current;    /* _PyCFrame.current_frame when frame is a cframe,
                                     else PS_OFF_NONE */
        ps_off cframe;            /* tstate->cframe (3.10-3.12): while the state runs, a
                                     local of the eval loop, on its OS thread's C stack */
        ps_off state;             /* 3.13+: int, enum ps_py_tstate_state */
    } tstate;

    struct { /* _PyInterpreterFrame, 3.11+ */
        ps_off previous, code, instr, owner, localsplus, stacktop;
        int32_t owner_generator;  /* FRAME_OWNED_BY_GENERATOR */
        int32_t owner_cstack;     /* FRAME_OWNED_BY_CSTACK (shims), -1 if none */
        int32_t owner_interpreter;/* FRAME_OWNED_BY_INTERPRETER (3.14+: eval-loop entry
                                     frames; 3.15: the base frame ending every chain), -1 */
        int32_t stackref_mask;    /* 3.14+: low tag bits of a _PyStackRef (f_executable,
                                     localsplus) to clear for the object; 0 before */
    } iframe;

    struct { /* PyFrameObject, 3.8-3.10 */
        ps_off back, code, lasti, lineno, localsplus;
        ps_off executing;         /* f_executing (3.6-3.9), f_state (3.10): a frame on a live
                                     stack holds executing_value there; PS_OFF_NONE on 2.7 */
        int32_t executing_value;  /* 1 (f_executing), FRAME_EXECUTING (f_state) */
    } frameobj;

    struct {
        ps_off filename, name, qualname;
        ps_off linetable;         /* co_linetable, or co_lnotab for PS_LINES_LNOTAB */
        ps_off firstlineno;       /* int */
        ps_off code_adaptive;     /* 3.11+: first instruction, inside the code object */
        ps_off code;              /* <=3.10: co_code bytes object */
        ps_off firsttraceable;    /* 3.11+: int _co_firsttraceable */
        ps_off argcount, flags;   /* int */
        ps_off kwonlyargcount;    /* int */
        ps_off nlocalsplus;       /* 3.11+: int */
        ps_off localsplusnames, localspluskinds; /* 3.11+ */
        ps_off nlocals, varnames, cellvars, freevars; /* <=3.10 */
    } code;

    struct {
        ps_off ob_type;           /* PyObject.ob_type */
        ps_off ob_size;           /* PyVarObject.ob_size */
        ps_off tp_name, tp_flags, tp_basicsize, tp_dictoffset;
        ps_off ht_cached_keys;    /* PyHeapTypeObject.ht_cached_keys, 3.11+ */
        ps_off managed_dict;      /* 3.11+: a managed __dict__ pointer, relative to the
                                     object (negative: in its pre-header) */
    } object;

    struct {
        ps_off state, length;
        int32_t ascii_size;       /* sizeof(PyASCIIObject): compact ASCII data follows */
        int32_t compact_size;     /* sizeof(PyCompactUnicodeObject): compact data follows */
        ps_off data;              /* 2.7: PyUnicodeObject.str (Py_UNICODE *); PS_OFF_NONE for
                                     PEP 393 strings (3.3+) */
        int32_t char_size;        /* 2.7: Py_UNICODE_SIZE (2 or 4); 0 otherwise */
    } unicode;

    /* 2.7: `str` is the byte string (bytes.ob_sval), `int` a C long (PyIntObject) and
     * `long` the digits of longobj. */
    struct { ps_off ival; } intobj;   /* PyIntObject.ob_ival, 2.7; else PS_OFF_NONE */

    struct { ps_off ob_item; } tuple;
    struct { ps_off ob_item; } list;
    struct { ps_off ob_sval; } bytes;
    struct { ps_off ob_fval; } floatobj;
    struct {
        ps_off digits;            /* ob_digit */
        ps_off lv_tag;            /* 3.12+: long_value.lv_tag, else PS_OFF_NONE (ob_size) */
    } longobj;

    struct {
        ps_off ma_used, ma_keys, ma_values;
        ps_off dk_size;           /* <=3.10: Py_ssize_t dk_size */
        ps_off dk_log2_size;      /* 3.11+: uint8 */
        ps_off dk_log2_index_bytes; /* 3.11+: uint8 */
        ps_off dk_kind;           /* 3.11+: uint8 (0 general, 1 unicode, 2 split) */
        ps_off dk_nentries, dk_indices;
        int32_t entry_size;       /* sizeof(PyDictKeyEntry) */
        int32_t unicode_entry_size; /* sizeof(PyDictUnicodeEntry), 3.11+, else 0 */
        ps_off values_values;     /* offset of values[] inside PyDictValues */
        ps_off ma_mask, ma_table; /* 2.7: one table of ma_mask + 1 {hash, key, value}
                                     entries (entry_size), no keys object; else NONE */
    } dict;

    struct { /* what rendering locals needs beyond the above */
        ps_off tp_dict;           /* PyTypeObject.tp_dict (heap types: __module__ lives here) */
        ps_off ht_qualname;       /* PyHeapTypeObject.ht_qualname */
        ps_off cell_ref;          /* PyCellObject.ob_ref */
        ps_off set_mask, set_table; /* PySetObject; entries are {key, hash} */
        ps_off range_start;       /* rangeobject: start, stop, step follow as pointers */
        ps_off bytearray_start;   /* PyByteArrayObject.ob_start */
        ps_off complex_cval;      /* PyComplexObject.cval (two doubles) */
        ps_off func_qualname;     /* PyFunctionObject.func_qualname */
        int32_t str_hash;         /* enum ps_hash_algorithm */
        ps_off str_hash_cache;    /* PyASCIIObject.hash */
        ps_off set_key;           /* the key inside a set entry (3.x {key, hash}: 0; 2.7
                                     {hash, key}: 8) */
        ps_off func_name;         /* PyFunctionObject.func_name (2.7 has no qualname) */
        ps_off in_class;          /* 2.7 old-style instance: PyInstanceObject.in_class */
        ps_off cl_name, cl_dict;  /* 2.7 old-style class: PyClassObject.cl_name, cl_dict */
    } more;

    struct { /* threading.Thread's attributes (2.7 mangles self.__name) */
        const char *name_attr, *daemonic_attr;
    } threading;

    struct { /* how repr() spells values: 3.x, or 2.7's dialect */
        const char *text_type;    /* the text type's name: "str", 2.7 "unicode" */
        const char *bytes_type;   /* the byte string's: "bytes", 2.7 "str" */
        const char *text_prefix;  /* "", 2.7 "u" */
        const char *bytes_prefix; /* "b", 2.7 "" */
        const char *long_suffix;  /* "", 2.7 "L" (type long) */
        const char *builtins;     /* module of built-in types: "builtins", 2.7 "__builtin__" */
        const char *builtin_type_word; /* <class 'int'>; 2.7 <type 'int'> */
        uint8_t text_ascii;       /* 2.7: text escapes every non-ASCII character */
        uint8_t set_literal;      /* {1, 2}; 2.7: set([1, 2]) */
    } reprs;
};

/* The built-in table for MAJOR.MINOR (its GIL build), or NULL when this pysnap has none. */
const struct ps_pyoffsets *ps_pyoffsets_builtin(int major, int minor);
/* The same for the free-threaded build of MAJOR.MINOR when FREE_THREADED (3.13t), or NULL. */
const struct ps_pyoffsets *ps_pyoffsets_for(int major, int minor, int free_threaded);
/* Do the _Py_DebugOffsets RAW (LEN bytes from the start of _PyRuntime) say free-threaded? */
int ps_pyoffsets_debug_free_threaded(const void *raw, size_t len);
/* The I-th built-in table of MAJOR.MINOR: the release build's (I = 0), then its variants
 * (debug_build entries: a Py_TRACE_REFS build's, whose objects start with _ob_next/_ob_prev;
 * gen-offsets.sh --variant emits them, the committed table has none), or NULL past the last.
 * The walker tries them in this order and keeps the first the target validates. */
const struct ps_pyoffsets *ps_pyoffsets_candidate(int major, int minor, unsigned i);
/* The newest built-in table of MAJOR with minor <= MINOR (a base for a newer version whose
 * debug offsets validate), or NULL. */
const struct ps_pyoffsets *ps_pyoffsets_nearest_below(int major, int minor);
/* "3.8, 3.9, ..." for messages. */
const char *ps_pyoffsets_supported_list(void);

/* Overlay a 3.13+ interpreter's own _Py_DebugOffsets (RAW, LEN bytes as read from the start
 * of _PyRuntime) onto *OFF. Validates cookie, version and that every offset lies inside its
 * structure's declared size. Returns PS_OK, or PS_UNSUPPORTED with a detail. */
int ps_pyoffsets_apply_debug(struct ps_pyoffsets *off, const void *raw, size_t len,
                             uint32_t version_hex);
/* How many bytes of _Py_DebugOffsets the layout that HEAD (at least the first LEN >= 16 bytes:
 * cookie and version) announces takes, or 0 when there is no cookie or the layout is
 * unknown. Read that many from the start of _PyRuntime and pass them to apply_debug. */
size_t ps_pyoffsets_debug_size(const void *head, size_t len);

#endif
