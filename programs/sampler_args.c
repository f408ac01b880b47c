/* The options `record` and `top` share (which process, how often, which threads, how): one
 * parser, each command adding its own flags. See cli.h. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pysnap/sampler.h"
#include "cli.h"

enum { OPT_CHILDREN = 300, OPT_BLOCKING, OPT_GIL, OPT_IDLE, OPT_NATIVE };

static const struct option shared[] = {
    {"pid", required_argument, NULL, 'p'},         {"rate", required_argument, NULL, 'r'},
    {"children", no_argument, NULL, OPT_CHILDREN}, {"blocking", no_argument, NULL, OPT_BLOCKING},
    {"gil", no_argument, NULL, OPT_GIL},           {"idle", no_argument, NULL, OPT_IDLE},
    {"native", no_argument, NULL, OPT_NATIVE},     {"help", no_argument, NULL, 'h'}};
#define NSHARED (sizeof shared / sizeof *shared)
#define MAX_OWN 8

int parse_sampler_args(const struct sampler_cmd *cmd, int argc, char **argv,
                       struct ps_sampler_opts *o, unsigned *rate)
{
    struct option opts[NSHARED + MAX_OWN + 1];
    size_t n = 0;
    memcpy(opts, shared, sizeof shared);
    while (cmd->longopts[n].name && n < MAX_OWN) {
        opts[NSHARED + n] = cmd->longopts[n];
        n++;
    }
    memset(&opts[NSHARED + n], 0, sizeof *opts);
    char shortopts[32];
    snprintf(shortopts, sizeof shortopts, "+p:r:h%s", cmd->shortopts);
    ps_sampler_opts_default(o);
    *rate = 100;
    unsigned long v;
    int c, rc;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_pid_arg(optarg, &o->pid))
                return 2;
            break;
        case 'r':
            if (parse_uint(optarg, 10000, &v) || v == 0)
                return usage_error("--rate takes samples per second (1-10000), not '%s'", optarg);
            *rate = (unsigned)v;
            break;
        case OPT_CHILDREN: o->children = 1; break;
        case OPT_BLOCKING: o->blocking = 1; break;
        case OPT_GIL: o->gil_only = 1; break;
        case OPT_IDLE: o->idle = 1; break;
        case OPT_NATIVE: o->native = o->blocking = 1; break;
        case 'h': cmd->usage(stdout); return 0;
        case '?':
        case ':':
            return usage_error("%s: unknown or incomplete option '%s'", cmd->name,
                               argv[optind - 1]);
        default:
            if ((rc = cmd->own(c, optarg, cmd->ctx)) != 0)
                return rc;
            break;
        }
    }
    if (optind < argc)
        return usage_error("%s: unexpected argument '%s'", cmd->name, argv[optind]);
    if (!o->pid)
        return usage_error("%s needs --pid PID", cmd->name);
    return -1;
}
