/* libFuzzer target: an ordinary ELF core (gcore's, the kernel's) as `pysnap analyze CORE
 * --exe PYTHON --sysroot DIR` reads it.
 *
 * Input layout:
 *   bytes 0-3   u32 little-endian EXE_LEN (cut to what follows)
 *   EXE_LEN     the executable: written to <tmp>/python, the file --exe names; EXE_LEN 0
 *               means no --exe
 *   the rest    the core: written to a memfd, opened by its /proc/self/fd path
 *
 * The sysroot is always an empty directory, so no file outside the fuzzer's temporary
 * directory is ever read: every NT_FILE mapping is absent except the one --exe stands in for
 * (whose file name is "python", or which holds AT_ENTRY). As the CLI does: ps_is_plain_core(),
 * ps_core_open(), ps_report_build(), then both renderers, and the JSON must parse
 * (fuzz_common.h). The core's mtime (the report's capture time) is fixed: deterministic.
 *
 * Seeds (tests/fuzz/make_corpus.py --core-only): the committed raw snapshots made into plain
 * cores (their CORE notes, PT_LOADs, plus NT_FILE and NT_AUXV) with a small synthetic
 * executable whose symbols place _PyRuntime, Py_Version and _Py_HashSecret. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "pysnap/error.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[64], exe_path[96], sysroot[96], core_path[64];
static int core_fd = -1;

static void cleanup(void)
{
    if (exe_path[0])
        unlink(exe_path);
    if (sysroot[0])
        rmdir(sysroot);
    if (tmpdir[0])
        rmdir(tmpdir);
}

static void setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/pysnap-fuzz-core-XXXXXX",
             t && *t && strlen(t) < 32 ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("fuzz_core: mkdtemp");
        abort();
    }
    snprintf(exe_path, sizeof exe_path, "%s/python", tmpdir);
    snprintf(sysroot, sizeof sysroot, "%s/root", tmpdir);
    if (mkdir(sysroot, 0700) != 0)
        abort();
    atexit(cleanup);
    if ((core_fd = memfd_create("fuzz-core", MFD_CLOEXEC)) < 0)
        abort();
    snprintf(core_path, sizeof core_path, "/proc/self/fd/%d", core_fd);
}

/* Replace the contents of FD with BUF. */
static void put(int fd, const uint8_t *buf, size_t len)
{
    if (ftruncate(fd, 0) != 0)
        abort();
    for (size_t off = 0; off < len;) {
        ssize_t n = pwrite(fd, buf + off, len - off, (off_t)off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            abort();
        }
        off += (size_t)n;
    }
    /* A fixed capture time: the report prints it. */
    const struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
    futimens(fd, ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (core_fd < 0)
        setup();
    if (size < 4)
        return 0;
    ps_error_clear();
    size_t exe_len = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
                     (size_t)data[3] << 24;
    if (exe_len > size - 4)
        exe_len = size - 4;
    const char *exe = NULL;
    if (exe_len) {
        int fd = open(exe_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            abort();
        put(fd, data + 4, exe_len);
        close(fd);
        exe = exe_path;
    } else {
        unlink(exe_path); /* nothing of an earlier input stays readable */
    }
    put(core_fd, data + 4 + exe_len, size - 4 - exe_len);

    /* The CLI: with --exe or --sysroot, anything but a plain core is a usage error. */
    if (!ps_is_plain_core(core_path))
        return 0;
    struct ps_snapshot *snap = NULL;
    int rc = ps_core_open(core_path, exe, sysroot, &snap);
    fuzz_report_opened(rc, snap);
    return 0;
}
