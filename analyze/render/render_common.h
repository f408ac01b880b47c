/* Small pieces both renderers print the same way. */
#ifndef PYSNAP_RENDER_COMMON_H
#define PYSNAP_RENDER_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ISO-8601 UTC with microseconds, e.g. 2026-11-25T06:40:00.123456Z. */
void ps_format_time(int64_t ns, char *buf, size_t size);

/* S as a JSON string (quoted, escaped, invalid UTF-8 as U+FFFD); null when S is NULL. */
void ps_json_str(FILE *out, const char *s);

#endif
