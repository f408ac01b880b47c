/* Which code points repr() prints as they are, per CPython version, without a Unicode
 * database (generated table: unicode_printable.c, tools/gen-unicode-printable.py). */
#ifndef PYSNAP_UNICODE_PRINTABLE_H
#define PYSNAP_UNICODE_PRINTABLE_H

#include <stdint.h>

/* The table bit of CPython MAJOR.MINOR's Unicode version (the newest known for newer ones). */
int ps_unicode_version_bit(int major, int minor);
/* Py_UNICODE_ISPRINTABLE(CP) under the Unicode version of BIT. */
int ps_unicode_printable(uint32_t cp, int bit);

#endif
