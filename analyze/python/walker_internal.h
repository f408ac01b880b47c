/* Shared by the walker's files: the walk context and the object readers (pyobj.c). */
#ifndef PYSNAP_WALKER_INTERNAL_H
#define PYSNAP_WALKER_INTERNAL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "pysnap/memsrc.h"
#include "pysnap/pyoffsets.h"
#include "pysnap/walker.h"
#include "../u64map.h"

struct ps_walker {
    const struct ps_memsrc *mem;
    struct ps_pyoffsets off;
    struct ps_walk_limits lim;
    struct ps_u64map types; /* type address -> char* tp_name */
    struct ps_u64map codes; /* code address -> struct ps_code_info* */
    struct ps_u64map inherited; /* type address -> how repr.c renders its instances */
    struct ps_u64map stdlib;    /* type address -> its stdlib renderer (repr_stdlib.c) */
    uint64_t budget_used;   /* bytes read for values so far (lim.budget bounds it) */
    int hash_known;         /* the target's str hash key was read: dicts can be probed */
    uint64_t hash_k0, hash_k1;
    uint64_t asyncio_debug; /* ps_walk_target's: the interpreter's asyncio layout, or 0 */
    uint64_t roots[PS_ROOT_COUNT]; /* ps_walk_target's: static roots (3.6), or 0 */
    int redact_on;
    int no_attrs;           /* locals without their instance attributes (the task walk:
                               thousands of coroutine frames share the same loop object) */
    regex_t redact_re;
};

/* Does NAME look like a secret (the --redact pattern)? */
int ps_walk_redacts(struct ps_walker *w, const char *name);
/* Render OBJ into OUT (whose name, if set, is checked against the redact pattern first):
 * type, repr and, for plain instances when WITH_ATTRS, their attributes. */
struct ps_value;
int ps_value_render(struct ps_walker *w, uint64_t obj, int with_attrs, struct ps_value *out);
/* Render an int held in a tagged _PyStackRef (3.14+) into OUT, as ps_value_render would. */
int ps_value_render_tagged_int(struct ps_walker *w, int64_t value, struct ps_value *out);
/* Python's repr of a float ('r' format). */
void ps_format_float(double d, int add_dot_0, int force_sign, char *out, size_t size);

/* Reads through the walker's source. */
static inline int w_u64(struct ps_walker *w, uint64_t addr, uint64_t *out)
{
    return ps_mem_u64(w->mem, addr, out);
}

/* The field at OFF of the object at BASE; PS_CORRUPT when the version has no such field. */
int ps_w_field_u64(struct ps_walker *w, uint64_t base, ps_off off, uint64_t *out);
int ps_w_field_i32(struct ps_walker *w, uint64_t base, ps_off off, int32_t *out);

/* A NUL-terminated C string at ADDR, at most MAX-1 bytes kept; read in page-bounded chunks so
 * that the bytes read are the same at capture and at analysis. */
int ps_w_cstr(struct ps_walker *w, uint64_t addr, char *buf, size_t max);

/* tp_name of OBJ's type; the string is cached and owned by the walker. */
int ps_py_typename(struct ps_walker *w, uint64_t obj, const char **name);
/* Is OBJ's type named NAME (e.g. "str", "dict")? 0 on a failed read. */
int ps_py_is(struct ps_walker *w, uint64_t obj, const char *name);

/* Where a str object's code points are. */
struct ps_str_hdr {
    int64_t length;
    unsigned kind;  /* 1, 2 or 4 bytes per code point */
    uint64_t data;  /* address of the code points */
};
int ps_py_str_header(struct ps_walker *w, uint64_t obj, struct ps_str_hdr *h);

/* Write code point CP as UTF-8 at O (at most 4 bytes); returns how many. */
size_t ps_utf8_put(char *o, uint32_t cp);
/* A str object as UTF-8 (malloc'd), at most MAXCHARS code points; *TRUNCATED set when cut. */
int ps_py_str(struct ps_walker *w, uint64_t obj, size_t maxchars, char **out, int *truncated);
/* Does the str OBJ equal the ASCII string S? */
int ps_py_str_eq(struct ps_walker *w, uint64_t obj, const char *s, int *eq);
/* A bytes object's contents (malloc'd), at most MAX bytes. */
int ps_py_bytes(struct ps_walker *w, uint64_t obj, size_t max, unsigned char **out, size_t *len);
/* A non-negative int object that fits in 64 bits. */
int ps_py_long_u64(struct ps_walker *w, uint64_t obj, uint64_t *out);

