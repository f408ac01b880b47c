/* Strings from the target on a terminal or in a log: a thread name, a file name, a command
 * line or a repr must not be able to move the cursor, retitle the window or forge an output
 * line (analyze/render/text_safe.c). */
#ifndef PYSNAP_TEXTSAFE_H
#define PYSNAP_TEXTSAFE_H

#include <stddef.h>
#include <stdio.h>

/* S with control characters (C0, DEL, C1) as \xNN, a C1 as the \xNN of its code point (U+009B:
 * \x9b); other bytes as they are; "?" when S is NULL. */
void ps_text_safe(FILE *out, const char *s);
/* fprintf where every %s argument is printed through ps_text_safe (a precision, %.60s, cuts
 * it at that many bytes first; a width is ignored for %s). Supports the conversions
 * d i u x X o f g e c s % with flags, width, precision and h l ll z t j. */
void ps_tprintf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* S (from the target: any bytes) made safe to show on a terminal into BUF (always
 * NUL-terminated): control characters (C0, DEL, C1) as \xNN, invalid UTF-8 bytes as \xNN,
 * a backslash as is; valid printable UTF-8 kept, unless ASCII (a terminal whose locale is not
 * UTF-8): then every byte past 0x7f is \\xNN too. NULL prints as "?". Returns BUF. */
char *ps_term_escape(const char *s, char *buf, size_t size, int ascii);

#endif
