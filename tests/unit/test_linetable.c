/* Line numbers from real line tables of 3.8-3.13 must equal the interpreter's own for every
 * instruction (vectors made by gen_linetable_vectors.py); hostile tables must not crash. */
#include <string.h>

#include "../../analyze/python/walker_internal.h"
#include "check.h"
#include "linetable_vectors.h"

int main(void)
{
    for (size_t v = 0; v < sizeof lt_vectors / sizeof lt_vectors[0]; v++) {
        const struct lt_vector *t = &lt_vectors[v];
        int bad = 0;
        for (unsigned i = 0; i < t->nlines; i++) {
            int got = ps_line_for_offset((uint8_t)t->model, t->table, t->table_len,
                                         t->firstlineno, (int64_t)i * 2);
            if (got != t->lines[i]) {
                if (!bad)
                    fprintf(stderr, "%s: offset %u: got line %d, want %d\n", t->version, i * 2,
                            got, t->lines[i]);
                bad = 1;
            }
        }
        CHECK(!bad);
        /* Before the first instruction the interpreter reports the first line. */
        if (t->model != PS_LINES_LNOTAB)
            CHECK(ps_line_for_offset((uint8_t)t->model, t->table, t->table_len, t->firstlineno,
                                     -2) == t->firstlineno);
        /* Truncated tables: any answer, no crash, no read past the end (ASan checks). */
        for (unsigned cut = 0; cut < t->table_len; cut++)
            (void)ps_line_for_offset((uint8_t)t->model, t->table, cut, t->firstlineno, 1000);
    }
    unsigned char junk[64];
    memset(junk, 0xff, sizeof junk); /* endless continuation bits */
    CHECK(ps_line_for_offset(PS_LINES_LOCATION, junk, sizeof junk, 1, 4000) == -1);
    CHECK(ps_line_for_offset(99, junk, sizeof junk, 1, 0) == -1);
    return CHECK_DONE();
}
