/* CPython's str hash (Python/pyhash.c): SipHash-2-4 (3.8-3.10) or SipHash-1-3 (3.11+) of the
 * string's raw code units, keyed by the target's _Py_HashSecret. Lets the walker find a key in
 * a dict the way the interpreter does (a probe or two) instead of reading every key. */
#include <stdint.h>
#include <string.h>

#include "walker_internal.h"

#define ROTATE(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define HALF_ROUND(a, b, c, d, s, t) \
    a += b;                          \
    c += d;                          \
    b = ROTATE(b, s) ^ a;            \
    d = ROTATE(d, t) ^ c;            \
    a = ROTATE(a, 32);
#define SINGLE_ROUND(v0, v1, v2, v3)      \
    HALF_ROUND(v0, v1, v2, v3, 13, 16);   \
    HALF_ROUND(v2, v1, v0, v3, 17, 21);

static uint64_t siphash(unsigned crounds, unsigned drounds, uint64_t k0, uint64_t k1,
                        const unsigned char *in, size_t len)
{
    uint64_t b = (uint64_t)len << 56;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    for (; len >= 8; len -= 8, in += 8) {
        uint64_t mi;
        memcpy(&mi, in, 8);
        v3 ^= mi;
        for (unsigned r = 0; r < crounds; r++) {
            SINGLE_ROUND(v0, v1, v2, v3);
        }
        v0 ^= mi;
    }
    uint64_t t = 0;
    memcpy(&t, in, len);
    b |= t;
    v3 ^= b;
    for (unsigned r = 0; r < crounds; r++) {
        SINGLE_ROUND(v0, v1, v2, v3);
    }
    v0 ^= b;
    v2 ^= 0xff;
    for (unsigned r = 0; r < drounds; r++) {
        SINGLE_ROUND(v0, v1, v2, v3);
    }
    return (v0 ^ v1) ^ (v2 ^ v3);
}

int ps_str_hash(uint8_t algorithm, uint64_t k0, uint64_t k1, const char *ascii, int64_t *out)
{
    size_t len = strlen(ascii);
    uint64_t h;
    if (len == 0)
        h = 0;
    else if (algorithm == PS_HASH_SIPHASH24)
        h = siphash(2, 4, k0, k1, (const unsigned char *)ascii, len);
    else if (algorithm == PS_HASH_SIPHASH13)
        h = siphash(1, 3, k0, k1, (const unsigned char *)ascii, len);
    else
        return -1;
    *out = (int64_t)h == -1 ? -2 : (int64_t)h;
    return 0;
}
