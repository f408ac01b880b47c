/* The walk: _PyRuntime -> interpreters -> thread states -> frames, plus each thread's name
 * (threading._active), the GIL holder and whether the GC runs. Reads only through the
 * memory source and the version's offsets table; every loop is bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "walker_internal.h"

/* glibc x86-64: struct pthread's kernel tid (exported as _thread_db_pthread_tid). Used only
 * where PyThreadState has no native_thread_id (before 3.11). */
#define GLIBC_PTHREAD_TID_OFFSET 0x2d0
#define MAX_LINETABLE (1u << 20)
#define DEBUG_OFFSETS_MAX 1024 /* the largest known _Py_DebugOffsets (3.15) is 888 bytes */

void ps_walk_limits_default(struct ps_walk_limits *lim)
{
    lim->max_interps = 256;
    lim->max_threads = 16384;
    lim->max_frames = 4096;
    lim->max_name = 1024;
    lim->max_dict = 1u << 16;
    lim->locals = 1;
    lim->requests = 1;
    lim->max_locals = 64;
    lim->max_str = 256;
    lim->max_items = 32;
    lim->max_depth = 3;
    lim->max_repr = 2048;
    lim->max_attrs = 32;
    lim->budget = 4u << 20;
    lim->redact = PS_REDACT_DEFAULT;
}

/* The limits that change what a walk reads, as the snapshot stores them. */
#define LIMIT_FIELDS(X) \
    X(max_interps) X(max_threads) X(max_frames) X(max_name) X(max_dict) X(locals) X(requests) \
    X(max_locals) X(max_str) X(max_items) X(max_depth) X(max_repr) X(max_attrs) X(budget)

void ps_walk_limits_format(const struct ps_walk_limits *lim, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
#define FORMAT_FIELD(f)                                                                     \
    if (n < size)                                                                           \
        n += (size_t)snprintf(buf + n, size - n, "%s%s=%llu", n ? " " : "", #f,           \
                              (unsigned long long)lim->f);
    LIMIT_FIELDS(FORMAT_FIELD)
#undef FORMAT_FIELD
}

