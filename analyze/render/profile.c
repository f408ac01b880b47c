/* Profile aggregation: interned frames, tracks (one per thread), distinct stacks with
 * counts; and the folded and speedscope writers (the SVG is flamegraph.c). */
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/profile.h"
#include "render_common.h"

#define MAX_TRACKS 65536
#define MAX_STACKS (1u << 20)  /* distinct stacks kept; more are counted as dropped */
#define MAX_DEPTH 1024         /* frames kept per stack (the innermost) */

struct ps_profile {
    struct ps_profile_frame *frames;
    size_t nframes, frames_cap;
    uint32_t *frame_index;      /* open addressing: frame id + 1, 0 empty */
    size_t frame_index_cap;
    struct ps_profile_track *tracks;
    size_t ntracks, tracks_cap;
    struct ps_profile_stack *stacks;
    size_t nstacks, stacks_cap;
    uint32_t *stack_index;      /* open addressing: stack index + 1, 0 empty */
    size_t stack_index_cap;
    uint64_t samples, lost;
};

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

int ps_profile_new(struct ps_profile **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? PS_OK : PS_NOMEM;
}

void ps_profile_free(struct ps_profile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nframes; i++) {
        free((char *)p->frames[i].function);
        free((char *)p->frames[i].file);
    }
    for (size_t i = 0; i < p->ntracks; i++)
        free(p->tracks[i].name);
    for (size_t i = 0; i < p->nstacks; i++)
        free((uint32_t *)p->stacks[i].frames);
    free(p->frames);
    free(p->frame_index);
    free(p->tracks);
    free(p->stacks);
    free(p->stack_index);
    free(p);
}

static int streq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static uint64_t frame_hash(uint8_t kind, const char *function, const char *file)
{
    return fnv_str(fnv_str(fnv(0xcbf29ce484222325ull, &kind, 1), function), file);
}

/* Grow an open-addressing index of ids (+1) to twice its size, rehashing with HASH. */
static int grow_index(uint32_t **index, size_t *cap, size_t n, uint64_t (*hash)(void *, uint32_t),
                      void *ctx)
{
    if ((n + 1) * 2 <= *cap)
        return PS_OK;
    size_t ncap = *cap ? *cap * 2 : 1024;
    uint32_t *ni = calloc(ncap, sizeof *ni);
    if (!ni)
        return PS_NOMEM;
    for (size_t i = 0; i < *cap; i++)
        if ((*index)[i]) {
            size_t h = (size_t)hash(ctx, (*index)[i] - 1) & (ncap - 1);
            while (ni[h])
                h = (h + 1) & (ncap - 1);
            ni[h] = (*index)[i];
        }
    free(*index);
    *index = ni;
    *cap = ncap;
    return PS_OK;
}

static uint64_t frame_rehash(void *ctx, uint32_t id)
{
    const struct ps_profile_frame *f = &((struct ps_profile *)ctx)->frames[id];
    return frame_hash(f->kind, f->function, f->file);
}

static int intern_frame(struct ps_profile *p, uint8_t kind, const char *function,
                        const char *file, uint32_t *id)
{
    int rc = grow_index(&p->frame_index, &p->frame_index_cap, p->nframes, frame_rehash, p);
    if (rc)
        return rc;
    size_t mask = p->frame_index_cap - 1;
    size_t h = (size_t)frame_hash(kind, function, file) & mask;
    for (; p->frame_index[h]; h = (h + 1) & mask) {
        const struct ps_profile_frame *f = &p->frames[p->frame_index[h] - 1];
        if (f->kind == kind && streq(f->function, function) && streq(f->file, file)) {
            *id = p->frame_index[h] - 1;
            return PS_OK;
        }
    }
    if (p->nframes == p->frames_cap) {
        size_t nc = p->frames_cap ? p->frames_cap * 2 : 256;
        struct ps_profile_frame *nf = realloc(p->frames, nc * sizeof *nf);
        if (!nf)
            return PS_NOMEM;
        p->frames = nf;
        p->frames_cap = nc;
    }
    struct ps_profile_frame *f = &p->frames[p->nframes];
    f->kind = kind;
    f->function = strdup(function ? function : "?");
    f->file = file ? strdup(file) : NULL;
    if (!f->function || (file && !f->file)) {
        free((char *)f->function);
        free((char *)f->file);
        return PS_NOMEM;
    }
    *id = (uint32_t)p->nframes++;
    p->frame_index[h] = *id + 1;
    return PS_OK;
}

