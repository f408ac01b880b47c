/* The full-screen view of `pysnap top` (ncurses): draws what a ps_top holds, reads keys.
 * Only this file knows the terminal; the numbers come from include/pysnap/topview.h. */
#ifndef PYSNAP_PROGRAMS_TOP_SCREEN_H
#define PYSNAP_PROGRAMS_TOP_SCREEN_H

#include <stdint.h>

#include "pysnap/topview.h"

/* What the user chose with the keys. */
struct top_view {
    enum ps_top_group group;
    enum ps_top_span span;
    enum ps_top_sort sort;
    int threads;      /* the thread view instead of the table */
    int paused;       /* the numbers stay as they are; sampling goes on */
    int help;         /* the help screen is shown */
    int scroll;       /* first row (or line, in the thread view) shown */
};

/* What the header says besides the numbers. */
struct top_header {
    int64_t root_pid;
    int children;
    unsigned rate;    /* asked for */
    const char *mode; /* "", " --gil", ... the options that change what is counted */
};

enum top_action { TOP_NONE, TOP_REDRAW, TOP_RESET, TOP_QUIT };

/* Take the terminal (alternate screen, no echo, keys one by one, hidden cursor). Returns 0, or
 * -1 when the terminal cannot be used (then nothing changed). */
int top_screen_open(void);
/* Give the terminal back as it was. Safe to call more than once, and when never opened. */
void top_screen_close(void);
/* Draw everything; only what changed reaches the terminal (no flicker). */
void top_screen_draw(struct ps_top *t, const struct top_view *v, const struct top_header *h);
/* Read the keys typed so far (never waits); each one updates V. Returns the strongest action
 * asked (QUIT > RESET > REDRAW > NONE). A resize is a REDRAW. */
enum top_action top_screen_keys(struct top_view *v);

#endif
