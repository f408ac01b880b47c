/* Choosing a version's layout table, and overlaying a 3.13+ interpreter's own
 * _Py_DebugOffsets onto it after validation (pystack's rule: trust nothing unchecked). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/pyoffsets.h"

extern const struct ps_pyoffsets ps_pyoffsets_tables[];
extern const unsigned ps_pyoffsets_ntables;

const struct ps_pyoffsets *ps_pyoffsets_builtin(int major, int minor)
{
    for (unsigned i = 0; i < ps_pyoffsets_ntables; i++)
        if (ps_pyoffsets_tables[i].major == major && ps_pyoffsets_tables[i].minor == minor &&
            !ps_pyoffsets_tables[i].debug_build)
            return &ps_pyoffsets_tables[i];
    return NULL;
}

const struct ps_pyoffsets *ps_pyoffsets_nearest_below(int major, int minor)
{
    const struct ps_pyoffsets *best = NULL;
    for (unsigned i = 0; i < ps_pyoffsets_ntables; i++) {
        const struct ps_pyoffsets *t = &ps_pyoffsets_tables[i];
        if (t->debug_build || t->major != major || t->minor > minor)
            continue;
        if (!best || t->minor > best->minor)
            best = t;
    }
    return best;
}

const char *ps_pyoffsets_supported_list(void)
{
    static char list[256];
    size_t n = 0;
    list[0] = '\0';
    for (unsigned i = 0; i < ps_pyoffsets_ntables && n < sizeof list - 16; i++) {
        const struct ps_pyoffsets *t = &ps_pyoffsets_tables[i];
        if (t->debug_build)
            continue;
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%d.%d", n ? ", " : "", t->major,
                              t->minor);
    }
    return list;
}

/* _Py_DebugOffsets is "xdebugpy" followed by uint64 words. Each layout below maps word
 * indexes to our fields. A field's value must lie inside the size word of its group. */
#define DBG_COOKIE "xdebugpy"
#define FIELD(member) offsetof(struct ps_pyoffsets, member)
#define NO_FIELD ((size_t)-1)

struct dbg_map {
    unsigned word;     /* index of the uint64 after the cookie */
    unsigned size_word;/* index of its group's size word */
    size_t field;      /* offsetof the ps_off in struct ps_pyoffsets */
};

/* 3.13's layout (Include/internal/pycore_runtime.h). */
static const struct dbg_map layout_313[] = {
    {4, 2, FIELD(runtime.interpreters_head)},
    {6, 5, FIELD(interp.id)},
    {7, 5, FIELD(interp.next)},
    {8, 5, FIELD(interp.threads_head)},
    {9, 5, FIELD(interp.gc)},
    {10, 5, FIELD(interp.modules)},
    {13, 5, FIELD(interp.gil_ptr)},
    {20, 18, FIELD(tstate.next)},
    {21, 18, FIELD(tstate.interp)},
    {22, 18, FIELD(tstate.frame)},
    {23, 18, FIELD(tstate.thread_id)},
    {24, 18, FIELD(tstate.native_thread_id)},
    {28, 27, FIELD(iframe.previous)},
    {29, 27, FIELD(iframe.code)},
    {30, 27, FIELD(iframe.instr)},
    {31, 27, FIELD(iframe.localsplus)},
    {32, 27, FIELD(iframe.owner)},
    {34, 33, FIELD(code.filename)},
    {35, 33, FIELD(code.name)},
    {36, 33, FIELD(code.qualname)},
    {37, 33, FIELD(code.linetable)},
    {38, 33, FIELD(code.firstlineno)},
    {39, 33, FIELD(code.argcount)},
    {40, 33, FIELD(code.localsplusnames)},
    {41, 33, FIELD(code.localspluskinds)},
    {42, 33, FIELD(code.code_adaptive)},
    {44, 43, FIELD(object.ob_type)},
    {46, 45, FIELD(object.tp_name)},
    {48, 45, FIELD(object.tp_flags)},
    {50, 49, FIELD(tuple.ob_item)},
    {53, 52, FIELD(list.ob_item)},
    {56, 55, FIELD(dict.ma_keys)},
    {57, 55, FIELD(dict.ma_values)},
    {59, 58, FIELD(floatobj.ob_fval)},
    {61, 60, FIELD(longobj.lv_tag)},
    {62, 60, FIELD(longobj.digits)},
    {65, 63, FIELD(bytes.ob_sval)},
    {67, 66, FIELD(unicode.state)},
    {68, 66, FIELD(unicode.length)},
    {71, 70, FIELD(gc.collecting)},
};
#define LAYOUT_313_WORDS 72
#define DBG_W_VERSION 0
#define DBG_W_FREE_THREADED 1
#define DBG_313_GIL_STATE 14
#define DBG_313_GIL_LOCKED 16
#define DBG_313_GIL_HOLDER 17
#define DBG_313_ASCII_SIZE 69
#define DBG_313_INTERP_SIZE 5

