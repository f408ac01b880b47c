/* A flame graph as one self-contained SVG (no script, no external file): the stacks of a
 * profile merged into a tree, each node a rectangle whose width is its share of the samples,
 * the outermost frame at the bottom, siblings in name order (as flamegraph.pl draws them).
 * Hovering shows each rectangle's <title>: "label: N samples (P%), self M". */
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/profile.h"

#define WIDTH 1200.0
#define FRAME_H 16
#define MARGIN 10.0
#define TOP 46
#define MIN_WIDTH 0.1 /* narrower rectangles are not drawn */

struct node {
    uint32_t frame;
    uint32_t first_child, next; /* node indexes, 0 = none (node 0 is the root) */
    uint64_t total, self;
    char *label;                /* for sorting and drawing */
};

struct tree {
    struct node *v;
    size_t n, cap;
    const struct ps_profile *p;
};

static int new_node(struct tree *t, uint32_t frame, uint32_t *out)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        struct node *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv)
            return PS_NOMEM;
        t->v = nv;
        t->cap = nc;
    }
    char label[1024];
    ps_profile_frame_label(t->p, frame, label, sizeof label);
    struct node *nd = &t->v[t->n];
    memset(nd, 0, sizeof *nd);
    nd->frame = frame;
    if (!(nd->label = strdup(label)))
        return PS_NOMEM;
    *out = (uint32_t)t->n++;
    return PS_OK;
}

static int child(struct tree *t, uint32_t parent, uint32_t frame, uint32_t *out)
{
    for (uint32_t c = t->v[parent].first_child; c; c = t->v[c].next)
        if (t->v[c].frame == frame) {
            *out = c;
            return PS_OK;
        }
    uint32_t c;
    int rc = new_node(t, frame, &c); /* may move t->v */
    if (rc)
        return rc;
    t->v[c].next = t->v[parent].first_child;
    t->v[parent].first_child = c;
    *out = c;
    return PS_OK;
}

static int label_order(const void *a, const void *b, void *ctx)
{
    const struct tree *t = ctx;
    return strcmp(t->v[*(const uint32_t *)a].label, t->v[*(const uint32_t *)b].label);
}

/* Children of every node in label order (insertion sort of a singly linked list). */
static void sort_children(struct tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        uint32_t sorted = 0, c = t->v[i].first_child;
        while (c) {
            uint32_t next = t->v[c].next;
            if (!sorted || label_order(&c, &sorted, t) < 0) {
                t->v[c].next = sorted;
                sorted = c;
            } else {
                uint32_t at = sorted;
                while (t->v[at].next && label_order(&t->v[at].next, &c, t) <= 0)
                    at = t->v[at].next;
                t->v[c].next = t->v[at].next;
                t->v[at].next = c;
            }
            c = next;
        }
        t->v[i].first_child = sorted;
    }
}

static void xml_text(FILE *out, const char *s, size_t max)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if (ch < 0x20)
                fputc(' ', out);
            else
                fputc(ch, out); /* labels come from code objects: UTF-8 */
        }
    }
    if (len > max)
        fputs("..", out);
}

