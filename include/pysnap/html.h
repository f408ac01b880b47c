/* The HTML report: one self-contained page (no network, no outside file) whose script builds
 * the view from the same JSON documents as --json, with a plain-text twin for scripts off.
 * The page's code is web/ (report.html, report.css, model.js, report.js), embedded at build. */
#ifndef PYSNAP_HTML_H
#define PYSNAP_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "pysnap/profile.h"
#include "pysnap/report.h"
#include "pysnap/summary.h"

/* One snapshot's page (REPORTS[0], N == 1, SUMMARY NULL) or a capture set's: the summary,
 * a flame graph of the thread-samples on CPU over all REPORTS, and each snapshot.
 * O: native (the scripts-off text shows native frames; the page has a switch). Returns
 * PS_OK, PS_NOMEM or PS_IO. */
int ps_html_write_reports(FILE *out, const struct ps_report *const *reports, size_t n,
                          const struct ps_summary *summary, const struct ps_render_opts *o);

/* A sampling profile's page (record -o FILE.html): the interactive flame graph. */
int ps_html_write_profile(FILE *out, const struct ps_profile *p, const char *title);

#endif