static int find_track(struct ps_profile *p, uint64_t pid, const char *cmdline,
                      const struct ps_thread *t, uint32_t *out)
{
    for (size_t i = p->ntracks; i-- > 0;) /* recent tracks first: the same threads repeat */
        if (p->tracks[i].pid == pid && p->tracks[i].tid == t->tid) {
            /* a sampler learns threading's names after its first rounds */
            if (!p->tracks[i].name && t->name && !(p->tracks[i].name = strdup(t->name)))
                return PS_NOMEM;
            *out = (uint32_t)i;
            return PS_OK;
        }
    if (p->ntracks >= MAX_TRACKS)
        return PS_LIMIT;
    char label[512];
    snprintf(label, sizeof label, "%llu", (unsigned long long)pid);
    uint32_t proc;
    int rc = intern_frame(p, 0, label, cmdline ? cmdline : "", &proc);
    if (rc)
        return rc;
    if (p->ntracks == p->tracks_cap) {
        size_t nc = p->tracks_cap ? p->tracks_cap * 2 : 16;
        struct ps_profile_track *nt = realloc(p->tracks, nc * sizeof *nt);
        if (!nt)
            return PS_NOMEM;
        p->tracks = nt;
        p->tracks_cap = nc;
    }
    struct ps_profile_track *tr = &p->tracks[p->ntracks];
    tr->pid = pid;
    tr->tid = t->tid;
    tr->process = proc;
    tr->name = t->name ? strdup(t->name) : NULL;
    *out = (uint32_t)p->ntracks++;
    return PS_OK;
}

static uint64_t stack_hash(uint32_t track, const uint32_t *frames, uint32_t n)
{
    return fnv(fnv(0xcbf29ce484222325ull, &track, sizeof track), frames, n * sizeof *frames);
}

static uint64_t stack_rehash(void *ctx, uint32_t id)
{
    const struct ps_profile_stack *s = &((struct ps_profile *)ctx)->stacks[id];
    return stack_hash(s->track, s->frames, s->n);
}

static int add_stack(struct ps_profile *p, uint32_t track, const uint32_t *frames, uint32_t n)
{
    int rc = grow_index(&p->stack_index, &p->stack_index_cap, p->nstacks, stack_rehash, p);
    if (rc)
        return rc;
    size_t mask = p->stack_index_cap - 1;
    size_t h = (size_t)stack_hash(track, frames, n) & mask;
    for (; p->stack_index[h]; h = (h + 1) & mask) {
        struct ps_profile_stack *s = &p->stacks[p->stack_index[h] - 1];
        if (s->track == track && s->n == n && !memcmp(s->frames, frames, n * sizeof *frames)) {
            s->count++;
            return PS_OK;
        }
    }
    if (p->nstacks >= MAX_STACKS) {
        p->lost++;
        return PS_OK;
    }
    if (p->nstacks == p->stacks_cap) {
        size_t nc = p->stacks_cap ? p->stacks_cap * 2 : 256;
        struct ps_profile_stack *ns = realloc(p->stacks, nc * sizeof *ns);
        if (!ns)
            return PS_NOMEM;
        p->stacks = ns;
        p->stacks_cap = nc;
    }
    uint32_t *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return PS_NOMEM;
    memcpy(copy, frames, n * sizeof *copy);
    p->stacks[p->nstacks] = (struct ps_profile_stack){track, n, copy, 1};
    p->stack_index[h] = (uint32_t)++p->nstacks;
    return PS_OK;
}

int ps_profile_add_thread(struct ps_profile *p, uint64_t pid, const char *cmdline,
                          const struct ps_thread *t, int native)
{
    uint32_t ids[MAX_DEPTH];
    uint32_t n = 0;
    /* t->frames is innermost first: keep the innermost MAX_DEPTH, stored outermost first. */
    size_t kept = 0;
    for (size_t i = 0; i < t->nframes && kept < MAX_DEPTH; i++)
        kept += t->frames[i].kind == PS_FRAME_PYTHON || (native && t->frames[i].kind == PS_FRAME_NATIVE);
    if (!kept)
        return PS_OK;
    uint32_t track;
    int rc = find_track(p, pid, cmdline, t, &track);
    if (rc)
        return rc == PS_LIMIT ? PS_OK : rc;
    n = (uint32_t)kept;
    size_t k = 0;
    for (size_t i = 0; i < t->nframes && k < kept; i++) {
        const struct ps_frame *f = &t->frames[i];
        if (!(f->kind == PS_FRAME_PYTHON || (native && f->kind == PS_FRAME_NATIVE)))
            continue;
        if ((rc = intern_frame(p, f->kind, f->function, f->file, &ids[n - 1 - k])))
            return rc;
        k++;
    }
    p->samples++;
    return add_stack(p, track, ids, n);
}

uint64_t ps_profile_samples(const struct ps_profile *p)
{
    return p->samples;
}

size_t ps_profile_processes(const struct ps_profile *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ntracks; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = p->tracks[j].pid == p->tracks[i].pid;
        n += !seen;
    }
    return n;
}