void ps_walk_limits_parse(struct ps_walk_limits *lim, const char *s)
{
    while (s && *s) {
        char key[32];
        unsigned long long v;
        int used = 0;
        if (sscanf(s, " %31[a-z_]=%llu%n", key, &v, &used) != 2 || used <= 0)
            break;
        s += used;
#define PARSE_FIELD(f)                                                                      \
    if (strcmp(key, #f) == 0)                                                               \
        lim->f = (__typeof__(lim->f))(v > (__typeof__(lim->f))-1 ? (__typeof__(lim->f))-1 : v);
        LIMIT_FIELDS(PARSE_FIELD)
#undef PARSE_FIELD
    }
}

int ps_walk_redacts(struct ps_walker *w, const char *name)
{
    return w->redact_on && regexec(&w->redact_re, name, 0, NULL, 0) == 0;
}

struct code_info {
    char *name, *qualname, *file;
    int firstlineno;
    int firsttraceable;
    uint64_t code_start; /* first instruction (3.11+) */
    unsigned char *lines;
    size_t nlines;
};

static void code_info_free(void *p)
{
    struct code_info *ci = p;
    free(ci->name);
    free(ci->qualname);
    free(ci->file);
    free(ci->lines);
    free(ci);
}

static int read_name(struct ps_walker *w, uint64_t code, ps_off off, char **out)
{
    uint64_t obj;
    int rc;
    *out = NULL;
    if (off == PS_OFF_NONE)
        return PS_OK;
    if ((rc = ps_w_field_u64(w, code, off, &obj)))
        return rc;
    return ps_py_str(w, obj, w->lim.max_name, out, NULL);
}

static int load_code(struct ps_walker *w, uint64_t code, const struct code_info **out)
{
    const struct ps_pyoffsets *o = &w->off;
    struct code_info *ci = ps_u64map_get(&w->codes, code);
    if (ci) {
        *out = ci;
        return PS_OK;
    }
    if (!ps_py_is(w, code, "code"))
        return PS_CORRUPT;
    if (!(ci = calloc(1, sizeof *ci)))
        return PS_NOMEM;
    uint64_t table;
    int rc;
    if ((rc = read_name(w, code, o->code.name, &ci->name)) ||
        (rc = read_name(w, code, o->code.qualname, &ci->qualname)) ||
        (rc = read_name(w, code, o->code.filename, &ci->file)) ||
        (rc = ps_w_field_i32(w, code, o->code.firstlineno, &ci->firstlineno)) ||
        (rc = ps_w_field_u64(w, code, o->code.linetable, &table)) ||
        (rc = ps_py_bytes(w, table, MAX_LINETABLE, &ci->lines, &ci->nlines)))
        goto fail;
    if (o->code.firsttraceable != PS_OFF_NONE &&
        (rc = ps_w_field_i32(w, code, o->code.firsttraceable, &ci->firsttraceable)))
        goto fail;
    if (o->code.code_adaptive != PS_OFF_NONE)
        ci->code_start = code + (uint64_t)o->code.code_adaptive;
    if ((rc = ps_u64map_put(&w->codes, code, ci)))
        goto fail;
    *out = ci;
    return PS_OK;
fail:
    code_info_free(ci);
    return rc;
}

static int fill_python_frame(struct ps_frame *f, const struct code_info *ci, int line)
{
    f->kind = PS_FRAME_PYTHON;
    f->line = line;
    f->function = strdup(ci->name ? ci->name : "?");
    f->file = strdup(ci->file ? ci->file : "?");
    f->qualname = ci->qualname ? strdup(ci->qualname) : NULL;
    if (!f->function || !f->file || (ci->qualname && !f->qualname))
        return PS_NOMEM;
    return PS_OK;
}

/* CO_FAST_* kinds of co_localspluskinds (3.11+). */
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80
/* Our mark on a slot's kind: the slot holds a cell (a cell or free variable, or an argument
 * captured by a closure), whose contents are the value. */
#define SLOT_CELL 0x80

/* 3.14+ _PyStackRef (Include/internal/pycore_stackref.h, GIL build): low bits 0b11 are an int
 * held in the upper bits (PyStackRef_TagInt); otherwise the tag bits (0b01: no reference
 * owned; PyStackRef_NULL is just 0b01) are cleared to get the object. */
#define STACKREF_INT_TAG 3u
#define STACKREF_INT_SHIFT 2

/* Fill F's locals from N slots: VALUES (the frame's fast locals, _PyStackRefs when MASK is
 * non-zero), NAMES (str objects), KINDS (enum ps_local_kind, | SLOT_CELL). Cells are
 * dereferenced; empty slots are unbound. */
static int render_locals(struct ps_walker *w, struct ps_frame *f, const uint64_t *values,
                         const uint64_t *names, const uint8_t *kinds, size_t n, uint64_t mask)
{
    if (!(f->locals = calloc(n ? n : 1, sizeof *f->locals)))
        return PS_NOMEM;
    for (size_t i = 0; i < n; i++) {
        struct ps_value *v = &f->locals[f->nlocals++];
        v->kind = kinds[i] & ~SLOT_CELL;
        int rc = ps_py_str(w, names[i], w->lim.max_name, &v->name, NULL);
        if (rc == PS_NOMEM)
            return rc;
        if (rc && !(v->name = strdup("?")))
            return PS_NOMEM;
        uint64_t value = values[i];
        if (mask && (value & STACKREF_INT_TAG) == STACKREF_INT_TAG) {
            rc = ps_value_render_tagged_int(w, (int64_t)value >> STACKREF_INT_SHIFT, v);
            if (rc == PS_NOMEM)
                return rc;
            continue;
        }
        value &= ~mask;
        if (value && (kinds[i] & SLOT_CELL) && ps_py_is(w, value, "cell") &&
            ps_w_field_u64(w, value, w->off.more.cell_ref, &value))
            value = 0;
        if (!value) {
            if (ps_walk_redacts(w, v->name))
                v->redacted = 1;
            v->unbound = !v->redacted;
            continue;
        }
        if ((rc = ps_value_render(w, value, !w->no_attrs, v)) == PS_NOMEM)
            return rc;
    }
    return PS_OK;
}

/* co_flags: the function takes *args, **kwargs. */
#define CO_VARARGS 0x4
#define CO_VARKEYWORDS 0x8
/* How many slots, first in the frame, hold the arguments: positional, keyword-only, *args and
 * **kwargs, as inspect counts them. */
static int argument_slots(struct ps_walker *w, uint64_t code, int32_t *out)
{
    const struct ps_pyoffsets *o = &w->off;
    int32_t argcount, kwonly, flags;
    int rc;
    kwonly = 0; /* 2.7 has no keyword-only arguments */
    if ((rc = ps_w_field_i32(w, code, o->code.argcount, &argcount)) ||
        (o->code.kwonlyargcount != PS_OFF_NONE &&
         (rc = ps_w_field_i32(w, code, o->code.kwonlyargcount, &kwonly))) ||
        (rc = ps_w_field_i32(w, code, o->code.flags, &flags)))
        return rc;
    if (argcount < 0 || kwonly < 0 || argcount > 1 << 16 || kwonly > 1 << 16)
        return PS_CORRUPT;
    *out = argcount + kwonly + !!(flags & CO_VARARGS) + !!(flags & CO_VARKEYWORDS);
    return PS_OK;
}

/* Read a tuple's first N item pointers into OUT. */
static int tuple_items(struct ps_walker *w, uint64_t tuple, size_t want, uint64_t *out, size_t *n)
{
    uint64_t size;
    int rc = ps_w_field_u64(w, tuple, w->off.object.ob_size, &size);
    if (rc)
        return rc;
    if ((int64_t)size < 0)
        return PS_CORRUPT;
    *n = size < want ? (size_t)size : want;
    return ps_mem_read(w->mem, tuple + (uint64_t)w->off.tuple.ob_item, out, *n * 8);
}

static int interp_frame_locals(struct ps_walker *w, uint64_t frame, uint64_t code,
                               struct ps_frame *f)
{
    const struct ps_pyoffsets *o = &w->off;
    int32_t nlocalsplus, argcount;
    uint64_t names_obj, kinds_obj;
    int rc;
    if ((rc = ps_w_field_i32(w, code, o->code.nlocalsplus, &nlocalsplus)) ||
        (rc = argument_slots(w, code, &argcount)) ||
        (rc = ps_w_field_u64(w, code, o->code.localsplusnames, &names_obj)) ||
        (rc = ps_w_field_u64(w, code, o->code.localspluskinds, &kinds_obj)))
        return rc;
    if (nlocalsplus < 0 || nlocalsplus > 1 << 20)
        return PS_CORRUPT;
    size_t n = (size_t)nlocalsplus < w->lim.max_locals ? (size_t)nlocalsplus : w->lim.max_locals;
    f->locals_truncated = (size_t)nlocalsplus > n;
    uint64_t *values = calloc(n + 1, 8), *names = calloc(n + 1, 8);
    uint8_t *kinds = calloc(n + 1, 1);
    unsigned char *raw_kinds = NULL;
    size_t nk = 0, nn = 0;
    rc = values && names && kinds ? PS_OK : PS_NOMEM;
    if (!rc)
        rc = ps_mem_read(w->mem, frame + (uint64_t)o->iframe.localsplus, values, n * 8);
    if (!rc)
        rc = tuple_items(w, names_obj, n, names, &nn);
    if (!rc)
        rc = ps_py_bytes(w, kinds_obj, 1u << 20, &raw_kinds, &nk);
    if (!rc && (nn < n || nk < n))
        rc = PS_CORRUPT;
    for (size_t i = 0; !rc && i < n; i++) /* an argument captured by a closure is an arg */
        kinds[i] = (uint8_t)((i < (size_t)argcount               ? PS_LOCAL_ARG
                              : raw_kinds[i] & CO_FAST_FREE ? PS_LOCAL_FREE
                              : raw_kinds[i] & CO_FAST_CELL ? PS_LOCAL_CELL
                                                            : PS_LOCAL_LOCAL) |
                             (raw_kinds[i] & (CO_FAST_CELL | CO_FAST_FREE) ? SLOT_CELL : 0));
    if (!rc)
        rc = render_locals(w, f, values, names, kinds, n, (uint32_t)o->iframe.stackref_mask);
    free(values);
    free(names);
    free(kinds);
    free(raw_kinds);
    return rc;
}

/* 3.8-3.10: an argument captured by a closure is also in co_cellvars: the frame moved its
 * value into that cell and cleared the argument's slot. Show it once, in the argument's
 * place, with the cell's contents (the compiler interns names: the same object in both). */
static size_t merge_arg_cells(uint64_t *names, uint64_t *values, uint8_t *kinds, size_t nvars,
                              size_t ncells, size_t n)
{
    size_t out = nvars;
    for (size_t j = nvars; j < n; j++) {
        int merged = 0;
        for (size_t i = 0; j < nvars + ncells && i < nvars && !merged; i++) {
            if (names[i] == names[j] && kinds[i] == PS_LOCAL_ARG && !values[i]) {
                values[i] = values[j];
                kinds[i] |= SLOT_CELL;
                merged = 1;
            }
        }
        if (!merged) {
            names[out] = names[j];
            values[out] = values[j];
            kinds[out++] = kinds[j];
        }
    }
    return out;
}

/* 3.8-3.10: f_localsplus holds co_varnames, then co_cellvars, then co_freevars. */
static int frameobj_locals(struct ps_walker *w, uint64_t frame, uint64_t code, struct ps_frame *f)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t tuples[3];
    int32_t argcount;
    int rc;
    if ((rc = ps_w_field_u64(w, code, o->code.varnames, &tuples[0])) ||
        (rc = ps_w_field_u64(w, code, o->code.cellvars, &tuples[1])) ||
        (rc = ps_w_field_u64(w, code, o->code.freevars, &tuples[2])) ||
        (rc = argument_slots(w, code, &argcount)))
        return rc;
    size_t max = w->lim.max_locals, n = 0, group_n[3] = {0, 0, 0};
    uint64_t *names = calloc(max + 1, 8), *values = calloc(max + 1, 8);
    uint8_t *kinds = calloc(max + 1, 1);
    rc = names && values && kinds ? PS_OK : PS_NOMEM;
    static const uint8_t group_kind[3] = {PS_LOCAL_LOCAL, PS_LOCAL_CELL | SLOT_CELL,
                                          PS_LOCAL_FREE | SLOT_CELL};
    for (int g = 0; g < 3 && !rc; g++) {
        uint64_t size = 0;
        size_t got = 0;
        if (!tuples[g])
            continue;
        if ((rc = ps_w_field_u64(w, tuples[g], o->object.ob_size, &size)))
            break;
        if (n + size > max)
            f->locals_truncated = 1;
        if ((rc = tuple_items(w, tuples[g], max - n, names + n, &got)))
            break;
        for (size_t i = 0; i < got; i++)
            kinds[n + i] = g == 0 && n + i < (size_t)argcount ? PS_LOCAL_ARG : group_kind[g];
        n += got;
        group_n[g] = got;
    }
    if (!rc)
        rc = ps_mem_read(w->mem, frame + (uint64_t)o->frameobj.localsplus, values, n * 8);
    if (!rc) {
        n = merge_arg_cells(names, values, kinds, group_n[0], group_n[1], n);
        rc = render_locals(w, f, values, names, kinds, n, 0);
    }
    free(names);
    free(values);
    free(kinds);
    return rc;
}

/* Slots looked at when a local is found by name (request.c): beyond the locals limit, since
 * a server's frame may keep the request in a late slot, but bounded. */
#define MAX_NAMED_SLOTS 1024

/* Is NAMES[I] (a tuple's item pointers) the str NAME? */
static int slot_named(struct ps_walker *w, const uint64_t *names, size_t i, const char *name)
{
    int eq = 0;
    return ps_py_str_eq(w, names[i], name, &eq) == PS_OK && eq;
}

/* The value of a cell (3.8-3.10 cell and free variables; 3.11+ slots whose kind says so). */
static uint64_t cell_contents(struct ps_walker *w, uint64_t value)
{
    if (value && ps_py_is(w, value, "cell") &&
        ps_w_field_u64(w, value, w->off.more.cell_ref, &value) == PS_OK)
        return value;
    return 0;
}

static int iframe_local(struct ps_walker *w, uint64_t frame, const char *name, uint64_t *value)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t code, names_obj, kinds_obj;
    int32_t nlocalsplus;
    int rc;
    if ((rc = ps_w_field_u64(w, frame, o->iframe.code, &code)))
        return rc;
    code &= ~(uint64_t)(uint32_t)o->iframe.stackref_mask;
    if ((rc = ps_w_field_i32(w, code, o->code.nlocalsplus, &nlocalsplus)) ||
        (rc = ps_w_field_u64(w, code, o->code.localsplusnames, &names_obj)) ||
        (rc = ps_w_field_u64(w, code, o->code.localspluskinds, &kinds_obj)))
        return rc;
    if (nlocalsplus < 0)
        return PS_CORRUPT;
    size_t want = (size_t)nlocalsplus < MAX_NAMED_SLOTS ? (size_t)nlocalsplus : MAX_NAMED_SLOTS;
    uint64_t names[MAX_NAMED_SLOTS];
    size_t n;
    if ((rc = tuple_items(w, names_obj, want, names, &n)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!slot_named(w, names, i, name))
            continue;
        uint8_t kind;
        if ((rc = ps_mem_u8(w->mem, kinds_obj + (uint64_t)o->bytes.ob_sval + i, &kind)) ||
            (rc = w_u64(w, frame + (uint64_t)o->iframe.localsplus + 8 * i, value)))
            return rc;
        uint64_t mask = (uint32_t)o->iframe.stackref_mask;
        if (mask && (*value & STACKREF_INT_TAG) == STACKREF_INT_TAG)
            *value = 0; /* a tagged int: no object */
        *value &= ~mask;
        if (kind & (CO_FAST_CELL | CO_FAST_FREE) && *value && ps_py_is(w, *value, "cell"))
            *value = cell_contents(w, *value);
        return PS_OK;
    }
    return PS_OK;
}

