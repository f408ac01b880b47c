/* Shared by repr.c (built-in types) and repr_stdlib.c (stdlib types): the bounded string
 * builder and the rendering context. */
#ifndef PYSNAP_REPR_INTERNAL_H
#define PYSNAP_REPR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct ps_walker;

/* A bounded string builder: once something is cut (FULL), nothing more is appended and the
 * repr ends in "...". */
struct sbuf {
    char *p;
    size_t len, cap, limit;
    int full;
};

void ps_sb_put(struct sbuf *b, const char *s, size_t n);
void ps_sb_puts(struct sbuf *b, const char *s);
void ps_sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ps_sb_cut(struct sbuf *b);

struct repr_ctx {
    struct ps_walker *w;
    struct sbuf *sb;
    unsigned depth;
    uint64_t stack[16]; /* containers being rendered, for [...] on cycles */
    uint64_t root;      /* the value being rendered (its structured value is kept) */
    char *value;        /* malloc'd: a structured form of ROOT (ISO date, Decimal string) */
};

/* A read charged to the walk's value budget. */
int ps_repr_read(struct ps_walker *w, uint64_t addr, void *buf, size_t len);
/* Render OBJ (any type) into C->sb. */
void ps_repr_obj(struct repr_ctx *c, uint64_t obj);
/* object.__repr__'s form <module.Class object at 0x...>. */
void ps_repr_default(struct repr_ctx *c, uint64_t obj);
void ps_repr_dict(struct repr_ctx *c, uint64_t obj);
void ps_repr_int(struct repr_ctx *c, uint64_t obj);
/* Enter a container: 0 to go on (leave with c->depth--), 1 when it is already being rendered
 * (CYCLE_TEXT was written) or too deep (cut). */
int ps_repr_enter(struct repr_ctx *c, uint64_t obj, const char *cycle_text);
/* Sign and base-2^30 digits (malloc'd) of an int object. */
int ps_repr_read_int(struct repr_ctx *c, uint64_t obj, int *negative, uint32_t **digits,
                     size_t *n);
/* __module__ and __qualname__ of a type (malloc'd, either may be NULL). */
void ps_type_names(struct ps_walker *w, uint64_t type, char **module, char **qualname);

/* Render OBJ with the stdlib renderer of its type (repr_stdlib.c): 1 when it had one, 0 when
 * not (nothing written). Types are identified by name and checked by layout, classes by the
 * __repr__ their MRO resolves to; the choice is cached per type. */
int ps_stdlib_render(struct repr_ctx *c, uint64_t obj);

#endif
