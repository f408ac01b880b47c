/* tools/gen-offsets/probe.c: print one `struct ps_pyoffsets` initializer for the CPython
 * version whose headers this file is compiled against.
 *
 * Built once per version by gen-offsets.sh, with the system gcc:
 *
 *   gcc -DPy_BUILD_CORE -I$PREFIX/include/pythonX.Y -I$PREFIX/include/pythonX.Y/internal \
 *       [extra -D flags] probe.c -o probe && ./probe
 *
 * Every number comes from offsetof()/sizeof() on the real structures of that version. The
 * only exceptions are
 *   - the dict keys object of 3.8-3.10, which lives in Objects/dict-common.h (not installed):
 *     it is mirrored below, with the CPython file cited;
 *   - PyASCIIObject.state, a bit-field, whose byte offset is found by setting a bit in a zeroed
 *     object and looking for it.
 * Version branches belong here (PY_VERSION_HEX), not in the walker.
 *
 * The output is a C designated initializer (no trailing comma) naming every field of
 * struct ps_pyoffsets (include/pysnap/pyoffsets.h); PS_OFF_NONE marks fields the version does
 * not have. Exit status is non-zero if a layout assumption checked here does not hold. */

#if !defined(__x86_64__) || !defined(__linux__)
#error "pysnap offset tables describe x86-64 Linux only"
#endif

#include <Python.h>
#include <frameobject.h>
#if PY_MAJOR_VERSION < 3
#  include <longintrepr.h>      /* 2.7: PyLongObject, PyLong_SHIFT */
#endif

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if (PY_VERSION_HEX < 0x03060000 || PY_VERSION_HEX >= 0x03100000) && \
    (PY_VERSION_HEX < 0x02070000 || PY_VERSION_HEX >= 0x02080000)
#error "probe.c knows CPython 2.7 and 3.6 .. 3.15"
#endif

/* ---- internal headers, per version -------------------------------------------------- */
#if PY_VERSION_HEX < 0x03070000
/* 3.6: no _PyRuntime and no internal headers; PyInterpreterState is public (pystate.h). The
 * GIL (Python/ceval_gil.h) and the GC state (Modules/gcmodule.c) are file statics. */
#elif PY_VERSION_HEX < 0x03080000
/* 3.7: _PyRuntimeState and the GIL, GC and gilstate structures it embeds. */
#  include "internal/pystate.h"
#elif PY_VERSION_HEX < 0x03090000
/* 3.8: _PyRuntimeState, PyInterpreterState (struct _is), _gil_runtime_state (pycore_gil.h)
 * and _gc_runtime_state (pycore_pymem.h) all come in through pycore_pystate.h. */
#  include "pycore_pystate.h"
#else
#  include "pycore_runtime.h"
#  include "pycore_interp.h"
#  include "pycore_pystate.h"
#  include "pycore_gc.h"
#  include "pycore_gil.h"
#endif
#if PY_VERSION_HEX >= 0x030D0000
#  include "pycore_object.h"    /* MANAGED_DICT_OFFSET */
#endif
#if PY_VERSION_HEX >= 0x030B0000
#  include "pycore_code.h"
#  include "pycore_frame.h"
#  include "pycore_dict.h"
#endif
#if PY_VERSION_HEX >= 0x030E0000
#  include "pycore_stackref.h"   /* _PyStackRef tag bits */
#endif

#ifdef NDEBUG
#undef NDEBUG
#endif

#define NONE (-1L)
#define OFF(T, f) ((long)offsetof(T, f))
#define SZ(T) ((long)sizeof(T))

/* ---- dict keys object, 3.8-3.10 ----------------------------------------------------------
 * Mirrored from CPython Objects/dict-common.h (the same offsets in the 3.6 to 3.10 branches:
 * 3.6 declares dk_indices as a union of int8_t[8] .. int64_t[1] at the same place; the file is
 * not installed). 3.11 moved a reshaped struct into Include/internal/pycore_dict.h,
 * which is included above instead. */
#if PY_VERSION_HEX >= 0x03000000 && PY_VERSION_HEX < 0x030B0000
typedef struct {
    Py_hash_t me_hash;
    PyObject *me_key;
    PyObject *me_value;
} probe_PyDictKeyEntry;                  /* Objects/dict-common.h: PyDictKeyEntry */

typedef Py_ssize_t (*probe_dict_lookup_func)(PyDictObject *mp, PyObject *key, Py_hash_t hash,
                                             PyObject **value_addr);

struct probe_dictkeysobject {            /* Objects/dict-common.h: struct _dictkeysobject */
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    probe_dict_lookup_func dk_lookup;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
};
#endif

/* ---- range object, all versions ----------------------------------------------------------
 * Mirrored from CPython Objects/rangeobject.c (not in any header; the same in 3.8-3.13). */
struct probe_rangeobject {
    PyObject_HEAD
    PyObject *start;
    PyObject *stop;
    PyObject *step;
    PyObject *length;
};

/* ---- output -------------------------------------------------------------------------- */
static int failures;

static void fail(const char *what)
{
    fprintf(stderr, "probe: layout check failed: %s\n", what);
    failures++;
}

/* Offsets print as numbers, or PS_OFF_NONE. */
static const char *o(long v)
{
    static char buf[64][32]; /* more than any one printf uses */
    static int k;
    char *b = buf[k++ % 64];
    if (v == NONE)
        return "PS_OFF_NONE";
    snprintf(b, sizeof buf[0], "%ld", v);
    return b;
}

/* A symbol name as a C string literal's quotes and text, or NULL. */
static const char *q(const char *sym) { return sym ? "\"" : ""; }
static const char *s_(const char *sym) { return sym ? sym : "NULL"; }