/* 3.8-3.10: co_varnames, then co_cellvars (cells), then co_freevars (cells). An argument a
 * closure captures has an empty slot under co_varnames and its value in a cell. */
static int frameobj_local(struct ps_walker *w, uint64_t frame, const char *name, uint64_t *value)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t code, tuples[3];
    int rc;
    if ((rc = ps_w_field_u64(w, frame, o->frameobj.code, &code)) ||
        (rc = ps_w_field_u64(w, code, o->code.varnames, &tuples[0])) ||
        (rc = ps_w_field_u64(w, code, o->code.cellvars, &tuples[1])) ||
        (rc = ps_w_field_u64(w, code, o->code.freevars, &tuples[2])))
        return rc;
    uint64_t names[MAX_NAMED_SLOTS];
    size_t base = 0;
    for (int g = 0; g < 3 && base < MAX_NAMED_SLOTS; g++) {
        size_t n = 0;
        if (!tuples[g])
            continue;
        if ((rc = tuple_items(w, tuples[g], MAX_NAMED_SLOTS - base, names, &n)))
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (!slot_named(w, names, i, name))
                continue;
            if ((rc = w_u64(w, frame + (uint64_t)o->frameobj.localsplus + 8 * (base + i), value)))
                return rc;
            if (g > 0)
                *value = cell_contents(w, *value);
            if (*value)
                return PS_OK;
        }
        base += n;
    }
    return PS_OK;
}