/* Call CB for each (key, value) of a dict, in its iteration order, at most lim.max_dict
 * entries. CB returns non-zero to stop (that value is returned). */
typedef int (*ps_dict_cb)(void *arg, uint64_t key, uint64_t value);
int ps_py_dict_foreach(struct ps_walker *w, uint64_t dict, ps_dict_cb cb, void *arg);
/* The value for the str key NAME in DICT, or *VALUE = 0 when absent. */
int ps_py_dict_get(struct ps_walker *w, uint64_t dict, const char *name, uint64_t *value);
/* Where an instance keeps its attributes: a dict, or split values with the type's keys. */
struct ps_attrs {
    uint64_t dict, keys, values;
};
int ps_py_instance_attrs(struct ps_walker *w, uint64_t obj, struct ps_attrs *a);
int ps_py_attrs_foreach(struct ps_walker *w, const struct ps_attrs *a, ps_dict_cb cb, void *arg);
/* An instance attribute from OBJ's __dict__ (however the version stores it), or 0. */
int ps_py_getattr(struct ps_walker *w, uint64_t obj, const char *name, uint64_t *value);

/* CPython's hash of an ASCII str under ALGORITHM (enum ps_hash_algorithm) and key K0/K1;
 * -1 when the algorithm is not known. */
int ps_str_hash(uint8_t algorithm, uint64_t k0, uint64_t k1, const char *ascii, int64_t *out);

/* Fill F (function, file, line, locals) from a suspended coroutine's frame: an interpreter
 * frame (3.11+) or a frame object (3.8-3.10). */
struct ps_frame;
int ps_w_fill_iframe(struct ps_walker *w, uint64_t frame, struct ps_frame *f);
int ps_w_fill_frameobj(struct ps_walker *w, uint64_t frame, struct ps_frame *f);

/* The asyncio tasks of the interpreter at INTERP into IN->tasks (tasks.c). Records why it
 * stopped early in IN->tasks_status; returns PS_NOMEM, else PS_OK. */
struct ps_interp;
int ps_walk_tasks(struct ps_walker *w, uint64_t interp, struct ps_interp *in);

/* The value of the local NAME of a frame (an interpreter frame, or a frame object when
 * FRAMEOBJ), cells dereferenced; *VALUE = 0 when there is no such local or it is unbound.
 * Looks at every slot (up to a fixed bound), not only those within the locals limit. */
int ps_w_frame_local(struct ps_walker *w, uint64_t frame, int frameobj, const char *name,
                     uint64_t *value);

/* Code units [start, end) of a text. */
struct ps_span {
    size_t start, end;
};
/* The values of query-string parameters (name=value at the start of RAW or after '?', '&'
 * or ';') whose name matches the redact pattern, at most MAX of them (the last of MAX then
 * runs to the end of the text). RAW holds N code units of KIND bytes each. Returns how many. */
size_t ps_query_secrets(struct ps_walker *w, const unsigned char *raw, unsigned kind, size_t n,
                        struct ps_span *spans, size_t max);

/* Finding the HTTP request a thread or task serves (request.c). Fed each frame as the walk
 * fills it; FOUND is then the thread's (or task's) request. Threads are walked innermost
 * first and keep the first request found; task chains outermost first, and keep the last:
 * either way the frame nearest the application wins. */
struct ps_request;
struct ps_request_find {
    struct ps_request *found;
    int last_wins;
};
int ps_request_frame(struct ps_walker *w, struct ps_request_find *rf, uint64_t frame,
                     int frameobj, const struct ps_frame *f);
/* The exception the thread state TSTATE is handling (sys.exc_info()[1]), 0 when none. */
int ps_walk_handled_exception(struct ps_walker *w, uint64_t tstate, uint64_t *exc);
/* An exception's __traceback__ (0 when none), and one traceback entry: the next entry, its
 * frame's code object, tb_lasti and tb_lineno (-1 until computed, 3.12+). */
int ps_exception_traceback(struct ps_walker *w, uint64_t exc, uint64_t *tb);
int ps_traceback_entry(struct ps_walker *w, uint64_t tb, uint64_t *next, uint64_t *code,
                       int32_t *lasti, int32_t *lineno);

/* Line of the instruction at byte offset ADDRQ in a code object, from its line table. */
int ps_line_for_offset(uint8_t model, const unsigned char *table, size_t len, int firstlineno,
                       int64_t addrq);

#endif
