/* Target strings on a terminal (see render_common.h): a thread name, a file name or a repr
 * must not be able to move the cursor, retitle the window or forge output lines. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_common.h"

void ps_text_safe(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "?");
    for (; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* a C1 control in UTF-8 */
            fprintf(out, "\\x%02x", *++p);
        else
            fputc(*p, out);
    }
}

/* The conversions the text renderers use; each is handed to fprintf alone, with its flags,
 * width and precision, and its argument taken with the type its length modifier names. */
void ps_tprintf(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    while (*fmt) {
        const char *pct = strchr(fmt, '%');
        if (!pct) {
            fputs(fmt, out);
            break;
        }
        fwrite(fmt, 1, (size_t)(pct - fmt), out);
        /* the spec: % flags width .precision length conversion */
        size_t n = 1 + strspn(pct + 1, "-+ #0123456789.");
        size_t len = strspn(pct + n, "hlzjt");
        char conv = pct[n + len];
        char spec[32];
        size_t speclen = n + len + 1;
        if (!conv || speclen >= sizeof spec) { /* a broken format: print it as it is */
            fputs(pct, out);
            break;
        }
        memcpy(spec, pct, speclen);
        spec[speclen] = '\0';
        int is_long = len && pct[n] == 'l', is_llong = len == 2 && pct[n] == 'l';
        int is_size = len && (pct[n] == 'z' || pct[n] == 't' || pct[n] == 'j');
        switch (conv) {
        case 's': {
            const char *str = va_arg(ap, const char *);
            const char *dot = memchr(spec, '.', speclen);
            if (dot && str) { /* a precision: at most that many bytes of the string */
                size_t max = (size_t)strtoul(dot + 1, NULL, 10);
                char *cut = strndup(str, max);
                ps_text_safe(out, cut ? cut : "?");
                free(cut);
            } else {
                ps_text_safe(out, str);
            }
            break;
        }
        case 'd':
        case 'i':
            if (is_llong)
                fprintf(out, spec, va_arg(ap, long long));
            else if (is_long || is_size)
                fprintf(out, spec, va_arg(ap, long));
            else
                fprintf(out, spec, va_arg(ap, int));
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            if (is_llong)
                fprintf(out, spec, va_arg(ap, unsigned long long));
            else if (is_long || is_size)
                fprintf(out, spec, va_arg(ap, unsigned long));
            else
                fprintf(out, spec, va_arg(ap, unsigned));
            break;
        case 'f':
        case 'g':
        case 'e':
            fprintf(out, spec, va_arg(ap, double));
            break;
        case 'c':
            fprintf(out, spec, va_arg(ap, int));
            break;
        case '%':
            fputc('%', out);
            break;
        default: /* no other conversion is used: print the spec, take no argument */
            fputs(spec, out);
            break;
        }
        fmt = pct + speclen;
    }
    va_end(ap);
}