int ps_w_frame_local(struct ps_walker *w, uint64_t frame, int frameobj, const char *name,
                     uint64_t *value)
{
    *value = 0;
    return frameobj ? frameobj_local(w, frame, name, value) : iframe_local(w, frame, name, value);
}

/* The instruction offset of a frame object's f_lasti, in the line table's units: f_lasti counts
 * bytes before 3.10 and code units in 3.10, which is also when the line table changed. */
static int64_t lasti_offset(const struct ps_pyoffsets *o, int32_t lasti)
{
    return o->linetable_model == PS_LINES_310 ? (int64_t)lasti * 2 : lasti;
}

/* The tail every era's frame reader shares, once it has read the frame's CODE (CI) and its
 * instruction offset ADDRQ (in the line table's units): F named and numbered from the code,
 * then its locals when asked (those that cannot be read are left out: only running out of
 * memory fails). Reads target memory only through the locals, after the caller's reads. */
static int finish_frame(struct ps_walker *w, uint64_t frame, int frameobj, uint64_t code,
                        const struct code_info *ci, int64_t addrq, struct ps_frame *f)
{
    int line = ps_line_for_offset(w->off.linetable_model, ci->lines, ci->nlines,
                                  ci->firstlineno, addrq);
    int rc = fill_python_frame(f, ci, line);
    if (rc || !w->lim.locals)
        return rc;
    rc = frameobj ? frameobj_locals(w, frame, code, f) : interp_frame_locals(w, frame, code, f);
    return rc == PS_NOMEM ? rc : PS_OK;
}

/* A thread's frame in a walk: a new frame of T through the tail above, then the request it
 * may belong to (RF). */
static int walk_frame(struct ps_walker *w, struct ps_thread *t, struct ps_request_find *rf,
                      uint64_t frame, int frameobj, uint64_t code, const struct code_info *ci,
                      int64_t addrq)
{
    struct ps_frame *f = ps_thread_add_frame(t);
    if (!f)
        return PS_NOMEM;
    f->addr = frameobj ? 0 : frame; /* model.h: the _PyInterpreterFrame's, 3.11+ */
    int rc = finish_frame(w, frame, frameobj, code, ci, addrq, f);
    return rc ? rc : ps_request_frame(w, rf, frame, frameobj, f);
}

/* 3.11+: the _PyInterpreterFrame chain. Shim frames (owned by the C stack; 3.14+ also those
 * owned by the interpreter: eval-loop entry frames and 3.15's base frame inside the thread
 * state) and frames that have not reached their first traceable instruction are skipped, as
 * frame.f_back does. 3.14+ f_executable is a tagged _PyStackRef: its tag bits are cleared. */
static int walk_interp_frames(struct ps_walker *w, uint64_t frame, struct ps_thread *t,
                              struct ps_request_find *rf)
{
    const struct ps_pyoffsets *o = &w->off;
    for (unsigned n = 0; frame; n++) {
        if (n >= w->lim.max_frames) {
            t->frames_truncated = 1;
            return PS_LIMIT;
        }
        uint64_t previous, code, instr;
        uint8_t owner;
        int rc;
        if ((rc = ps_w_field_u64(w, frame, o->iframe.previous, &previous)) ||
            (rc = ps_w_field_u64(w, frame, o->iframe.code, &code)) ||
            (rc = ps_w_field_u64(w, frame, o->iframe.instr, &instr)) ||
            (rc = ps_mem_u8(w->mem, frame + (uint64_t)o->iframe.owner, &owner)))
            return rc;
        code &= ~(uint64_t)(uint32_t)o->iframe.stackref_mask;
        if ((int32_t)owner != o->iframe.owner_cstack &&
            (int32_t)owner != o->iframe.owner_interpreter) {
            const struct code_info *ci;
            if ((rc = load_code(w, code, &ci)))
                return rc;
            uint64_t first = ci->code_start + 2 * (uint64_t)(uint32_t)ci->firsttraceable;
            int incomplete = (int32_t)owner != o->iframe.owner_generator && instr < first;
            if (!incomplete &&
                (rc = walk_frame(w, t, rf, frame, 0, code, ci, (int64_t)(instr - ci->code_start))))
                return rc;
        }
        frame = previous;
    }
    return PS_OK;
}

/* 3.8-3.10: the PyFrameObject chain through f_back. */
static int walk_frame_objects(struct ps_walker *w, uint64_t frame, struct ps_thread *t,
                              struct ps_request_find *rf)
{
    const struct ps_pyoffsets *o = &w->off;
    for (unsigned n = 0; frame; n++) {
        if (n >= w->lim.max_frames) {
            t->frames_truncated = 1;
            return PS_LIMIT;
        }
        uint64_t back, code;
        int32_t lasti;
        const struct code_info *ci;
        int rc;
        if ((rc = ps_w_field_u64(w, frame, o->frameobj.back, &back)) ||
            (rc = ps_w_field_u64(w, frame, o->frameobj.code, &code)) ||
            (rc = ps_w_field_i32(w, frame, o->frameobj.lasti, &lasti)) ||
            (rc = load_code(w, code, &ci)) ||
            (rc = walk_frame(w, t, rf, frame, 1, code, ci, lasti_offset(o, lasti))))
            return rc;
        frame = back;
    }
    return PS_OK;
}

int ps_w_fill_iframe(struct ps_walker *w, uint64_t frame, struct ps_frame *f)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t code, instr;
    const struct code_info *ci;
    int rc;
    if ((rc = ps_w_field_u64(w, frame, o->iframe.code, &code)) ||
        (rc = ps_w_field_u64(w, frame, o->iframe.instr, &instr)))
        return rc;
    code &= ~(uint64_t)(uint32_t)o->iframe.stackref_mask;
    if ((rc = load_code(w, code, &ci)))
        return rc;
    return finish_frame(w, frame, 0, code, ci, (int64_t)(instr - ci->code_start), f);
}