size_t ps_profile_nstacks(const struct ps_profile *p) { return p->nstacks; }
const struct ps_profile_stack *ps_profile_stack_at(const struct ps_profile *p, size_t i)
{
    return i < p->nstacks ? &p->stacks[i] : NULL;
}
size_t ps_profile_nframes(const struct ps_profile *p) { return p->nframes; }
const struct ps_profile_frame *ps_profile_frame_at(const struct ps_profile *p, uint32_t id)
{
    return id < p->nframes ? &p->frames[id] : NULL;
}
size_t ps_profile_ntracks(const struct ps_profile *p) { return p->ntracks; }
const struct ps_profile_track *ps_profile_track_at(const struct ps_profile *p, size_t i)
{
    return i < p->ntracks ? &p->tracks[i] : NULL;
}

void ps_profile_frame_label(const struct ps_profile *p, uint32_t id, char *buf, size_t size)
{
    const struct ps_profile_frame *f = ps_profile_frame_at(p, id);
    if (!f)
        snprintf(buf, size, "?");
    else if (f->kind == 0)
        snprintf(buf, size, "process %s (%.200s)", f->function, f->file ? f->file : "");
    else if (f->kind == PS_FRAME_NATIVE)
        snprintf(buf, size, "%s [%s]", f->function, f->file ? f->file : "?");
    else if (f->file && !*f->file) /* a bucket of record's, e.g. <torn> */
        snprintf(buf, size, "%s", f->function);
    else
        snprintf(buf, size, "%s (%s)", f->function, f->file ? f->file : "?");
}

/* Folded stacks: "a;b;c N". A ';' inside a label would split it: replaced by ':'. */
int ps_profile_write_folded(FILE *out, const struct ps_profile *p)
{
    int multi = ps_profile_processes(p) > 1;
    char label[1024];
    for (size_t i = 0; i < p->nstacks; i++) {
        const struct ps_profile_stack *s = &p->stacks[i];
        int first = 1;
        if (multi) {
            ps_profile_frame_label(p, p->tracks[s->track].process, label, sizeof label);
            for (char *c = label; *c; c++)
                if (*c == ';' || *c == '\n')
                    *c = ':';
            fputs(label, out);
            first = 0;
        }
        for (uint32_t k = 0; k < s->n; k++) {
            ps_profile_frame_label(p, s->frames[k], label, sizeof label);
            for (char *c = label; *c; c++)
                if (*c == ';' || *c == '\n')
                    *c = ':';
            fputs(first ? "" : ";", out);
            fputs(label, out);
            first = 0;
        }
        fprintf(out, " %llu\n", (unsigned long long)s->count);
    }
    return ferror(out) ? PS_IO : PS_OK;
}

int ps_profile_write_speedscope(FILE *out, const struct ps_profile *p, const char *title)
{
    fputs("{\"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
          " \"exporter\": \"pysnap record\", \"name\": ", out);
    ps_json_str(out, title);
    fputs(", \"activeProfileIndex\": 0,\n \"shared\": {\"frames\": [", out);
    for (size_t i = 0; i < p->nframes; i++) {
        const struct ps_profile_frame *f = &p->frames[i];
        char label[1024];
        ps_profile_frame_label(p, (uint32_t)i, label, sizeof label);
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
        ps_json_str(out, f->kind == 0 ? label : f->function);
        if (f->kind && f->file) {
            fputs(", \"file\": ", out);
            ps_json_str(out, f->file);
        }
        fputs("}", out);
    }
    fputs("]},\n \"profiles\": [", out);
    for (size_t t = 0; t < p->ntracks; t++) {
        const struct ps_profile_track *tr = &p->tracks[t];
        uint64_t total = 0;
        for (size_t i = 0; i < p->nstacks; i++)
            if (p->stacks[i].track == t)
                total += p->stacks[i].count;
        char name[256];
        snprintf(name, sizeof name, "pid %llu thread %u%s%s", (unsigned long long)tr->pid, tr->tid,
                 tr->name ? " " : "", tr->name ? tr->name : "");
        fputs(t ? ",\n  {\"type\": \"sampled\", \"name\": " : "\n  {\"type\": \"sampled\", \"name\": ",
              out);
        ps_json_str(out, name);
        fprintf(out, ", \"unit\": \"none\", \"startValue\": 0, \"endValue\": %llu,\n   \"samples\": [",
                (unsigned long long)total);
        int first = 1;
        for (size_t i = 0; i < p->nstacks; i++) {
            const struct ps_profile_stack *s = &p->stacks[i];
            if (s->track != t)
                continue;
            fputs(first ? "[" : ", [", out);
            first = 0;
            for (uint32_t k = 0; k < s->n; k++)
                fprintf(out, k ? ", %u" : "%u", s->frames[k]);
            fputs("]", out);
        }
        fputs("],\n   \"weights\": [", out);
        first = 1;
        for (size_t i = 0; i < p->nstacks; i++)
            if (p->stacks[i].track == t) {
                fprintf(out, first ? "%llu" : ", %llu", (unsigned long long)p->stacks[i].count);
                first = 0;
            }
        fputs("]}", out);
    }
    fputs("]}\n", out);
    return ferror(out) ? PS_IO : PS_OK;
}