/* Sizes above this are not a real CPython's: refuse rather than trust. */
#define DBG_MAX_STRUCT 0x100000

int ps_pyoffsets_apply_debug(struct ps_pyoffsets *off, const void *raw, size_t len,
                             uint32_t version_hex)
{
    const unsigned char *p = raw;
    if (len < 8 + LAYOUT_313_WORDS * 8 || memcmp(p, DBG_COOKIE, 8) != 0)
        return ps_error_set(PS_UNSUPPORTED, "no _Py_DebugOffsets at the start of _PyRuntime");
    uint64_t w[LAYOUT_313_WORDS];
    memcpy(w, p + 8, sizeof w);
    uint32_t dver = (uint32_t)w[DBG_W_VERSION];
    if ((dver >> 16) != (version_hex >> 16))
        return ps_error_set(PS_UNSUPPORTED,
                            "_Py_DebugOffsets say version %x, the runtime says %x",
                            dver >> 16, version_hex >> 16);
    if (w[DBG_W_FREE_THREADED])
        return ps_error_set(PS_UNSUPPORTED,
                            "free-threaded CPython builds are not supported yet");
    /* Only the 3.13 layout is known so far; newer layouts get their own table here. */
    if ((dver >> 16) != 0x030d)
        return ps_error_set(PS_UNSUPPORTED, "unknown _Py_DebugOffsets layout for %u.%u",
                            dver >> 24, (dver >> 16) & 0xff);
    for (size_t i = 0; i < sizeof layout_313 / sizeof layout_313[0]; i++) {
        const struct dbg_map *m = &layout_313[i];
        uint64_t size = w[m->size_word], v = w[m->word];
        if (size == 0 || size > DBG_MAX_STRUCT || v >= size)
            return ps_error_set(PS_UNSUPPORTED,
                                "_Py_DebugOffsets word %u (%llu) outside its structure (%llu)",
                                m->word, (unsigned long long)v, (unsigned long long)size);
    }
    for (size_t i = 0; i < sizeof layout_313 / sizeof layout_313[0]; i++)
        *(ps_off *)((char *)off + layout_313[i].field) = (ps_off)w[layout_313[i].word];
    /* The GIL fields are given relative to the interpreter; we want them relative to the
     * gil state that interp->ceval.gil points to. */
    uint64_t gil = w[DBG_313_GIL_STATE], isz = w[DBG_313_INTERP_SIZE];
    if (gil < isz && w[DBG_313_GIL_LOCKED] >= gil && w[DBG_313_GIL_HOLDER] >= gil &&
        w[DBG_313_GIL_LOCKED] < isz && w[DBG_313_GIL_HOLDER] < isz) {
        off->gil.locked = (ps_off)(w[DBG_313_GIL_LOCKED] - gil);
        off->gil.last_holder = (ps_off)(w[DBG_313_GIL_HOLDER] - gil);
    }
    if (w[DBG_313_ASCII_SIZE] > 0 && w[DBG_313_ASCII_SIZE] < 256)
        off->unicode.ascii_size = (int32_t)w[DBG_313_ASCII_SIZE];
    return PS_OK;
}