int ps_w_fill_frameobj(struct ps_walker *w, uint64_t frame, struct ps_frame *f)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t code;
    int32_t lasti;
    const struct code_info *ci;
    int rc;
    if ((rc = ps_w_field_u64(w, frame, o->frameobj.code, &code)) ||
        (rc = ps_w_field_i32(w, frame, o->frameobj.lasti, &lasti)) ||
        (rc = load_code(w, code, &ci)))
        return rc;
    return finish_frame(w, frame, 1, code, ci, lasti_offset(o, lasti), f);
}

/* The exception TSTATE is handling and its traceback (values: read only with the locals). */
static int walk_handling(struct ps_walker *w, uint64_t tstate, struct ps_thread *t)
{
    uint64_t exc, tb, next, code;
    int32_t lasti, lineno;
    const struct code_info *ci;
    if (!w->lim.locals || ps_walk_handled_exception(w, tstate, &exc) || !exc)
        return PS_OK;
    if (!(t->handling = calloc(1, sizeof *t->handling)))
        return PS_NOMEM;
    int rc = ps_value_render(w, exc, 0, t->handling);
    if (rc || ps_exception_traceback(w, exc, &tb))
        return rc == PS_NOMEM ? rc : PS_OK;
    for (unsigned n = 0; tb && n < w->lim.max_frames; n++, tb = next) {
        if (ps_traceback_entry(w, tb, &next, &code, &lasti, &lineno) || load_code(w, code, &ci))
            break;
        struct ps_frame *nf = realloc(t->handling_tb, (t->nhandling_tb + 1) * sizeof *nf);
        if (!nf)
            return PS_NOMEM;
        t->handling_tb = nf;
        nf = &nf[t->nhandling_tb++];
        memset(nf, 0, sizeof *nf);
        int line = lineno >= 0 ? lineno
                 : ps_line_for_offset(w->off.linetable_model, ci->lines, ci->nlines,
                                      ci->firstlineno, lasti);
        if ((rc = fill_python_frame(nf, ci, line)))
            return rc;
    }
    return PS_OK;
}

static int walk_thread(struct ps_walker *w, uint64_t tstate, struct ps_thread *t)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t frame, native = 0;
    int rc;
    t->tstate = tstate;
    if ((rc = ps_w_field_u64(w, tstate, o->tstate.thread_id, &t->thread_id)))
        return rc;
    if (o->tstate.native_thread_id != PS_OFF_NONE)
        rc = ps_w_field_u64(w, tstate, o->tstate.native_thread_id, &native);
    else if (t->thread_id) {
        uint32_t tid = 0;
        rc = ps_mem_u32(w->mem, t->thread_id + GLIBC_PTHREAD_TID_OFFSET, &tid);
        native = tid;
    }
    if (rc)
        return rc;
    t->tid = (uint32_t)native;
    if ((rc = ps_w_field_u64(w, tstate, o->tstate.frame, &frame)))
        return rc;
    int32_t py_state;
    if (o->tstate.state != PS_OFF_NONE &&
        ps_w_field_i32(w, tstate, o->tstate.state, &py_state) == PS_OK && py_state >= 0 &&
        py_state <= PS_PY_SUSPENDED)
        t->py_state = (uint8_t)(1 + py_state);
    /* A running state's _PyCFrame is a local of the eval loop: it tells which OS thread
     * runs this state when thread_id does not (report.c). */
    if (o->tstate.cframe != PS_OFF_NONE &&
        (rc = ps_w_field_u64(w, tstate, o->tstate.cframe, &t->cstack_addr)))
        return rc;
    if (frame && o->tstate.cframe_current != PS_OFF_NONE &&
        (rc = ps_w_field_u64(w, frame, o->tstate.cframe_current, &frame)))
        return rc;
    if ((rc = walk_handling(w, tstate, t)) == PS_NOMEM)
        return rc;
    struct ps_request_find rf = {NULL, 0};
    if (o->frame_model == PS_FRAMES_INTERP)
        rc = walk_interp_frames(w, frame, t, &rf);
    else
        rc = walk_frame_objects(w, frame, t, &rf);
    t->request = rf.found; /* even from a stack cut short */
    return rc;
}

/* Names from threading._active: {ident: Thread}; each Thread's _name. */
struct names_ctx {
    struct ps_walker *w;
    struct ps_interp *in;
    struct ps_u64map by_ident; /* thread_id -> index + 1 of its first thread: no n^2 */
};

static int name_cb(void *arg, uint64_t key, uint64_t value)
{
    struct names_ctx *c = arg;
    uint64_t ident, name_obj, daemonic = 0, flag = 0;
    if (ps_py_long_u64(c->w, key, &ident) ||
        ps_py_getattr(c->w, value, c->w->off.threading.name_attr, &name_obj) ||
        !name_obj || !ps_py_is(c->w, name_obj, "str"))
        return PS_OK; /* one unreadable entry does not hide the others */
    /* Thread._daemonic is a bool in every version: one more attribute lookup. */
    int daemon_known = ps_py_getattr(c->w, value, c->w->off.threading.daemonic_attr, &daemonic) ==
                           PS_OK && daemonic &&
                       ps_py_is(c->w, daemonic, "bool") &&
                       ps_py_long_u64(c->w, daemonic, &flag) == PS_OK && flag <= 1;
    size_t found = (size_t)(uintptr_t)(ident ? ps_u64map_get(&c->by_ident, ident) : NULL);
    struct ps_thread *t = found && found <= c->in->nthreads ? &c->in->threads[found - 1] : NULL;
    if (t && !t->name) {
        char *name;
        int rc = ps_py_str(c->w, name_obj, c->w->lim.max_name, &name, NULL);
        if (rc == PS_NOMEM)
            return rc;
        if (!rc)
            t->name = name;
        t->daemon_known = (uint8_t)daemon_known;
        t->daemon = (uint8_t)(daemon_known && flag);
    }
    return PS_OK;
}

