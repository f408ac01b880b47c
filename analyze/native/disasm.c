/* capstone behind dlopen (see disasm.h): the few entry points pysnap uses, resolved once.
 * The static build (-Dstatic=true defines PS_CAPSTONE_LINKED) links capstone in and takes the
 * same entry points from it: one code path either way, only load_capstone differs. */
#include "disasm.h"

#include <capstone/capstone.h>
#ifndef PS_CAPSTONE_LINKED
#include <dlfcn.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The soname of the capstone whose headers we were built with: its structures are that ABI. */
#define PS_STR2(x) #x
#define PS_STR(x) PS_STR2(x)
#define CAPSTONE_SONAME "libcapstone.so." PS_STR(CS_API_MAJOR)

/* The library and its entry points, resolved once per process and kept (as a linked library
 * would be): analysis opens a disassembler per snapshot, and `record --native` per sample;
 * loading capstone again each time would cost its start-up each time. */
static struct {
    pthread_once_t once;
    int ok;
    cs_err (*open)(cs_arch, cs_mode, csh *);
    size_t (*disasm)(csh, const uint8_t *, size_t, uint64_t, size_t, cs_insn **);
    void (*free)(cs_insn *, size_t);
    cs_err (*close)(csh *);
} capstone = {PTHREAD_ONCE_INIT, 0, NULL, NULL, NULL, NULL};

#ifdef PS_CAPSTONE_LINKED
static void load_capstone(void)
{
    capstone.open = cs_open;
    capstone.disasm = cs_disasm;
    capstone.free = cs_free;
    capstone.close = cs_close;
    capstone.ok = 1;
}
#else
static void load_capstone(void)
{
    void *lib = dlopen(CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    /* POSIX: a function pointer from dlsym goes through a data pointer. */
    *(void **)&capstone.open = dlsym(lib, "cs_open");
    *(void **)&capstone.disasm = dlsym(lib, "cs_disasm");
    *(void **)&capstone.free = dlsym(lib, "cs_free");
    *(void **)&capstone.close = dlsym(lib, "cs_close");
    capstone.ok = capstone.open && capstone.disasm && capstone.free && capstone.close;
    if (!capstone.ok)
        dlclose(lib);
}
#endif

struct ps_disasm {
    csh handle;
};

struct ps_disasm *ps_disasm_open(void)
{
    pthread_once(&capstone.once, load_capstone);
    if (!capstone.ok)
        return NULL;
    struct ps_disasm *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (capstone.open(CS_ARCH_X86, CS_MODE_64, &d->handle) != CS_ERR_OK) {
        free(d);
        return NULL;
    }
    return d;
}

void ps_disasm_one(struct ps_disasm *d, const unsigned char *code, size_t len, uint64_t pc,
                   char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    cs_insn *insn = NULL;
    if (!d || !len || capstone.disasm(d->handle, code, len, pc, 1, &insn) != 1)
        return;
    size_t n = strnlen(insn->mnemonic, sizeof insn->mnemonic);
    if (n > size - 1)
        n = size - 1;
    memcpy(buf, insn->mnemonic, n);
    if (insn->op_str[0] && n + 1 < size) {
        buf[n++] = ' ';
        size_t k = strnlen(insn->op_str, sizeof insn->op_str);
        if (k > size - 1 - n)
            k = size - 1 - n;
        memcpy(buf + n, insn->op_str, k);
        n += k;
    }
    buf[n] = '\0';
    capstone.free(insn, 1);
}

void ps_disasm_close(struct ps_disasm *d)
{
    if (!d)
        return;
    capstone.close(&d->handle);
    free(d);
}
