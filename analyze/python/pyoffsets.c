/* Choosing a version's layout table, and overlaying a 3.13+ interpreter's own
 * _Py_DebugOffsets onto it after validation (pystack's rule: trust nothing unchecked). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/pyoffsets.h"

extern const struct ps_pyoffsets ps_pyoffsets_tables[];
extern const unsigned ps_pyoffsets_ntables;

const struct ps_pyoffsets *ps_pyoffsets_for(int major, int minor, int free_threaded)
{
    for (unsigned i = 0; i < ps_pyoffsets_ntables; i++) {
        const struct ps_pyoffsets *t = &ps_pyoffsets_tables[i];
        if (t->major == major && t->minor == minor && !t->debug_build &&
            t->free_threaded == !!free_threaded)
            return t;
    }
    return NULL;
}

const struct ps_pyoffsets *ps_pyoffsets_builtin(int major, int minor)
{
    return ps_pyoffsets_for(major, minor, 0);
}

int ps_pyoffsets_debug_free_threaded(const void *raw, size_t len)
{
    uint64_t ft;
    if (len < 24 || memcmp(raw, "xdebugpy", 8) != 0)
        return 0;
    memcpy(&ft, (const char *)raw + 16, 8); /* the word after the version */
    return ft != 0;
}

const struct ps_pyoffsets *ps_pyoffsets_candidate(int major, int minor, unsigned i)
{
    const struct ps_pyoffsets *release = ps_pyoffsets_builtin(major, minor);
    if (i == 0)
        return release;
    for (unsigned j = 0; j < ps_pyoffsets_ntables; j++) {
        const struct ps_pyoffsets *t = &ps_pyoffsets_tables[j];
        if (t->major == major && t->minor == minor && t->debug_build && !t->free_threaded &&
            --i == 0)
            return t;
    }
    return NULL;
}

const struct ps_pyoffsets *ps_pyoffsets_nearest_below(int major, int minor)
{
    const struct ps_pyoffsets *best = NULL;
    for (unsigned i = 0; i < ps_pyoffsets_ntables; i++) {
        const struct ps_pyoffsets *t = &ps_pyoffsets_tables[i];
        if (t->debug_build || t->free_threaded || t->major != major || t->minor > minor)
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
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%d.%d%s", n ? ", " : "", t->major,
                              t->minor, t->free_threaded ? "t" : "");
    }
    return list;
}

/* _Py_DebugOffsets is "xdebugpy" followed by uint64 words: the version, whether the build is
 * free-threaded, then one group per structure (its size word, then the offsets of its
 * fields). Each layout below maps word indexes to our fields, read off the struct in that
 * version's Include/internal/pycore_debug_offsets.h (3.13: pycore_runtime.h). A field's value
 * must lie inside its group's size word. Word indexes count from the version word (0). */
#define DBG_COOKIE "xdebugpy"
#define FIELD(member) offsetof(struct ps_pyoffsets, member)

struct dbg_map {
    unsigned word;     /* index of the uint64 after the cookie */
    unsigned size_word;/* index of its group's size word */
    size_t field;      /* offsetof the ps_off in struct ps_pyoffsets */
};

/* One version's layout: the field map plus the words that need arithmetic, not a copy. */
struct dbg_layout {
    unsigned version;            /* major << 8 | minor */
    unsigned nwords;             /* words after the cookie: sizeof(_Py_DebugOffsets)/8 - 1 */
    const struct dbg_map *map;
    size_t nmap;
    unsigned interp_size;        /* interpreter_state.size */
    unsigned gil_state;          /* interpreter_state.gil_runtime_state (embedded _gil) */
    unsigned gil_locked;         /* interpreter_state.gil_runtime_state_locked */
    unsigned gil_holder;         /* interpreter_state.gil_runtime_state_holder */
    unsigned ascii_size;         /* unicode_object.asciiobject_size */
    unsigned compact_size;       /* unicode_object.compactunicodeobject_size, 0 if absent */
};