/* The __dict__ of the module NAME of the interpreter at INTERP, or *MD_DICT = 0. */
static int module_dict(struct ps_walker *w, uint64_t interp, const char *name, uint64_t *md_dict)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t modules, module;
    int rc;
    *md_dict = 0;
    if ((rc = ps_w_field_u64(w, interp, o->interp.modules, &modules)) || !modules)
        return rc;
    if ((rc = ps_py_dict_get(w, modules, name, &module)) || !module)
        return rc;
    /* PyModuleObject: the header, then md_dict. */
    return w_u64(w, module + (uint64_t)o->object.ob_type + 8, md_dict);
}

/* sys.hexversion: the micro version too, which the library name of 3.6-3.10 does not give. */
static void read_hexversion(struct ps_walker *w, uint64_t interp, struct ps_model *m)
{
    uint64_t sys_dict, hex_obj, hex;
    if (module_dict(w, interp, "sys", &sys_dict) == PS_OK && sys_dict &&
        ps_py_dict_get(w, sys_dict, "hexversion", &hex_obj) == PS_OK && hex_obj &&
        ps_py_is(w, hex_obj, "int") && ps_py_long_u64(w, hex_obj, &hex) == PS_OK &&
        hex <= UINT32_MAX)
        m->hexversion = (uint32_t)hex;
    ps_error_clear();
}

static int read_thread_names(struct ps_walker *w, uint64_t interp, struct ps_interp *in)
{
    uint64_t md_dict, active;
    int rc;
    if ((rc = module_dict(w, interp, "threading", &md_dict)) || !md_dict)
        return rc;
    if ((rc = ps_py_dict_get(w, md_dict, "_active", &active)) || !active)
        return rc;
    struct names_ctx c = {w, in, {0}};
    for (size_t i = in->nthreads; i-- > 0;) /* the first of equal idents wins */
        if (in->threads[i].thread_id &&
            (rc = ps_u64map_put(&c.by_ident, in->threads[i].thread_id, (void *)(uintptr_t)(i + 1))))
            goto out;
    rc = ps_py_dict_foreach(w, active, name_cb, &c);
out:
    ps_u64map_free(&c.by_ident, NULL);
    return rc;
}

static int field_u64(const struct ps_memsrc *mem, uint64_t base, ps_off off, uint64_t *out)
{
    return off == PS_OFF_NONE ? PS_CORRUPT : ps_mem_u64(mem, base + (uint64_t)(int64_t)off, out);
}

static int field_i32(const struct ps_memsrc *mem, uint64_t base, ps_off off, int32_t *out)
{
    return off == PS_OFF_NONE ? PS_CORRUPT : ps_mem_i32(mem, base + (uint64_t)(int64_t)off, out);
}

int ps_walk_gil(const struct ps_memsrc *mem, const struct ps_pyoffsets *o,
                const uint64_t roots[PS_ROOT_COUNT], uint64_t runtime, uint64_t interp,
                struct ps_gil_state *out)
{
    uint64_t gil = 0, holder = 0;
    int32_t locked = 0;
    memset(out, 0, sizeof *out);
    if (o->runtime.gil != PS_OFF_NONE)
        gil = runtime + (uint64_t)o->runtime.gil;
    else if (o->interp.gil_ptr != PS_OFF_NONE && field_u64(mem, interp, o->interp.gil_ptr, &gil))
        gil = 0;
    /* A free-threaded build runs without its GIL unless something enabled it. */
    int32_t enabled = 0;
    if (gil && o->free_threaded && o->gil.enabled != PS_OFF_NONE &&
        field_i32(mem, gil, o->gil.enabled, &enabled) == PS_OK && enabled == 0) {
        out->none = 1;
        return PS_OK;
    }
    /* Before 3.7 the GIL is two statics, each its own root (0 when not captured). */
    uint64_t locked_at = gil ? gil : roots[PS_ROOT_GIL_LOCKED];
    uint64_t holder_at = gil ? gil : roots[PS_ROOT_GIL_HOLDER];
    /* 2.7's GIL is a semaphore without a "locked" word: the current thread state (set while
     * a thread holds it, NULL once released) says both who holds it and whether it is held. */
    int holder_only = o->gil.locked == PS_OFF_NONE;
    if (!holder_at || !(locked_at || holder_only))
        return PS_UNSUPPORTED;
    int rc = field_u64(mem, holder_at, o->gil.last_holder, &holder);
    if (!rc && !holder_only)
        rc = field_i32(mem, locked_at, o->gil.locked, &locked);
    if (rc)
        return rc;
    if (holder_only)
        locked = holder != 0;
    /* -1: the GIL was never created (3.6 creates it when a second thread starts) */
    out->known = 1;
    out->locked = locked > 0;
    out->holder = out->locked ? holder : 0;
    out->addr = gil ? gil : holder_at;
    return PS_OK;
}

static void read_gil_and_gc(struct ps_walker *w, uint64_t runtime, uint64_t interp,
                            struct ps_interp *in)
{
    const struct ps_pyoffsets *o = &w->off;
    int32_t collecting = 0;
    struct ps_gil_state g;
    if (ps_walk_gil(w->mem, o, w->roots, runtime, interp, &g) == PS_OK) {
        in->free_threaded = g.none;
        in->gil_known = g.known;
        in->gil_locked = g.locked;
        in->gil_addr = g.addr;
        in->gil_holder = g.holder;
        for (size_t i = 0; i < in->nthreads && g.known; i++) {
            struct ps_thread *t = &in->threads[i];
            t->holds_gil = g.holder && t->tstate == g.holder;
        }
    }
    /* 3.9+ keep the GC state in each interpreter, 3.7-3.8 once in _PyRuntime, 3.6 in statics. */
    uint64_t gcs = o->interp.gc != PS_OFF_NONE    ? interp + (uint64_t)o->interp.gc
                   : o->runtime.gc != PS_OFF_NONE ? runtime + (uint64_t)o->runtime.gc
                                                  : w->roots[PS_ROOT_GC];
    if (gcs && o->gc.collecting != PS_OFF_NONE &&
        ps_w_field_i32(w, gcs, o->gc.collecting, &collecting) == PS_OK) {
        in->gc_known = 1;
        in->gc_collecting = collecting != 0;
    }
    /* 3.15+ name the frame that started the collection: its thread is the collector. */
    uint64_t gc_frame = 0;
    if (in->gc_collecting && o->gc.frame != PS_OFF_NONE &&
        ps_w_field_u64(w, gcs, o->gc.frame, &gc_frame) == PS_OK && gc_frame)
        for (size_t i = 0; i < in->nthreads && !in->gc_collector_tid; i++)
            for (size_t k = 0; k < in->threads[i].nframes; k++)
                if (in->threads[i].frames[k].addr == gc_frame) {
                    in->gc_collector_tid = in->threads[i].tid;
                    break;
                }
}

