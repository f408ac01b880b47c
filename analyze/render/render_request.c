/* The HTTP request a thread or task serves (model.h's ps_request), as the text and JSON
 * renderers and the summary print it. */
#include <stdio.h>

#include "pysnap/model.h"
#include "render_common.h"

void ps_request_route_text(FILE *out, const struct ps_request *r)
{
    ps_text_safe(out, r->method);
    fputc(' ', out);
    ps_text_safe(out, r->path ? r->path : "");
}

void ps_request_text(FILE *out, const struct ps_request *r, const char *indent)
{
    fprintf(out, "%sserving ", indent);
    ps_request_route_text(out, r);
    if (r->query && *r->query) {
        fputc('?', out);
        ps_text_safe(out, r->query);
    }
    if (r->remote_addr) {
        fputs(" from ", out);
        ps_text_safe(out, r->remote_addr);
    }
    if (r->protocol) {
        fputs(", ", out);
        ps_text_safe(out, r->protocol);
    }
    if (r->host) {
        fputs(", Host: ", out);
        ps_text_safe(out, r->host);
    }
    ps_tprintf(out, " (%s: %s in %s)\n", r->source, r->local, r->function ? r->function : "?");
}

void ps_request_json(FILE *out, const struct ps_request *r)
{
    if (!r) {
        fputs("null", out);
        return;
    }
    static const char *const names[] = {"method", "path", "query", "protocol", "remote_addr",
                                        "host"};
    const char *const values[] = {r->method, r->path, r->query, r->protocol, r->remote_addr,
                                  r->host};
    fputc('{', out);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        fprintf(out, "%s\"%s\": ", i ? ", " : "", names[i]);
        ps_json_str(out, values[i]);
    }
    fprintf(out, ", \"query_redacted\": %s, \"found_by\": {\"source\": ",
            r->query_redacted ? "true" : "false");
    ps_json_str(out, r->source);
    fputs(", \"local\": ", out);
    ps_json_str(out, r->local);
    fputs(", \"function\": ", out);
    ps_json_str(out, r->function);
    fputs("}}", out);
}
