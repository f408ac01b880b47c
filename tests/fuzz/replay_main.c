/* A main() for the fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput once over
 * every file named on the command line (a directory means each file in it). The normal
 * build (tests/meson.build, suite fuzz-replay) links it with fuzz_snapshot.c, fuzz_walker.c
 * and fuzz_core.c, so every committed seed and regression input is replayed by every test
 * run, with gcc, with or without -Dsanitize=true, and with no clang installed. A crash is a
 * signal, a hang is the 25 s alarm (libFuzzer's -timeout in tools/run-fuzzers.sh). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (64u << 20) /* far above libFuzzer's -max_len */

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    unsigned char *buf = malloc(REPLAY_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return 1;
    }
    fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
    alarm(25);
    LLVMFuzzerTestOneInput(buf, n);
    alarm(0);
    free(buf);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int failed = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            if (errno == ENOENT) /* no regressions/<target>/ yet */
                continue;
            perror(argv[i]);
            failed = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed |= replay_file(argv[i]);
            count++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            perror(argv[i]);
            failed = 1;
            continue;
        }
        char **names = NULL;
        size_t nn = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char **nv = realloc(names, (nn + 1) * sizeof *names);
            if (!nv)
                abort();
            names = nv;
            if (asprintf(&names[nn], "%s/%s", argv[i], de->d_name) < 0)
                abort();
            nn++;
        }
        closedir(d);
        qsort(names, nn, sizeof *names, name_cmp);
        for (size_t k = 0; k < nn; k++) {
            failed |= replay_file(names[k]);
            count++;
            free(names[k]);
        }
        free(names);
    }
    printf("%d inputs replayed%s\n", count, failed ? ", some unreadable" : "");
    return failed || count == 0;
}
