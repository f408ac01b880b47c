/* ps_model_map_tids: the walk's ids (the target's own pid namespace) become the capture's,
 * the target's kept in ns_tid, for threads, asyncio tasks, the GC collector and the GIL
 * holder; a target in the capture's own namespace is left alone. */
#include <stdlib.h>
#include <string.h>

#include "pysnap/model.h"
#include "check.h"

/* One interpreter: threads 1 (holds the GIL) and 7 (collects), a task on 7, and 9, a thread
 * the pairs do not know. */
static void make(struct ps_model *m)
{
    memset(m, 0, sizeof *m);
    struct ps_interp *in = ps_model_add_interp(m);
    uint32_t tids[] = {1, 7, 9};
    for (size_t i = 0; i < 3; i++) {
        struct ps_thread *t = ps_model_add_thread(in);
        t->tid = tids[i];
        t->tstate = 0x1000 * (i + 1);
    }
    in->gil_addr = 0x9000;
    in->gil_holder = 0x1000;
    in->gc_collector_tid = 7;
    in->tasks = calloc(1, sizeof *in->tasks);
    in->tasks[0].tid = 7;
    in->ntasks = in->tasks_cap = 1;
    ps_model_resolve_gil(m);
}

int main(void)
{
    struct ps_model m;
    make(&m);
    const struct ps_tid_pair host[] = {{7307, 1}, {7310, 7}, {7400, 0}};
    ps_model_map_tids(&m, host, 3);
    struct ps_interp *in = &m.interps[0];
    CHECK(in->threads[0].tid == 7307 && in->threads[0].ns_tid == 1);
    CHECK(in->threads[1].tid == 7310 && in->threads[1].ns_tid == 7);
    CHECK(in->threads[2].tid == 9 && in->threads[2].ns_tid == 0); /* unknown: kept */
    CHECK(in->gil_holder_tid == 7307);
    CHECK(in->gc_collector_tid == 7310);
    CHECK(in->tasks[0].tid == 7310);
    /* Mapping twice changes nothing: ns_tid is set. */
    ps_model_map_tids(&m, host, 3);
    CHECK(in->threads[0].tid == 7307 && in->threads[0].ns_tid == 1);
    ps_model_free(&m);

    make(&m);
    const struct ps_tid_pair same[] = {{1, 1}, {7, 7}, {9, 0}};
    ps_model_map_tids(&m, same, 3);
    in = &m.interps[0];
    CHECK(in->threads[0].tid == 1 && in->threads[0].ns_tid == 0);
    CHECK(in->threads[1].tid == 7 && in->threads[1].ns_tid == 0);
    CHECK(in->gil_holder_tid == 1 && in->gc_collector_tid == 7 && in->tasks[0].tid == 7);
    ps_model_free(&m);
    return CHECK_DONE();
}
