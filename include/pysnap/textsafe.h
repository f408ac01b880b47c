/* Strings from the target on a terminal or in a log: a thread name, a file name, a command
 * line or a repr must not be able to move the cursor, retitle the window or forge an output
 * line (analyze/render/text_safe.c). */
#ifndef PYSNAP_TEXTSAFE_H
#define PYSNAP_TEXTSAFE_H

#include <stdio.h>

/* S with control characters (C0, DEL, C1) as \xNN; "?" when S is NULL. */
void ps_text_safe(FILE *out, const char *s);
/* fprintf where every %s argument is printed through ps_text_safe (a precision, %.60s, cuts
 * it at that many bytes first; a width is ignored for %s). Supports the conversions
 * d i u x X o f g e c s % with flags, width, precision and h l ll z t j. */
void ps_tprintf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
