/* Target strings on a terminal (see render_common.h): a thread name, a file name or a repr
 * must not be able to move the cursor, retitle the window or forge output lines. One function,
 * unit(), decides what is shown as it is; ps_text_safe (a stream) and ps_term_escape (a bounded
 * buffer) only write what it decides. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_common.h"

/* How unit() reads bytes past 0x7f. TEXT (the text renderers): they pass, except a C1 control
 * in UTF-8 (0xc2 0x80-0x9f), escaped as the one \xNN of its code point. UTF8 (top): only a valid,
 * shortest, printable UTF-8 sequence passes; any other byte is escaped alone, so a C1 control is
 * \xc2\xNN. ASCII (top on a terminal whose locale is not UTF-8): every byte past 0x7f escaped. */
enum mode { TEXT, UTF8, ASCII };

/* The length of the valid UTF-8 sequence at P (P[0] >= 0x80), 0 when it is not one: a bad lead
 * or continuation byte, an overlong form, a surrogate, past U+10FFFF, or a C1 control. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = p[0] >= 0xf5 ? 0 : p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    uint32_t cp = p[0] & (n == 4 ? 0x07 : n == 3 ? 0x0f : 0x1f);
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0x80 && cp < 0xa0))
        return 0;
    return n;
}

/* One unit of the string at P (*P != 0): returns how many bytes it spans; *ESC is -1 when they
 * are shown as they are, else the value shown as \xNN instead. C0 controls and DEL are always
 * escaped; bytes past 0x7f as MODE says. */
static size_t unit(const unsigned char *p, enum mode mode, int *esc)
{
    *esc = -1;
    if (*p < 0x20 || *p == 0x7f) {
        *esc = *p;
        return 1;
    }
    if (*p < 0x80)
        return 1;
    if (mode == TEXT) {
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            *esc = p[1];
            return 2;
        }
        return 1;
    }
    size_t n = mode == UTF8 ? utf8_len(p) : 0;
    if (!n) {
        *esc = *p;
        return 1;
    }
    return n;
}

void ps_text_safe(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "?");
    while (*p) {
        int esc;
        size_t n = unit(p, TEXT, &esc);
        if (esc >= 0)
            fprintf(out, "\\x%02x", esc);
        else
            fwrite(p, 1, n, out);
        p += n;
    }
}

char *ps_term_escape(const char *s, char *buf, size_t size, int ascii)
{
    if (!size)
        return buf;
    const unsigned char *p = (const unsigned char *)(s ? s : "?");
    size_t o = 0;
    while (*p) {
        int esc;
        char tmp[8];
        size_t n = unit(p, ascii ? ASCII : UTF8, &esc);
        size_t len = esc >= 0 ? (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", esc) : n;
        if (o + len >= size) /* a unit is written whole or not at all */
            break;
        memcpy(buf + o, esc >= 0 ? tmp : (const char *)p, len);
        o += len;
        p += n;
    }
    buf[o] = 0;
    return buf;
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