/* 3.13's layout (Include/internal/pycore_runtime.h). */
static const struct dbg_map map_313[] = {
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

/* 3.14's layout (Include/internal/pycore_debug_offsets.h): interpreter_state gained
 * threads_main (9) and code_object_generation/tlbc_generation, thread_state prev (22),
 * datastack_chunk and status, interpreter_frame stackpointer and tlbc_index, code_object
 * co_tlbc; tuple_object an ob_size; new groups: set_object (61-64), gen_object (82-85),
 * llist_node and debugger_support (86-93). */
static const struct dbg_map map_314[] = {
    {4, 2, FIELD(runtime.interpreters_head)},
    {6, 5, FIELD(interp.id)},
    {7, 5, FIELD(interp.next)},
    {8, 5, FIELD(interp.threads_head)},
    {10, 5, FIELD(interp.gc)},
    {11, 5, FIELD(interp.modules)},
    {14, 5, FIELD(interp.gil_ptr)},
    {23, 21, FIELD(tstate.next)},
    {24, 21, FIELD(tstate.interp)},
    {25, 21, FIELD(tstate.frame)},
    {26, 21, FIELD(tstate.thread_id)},
    {27, 21, FIELD(tstate.native_thread_id)},
    {31, 30, FIELD(iframe.previous)},
    {32, 30, FIELD(iframe.code)},
    {33, 30, FIELD(iframe.instr)},
    {34, 30, FIELD(iframe.localsplus)},
    {35, 30, FIELD(iframe.owner)},
    {39, 38, FIELD(code.filename)},
    {40, 38, FIELD(code.name)},
    {41, 38, FIELD(code.qualname)},
    {42, 38, FIELD(code.linetable)},
    {43, 38, FIELD(code.firstlineno)},
    {44, 38, FIELD(code.argcount)},
    {45, 38, FIELD(code.localsplusnames)},
    {46, 38, FIELD(code.localspluskinds)},
    {47, 38, FIELD(code.code_adaptive)},
    {50, 49, FIELD(object.ob_type)},
    {52, 51, FIELD(object.tp_name)},
    {54, 51, FIELD(object.tp_flags)},
    {56, 55, FIELD(tuple.ob_item)},
    {57, 55, FIELD(object.ob_size)},
    {59, 58, FIELD(list.ob_item)},
    {66, 65, FIELD(dict.ma_keys)},
    {67, 65, FIELD(dict.ma_values)},
    {69, 68, FIELD(floatobj.ob_fval)},
    {71, 70, FIELD(longobj.lv_tag)},
    {72, 70, FIELD(longobj.digits)},
    {75, 73, FIELD(bytes.ob_sval)},
    {77, 76, FIELD(unicode.state)},
    {78, 76, FIELD(unicode.length)},
    {81, 80, FIELD(gc.collecting)},
};

/* 3.15's layout: thread_state gained base_frame (26), last_profiled_frame(_seq),
 * holds_gil, gil_requested, current_exception, exc_state; a one-word err_stackitem group
 * (37); type_object tp_basicsize and tp_dictoffset; a heap_type_object group (65-66);
 * unicode_object compactunicodeobject_size; gc frame and generation stats. */
static const struct dbg_map map_315[] = {
    {4, 2, FIELD(runtime.interpreters_head)},
    {6, 5, FIELD(interp.id)},
    {7, 5, FIELD(interp.next)},
    {8, 5, FIELD(interp.threads_head)},
    {10, 5, FIELD(interp.gc)},
    {11, 5, FIELD(interp.modules)},
    {14, 5, FIELD(interp.gil_ptr)},
    {23, 21, FIELD(tstate.next)},
    {24, 21, FIELD(tstate.interp)},
    {25, 21, FIELD(tstate.frame)},
    {29, 21, FIELD(tstate.thread_id)},
    {30, 21, FIELD(tstate.native_thread_id)},
    {39, 38, FIELD(iframe.previous)},
    {40, 38, FIELD(iframe.code)},
    {41, 38, FIELD(iframe.instr)},
    {42, 38, FIELD(iframe.localsplus)},
    {43, 38, FIELD(iframe.owner)},
    {47, 46, FIELD(code.filename)},
    {48, 46, FIELD(code.name)},
    {49, 46, FIELD(code.qualname)},
    {50, 46, FIELD(code.linetable)},
    {51, 46, FIELD(code.firstlineno)},
    {52, 46, FIELD(code.argcount)},
    {53, 46, FIELD(code.localsplusnames)},
    {54, 46, FIELD(code.localspluskinds)},
    {55, 46, FIELD(code.code_adaptive)},
    {58, 57, FIELD(object.ob_type)},
    {60, 59, FIELD(object.tp_name)},
    {62, 59, FIELD(object.tp_flags)},
    {63, 59, FIELD(object.tp_basicsize)},
    {64, 59, FIELD(object.tp_dictoffset)},
    {66, 65, FIELD(object.ht_cached_keys)},
    {68, 67, FIELD(tuple.ob_item)},
    {69, 67, FIELD(object.ob_size)},
    {71, 70, FIELD(list.ob_item)},
    {78, 77, FIELD(dict.ma_keys)},
    {79, 77, FIELD(dict.ma_values)},
    {81, 80, FIELD(floatobj.ob_fval)},
    {83, 82, FIELD(longobj.lv_tag)},
    {84, 82, FIELD(longobj.digits)},
    {87, 85, FIELD(bytes.ob_sval)},
    {89, 88, FIELD(unicode.state)},
    {90, 88, FIELD(unicode.length)},
    {94, 93, FIELD(gc.collecting)},
    {95, 93, FIELD(gc.frame)},
};

#define N(a) (sizeof a / sizeof a[0])
static const struct dbg_layout layouts[] = {
    {.version = 0x030d, .nwords = 72, .map = map_313, .nmap = N(map_313), .interp_size = 5,
     .gil_state = 14, .gil_locked = 16, .gil_holder = 17, .ascii_size = 69, .compact_size = 0},
    {.version = 0x030e, .nwords = 94, .map = map_314, .nmap = N(map_314), .interp_size = 5,
     .gil_state = 15, .gil_locked = 17, .gil_holder = 18, .ascii_size = 79, .compact_size = 0},
    {.version = 0x030f, .nwords = 110, .map = map_315, .nmap = N(map_315), .interp_size = 5,
     .gil_state = 15, .gil_locked = 17, .gil_holder = 18, .ascii_size = 91, .compact_size = 92},
};
#define DBG_MAX_WORDS 110
#define DBG_W_VERSION 0
#define DBG_W_FREE_THREADED 1

/* Sizes above this are not a real CPython's: refuse rather than trust. */
#define DBG_MAX_STRUCT 0x100000

static const struct dbg_layout *find_layout(uint64_t dver)
{
    for (size_t i = 0; i < N(layouts); i++)
        if (layouts[i].version == ((dver >> 16) & 0xffff))
            return &layouts[i];
    return NULL;
}

size_t ps_pyoffsets_debug_size(const void *head, size_t len)
{
    uint64_t dver;
    if (len < 16 || memcmp(head, DBG_COOKIE, 8) != 0)
        return 0;
    memcpy(&dver, (const char *)head + 8, 8);
    const struct dbg_layout *l = find_layout(dver);
    return l ? 8 + (size_t)l->nwords * 8 : 0;
}

int ps_pyoffsets_apply_debug(struct ps_pyoffsets *off, const void *raw, size_t len,
                             uint32_t version_hex)
{
    const unsigned char *p = raw;
    uint64_t w[DBG_MAX_WORDS];
    if (len < 16 || memcmp(p, DBG_COOKIE, 8) != 0)
        return ps_error_set(PS_UNSUPPORTED, "no _Py_DebugOffsets at the start of _PyRuntime");
    /* Only the version word is known to be there: the caller read as much as the layout
     * of that version says, which is just the cookie and the version for an unknown one. */
    memcpy(w, p + 8, 8);
    uint32_t dver = (uint32_t)w[DBG_W_VERSION];
    if ((dver >> 16) != (version_hex >> 16))
        return ps_error_set(PS_UNSUPPORTED,
                            "_Py_DebugOffsets say version %x, the runtime says %x",
                            dver >> 16, version_hex >> 16);
    const struct dbg_layout *l = find_layout(dver);
    if (!l)
        return ps_error_set(PS_UNSUPPORTED, "unknown _Py_DebugOffsets layout for %u.%u",
                            dver >> 24, (dver >> 16) & 0xff);
    if (len < 8 + (size_t)l->nwords * 8)
        return ps_error_set(PS_UNSUPPORTED, "_Py_DebugOffsets of %u.%u truncated (%zu bytes)",
                            dver >> 24, (dver >> 16) & 0xff, len);
    memcpy(w, p + 8, (size_t)l->nwords * 8);
    if (!w[DBG_W_FREE_THREADED] != !off->free_threaded)
        return ps_error_set(PS_UNSUPPORTED, "_Py_DebugOffsets say %s build, the table is for %s",
                            w[DBG_W_FREE_THREADED] ? "a free-threaded" : "a GIL",
                            off->free_threaded ? "a free-threaded one" : "a GIL one");
    for (size_t i = 0; i < l->nmap; i++) {
        const struct dbg_map *m = &l->map[i];
        uint64_t size = w[m->size_word], v = w[m->word];
        if (size == 0 || size > DBG_MAX_STRUCT || v >= size)
            return ps_error_set(PS_UNSUPPORTED,
                                "_Py_DebugOffsets word %u (%llu) outside its structure (%llu)",
                                m->word, (unsigned long long)v, (unsigned long long)size);
    }
    for (size_t i = 0; i < l->nmap; i++)
        *(ps_off *)((char *)off + l->map[i].field) = (ps_off)w[l->map[i].word];
    /* The GIL fields are given relative to the interpreter; we want them relative to the
     * gil state that interp->ceval.gil points to. */
    uint64_t gil = w[l->gil_state], isz = w[l->interp_size];
    uint64_t locked = w[l->gil_locked], holder = w[l->gil_holder];
    if (gil < isz && locked >= gil && holder >= gil && locked < isz && holder < isz) {
        off->gil.locked = (ps_off)(locked - gil);
        off->gil.last_holder = (ps_off)(holder - gil);
    }
    if (w[l->ascii_size] > 0 && w[l->ascii_size] < 256)
        off->unicode.ascii_size = (int32_t)w[l->ascii_size];
    if (l->compact_size && w[l->compact_size] > 0 && w[l->compact_size] < 256)
        off->unicode.compact_size = (int32_t)w[l->compact_size];
    return PS_OK;
}