static void color(const struct ps_profile_frame *f, char *buf, size_t size)
{
    uint32_t h = 2166136261u;
    for (const char *c = f ? f->function : ""; c && *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    if (!f || f->kind == 0)
        snprintf(buf, size, "rgb(%u,%u,%u)", 160 + h % 40, 160 + h % 40, 170 + h % 40);
    else if (f->kind == PS_FRAME_NATIVE)
        snprintf(buf, size, "rgb(%u,%u,%u)", 80 + h % 60, 140 + (h >> 8) % 60, 220);
    else
        snprintf(buf, size, "rgb(%u,%u,%u)", 205 + h % 50, 80 + (h >> 8) % 140, 40 + (h >> 16) % 50);
}

int ps_profile_write_svg(FILE *out, const struct ps_profile *p, const char *title)
{
    struct tree t = {NULL, 0, 0, p};
    uint32_t root;
    int rc = new_node(&t, UINT32_MAX, &root);
    if (!rc) {
        free(t.v[root].label);
        t.v[root].label = strdup("all");
        if (!t.v[root].label)
            rc = PS_NOMEM;
    }
    int multi = ps_profile_processes(p) > 1;
    unsigned max_depth = 0;
    for (size_t i = 0; i < ps_profile_nstacks(p) && !rc; i++) {
        const struct ps_profile_stack *s = ps_profile_stack_at(p, i);
        uint32_t at = root;
        t.v[root].total += s->count;
        unsigned depth = 0;
        if (multi) {
            if ((rc = child(&t, at, ps_profile_track_at(p, s->track)->process, &at)))
                break;
            t.v[at].total += s->count;
            depth++;
        }
        for (uint32_t k = 0; k < s->n && !rc; k++, depth++) {
            if ((rc = child(&t, at, s->frames[k], &at)))
                break;
            t.v[at].total += s->count;
        }
        t.v[at].self += s->count;
        if (depth > max_depth)
            max_depth = depth;
    }
    if (rc)
        goto out;
    sort_children(&t);
    unsigned height = TOP + (max_depth + 1) * FRAME_H + 30;
    uint64_t total = t.v[root].total;
    fprintf(out,
            "<?xml version=\"1.0\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" width=\"%.0f\" height=\"%u\" viewBox=\"0 0 %.0f %u\" "
            "xmlns=\"http://www.w3.org/2000/svg\">\n"
            "<style>text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; } "
            "rect { stroke: #fff; stroke-width: 0.5; } g:hover rect { stroke: #000; }</style>\n"
            "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n"
            "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" style=\"font-size:17px\">",
            WIDTH, height, WIDTH, height, WIDTH / 2);
    xml_text(out, title ? title : "pysnap record", 200);
    fprintf(out, "</text>\n<text x=\"%.0f\" y=\"38\" text-anchor=\"middle\">%llu samples; "
                 "hover for details</text>\n",
            WIDTH / 2, (unsigned long long)total);
    /* Depth-first, with an explicit stack of (node, x, depth): depth is bounded anyway. */
    struct item {
        uint32_t node;
        unsigned depth;
        double x;
    } *stack = malloc((t.n ? t.n : 1) * sizeof *stack);
    if (!stack) {
        rc = PS_NOMEM;
        goto out;
    }
    size_t sp = 0;
    stack[sp++] = (struct item){root, 0, MARGIN};
    double scale = total ? (WIDTH - 2 * MARGIN) / (double)total : 0;
    while (sp) {
        struct item it = stack[--sp];
        const struct node *nd = &t.v[it.node];
        double w = (double)nd->total * scale;
        if (w < MIN_WIDTH)
            continue;
        double y = height - 30 - (double)(it.depth + 1) * FRAME_H;
        char fill[32];
        const struct ps_profile_frame *f = it.node == root ? NULL : ps_profile_frame_at(p, nd->frame);
        color(f, fill, sizeof fill);
        fputs("<g><title>", out);
        xml_text(out, nd->label, 2048);
        fprintf(out, ": %llu samples (%.2f%%), self %llu</title>", (unsigned long long)nd->total,
                total ? 100.0 * (double)nd->total / (double)total : 0.0,
                (unsigned long long)nd->self);
        fprintf(out, "<rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>",
                it.x, y, w, FRAME_H - 1, fill);
        size_t chars = (size_t)(w / 7.0);
        if (chars >= 3) {
            fprintf(out, "<text x=\"%.2f\" y=\"%.0f\">", it.x + 3, y + FRAME_H - 4);
            xml_text(out, nd->label, chars - 2);
            fputs("</text>", out);
        }
        fputs("</g>\n", out);
        /* Children left to right: push in reverse so the first is drawn first. */
        double cx = it.x;
        size_t first = sp;
        for (uint32_t c = nd->first_child; c; c = t.v[c].next) {
            stack[sp++] = (struct item){c, it.depth + 1, cx};
            cx += (double)t.v[c].total * scale;
        }
        for (size_t a = first, b = sp; b > a + 1; a++, b--) {
            struct item tmp = stack[a];
            stack[a] = stack[b - 1];
            stack[b - 1] = tmp;
        }
    }
    free(stack);
    fputs("</svg>\n", out);
    if (ferror(out))
        rc = PS_IO;
out:
    for (size_t i = 0; i < t.n; i++)
        free(t.v[i].label);
    free(t.v);
    return rc;
}
