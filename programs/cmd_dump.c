/* dump: capture in memory and print it at once, like py-spy dump: no file is written. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"
#include "cli.h"

void usage_dump(FILE *out)
{
    fprintf(out,
            "Usage: pysnap dump --pid PID [options]\n\n"
            "Captures PID like 'capture' (frozen for milliseconds) but keeps the snapshot in\n"
            "memory and prints it like 'analyze': nothing is written to disk.\n\n"
            "  -p, --pid PID        process to dump (required)\n"
            "  -j, --json           print the JSON document (doc/schema.json)\n"
            "  -l, --locals         text: print each frame's local variables (captured\n"
            "                       only with this option or --json)\n"
            "  -n, --native         native and Python frames merged, system call, instruction\n"
            "  -t, --tasks          every asyncio task with its coroutine chain (text)\n"
            "      --timeout MS     wait at most MS for the threads to stop (default 2000)\n"
            "  -h, --help           this help\n\n%s",
            exit_codes_help);
}

int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {{"pid", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"locals", no_argument, NULL, 'l'},
                                         {"native", no_argument, NULL, 'n'},
                                         {"tasks", no_argument, NULL, 't'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ps_capture_opts o;
    ps_capture_opts_default(&o);
    int c, json = 0, locals = 0, native = 0, tasks = 0;
    unsigned long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+p:jlnth", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_pid_arg(optarg, &o.pid))
                return 2;
            break;
        case 'j': json = 1; break;
        case 'l': locals = 1; break;
        case 'n': native = 1; break;
        case 't': tasks = 1; break;
        case 'T':
            if (parse_uint(optarg, 600000, &v) || v == 0)
                return usage_error("--timeout takes milliseconds, not '%s'", optarg);
            o.timeout_ms = (unsigned)v;
            break;
        case 'h': usage_dump(stdout); return 0;
        default: return usage_error("dump: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("dump: unexpected argument '%s'", argv[optind]);
    if (!o.pid)
        return usage_error("%s", "dump needs --pid PID");
    o.compress_level = 0; /* it never leaves memory */
    o.limits.locals = json || locals; /* read values only when they are shown */
    unsigned char *buf;
    size_t len;
    struct ps_capture_result r;
    int rc = ps_capture_to_memory(&o, &buf, &len, &r);
    if (rc)
        return fail(rc);
    struct ps_snapshot *snap;
    if ((rc = ps_snapshot_open_buffer(buf, len, &snap))) /* takes BUF */
        return fail(rc);
    struct ps_report report;
    rc = ps_report_build(snap, &report);
    if (!rc) {
        struct ps_render_opts ro = {.locals = json || locals, .native = native, .tasks = tasks};
        rc = (json ? &ps_render_json : &ps_render_text)->render(stdout, &report, &ro);
        if (fflush(stdout) != 0 && !rc)
            rc = ps_error_set(PS_IO, "cannot write the output");
    }
    ps_report_free(&report);
    ps_snapshot_close(snap);
    return rc ? fail(rc) : 0;
}
