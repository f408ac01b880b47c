/* Analysis of an opened snapshot into a report, and the renderers that print it. */
#ifndef PYSNAP_REPORT_H
#define PYSNAP_REPORT_H

#include <stdio.h>

#include "pysnap/model.h"
#include "pysnap/snapshot.h"
#include "pysnap/walker.h"

struct ps_report {
    const struct ps_snap_meta *meta;
    struct ps_model model;
};

/* Walk the snapshot with the limits it was captured with, and merge in what the OS said of
 * each thread (state, name). Threads Python does not know are listed under the first
 * interpreter with no Python frames. */
int ps_report_build(struct ps_snapshot *snap, struct ps_report *out);
void ps_report_free(struct ps_report *r);

/* The target's PY_VERSION_HEX: the snapshot's, completed by the walked sys.hexversion when it
 * agrees on major.minor (an ELF core of 3.6-3.10 knows only those from the library name). */
uint32_t ps_report_version(const struct ps_report *r);

/* "3.12.1", "3.13.0rc2" from PY_VERSION_HEX. */
void ps_format_version(uint32_t hex, char *buf, size_t size);
/* Thread state names as the JSON schema spells them. */
const char *ps_thread_state_name(int state);

struct ps_render_opts {
    int locals;  /* text: print each frame's locals; json: 0 leaves "locals" empty */
    int native;  /* text: native and Python frames merged (json always has both) */
    int tasks;   /* text: list the asyncio tasks of each interpreter (json always has them) */
};

/* A renderer writes REPORT to OUT. render returns PS_OK or PS_IO.
 * Implementations: text (traceback style), json (the documented schema). */
struct ps_renderer {
    const char *name;
    int (*render)(FILE *out, const struct ps_report *report, const struct ps_render_opts *o);
};

extern const struct ps_renderer ps_render_text;
extern const struct ps_renderer ps_render_json;

/* The text renderer's lines for F's local variables (--locals), under its "File" line; the
 * --native view (ps_native_render_text) prints them the same way. */
void ps_text_frame_locals(FILE *out, const struct ps_frame *f);

#endif
