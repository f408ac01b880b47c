/* libFuzzer target: the whole offline path over a hostile file.
 *
 * The input is a .snap file (compressed or not). It is opened with ps_snapshot_open_buffer(),
 * and when that succeeds the report is built (so the walker runs over the fuzzed memory too)
 * and rendered as JSON and as text, exactly as `pysnap analyze` does; the JSON must parse
 * (fuzz_common.h). Any crash, sanitizer report, leak, invalid JSON, or input that runs past
 * -timeout is a bug in analyze/.
 *
 * Seeds: tests/fuzz/corpus/snapshot/ (real captures, see tests/fuzz/make_corpus.py). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "pysnap/error.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_error_clear(); /* the detail line is global: start each input clean */
    /* The snapshot takes ownership of a malloc'd copy; an exact-size copy lets ASan see
     * any read past the end of the file. */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    struct ps_snapshot *snap = NULL;
    int rc = ps_snapshot_open_buffer(buf, size, &snap);
    fuzz_report_opened(rc, snap);
    return 0;
}