static int walk_interp(struct ps_walker *w, uint64_t runtime, uint64_t interp, unsigned index,
                       struct ps_interp *in)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t id = index, tstate; /* before 3.7 interpreters have no id: their place in the list */
    int rc;
    in->addr = interp;
    if ((o->interp.id != PS_OFF_NONE && (rc = ps_w_field_u64(w, interp, o->interp.id, &id))) ||
        (rc = ps_w_field_u64(w, interp, o->interp.threads_head, &tstate)))
        return rc;
    in->id = (int64_t)id;
    struct ps_u64map seen = {0}; /* thread states met: a cycle check that stays linear */
    for (unsigned n = 0; tstate; n++) {
        if (n >= w->lim.max_threads) {
            rc = PS_LIMIT;
            break;
        }
        if (ps_u64map_get(&seen, tstate)) {
            rc = PS_CORRUPT; /* a cycle in the thread list */
            break;
        }
        struct ps_thread *t;
        if ((rc = ps_u64map_put(&seen, tstate, (void *)1)) || !(t = ps_model_add_thread(in))) {
            rc = PS_NOMEM;
            break;
        }
        rc = walk_thread(w, tstate, t);
        if (rc == PS_NOMEM)
            break;
        t->walk_status = rc;
        if ((rc = ps_w_field_u64(w, tstate, o->tstate.next, &tstate)))
            break;
    }
    ps_u64map_free(&seen, NULL);
    if (rc)
        return rc;
    read_gil_and_gc(w, runtime, interp, in);
    rc = read_thread_names(w, interp, in);
    if (rc == PS_NOMEM)
        return rc; /* names are a bonus, not a reason to fail */
    /* Tasks are part of the walk, so that a capture records what their analysis reads. */
    rc = ps_walk_tasks(w, interp, in);
    return rc == PS_NOMEM ? rc : PS_OK;
}

/* Does the target agree with the layout in w->off? sys.modules is a dict: its type is named
 * "dict" and the type of its type is `type`, whose own type is itself. A Py_TRACE_REFS build
 * (objects start with _ob_next/_ob_prev) moves ob_type by 16 bytes, which this catches.
 * 1: agrees; 0: values were read and contradict it; -1: a read failed (nothing to judge by,
 * e.g. a snapshot of an older pysnap that did not capture these bytes). */
static int layout_matches(struct ps_walker *w, uint64_t runtime)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t interp, modules, type, meta, meta2, tp_name;
    char name[8];
    if (ps_w_field_u64(w, runtime, o->runtime.interpreters_head, &interp) ||
        ps_w_field_u64(w, interp, o->interp.modules, &modules) ||
        ps_w_field_u64(w, modules, o->object.ob_type, &type) ||
        ps_w_field_u64(w, type, o->object.ob_type, &meta) ||
        ps_w_field_u64(w, meta, o->object.ob_type, &meta2) ||
        ps_w_field_u64(w, type, o->object.tp_name, &tp_name) ||
        ps_w_cstr(w, tp_name, name, sizeof name)) {
        ps_error_clear();
        return -1;
    }
    return meta == meta2 && strcmp(name, "dict") == 0;
}

/* Choose the layout: the built-in table of the version (release build first, then its
 * variants), overlaid with the interpreter's own debug offsets where present, keeping the
 * first the target agrees with; a version with no table proceeds only on valid debug offsets
 * over the nearest older table. */
static int choose_offsets(struct ps_walker *w, const struct ps_walk_target *t)
{
    int major = (int)(t->py_version_hex >> 24), minor = (int)((t->py_version_hex >> 16) & 0xff);
    const struct ps_pyoffsets *base = ps_pyoffsets_builtin(major, minor);
    /* Cookie and version first; they say how long the rest of that version's layout is. */
    unsigned char dbg[DEBUG_OFFSETS_MAX];
    size_t dbg_len = 16, want;
    int has_debug = ps_mem_read(w->mem, t->runtime_addr, dbg, dbg_len) == PS_OK &&
                    memcmp(dbg, "xdebugpy", 8) == 0;
    if (has_debug && (want = ps_pyoffsets_debug_size(dbg, dbg_len)) > dbg_len &&
        want <= sizeof dbg) {
        if (ps_mem_read(w->mem, t->runtime_addr, dbg, want) == PS_OK)
            dbg_len = want;
        else
            has_debug = 0;
    }
    /* A free-threaded build (3.13t) says so in its debug offsets: its own table. */
    int ft = has_debug && ps_pyoffsets_debug_free_threaded(dbg, dbg_len);
    if (ft)
        base = ps_pyoffsets_for(major, minor, 1);
    int known = base != NULL;
    if (!base && has_debug && !ft)
        base = ps_pyoffsets_nearest_below(major, minor);
    if (!base)
        return ps_error_set(PS_UNSUPPORTED, "unsupported CPython %d.%d%s (supported: %s)", major,
                            minor, ft ? "t (free-threaded)" : "", ps_pyoffsets_supported_list());
    struct ps_pyoffsets fallback;
    int have_fallback = 0;
    for (unsigned i = 0; base; i++) {
        w->off = *base;
        if (has_debug) {
            int rc = ps_pyoffsets_apply_debug(&w->off, dbg, dbg_len, t->py_version_hex);
            if (rc && !known) {
                /* The version's own message first, the debug offsets' reason after it. */
                char why[160];
                snprintf(why, sizeof why, "%s", ps_error_detail() ? ps_error_detail() : "");
                ps_error_clear();
                return ps_error_set(PS_UNSUPPORTED,
                                    "unsupported CPython %d.%d (supported: %s); its "
                                    "_Py_DebugOffsets do not validate: %s",
                                    major, minor, ps_pyoffsets_supported_list(), why);
            }
            if (rc) {
                ps_error_clear();
                w->off = *base; /* debug offsets unusable: the generated table still applies */
            }
        }
        int m = layout_matches(w, t->runtime_addr);
        if (m == 1)
            return PS_OK;
        if (m < 0 && !have_fallback) {
            fallback = w->off;
            have_fallback = 1;
        }
        base = known && !ft ? ps_pyoffsets_candidate(major, minor, i + 1) : NULL;
    }
    if (have_fallback) {
        w->off = fallback; /* nothing contradicts it: the first table that could not be judged */
        return PS_OK;
    }
    return ps_error_set(PS_UNSUPPORTED,
                        "CPython %d.%d: the target's objects do not have the layout pysnap "
                        "knows for it (sys.modules is no dict there: a Py_TRACE_REFS or "
                        "otherwise modified build?)", major, minor);
}

