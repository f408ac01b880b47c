/* Small pieces both renderers print the same way. */
#ifndef PYSNAP_RENDER_COMMON_H
#define PYSNAP_RENDER_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pysnap/textsafe.h"

/* ISO-8601 UTC with microseconds, e.g. 2026-11-25T06:40:00.123456Z. */
void ps_format_time(int64_t ns, char *buf, size_t size);

/* S as a JSON string (quoted, escaped, invalid UTF-8 as U+FFFD); null when S is NULL. */
void ps_json_str(FILE *out, const char *s);

/* The HTTP request a thread or task serves (render_request.c). */
struct ps_request;
/* "GET /path" */
void ps_request_route_text(FILE *out, const struct ps_request *r);
/* INDENT "serving GET /hang?id=42 from 127.0.0.1, HTTP/1.1, Host: h (source: local in fn)\n" */
void ps_request_text(FILE *out, const struct ps_request *r, const char *indent);
/* The "request" object of doc/schema.json, or null. */
void ps_request_json(FILE *out, const struct ps_request *r);

#endif
