/* The query-string redaction rule (repr.c ps_query_secrets): which parameter values of a text
 * are secrets under the default --redact pattern. */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "../../analyze/python/walker_internal.h"
#include "check.h"

/* TEXT with each secret span replaced by "<>". */
static void redact(struct ps_walker *w, const char *text, char *out)
{
    struct ps_span spans[8];
    size_t n = strlen(text), ns = ps_query_secrets(w, (const unsigned char *)text, 1, n, spans, 8);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k < ns && i == spans[k].start) {
            strcpy(out, "<>");
            out += 2;
            if (spans[k].end > spans[k].start) {
                i = spans[k++].end - 1;
                continue;
            }
            k++;
        }
        *out++ = text[i];
    }
    *out = '\0';
}

static const struct {
    const char *in, *out;
} cases[] = {
    {"id=42&token=abc", "id=42&token=<>"},
    {"/hang?id=42&token=abc#frag", "/hang?id=42&token=<>#frag"},
    {"a=1;Password=x;b=2", "a=1;Password=<>;b=2"},
    {"api_key=k1&API-KEY=k2&apikey=k3", "api_key=<>&API-KEY=k2&apikey=<>"},
    {"GET /x?session_id=s HTTP/1.1", "GET /x?session_id=<>"},
    {"no query here", "no query here"},
    {"tokens", "tokens"},
    {"x=token=1", "x=token=1"},           /* a value that looks like a parameter */
    {"x=1?token=2", "x=1?token=<>"},
    {"a b=1&secret=2", "a b=1&secret=<>"}, /* a name with a space is none */
    {"#token=1", "#token=1"},             /* the fragment is not the query */
};

int main(void)
{
    struct ps_walker w;
    memset(&w, 0, sizeof w);
    CHECK(regcomp(&w.redact_re, PS_REDACT_DEFAULT, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0);
    w.redact_on = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        redact(&w, cases[i].in, out);
        if (strcmp(out, cases[i].out) != 0)
            fprintf(stderr, "%s -> %s, want %s\n", cases[i].in, out, cases[i].out);
        CHECK(strcmp(out, cases[i].out) == 0);
    }
    /* more secrets than spans: the last span runs to the end */
    struct ps_span few[2];
    const char *many = "token=1&a=2&token=3&b=4&token=5";
    CHECK(ps_query_secrets(&w, (const unsigned char *)many, 1, strlen(many), few, 2) == 2);
    CHECK(few[0].start == 6 && few[0].end == 7 && few[1].start == 18 &&
          few[1].end == strlen(many));
    w.redact_on = 0;
    struct ps_span spans[2];
    CHECK(ps_query_secrets(&w, (const unsigned char *)"token=1", 1, 7, spans, 2) == 0);
    regfree(&w.redact_re);
    return CHECK_DONE();
}
