/* What the stdlib reprs (repr_stdlib.c) know of one CPython version's object layouts (x86-64).
 *
 * PyDecObject + mpd_t, dequeobject, partialobject, lockobject, PatternObject,
 * PyMemoryViewObject, the exception and traceback objects and the thread state's exc_info are
 * in no installed header (or in private ones that changed between releases): the table
 * (repr_offsets.c) was measured on each interpreter by tools/gen-repr-offsets.py. Offsets are
 * from the start of an object of the build measured, whose header puts ob_type at ob_type (8
 * in a release build, 24 in a free-threaded one); a Py_TRACE_REFS build's longer head shifts
 * them by the difference. A row is used for a type only when that type's tp_basicsize equals
 * the size measured with it (size_* fields), so a patch release that changed a struct is
 * caught (3.13.0's lock is not 3.13.18's). */
#ifndef PYSNAP_REPR_OFFSETS_H
#define PYSNAP_REPR_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "pysnap/pyoffsets.h"

struct ps_repr_offsets {
    uint8_t major, minor;
    uint8_t free_threaded;      /* a --disable-gil build's row (3.13t) */
    ps_off ob_type;             /* PyObject.ob_type in the build measured: its header's size */
    /* datetime (Include/datetime.h): packed big-endian data bytes after hash + hastzinfo */
    ps_off date_data, time_data, time_hastz, time_fold, time_tzinfo;
    ps_off datetime_data, datetime_fold, datetime_tzinfo;
    ps_off delta_days;          /* int days, seconds, microseconds follow */
    uint8_t delta_positional;   /* repr timedelta(-1, 5, 7), not days=-1, ... (3.6) */
    ps_off tz_offset, tz_name;  /* PyDateTime_TimeZone */
    ps_off zoneinfo_key;        /* zoneinfo.ZoneInfo (3.9+, else PS_OFF_NONE): its key */
    /* _decimal: PyDecObject.dec (mpd_t): uint8 flags, int64 exp, digits, len, data words */
    ps_off dec_flags, dec_exp, dec_digits, dec_len, dec_data;
    /* collections */
    ps_off deque_leftblock, deque_rightblock, deque_leftindex, deque_rightindex, deque_maxlen;
    ps_off deque_block_data;    /* items inside a block (after its leftlink) */
    int32_t deque_blocklen;     /* items per block; the rightlink follows them */
    ps_off odict_first;         /* PyODictObject.od_first (a node: key, hash, next, prev) */
    ps_off defdict_factory;
    ps_off partial_fn, partial_args, partial_kw;
    ps_off pattern_pattern, pattern_flags; /* _sre PatternObject: source object, int flags */
    ps_off memory_flags;        /* PyMemoryViewObject.flags: 1 once released */
    ps_off lock_locked;         /* _thread.lock: the byte that says locked */
    int32_t lock_locked_bit;
    ps_off rlock_owner, rlock_count;
    int32_t rlock_count_bias;   /* 3.14+ keep count - 1 (a _PyRecursiveMutex level) */
    ps_off method_func, method_self, slice_start, namespace_dict, module_dict;
    ps_off cfunc_ml, cfunc_self; /* PyCFunctionObject: its PyMethodDef (name first), m_self */
    ps_off exc_args, exc_traceback;
    uint8_t exc_one_comma;      /* one argument shown as a tuple: ValueError('x',) (3.6) */
    ps_off tb_next, tb_frame, tb_lasti, tb_lineno;
    ps_off frameobj_iframe;     /* 3.11+: PyFrameObject.f_frame, else PS_OFF_NONE (f_code) */
    ps_off tstate_exc_info;     /* PyThreadState.exc_info (_PyErr_StackItem *), 3.7+ */
    ps_off tstate_exc_state;    /* else (3.6): the item inside the thread state (exc_type,
                                   exc_value, exc_traceback), PS_OFF_NONE from 3.7 */
    ps_off excitem_value;
    ps_off excitem_previous;    /* the next item out; PS_OFF_NONE when there is no chain */
    ps_off tp_mro;              /* PyTypeObject.tp_mro */
    ps_off memberdescr_def, memberdef_offset; /* PyMemberDescrObject.d_member, PyMemberDef.offset */
    ps_off func_code, func_dict, func_module;
    /* tp_basicsize of each type, as measured with this row */
    int32_t size_date, size_time, size_datetime, size_timedelta, size_timezone, size_decimal;
    int32_t size_deque, size_odict, size_defdict, size_partial, size_pattern, size_memory;
    int32_t size_lock, size_rlock, size_zoneinfo;
};

/* The I-th row for MAJOR.MINOR of a GIL or a FREE_THREADED build (several when a patch
 * release changed a layout), NULL past the last. */
const struct ps_repr_offsets *ps_repr_offsets(int major, int minor, int free_threaded,
                                              unsigned i);

#endif