/* Byte offset of the PyASCIIObject.state bit-field, and a check that the bits the walker
 * decodes (interned:2, kind:3, compact:1, ascii:1, from bit 0, little-endian) sit where every
 * CPython 3.8-3.13 puts them. */
#if PY_MAJOR_VERSION >= 3
static long unicode_state_offset(void)
{
    PyASCIIObject a;
    unsigned char *p = (unsigned char *)&a;
    long off = NONE;
    size_t i;
    unsigned v;

    memset(&a, 0, sizeof a);
    a.state.interned = 3;
    a.state.kind = 7;
    a.state.compact = 1;
    a.state.ascii = 1;
    for (i = 0; i < sizeof a; i++)
        if (p[i]) {
            off = (long)i;
            break;
        }
    if (off == NONE) {
        fail("PyASCIIObject.state not found");
        return NONE;
    }
    memcpy(&v, p + off, sizeof v);
    if (v != 0x7f)
        fail("PyASCIIObject.state bits are not interned:2 kind:3 compact:1 ascii:1");
    if (off != OFF(PyASCIIObject, hash) + SZ(Py_hash_t))
        fail("PyASCIIObject.state does not follow hash");
    return off;
}
#endif

int main(void)
{
    long v_major = PY_MAJOR_VERSION, v_minor = PY_MINOR_VERSION;
    int frame_model, dict_model, linetable_model, debug_build, free_threaded;
    /* free-threaded builds (3.13+ --disable-gil), and what every 3.13+ build has */
    long ts_state, gil_enabled, ob_managed_dict;
    /* 2.7's objects: int, unicode (not PEP 393), the open-addressing dict, set entries */
    long int_ival, u_data, u_char_size, d_ma_mask, d_ma_table, m_set_key;
    const char *thread_name_attr, *thread_daemonic_attr;
    /* how repr() spells values, and 2.7's old-style instances and classes */
    const char *r_text_type, *r_bytes_type, *r_text_prefix, *r_bytes_prefix, *r_long_suffix;
    const char *r_builtins, *r_type_word;
    int r_text_ascii, r_set_literal;
    long m_func_name, m_in_class, m_cl_name, m_cl_dict;
    const char *frame_model_s, *dict_model_s, *linetable_model_s;

    /* roots: the symbol of runtime_addr, and the static symbols of enum ps_root */
    const char *root_runtime, *root_gil_locked, *root_gil_holder, *root_gc, *root_getter;
    const char *root_asyncio_tasks;
    /* runtime */
    long rt_interpreters_head, rt_gil, rt_tstate_current, rt_gc;
    /* interp */
    long in_next, in_id, in_threads_head, in_modules, in_gil_ptr, in_gc;
    /* gil, gc */
    long gil_locked, gil_last_holder, gc_collecting, gc_frame;
    /* tstate */
    long ts_next, ts_interp, ts_thread_id, ts_native_thread_id, ts_frame, ts_cframe_current;
    long ts_cframe;
    /* iframe */
    long if_previous, if_code, if_instr, if_owner, if_localsplus, if_stacktop;
    long if_owner_generator, if_owner_cstack, if_owner_interpreter, if_stackref_mask;
    /* frameobj */
    long fo_back, fo_code, fo_lasti, fo_lineno, fo_localsplus, fo_executing, fo_executing_value;
    /* code */
    long co_filename, co_name, co_qualname, co_linetable, co_firstlineno, co_code_adaptive,
        co_code, co_firsttraceable, co_argcount, co_kwonlyargcount, co_flags, co_nlocalsplus, co_localsplusnames,
        co_localspluskinds, co_nlocals, co_varnames, co_cellvars, co_freevars;
    /* object */
    long ob_type, ob_size, tp_name, tp_flags, tp_basicsize, tp_dictoffset, ht_cached_keys;
    /* unicode */
    long u_state, u_length, u_ascii_size, u_compact_size;
    /* simple objects */
    long tuple_ob_item, list_ob_item, bytes_ob_sval, float_ob_fval, long_digits, long_lv_tag;
    /* dict */
    long d_ma_used, d_ma_keys, d_ma_values, d_dk_size, d_dk_log2_size, d_dk_log2_index_bytes,
        d_dk_kind, d_dk_nentries, d_dk_indices, d_entry_size, d_unicode_entry_size,
        d_values_values;
    /* more (locals rendering) */
    long m_tp_dict, m_ht_qualname, m_cell_ref, m_set_mask, m_set_table, m_range_start,
        m_bytearray_start, m_complex_cval, m_func_qualname, m_str_hash, m_str_hash_cache;

    /* ---- models ---- */
#if PY_VERSION_HEX < 0x030B0000
    frame_model = 1, frame_model_s = "PS_FRAMES_FRAMEOBJECT";
#else
    frame_model = 2, frame_model_s = "PS_FRAMES_INTERP";
#endif
#if PY_VERSION_HEX < 0x030B0000
    dict_model = 1, dict_model_s = "PS_DICT_OFFSET";
#elif PY_VERSION_HEX < 0x030C0000
    dict_model = 2, dict_model_s = "PS_DICT_PREHEADER";
#elif PY_VERSION_HEX < 0x030D0000
    dict_model = 3, dict_model_s = "PS_DICT_TAGGED";
#else
    dict_model = 4, dict_model_s = "PS_DICT_INLINE";
#endif
#if PY_MAJOR_VERSION < 3
    linetable_model = 4, linetable_model_s = "PS_LINES_LNOTAB_UNSIGNED";
#elif PY_VERSION_HEX < 0x030A0000
    linetable_model = 1, linetable_model_s = "PS_LINES_LNOTAB";
#elif PY_VERSION_HEX < 0x030B0000
    linetable_model = 2, linetable_model_s = "PS_LINES_310";
#else
    linetable_model = 3, linetable_model_s = "PS_LINES_LOCATION";
#endif
    (void)frame_model, (void)dict_model, (void)linetable_model;
#ifdef Py_TRACE_REFS
    debug_build = 1;
#else
    debug_build = 0;
#endif
#ifdef Py_GIL_DISABLED
    free_threaded = 1;      /* pyconfig.h of a --disable-gil build */
#else
    free_threaded = 0;
#endif

    /* ---- _PyRuntime, or the statics that 3.7 gathered into it ---- */
#if PY_VERSION_HEX < 0x03070000
    /* 3.6: `static PyInterpreterState *interp_head` (Python/pystate.c) is the list head
     * itself; `static _Py_atomic_int gil_locked` and `static _Py_atomic_address
     * gil_last_holder` (Python/ceval_gil.h) are the GIL; `static int collecting`
     * (Modules/gcmodule.c) tells a running collection. The current thread state is the
     * exported _PyThreadState_Current, which the walk does not need. */
    root_runtime = "interp_head";
    /* An exported function that returns interp_head (Python/pystate.c): where a stripped
     * build has no .symtab, its first instruction (mov rax, [rip + disp]) says where it is. */
    root_getter = "PyInterpreterState_Head";
#  if PY_MAJOR_VERSION < 3
    /* 2.7: the GIL is a bare semaphore (interpreter_lock) with no holder field, but the
     * exported _PyThreadState_Current is the thread state that holds it: set after taking
     * the lock, set to NULL before releasing it (Python/ceval.c, PyEval_SaveThread and the
     * eval loop's periodic switch). No "locked" word: locked is "current is set". */
    root_gil_locked = NULL;
    root_gil_holder = "_PyThreadState_Current";
#  else
    root_gil_locked = "gil_locked";
    root_gil_holder = "gil_last_holder";
#  endif
    root_gc = "collecting";
    /* 3.6's C tasks register in `static PyObject *all_tasks` of Modules/_asynciomodule.c
     * (a WeakSet), in the _asyncio extension; 3.7 moved the set to asyncio.tasks._all_tasks. */
#  if PY_MAJOR_VERSION >= 3
    root_asyncio_tasks = "all_tasks";
#  else
    root_asyncio_tasks = NULL;  /* 2.7 has no asyncio */
#  endif
    rt_interpreters_head = 0;
    rt_gil = NONE;
    rt_tstate_current = NONE;
#  if PY_MAJOR_VERSION >= 3
    if (SZ(_Py_atomic_int) != 4 || SZ(_Py_atomic_address) != 8)
        fail("_Py_atomic_int/_Py_atomic_address are not an int/a pointer");
#  endif
#else
    root_runtime = "_PyRuntime";
    root_getter = NULL;
    root_gil_locked = root_gil_holder = root_gc = root_asyncio_tasks = NULL;
    rt_interpreters_head = OFF(_PyRuntimeState, interpreters.head);
#endif
#if PY_VERSION_HEX < 0x03070000
#elif PY_VERSION_HEX < 0x030C0000
    /* 3.7-3.11: the GIL is embedded in _PyRuntime.ceval; the current thread state is the
     * atomic _PyRuntime.gilstate.tstate_current. */
    rt_gil = OFF(_PyRuntimeState, ceval.gil);
    rt_tstate_current = OFF(_PyRuntimeState, gilstate.tstate_current);
#else
    /* 3.12+: per-interpreter GIL pointer (interp->ceval.gil); the current thread state is a
     * C thread-local (_Py_tss_tstate), not in _PyRuntime. */
    rt_gil = NONE;
    rt_tstate_current = NONE;
#endif

    /* ---- PyInterpreterState ---- */
    in_next = OFF(PyInterpreterState, next);
#if PY_VERSION_HEX < 0x03070000
    in_id = NONE;           /* interpreter ids came with 3.7 */
#else
    in_id = OFF(PyInterpreterState, id);
#endif
#if PY_VERSION_HEX < 0x030B0000
    in_threads_head = OFF(PyInterpreterState, tstate_head);
#else
    in_threads_head = OFF(PyInterpreterState, threads.head);
#endif
#if PY_VERSION_HEX < 0x030C0000
    in_modules = OFF(PyInterpreterState, modules);
#else
    in_modules = OFF(PyInterpreterState, imports.modules);
#endif
#if PY_VERSION_HEX < 0x030C0000
    in_gil_ptr = NONE;
#else
    in_gil_ptr = OFF(PyInterpreterState, ceval.gil);
#endif
#if PY_VERSION_HEX < 0x03070000
    rt_gc = NONE;           /* 3.6: the statics of gcmodule.c (root_gc) */
    in_gc = NONE;
#elif PY_VERSION_HEX < 0x03090000
    /* 3.7-3.8: the GC state is _PyRuntime.gc, one for the whole runtime; 3.9 moved it into
     * each interpreter. */
    rt_gc = OFF(_PyRuntimeState, gc);
    in_gc = NONE;
#else
    rt_gc = NONE;
    in_gc = OFF(PyInterpreterState, gc);
#endif

    /* ---- struct _gil_runtime_state, struct _gc_runtime_state ---- */
#if PY_VERSION_HEX < 0x03070000
    /* 3.6 (2.7): each root symbol is the field itself. */
    gil_locked = gil_last_holder = gc_collecting = 0;
#  if PY_MAJOR_VERSION < 3
    gil_locked = NONE;      /* no such word: see root_gil_holder */
#  endif
    gc_frame = NONE;
#else
    gil_locked = OFF(struct _gil_runtime_state, locked);
    gil_last_holder = OFF(struct _gil_runtime_state, last_holder);
    gc_collecting = OFF(struct _gc_runtime_state, collecting);
#if PY_VERSION_HEX >= 0x030F0000
    /* 3.15+: the Python frame that started the running collection */
    gc_frame = OFF(struct _gc_runtime_state, frame);
#else
    gc_frame = NONE;
#endif
    if (SZ(((struct _gil_runtime_state *)0)->locked) != 4)
        fail("_gil_runtime_state.locked is not a 4-byte int");
    if (SZ(((struct _gil_runtime_state *)0)->last_holder) != 8)
        fail("_gil_runtime_state.last_holder is not a pointer");
    if (SZ(((struct _gc_runtime_state *)0)->collecting) != 4)
        fail("_gc_runtime_state.collecting is not an int");
#endif

    /* ---- PyThreadState ---- */
    ts_next = OFF(PyThreadState, next);
    ts_interp = OFF(PyThreadState, interp);
    ts_thread_id = OFF(PyThreadState, thread_id);
#if PY_VERSION_HEX < 0x030B0000
    ts_native_thread_id = NONE;
#else
    ts_native_thread_id = OFF(PyThreadState, native_thread_id);
#endif
#if PY_VERSION_HEX < 0x030B0000
    ts_frame = OFF(PyThreadState, frame);           /* PyFrameObject * */
    ts_cframe_current = NONE;
#elif PY_VERSION_HEX < 0x030D0000
    ts_frame = OFF(PyThreadState, cframe);          /* _PyCFrame * */
    ts_cframe_current = OFF(_PyCFrame, current_frame);
#else
    ts_frame = OFF(PyThreadState, current_frame);   /* _PyInterpreterFrame * */
    ts_cframe_current = NONE;
#endif
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13+: _Py_THREAD_DETACHED 0, ATTACHED 1, SUSPENDED 2 (Include/internal/pycore_pystate.h):
     * attached means running Python (holding the GIL where there is one). */
    ts_state = OFF(PyThreadState, state);
    if (SZ(((PyThreadState *)0)->state) != 4 || _Py_THREAD_DETACHED != 0 ||
        _Py_THREAD_ATTACHED != 1 || _Py_THREAD_SUSPENDED != 2)
        fail("PyThreadState.state is not an int with DETACHED 0, ATTACHED 1, SUSPENDED 2");
#else
    ts_state = NONE;
#endif
#ifdef Py_GIL_DISABLED
    /* A free-threaded build still has a GIL structure; enabled is 0 unless PYTHON_GIL=1 or
     * an extension without Py_mod_gil turned it on (Include/internal/pycore_gil.h). */
    gil_enabled = OFF(struct _gil_runtime_state, enabled);
#else
    gil_enabled = NONE;
#endif
    /* 3.10-3.12: tstate->cframe points to a local of the running eval loop, on the C stack
     * of the OS thread running this state (3.13 removed _PyCFrame). */
#if PY_VERSION_HEX >= 0x030A0000 && PY_VERSION_HEX < 0x030D0000
    ts_cframe = OFF(PyThreadState, cframe);
#else
    ts_cframe = NONE;
#endif

    /* ---- _PyInterpreterFrame (3.11+) / PyFrameObject (3.8-3.10) ---- */
#if PY_VERSION_HEX < 0x030B0000
    if_previous = if_code = if_instr = if_owner = if_localsplus = if_stacktop = NONE;
    if_owner_generator = if_owner_cstack = if_owner_interpreter = -1;
    if_stackref_mask = 0;
    fo_back = OFF(PyFrameObject, f_back);
    fo_code = OFF(PyFrameObject, f_code);
    fo_lasti = OFF(PyFrameObject, f_lasti);
    fo_lineno = OFF(PyFrameObject, f_lineno);
    fo_localsplus = OFF(PyFrameObject, f_localsplus);
#  if PY_MAJOR_VERSION < 3
    fo_executing = NONE; /* 2.7 does not mark a frame that runs */
    fo_executing_value = 0;
#  elif PY_VERSION_HEX < 0x030A0000
    fo_executing = OFF(PyFrameObject, f_executing);
    fo_executing_value = 1;
#  else
    fo_executing = OFF(PyFrameObject, f_state);
    fo_executing_value = FRAME_EXECUTING;
#  endif
#else
    if_previous = OFF(_PyInterpreterFrame, previous);
#  if PY_VERSION_HEX < 0x030D0000
    if_code = OFF(_PyInterpreterFrame, f_code);
    if_instr = OFF(_PyInterpreterFrame, prev_instr);
#  else
    if_code = OFF(_PyInterpreterFrame, f_executable);
    if_instr = OFF(_PyInterpreterFrame, instr_ptr);
#  endif
    if_owner = OFF(_PyInterpreterFrame, owner);
    if_localsplus = OFF(_PyInterpreterFrame, localsplus);
    if (SZ(((_PyInterpreterFrame *)0)->owner) != 1)
        fail("_PyInterpreterFrame.owner is not a char");
#  if PY_VERSION_HEX < 0x030E0000
    if_stacktop = OFF(_PyInterpreterFrame, stacktop);
    if (SZ(((_PyInterpreterFrame *)0)->stacktop) != 4)
        fail("_PyInterpreterFrame.stacktop is not an int");
#  else
    /* 3.14 replaced the int index by a _PyStackRef *stackpointer: not the same meaning. */
    if_stacktop = NONE;
#  endif
    if_owner_generator = FRAME_OWNED_BY_GENERATOR;
#  if PY_VERSION_HEX < 0x030C0000
    if_owner_cstack = -1;            /* 3.11 has no shim frames */
#  elif PY_VERSION_HEX < 0x030F0000
    if_owner_cstack = FRAME_OWNED_BY_CSTACK;
#  else
    if_owner_cstack = -1;            /* 3.15 dropped FRAME_OWNED_BY_CSTACK */
#  endif
#  if PY_VERSION_HEX < 0x030E0000
    if_owner_interpreter = -1;
    if_stackref_mask = 0;            /* f_executable and localsplus are plain PyObject * */
#  else
    /* 3.14+: entry frames of the eval loop, and 3.15's base frame that ends every thread's
     * chain (inside the thread state), are owned by the interpreter. */
    if_owner_interpreter = FRAME_OWNED_BY_INTERPRETER;
    /* f_executable and localsplus are tagged _PyStackRef: the object is bits & ~mask. A
     * tagged small int (3.14+: low bits Py_INT_TAG) is not an object; its mask is included
     * so that masking never leaves a misaligned pointer. */
    if_stackref_mask = (long)(Py_TAG_BITS | Py_INT_TAG);
    if (SZ(_PyStackRef) != 8)
        fail("_PyStackRef is not one word");
#  endif
    /* PyFrameObject still exists but is only a lazily created view of an interpreter frame:
     * f_code, f_lasti and f_localsplus are gone, and f_back/f_lineno no longer mean "the
     * calling frame"/"the current line". Rule used in this probe: a field is described only
     * when the member exists with the meaning pyoffsets.h gives it, so the group is NONE. */
    fo_back = fo_code = fo_lasti = fo_lineno = fo_localsplus = fo_executing = NONE;
    fo_executing_value = 0;
#endif

    /* ---- PyCodeObject ---- */
    co_filename = OFF(PyCodeObject, co_filename);
    co_name = OFF(PyCodeObject, co_name);
    co_firstlineno = OFF(PyCodeObject, co_firstlineno);
    co_argcount = OFF(PyCodeObject, co_argcount);
#if PY_MAJOR_VERSION < 3
    co_kwonlyargcount = NONE;
#else
    co_kwonlyargcount = OFF(PyCodeObject, co_kwonlyargcount);
#endif
    co_flags = OFF(PyCodeObject, co_flags);
#if PY_VERSION_HEX < 0x030A0000
    co_linetable = OFF(PyCodeObject, co_lnotab);
#else
    co_linetable = OFF(PyCodeObject, co_linetable);
#endif
#if PY_VERSION_HEX < 0x030B0000
    co_qualname = NONE;
    co_code_adaptive = NONE;
    co_code = OFF(PyCodeObject, co_code);
    co_firsttraceable = NONE;
    co_nlocalsplus = co_localsplusnames = co_localspluskinds = NONE;
    co_nlocals = OFF(PyCodeObject, co_nlocals);
    co_varnames = OFF(PyCodeObject, co_varnames);
    co_cellvars = OFF(PyCodeObject, co_cellvars);
    co_freevars = OFF(PyCodeObject, co_freevars);
#else
    co_qualname = OFF(PyCodeObject, co_qualname);
    co_code_adaptive = OFF(PyCodeObject, co_code_adaptive);
    co_code = NONE;
    co_firsttraceable = OFF(PyCodeObject, _co_firsttraceable);
    co_nlocalsplus = OFF(PyCodeObject, co_nlocalsplus);
    co_localsplusnames = OFF(PyCodeObject, co_localsplusnames);
    co_localspluskinds = OFF(PyCodeObject, co_localspluskinds);
    /* 3.11+ still has an int co_nlocals (same meaning); co_varnames, co_cellvars and
     * co_freevars are no longer struct members (computed from co_localsplus*). */
    co_nlocals = OFF(PyCodeObject, co_nlocals);
    co_varnames = co_cellvars = co_freevars = NONE;
    if (SZ(((PyCodeObject *)0)->_co_firsttraceable) != 4)
        fail("PyCodeObject._co_firsttraceable is not an int");
    if (SZ(((PyCodeObject *)0)->co_nlocalsplus) != 4)
        fail("PyCodeObject.co_nlocalsplus is not an int");
#endif
    if (SZ(((PyCodeObject *)0)->co_nlocals) != 4)
        fail("PyCodeObject.co_nlocals is not an int");
    if (SZ(((PyCodeObject *)0)->co_firstlineno) != 4 || SZ(((PyCodeObject *)0)->co_argcount) != 4
        || SZ(((PyCodeObject *)0)->co_flags) != 4)
        fail("PyCodeObject int fields are not ints");

    /* ---- objects and types ---- */
    ob_type = OFF(PyObject, ob_type);
    ob_size = OFF(PyVarObject, ob_size);
    tp_name = OFF(PyTypeObject, tp_name);
    tp_flags = OFF(PyTypeObject, tp_flags);
    tp_basicsize = OFF(PyTypeObject, tp_basicsize);
    tp_dictoffset = OFF(PyTypeObject, tp_dictoffset);
    /* Present since 3.3 (shared-key dicts); the 3.11+ dict models are the ones that need it. */
#if PY_MAJOR_VERSION < 3
    ht_cached_keys = NONE;
#else
    ht_cached_keys = OFF(PyHeapTypeObject, ht_cached_keys);
#endif
    /* Where a managed __dict__ pointer sits, relative to the object (3.11+): 3.11's and
     * 3.12's _PyObject_ManagedDictPointer is three words before the object; 3.13+ name it
     * MANAGED_DICT_OFFSET (one word before in a free-threaded build: no GC pre-header). */
#if PY_VERSION_HEX < 0x030B0000
    ob_managed_dict = NONE;
#elif PY_VERSION_HEX < 0x030D0000
    ob_managed_dict = -3 * (long)sizeof(PyObject *);
#else
    ob_managed_dict = MANAGED_DICT_OFFSET;
#endif

    /* ---- what rendering locals needs ---- */
    m_tp_dict = OFF(PyTypeObject, tp_dict);
    m_cell_ref = OFF(PyCellObject, ob_ref);
    m_set_mask = OFF(PySetObject, mask);
    m_set_table = OFF(PySetObject, table);
    m_set_key = OFF(setentry, key);
    m_complex_cval = OFF(PyComplexObject, cval);
    m_func_name = OFF(PyFunctionObject, func_name);
#if PY_MAJOR_VERSION < 3
    /* 2.7: no qualified names; xrange keeps start/step/len as longs, not objects (its repr
     * is not rendered); bytearray's data pointer is ob_bytes; str hashes are 2.7's own. */
    m_ht_qualname = m_func_qualname = m_range_start = NONE;
    m_bytearray_start = OFF(PyByteArrayObject, ob_bytes);
    m_str_hash_cache = NONE;
    m_str_hash = 0;
    thread_name_attr = "_Thread__name";       /* Lib/threading.py: self.__name */
    thread_daemonic_attr = "_Thread__daemonic";
    /* 2.7's repr: str is bytes ('abc'), unicode has a u prefix and escapes every non-ASCII
     * character (Objects/unicodeobject.c unicode_repr), long ends in L, sets print as
     * set([...]), built-in types live in __builtin__ (<type 'int'>). */
    r_text_type = "unicode", r_bytes_type = "str", r_text_prefix = "u", r_bytes_prefix = "";
    r_long_suffix = "L", r_builtins = "__builtin__", r_text_ascii = 1, r_set_literal = 0;
    r_type_word = "type";   /* <type 'int'>; classes are still <class '__main__.C'> */
    m_in_class = OFF(PyInstanceObject, in_class);
    m_cl_name = OFF(PyClassObject, cl_name);
    m_cl_dict = OFF(PyClassObject, cl_dict);
    if (SZ(setentry) != 16 || m_set_key != 8)
        fail("setentry is not {hash, key}");
#else
    thread_name_attr = "_name";
    thread_daemonic_attr = "_daemonic";
    r_text_type = "str", r_bytes_type = "bytes", r_text_prefix = "", r_bytes_prefix = "b";
    r_long_suffix = "", r_builtins = "builtins", r_text_ascii = 0, r_set_literal = 1;
    r_type_word = "class";
    m_in_class = m_cl_name = m_cl_dict = NONE;
    m_ht_qualname = OFF(PyHeapTypeObject, ht_qualname);
    m_range_start = OFF(struct probe_rangeobject, start);
    m_bytearray_start = OFF(PyByteArrayObject, ob_start);
    m_func_qualname = OFF(PyFunctionObject, func_qualname);
    m_str_hash_cache = OFF(PyASCIIObject, hash);
    if (SZ(setentry) != 16 || m_set_key != 0)
        fail("setentry is not {key, hash}");
#endif
#if PY_MAJOR_VERSION < 3
#elif Py_HASH_ALGORITHM == Py_HASH_SIPHASH24
    m_str_hash = 1;
#elif defined(Py_HASH_SIPHASH13) && Py_HASH_ALGORITHM == Py_HASH_SIPHASH13
    m_str_hash = 3;
#else
    m_str_hash = 0; /* FNV or another: dict lookups fall back to scanning */
#endif

    /* ---- str ---- */
#if PY_MAJOR_VERSION < 3
    /* 2.7: `unicode` is a length and a pointer to Py_UNICODE (2 or 4 bytes: the build's
     * --enable-unicode); `str` is the byte string (PyStringObject, bytes.ob_sval). */
    u_state = NONE;
    u_length = OFF(PyUnicodeObject, length);
    u_ascii_size = u_compact_size = 0;
    u_data = OFF(PyUnicodeObject, str);
    u_char_size = Py_UNICODE_SIZE;
    int_ival = OFF(PyIntObject, ob_ival);
#else
    u_state = unicode_state_offset();
    u_length = OFF(PyASCIIObject, length);
    u_ascii_size = SZ(PyASCIIObject);
    u_compact_size = SZ(PyCompactUnicodeObject);
    u_data = NONE;
    u_char_size = 0;
    int_ival = NONE;
#endif

    /* ---- tuple, list, bytes, float, int ---- */
    tuple_ob_item = OFF(PyTupleObject, ob_item);
    list_ob_item = OFF(PyListObject, ob_item);
#if PY_MAJOR_VERSION < 3
    bytes_ob_sval = OFF(PyStringObject, ob_sval);
#else
    bytes_ob_sval = OFF(PyBytesObject, ob_sval);
#endif
    float_ob_fval = OFF(PyFloatObject, ob_fval);
#if PY_MAJOR_VERSION < 3
    if (PyLong_SHIFT != 30)
        fail("2.7 long digits are not 30 bits");
#endif
#if PY_VERSION_HEX < 0x030C0000
    long_digits = OFF(PyLongObject, ob_digit);
    long_lv_tag = NONE;     /* sign and size are PyVarObject.ob_size */
#else
    long_digits = OFF(PyLongObject, long_value.ob_digit);
    long_lv_tag = OFF(PyLongObject, long_value.lv_tag);
#endif

    /* ---- dict ---- */
    d_ma_used = OFF(PyDictObject, ma_used);
#if PY_MAJOR_VERSION < 3
    /* 2.7: one open-addressing table of PyDictEntry {me_hash, me_key, me_value}, mask + 1
     * slots, iterated in slot order (Include/dictobject.h). */
    d_ma_keys = d_ma_values = NONE;
    d_dk_size = d_dk_log2_size = d_dk_log2_index_bytes = d_dk_kind = NONE;
    d_dk_nentries = d_dk_indices = NONE;
    d_entry_size = SZ(PyDictEntry);
    d_unicode_entry_size = 0;
    d_values_values = NONE;
    d_ma_mask = OFF(PyDictObject, ma_mask);
    d_ma_table = OFF(PyDictObject, ma_table);
    if (OFF(PyDictEntry, me_key) != 8 || OFF(PyDictEntry, me_value) != 16)
        fail("PyDictEntry is not {hash, key, value}");
#else
    d_ma_mask = d_ma_table = NONE;
    d_ma_keys = OFF(PyDictObject, ma_keys);
    d_ma_values = OFF(PyDictObject, ma_values);
#endif
#if PY_MAJOR_VERSION < 3
#elif PY_VERSION_HEX < 0x030B0000
    d_dk_size = OFF(struct probe_dictkeysobject, dk_size);
    d_dk_log2_size = d_dk_log2_index_bytes = d_dk_kind = NONE;
    d_dk_nentries = OFF(struct probe_dictkeysobject, dk_nentries);
    d_dk_indices = OFF(struct probe_dictkeysobject, dk_indices);
    d_entry_size = SZ(probe_PyDictKeyEntry);
    d_unicode_entry_size = 0;
    /* Before 3.11 ma_values is a bare PyObject ** pointing at the values array itself
     * (there is no PyDictValues struct): the array starts at offset 0. */
    d_values_values = 0;
    if (SZ(((PyDictObject *)0)->ma_values) != 8)
        fail("PyDictObject.ma_values is not a pointer");
#else
    d_dk_size = NONE;
    d_dk_log2_size = OFF(PyDictKeysObject, dk_log2_size);
    d_dk_log2_index_bytes = OFF(PyDictKeysObject, dk_log2_index_bytes);
    d_dk_kind = OFF(PyDictKeysObject, dk_kind);
    d_dk_nentries = OFF(PyDictKeysObject, dk_nentries);
    d_dk_indices = OFF(PyDictKeysObject, dk_indices);
    d_entry_size = SZ(PyDictKeyEntry);
    d_unicode_entry_size = SZ(PyDictUnicodeEntry);
    d_values_values = OFF(PyDictValues, values);
    if (DICT_KEYS_GENERAL != 0 || DICT_KEYS_UNICODE != 1 || DICT_KEYS_SPLIT != 2)
        fail("DictKeysKind values are not 0 general, 1 unicode, 2 split");
#endif

    if (failures)
        return 1;

    /* ---- print ---- */
    printf("    { /* %s */\n", PY_VERSION);
    printf("        .major = %ld, .minor = %ld,\n", v_major, v_minor);
    printf("        .frame_model = %s,\n", frame_model_s);
    printf("        .dict_model = %s,\n", dict_model_s);
    printf("        .linetable_model = %s,\n", linetable_model_s);
    printf("        .debug_build = %d,\n", debug_build);
    printf("        .free_threaded = %d,\n", free_threaded);
    printf("        .roots = { .runtime = \"%s\", .runtime_getter = %s%s%s,\n"
           "                   .symbol = { [PS_ROOT_GIL_LOCKED] = %s%s%s,\n"
           "                               [PS_ROOT_GIL_HOLDER] = %s%s%s,\n"
           "                               [PS_ROOT_GC] = %s%s%s },\n"
           "                   .asyncio_tasks = %s%s%s },\n",
           root_runtime, q(root_getter), s_(root_getter), q(root_getter), q(root_gil_locked),
           s_(root_gil_locked), q(root_gil_locked), q(root_gil_holder), s_(root_gil_holder),
           q(root_gil_holder), q(root_gc), s_(root_gc), q(root_gc), q(root_asyncio_tasks),
           s_(root_asyncio_tasks), q(root_asyncio_tasks));
    printf("        .runtime = { .interpreters_head = %s, .gil = %s, .tstate_current = %s,\n"
           "                     .gc = %s },\n",
           o(rt_interpreters_head), o(rt_gil), o(rt_tstate_current), o(rt_gc));
    printf("        .interp = { .next = %s, .id = %s, .threads_head = %s, .modules = %s,\n"
           "                    .gil_ptr = %s, .gc = %s },\n",
           o(in_next), o(in_id), o(in_threads_head), o(in_modules), o(in_gil_ptr), o(in_gc));
    printf("        .gil = { .locked = %s, .last_holder = %s, .enabled = %s },\n", o(gil_locked),
           o(gil_last_holder), o(gil_enabled));
    printf("        .gc = { .collecting = %s, .frame = %s },\n", o(gc_collecting), o(gc_frame));
    printf("        .tstate = { .next = %s, .interp = %s, .thread_id = %s, .native_thread_id = %s,\n"
           "                    .frame = %s, .cframe_current = %s, .cframe = %s, .state = %s },\n",
           o(ts_next), o(ts_interp), o(ts_thread_id), o(ts_native_thread_id), o(ts_frame),
           o(ts_cframe_current), o(ts_cframe), o(ts_state));
    printf("        .iframe = { .previous = %s, .code = %s, .instr = %s, .owner = %s,\n"
           "                    .localsplus = %s, .stacktop = %s,\n"
           "                    .owner_generator = %ld, .owner_cstack = %ld,\n"
           "                    .owner_interpreter = %ld, .stackref_mask = %ld },\n",
           o(if_previous), o(if_code), o(if_instr), o(if_owner), o(if_localsplus),
           o(if_stacktop), if_owner_generator, if_owner_cstack, if_owner_interpreter,
           if_stackref_mask);
    printf("        .frameobj = { .back = %s, .code = %s, .lasti = %s, .lineno = %s,\n"
           "                      .localsplus = %s, .executing = %s, .executing_value = %ld },\n",
           o(fo_back), o(fo_code), o(fo_lasti), o(fo_lineno), o(fo_localsplus), o(fo_executing),
           fo_executing_value);
    printf("        .code = { .filename = %s, .name = %s, .qualname = %s, .linetable = %s,\n"
           "                  .firstlineno = %s, .code_adaptive = %s, .code = %s,\n"
           "                  .firsttraceable = %s, .argcount = %s, .kwonlyargcount = %s, .flags = %s,\n"
           "                  .nlocalsplus = %s, .localsplusnames = %s, .localspluskinds = %s,\n"
           "                  .nlocals = %s, .varnames = %s, .cellvars = %s, .freevars = %s },\n",
           o(co_filename), o(co_name), o(co_qualname), o(co_linetable), o(co_firstlineno),
           o(co_code_adaptive), o(co_code), o(co_firsttraceable), o(co_argcount),
           o(co_kwonlyargcount), o(co_flags),
           o(co_nlocalsplus), o(co_localsplusnames), o(co_localspluskinds), o(co_nlocals),
           o(co_varnames), o(co_cellvars), o(co_freevars));
    printf("        .object = { .ob_type = %s, .ob_size = %s, .tp_name = %s, .tp_flags = %s,\n"
           "                    .tp_basicsize = %s, .tp_dictoffset = %s, .ht_cached_keys = %s,\n"
           "                    .managed_dict = %s },\n",
           o(ob_type), o(ob_size), o(tp_name), o(tp_flags), o(tp_basicsize), o(tp_dictoffset),
           o(ht_cached_keys), o(ob_managed_dict));
    printf("        .unicode = { .state = %s, .length = %s, .ascii_size = %ld, .compact_size = %ld,\n"
           "                     .data = %s, .char_size = %ld },\n",
           o(u_state), o(u_length), u_ascii_size, u_compact_size, o(u_data), u_char_size);
    printf("        .intobj = { .ival = %s },\n", o(int_ival));
    printf("        .tuple = { .ob_item = %s },\n", o(tuple_ob_item));
    printf("        .list = { .ob_item = %s },\n", o(list_ob_item));
    printf("        .bytes = { .ob_sval = %s },\n", o(bytes_ob_sval));
    printf("        .floatobj = { .ob_fval = %s },\n", o(float_ob_fval));
    printf("        .longobj = { .digits = %s, .lv_tag = %s },\n", o(long_digits), o(long_lv_tag));
    printf("        .dict = { .ma_used = %s, .ma_keys = %s, .ma_values = %s,\n"
           "                  .dk_size = %s, .dk_log2_size = %s, .dk_log2_index_bytes = %s,\n"
           "                  .dk_kind = %s, .dk_nentries = %s, .dk_indices = %s,\n"
           "                  .entry_size = %ld, .unicode_entry_size = %ld,\n"
           "                  .values_values = %s, .ma_mask = %s, .ma_table = %s },\n",
           o(d_ma_used), o(d_ma_keys), o(d_ma_values), o(d_dk_size), o(d_dk_log2_size),
           o(d_dk_log2_index_bytes), o(d_dk_kind), o(d_dk_nentries), o(d_dk_indices),
           d_entry_size, d_unicode_entry_size, o(d_values_values), o(d_ma_mask), o(d_ma_table));
    printf("        .more = { .tp_dict = %s, .ht_qualname = %s, .cell_ref = %s, .set_mask = %s,\n"
           "                  .set_table = %s, .range_start = %s, .bytearray_start = %s,\n"
           "                  .complex_cval = %s, .func_qualname = %s, .str_hash = %ld,\n"
           "                  .str_hash_cache = %s, .set_key = %s, .func_name = %s,\n"
           "                  .in_class = %s, .cl_name = %s, .cl_dict = %s },\n",
           o(m_tp_dict), o(m_ht_qualname), o(m_cell_ref), o(m_set_mask), o(m_set_table),
           o(m_range_start), o(m_bytearray_start), o(m_complex_cval), o(m_func_qualname),
           m_str_hash, o(m_str_hash_cache), o(m_set_key), o(m_func_name), o(m_in_class),
           o(m_cl_name), o(m_cl_dict));
    printf("        .threading = { .name_attr = \"%s\", .daemonic_attr = \"%s\" },\n",
           thread_name_attr, thread_daemonic_attr);
    printf("        .reprs = { .text_type = \"%s\", .bytes_type = \"%s\", .text_prefix = \"%s\",\n"
           "                   .bytes_prefix = \"%s\", .long_suffix = \"%s\", .builtins = \"%s\",\n"
           "                   .builtin_type_word = \"%s\", .text_ascii = %d, .set_literal = %d },\n",
           r_text_type, r_bytes_type, r_text_prefix, r_bytes_prefix, r_long_suffix, r_builtins,
           r_type_word, r_text_ascii, r_set_literal);
    printf("    }");
    return ferror(stdout) ? 1 : 0;
}
