/* pysnap-analyze: `pysnap analyze` compiled to WebAssembly. The same command code as the
 * native binary (programs/cmd_analyze.c over analyze/), so the output is the same bytes; only
 * this entry point is the wasm build's own.
 *
 * Node (pysnap-analyze.js, NODERAWFS): `pysnap-analyze FILE... [options]` reads and writes the
 * real file system. Browser (pysnap-analyze-web.js, MEMFS): the page writes the dropped files
 * into the in-memory file system and calls main once per analysis; pysnap_max_snapshot_bytes()
 * lets it refuse a file too large before copying it in. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pysnap/snapshot.h"
#include "cli.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#else
#define EMSCRIPTEN_KEEPALIVE
#endif

#ifndef PYSNAP_VERSION
#define PYSNAP_VERSION "0.0.0"
#endif

EMSCRIPTEN_KEEPALIVE double pysnap_max_snapshot_bytes(void);
EMSCRIPTEN_KEEPALIVE double pysnap_max_snapshot_bytes(void)
{
    return (double)PS_MAX_SNAPSHOT_BYTES;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        printf("pysnap %s (commit %s, WebAssembly build: analysis only)\n", PYSNAP_VERSION,
               ps_build_commit);
        return 0;
    }
    optind = 0; /* the page calls main again and again: getopt starts afresh (musl, glibc) */
    return cmd_analyze(argc, argv);
}
