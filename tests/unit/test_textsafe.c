/* The two ways a target string reaches a terminal (include/pysnap/textsafe.h), on the same
 * hostile inputs: ps_text_safe (the text renderers, a stream) and ps_term_escape (top, a
 * bounded buffer, UTF-8 or ASCII). Both write what one function decides is printable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pysnap/textsafe.h"

static const struct {
    const char *in, *text, *utf8, *ascii;
} cases[] = {
    {"plain", "plain", "plain", "plain"},
    {"back\\slash", "back\\slash", "back\\slash", "back\\slash"},
    {"\x1b[2Jx", "\\x1b[2Jx", "\\x1b[2Jx", "\\x1b[2Jx"},                    /* ANSI CSI */
    {"\x1b]0;owned\x07", "\\x1b]0;owned\\x07", "\\x1b]0;owned\\x07", "\\x1b]0;owned\\x07"},
    {"a\nb\tc\x7f", "a\\x0ab\\x09c\\x7f", "a\\x0ab\\x09c\\x7f", "a\\x0ab\\x09c\\x7f"},
    {"\r\x01\x1f", "\\x0d\\x01\\x1f", "\\x0d\\x01\\x1f", "\\x0d\\x01\\x1f"},
    /* a C1 control in UTF-8: the text renderers show its code point, top its bytes */
    {"\xc2\x9b" "31m", "\\x9b31m", "\\xc2\\x9b31m", "\\xc2\\x9b31m"},
    {"\xc2\x80\xc2\x9f", "\\x80\\x9f", "\\xc2\\x80\\xc2\\x9f", "\\xc2\\x80\\xc2\\x9f"},
    {"\xc2\xa0", "\xc2\xa0", "\xc2\xa0", "\\xc2\\xa0"},                    /* NBSP: printable */
    {"caf\xc3\xa9", "caf\xc3\xa9", "caf\xc3\xa9", "caf\\xc3\\xa9"},
    {"\xe2\x82\xac\xf0\x9f\x90\x8d", "\xe2\x82\xac\xf0\x9f\x90\x8d", "\xe2\x82\xac\xf0\x9f\x90\x8d",
     "\\xe2\\x82\\xac\\xf0\\x9f\\x90\\x8d"},
    /* invalid UTF-8: the text renderers pass it, top escapes it byte by byte */
    {"\xff\xc3", "\xff\xc3", "\\xff\\xc3", "\\xff\\xc3"},
    {"\x9b", "\x9b", "\\x9b", "\\x9b"},                                    /* a lone 8-bit CSI */
    {"\xe0\x80\xaf", "\xe0\x80\xaf", "\\xe0\\x80\\xaf", "\\xe0\\x80\\xaf"}, /* overlong '/' */
    {"\xc0\xaf", "\xc0\xaf", "\\xc0\\xaf", "\\xc0\\xaf"},                   /* overlong '/' */
    {"\xed\xa0\x80", "\xed\xa0\x80", "\\xed\\xa0\\x80", "\\xed\\xa0\\x80"}, /* a surrogate */
    {"\xf4\x90\x80\x80", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80",
     "\\xf4\\x90\\x80\\x80"},                                              /* past U+10FFFF */
    {"\xf8\x88\x80", "\xf8\x88\x80", "\\xf8\\x88\\x80", "\\xf8\\x88\\x80"}, /* no lead byte */
    {"\xe2\x82", "\xe2\x82", "\\xe2\\x82", "\\xe2\\x82"},                   /* cut short */
    {"", "", "", ""},
};

static char *text(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    ps_text_safe(f, s);
    fclose(f);
    return buf;
}

static void test_same_inputs(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[128], *t = text(cases[i].in);
        if (!t || strcmp(t, cases[i].text))
            fprintf(stderr, "case %zu: text gave \"%s\"\n", i, t ? t : "(null)");
        CHECK(t && !strcmp(t, cases[i].text));
        free(t);
        CHECK(!strcmp(ps_term_escape(cases[i].in, buf, sizeof buf, 0), cases[i].utf8));
        CHECK(!strcmp(ps_term_escape(cases[i].in, buf, sizeof buf, 1), cases[i].ascii));
    }
    char buf[8], *t = text(NULL);
    CHECK(t && !strcmp(t, "?"));
    free(t);
    CHECK(!strcmp(ps_term_escape(NULL, buf, sizeof buf, 0), "?"));
}

/* The buffer takes whole units only: never half an escape, never half a character. */
static void test_bounded(void)
{
    char buf[16];
    CHECK(!strcmp(ps_term_escape("\x01\x02\x03", buf, 9, 0), "\\x01\\x02"));
    CHECK(!strcmp(ps_term_escape("ab\xc3\xa9", buf, 4, 0), "ab"));
    CHECK(!strcmp(ps_term_escape("ab\xc3\xa9", buf, 5, 0), "ab\xc3\xa9"));
    CHECK(!strcmp(ps_term_escape("abc", buf, 1, 0), ""));
    buf[0] = 'x';
    CHECK(ps_term_escape("abc", buf, 0, 0) == buf && buf[0] == 'x');
}

/* ps_tprintf: every %s through ps_text_safe, a precision cutting the bytes first. */
static void test_tprintf(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f)
        return;
    ps_tprintf(f, "%s|%.3s|%5d|%llu|%%\n", "a\x1b" "b", "\x07xyz", 42, 7ULL);
    fclose(f);
    CHECK(!strcmp(buf, "a\\x1bb|\\x07xy|   42|7|%\n"));
    free(buf);
}

int main(void)
{
    test_same_inputs();
    test_bounded();
    test_tprintf();
    return CHECK_DONE();
}
