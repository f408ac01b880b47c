/* Line numbers from a code object's line table, as the interpreter computes f_lineno.
 * Three encodings: 3.8/3.9 co_lnotab, 3.10 co_linetable, 3.11+ the PEP 657 location table.
 * The input is untrusted: every index is checked against LEN. */
#include <stddef.h>

#include "pysnap/pyoffsets.h"
#include "walker_internal.h"

/* 3.8/3.9 (Objects/codeobject.c PyCode_Addr2Line): byte pairs (addr incr, line incr). */
/* co_lnotab: (address increment, line increment) byte pairs; the line increment is signed
 * since 3.6, unsigned before (2.7). */
static int lnotab_line(const unsigned char *p, size_t len, int line, int64_t addrq, int is_signed)
{
    int64_t addr = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        addr += p[i];
        if (addr > addrq)
            break;
        line += is_signed ? (signed char)p[i + 1] : p[i + 1];
    }
    return line;
}

/* 3.10 (Objects/codeobject.c): pairs (byte length of range, signed line delta; -128 = none).
 * Zero-length ranges are skipped as PyLineTable_NextAddressRange does. */
static int linetable310_line(const unsigned char *p, size_t len, int firstlineno, int64_t addrq)
{
    if (addrq < 0)
        return firstlineno;
    int64_t start = 0, end = 0;
    int computed = firstlineno, line = -1;
    size_t i = 0;
    while (end <= addrq) {
        do {
            if (i + 1 >= len)
                return -1;
            start = end;
            end += p[i];
            signed char ldelta = (signed char)p[i + 1];
            i += 2;
            if (ldelta == -128) {
                line = -1;
            } else {
                computed += ldelta;
                line = computed;
            }
        } while (start == end);
    }
    return line;
}

/* 3.11+ varints: 6 bits per byte, bit 6 continues. */
static int read_varint(const unsigned char *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (*i >= len || shift > 60)
            return -1;
        unsigned b = p[(*i)++];
        v |= (uint64_t)(b & 63) << shift;
        shift += 6;
        if (!(b & 64))
            break;
    }
    *out = v;
    return 0;
}

static int read_svarint(const unsigned char *p, size_t len, size_t *i, int64_t *out)
{
    uint64_t v;
    if (read_varint(p, len, i, &v))
        return -1;
    *out = (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
    return 0;
}

/* PEP 657 location table (Objects/locations.md): each entry starts with a byte
 * 1ccccnnn: code c, n+1 code units. */
static int location_line(const unsigned char *p, size_t len, int firstlineno, int64_t addrq)
{
    int64_t addr = 0, line = firstlineno;
    size_t i = 0;
    while (i < len) {
        unsigned first = p[i++];
        if (!(first & 0x80))
            return -1; /* not at an entry start: corrupt */
        unsigned code = (first >> 3) & 15;
        int64_t end = addr + ((first & 7) + 1) * 2;
        int64_t entry_line = line;
        int has_line = 1;
        int64_t delta;
        switch (code) {
        case 15: /* no location */
            has_line = 0;
            break;
        case 13: /* no column */
        case 14: /* long form: the line delta comes first, then end line and columns */
            if (read_svarint(p, len, &i, &delta))
                return -1;
            line += delta;
            entry_line = line;
            break;
        case 10: case 11: case 12: /* one-line forms: line delta = code - 10 */
            line += code - 10;
            entry_line = line;
            break;
        default: /* short forms 0-9: same line */
            break;
        }
        /* Like CPython's advance(): the next entry starts at the next byte with bit 7. */
        while (i < len && !(p[i] & 0x80))
            i++;
        if (addrq < end)
            return has_line ? (int)entry_line : -1;
        addr = end;
    }
    return -1;
}

int ps_line_for_offset(uint8_t model, const unsigned char *table, size_t len, int firstlineno,
                       int64_t addrq)
{
    switch (model) {
    case PS_LINES_LNOTAB:
        return lnotab_line(table, len, firstlineno, addrq, 1);
    case PS_LINES_LNOTAB_UNSIGNED:
        return lnotab_line(table, len, firstlineno, addrq, 0);
    case PS_LINES_310:
        return linetable310_line(table, len, firstlineno, addrq);
    case PS_LINES_LOCATION:
        if (addrq < 0)
            return firstlineno;
        return location_line(table, len, firstlineno, addrq);
    default:
        return -1;
    }
}
