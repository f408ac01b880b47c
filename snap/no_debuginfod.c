/* The static build's stand-in for libdwfl's debuginfod client (debuginfod-client.o of libdw.a).
 *
 * libdw.a's dwfl_end, find-debuginfo and dwfl_build_id_find_elf call into that object, which
 * dlopen()s libdebuginfod.so on first use. A static pysnap must load nothing (and capture never
 * fetches debug info over the network: snap/unwind.c passes dwfl_build_id_find_debuginfo).
 * Linked as an object of the executable, these definitions come before libdw.a on the link
 * line, so the linker never pulls debuginfod-client.o, and dlopen stays out of the binary.
 * Same contract as elfutils' "without debuginfod" build: no client, every lookup "not found". */
#include <elfutils/libdwfl.h>

/* elfutils-internal entry points (libdwfl/libdwflP.h); declared here for -Wmissing-prototypes. */
int __libdwfl_debuginfod_find_executable(Dwfl *dwfl, const unsigned char *build_id_bits,
                                         size_t build_id_len);
int __libdwfl_debuginfod_find_debuginfo(Dwfl *dwfl, const unsigned char *build_id_bits,
                                        size_t build_id_len);
void __libdwfl_debuginfod_end(debuginfod_client *c);

debuginfod_client *dwfl_get_debuginfod_client(Dwfl *dwfl)
{
    (void)dwfl;
    return NULL;
}

int __libdwfl_debuginfod_find_executable(Dwfl *dwfl, const unsigned char *build_id_bits,
                                         size_t build_id_len)
{
    (void)dwfl, (void)build_id_bits, (void)build_id_len;
    return -1;
}

int __libdwfl_debuginfod_find_debuginfo(Dwfl *dwfl, const unsigned char *build_id_bits,
                                        size_t build_id_len)
{
    (void)dwfl, (void)build_id_bits, (void)build_id_len;
    return -1;
}

void __libdwfl_debuginfod_end(debuginfod_client *c)
{
    (void)c;
}
