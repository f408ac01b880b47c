/* Growing an array by doubling: the one helper for the arrays of analyze/ and snap/ that
 * grow by a few elements at a time. */
#ifndef PYSNAP_GROW_H
#define PYSNAP_GROW_H

#include <stdint.h>
#include <stdlib.h>

#include "pysnap/error.h"

/* Make the array *PP (of *CAP elements of SIZE bytes) hold at least NEED: doubled from 16
 * until it does. *PP and *CAP are unchanged on failure. Returns PS_OK or PS_NOMEM (also
 * when the size would overflow). */
static inline int ps_grow(void *pp, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return PS_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return PS_NOMEM;
        n *= 2;
    }
    if (size && n > SIZE_MAX / size)
        return PS_NOMEM;
    void *p = realloc(*(void **)pp, n * size);
    if (!p)
        return PS_NOMEM;
    *(void **)pp = p;
    *cap = n;
    return PS_OK;
}

#endif
