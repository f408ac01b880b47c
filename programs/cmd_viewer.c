/* pysnap viewer -o FILE: write the viewer page, the analyzer compiled to WebAssembly in one
 * self-contained HTML file (wasm/viewer), for someone without pysnap: they open it in a
 * browser and drop snapshots on it. The page is embedded at build time (-Dviewer=FILE, which
 * the release does); a build without it says where to get one. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifdef PYSNAP_HAVE_VIEWER
extern const unsigned char ps_viewer_html[];
extern const size_t ps_viewer_html_len;
#endif

void usage_viewer(FILE *out)
{
    fprintf(out,
            "Usage: pysnap viewer -o FILE.html\n\n"
            "Writes the viewer: one HTML file with pysnap's analyzer inside (WebAssembly). Open\n"
            "it in a browser (from disk: no server, no network) and drop .snap files on it: it\n"
            "shows the report `pysnap analyze -o report.html` writes, computed in the page;\n"
            "nothing is uploaded. Mail it to whoever reads your snapshots.\n\n"
            "  -o, --output FILE    the page to write (replaced if it exists)\n"
            "  -h, --help           this help\n\n%s",
            exit_codes_help);
}

int cmd_viewer(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *output = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'h': usage_viewer(stdout); return 0;
        default: return usage_error("viewer: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("viewer: unexpected argument '%s'", argv[optind]);
    if (!output)
        return usage_error("%s", "viewer needs -o FILE.html");
#ifdef PYSNAP_HAVE_VIEWER
    FILE *f = fopen(output, "wb");
    if (!f) {
        fprintf(stderr, "pysnap: cannot create %s: %s\n", output, strerror(errno));
        return 1;
    }
    size_t n = fwrite(ps_viewer_html, 1, ps_viewer_html_len, f);
    if (fclose(f) != 0 || n != ps_viewer_html_len) {
        fprintf(stderr, "pysnap: cannot write %s: %s\n", output, strerror(errno));
        return 1;
    }
    printf("%s: the pysnap viewer (%zu bytes); open it in a browser, drop .snap files on it\n",
           output, ps_viewer_html_len);
    return 0;
#else
    fprintf(stderr,
            "pysnap: this pysnap was built without the viewer page. Every release publishes it\n"
            "(pysnap-viewer.html, and the static pysnap has it inside); from the source:\n"
            "scripts/build-wasm.sh (needs emscripten) writes dist/pysnap-viewer.html, and\n"
            "meson configure BUILD -Dviewer=dist/pysnap-viewer.html puts it into pysnap.\n");
    return 1;
#endif
}