int ps_walk_layout(const struct ps_memsrc *mem, const struct ps_walk_target *target,
                   struct ps_pyoffsets *out)
{
    struct ps_walker w;
    memset(&w, 0, sizeof w);
    w.mem = mem;
    ps_walk_limits_default(&w.lim);
    int rc = choose_offsets(&w, target);
    if (!rc)
        *out = w.off;
    ps_u64map_free(&w.types, free);
    return rc;
}

void ps_code_names_free(struct ps_code_names *c)
{
    free(c->name);
    free(c->qualname);
    free(c->file);
    free(c->lines);
    memset(c, 0, sizeof *c);
}

int ps_walk_code_line(const struct ps_pyoffsets *off, const struct ps_code_names *c,
                      uint64_t code, uint64_t instr, int32_t lasti)
{
    if (!c->lines)
        return -1;
    int64_t addrq = off->frame_model == PS_FRAMES_INTERP
                        ? (int64_t)(instr - (code + (uint64_t)off->code.code_adaptive))
                        : lasti_offset(off, lasti);
    return ps_line_for_offset(off->linetable_model, c->lines, c->nlines, c->firstlineno, addrq);
}

int ps_walk_code_names(const struct ps_memsrc *mem, const struct ps_pyoffsets *off,
                       uint64_t code, unsigned max_name, int lines, struct ps_code_names *out)
{
    struct ps_walker w;
    memset(&w, 0, sizeof w);
    memset(out, 0, sizeof *out);
    w.mem = mem;
    w.off = *off;
    ps_walk_limits_default(&w.lim);
    w.lim.max_name = max_name;
    int rc = ps_py_is(&w, code, "code") ? PS_OK : PS_CORRUPT;
    if (!rc)
        rc = ps_w_field_u64(&w, code, off->object.ob_type, &out->type);
    if (!rc && !(rc = read_name(&w, code, off->code.name, &out->name)) &&
        !(rc = read_name(&w, code, off->code.qualname, &out->qualname)) &&
        !(rc = read_name(&w, code, off->code.filename, &out->file)) &&
        off->code.firsttraceable != PS_OFF_NONE)
        rc = ps_w_field_i32(&w, code, off->code.firsttraceable, &out->firsttraceable);
    if (!rc)
        rc = ps_w_field_i32(&w, code, off->code.firstlineno, &out->firstlineno);
    uint64_t table;
    if (!rc && lines && !(rc = ps_w_field_u64(&w, code, off->code.linetable, &table)))
        rc = ps_py_bytes(&w, table, MAX_LINETABLE, &out->lines, &out->nlines);
    if (!rc && (!out->name || !out->file))
        rc = PS_CORRUPT;
    if (rc)
        ps_code_names_free(out);
    ps_u64map_free(&w.types, free);
    return rc;
}

int ps_walk(const struct ps_memsrc *mem, const struct ps_walk_target *target,
            const struct ps_walk_limits *lim, struct ps_model *out)
{
    struct ps_walker w;
    memset(&w, 0, sizeof w);
    w.mem = mem;
    w.asyncio_debug = target->asyncio_debug;
    memcpy(w.roots, target->roots, sizeof w.roots);
    if (lim)
        w.lim = *lim;
    else
        ps_walk_limits_default(&w.lim);
    /* One rendered value holds at least a whole str of max_str characters (4 bytes each:
     * any UTF-8 character, a \xNN escape). Derived from stored limits: analysis agrees. */
    if (w.lim.max_str < (UINT32_MAX - 16) / 4 && w.lim.max_repr < 4 * w.lim.max_str + 16)
        w.lim.max_repr = 4 * w.lim.max_str + 16;
    int rc = choose_offsets(&w, target);
    if (rc)
        return rc;
    uint64_t secret[2];
    if (target->hash_secret && ps_mem_read(mem, target->hash_secret, secret, sizeof secret) == PS_OK) {
        w.hash_known = 1; /* _Py_HashSecret.siphash: k0, k1 */
        w.hash_k0 = secret[0];
        w.hash_k1 = secret[1];
    }
    if ((w.lim.locals || w.lim.requests) && w.lim.redact && *w.lim.redact) {
        if (regcomp(&w.redact_re, w.lim.redact, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
            return ps_error_set(PS_USAGE, "invalid --redact pattern '%s'", w.lim.redact);
        w.redact_on = 1;
    }
    uint64_t interp;
    rc = ps_w_field_u64(&w, target->runtime_addr, w.off.runtime.interpreters_head, &interp);
    if (rc) {
        rc = ps_error_set(rc, "cannot read _PyRuntime at 0x%llx: %s",
                          (unsigned long long)target->runtime_addr, ps_strerror(rc));
        goto out;
    }
    for (unsigned n = 0; interp; n++) {
        if (n >= w.lim.max_interps) {
            out->walk_status = PS_LIMIT;
            break;
        }
        struct ps_interp *in = ps_model_add_interp(out);
        if (!in) {
            rc = PS_NOMEM;
            goto out;
        }
        if (n == 0)
            read_hexversion(&w, interp, out);
        int st = walk_interp(&w, target->runtime_addr, interp, n, in);
        if (st == PS_NOMEM) {
            rc = st;
            goto out;
        }
        if (st && !out->walk_status)
            out->walk_status = st;
        if ((st = ps_w_field_u64(&w, interp, w.off.interp.next, &interp))) {
            if (!out->walk_status)
                out->walk_status = st;
            break;
        }
    }
    ps_model_resolve_gil(out);
out:
    if (w.redact_on)
        regfree(&w.redact_re);
    ps_u64map_free(&w.types, free);
    ps_u64map_free(&w.codes, code_info_free);
    ps_u64map_free(&w.inherited, NULL);
    ps_u64map_free(&w.stdlib, NULL);
    return rc;
}
