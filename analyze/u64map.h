/* A small open-addressing map from a target address to a pointer, for the walker's caches
 * (code objects, type names). Keys must be non-zero. */
#ifndef PYSNAP_U64MAP_H
#define PYSNAP_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct ps_u64map {
    uint64_t *keys;
    void **values;
    size_t cap, len;
};

void *ps_u64map_get(const struct ps_u64map *m, uint64_t key);
/* Returns 0, or PS_NOMEM. Replaces an existing value (the old one is not freed). */
int ps_u64map_put(struct ps_u64map *m, uint64_t key, void *value);
/* Free the tables; FREE_VALUE (may be NULL) is called on every value. */
void ps_u64map_free(struct ps_u64map *m, void (*free_value)(void *));

#endif
