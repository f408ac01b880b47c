/* Small pieces both renderers print the same way. */
#ifndef PYSNAP_RENDER_COMMON_H
#define PYSNAP_RENDER_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* ISO-8601 UTC with microseconds, e.g. 2026-11-25T06:40:00.123456Z. */
void ps_format_time(int64_t ns, char *buf, size_t size);

#endif
