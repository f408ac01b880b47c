/* CPython's str hash with a zero key must equal the interpreter's own hash() under
 * PYTHONHASHSEED=0 (vectors printed by pyenv 3.10 = SipHash-2-4 and 3.11 = SipHash-1-3). */
#include <string.h>

#include "../../analyze/python/walker_internal.h"
#include "check.h"

static const struct {
    const char *version, *text;
    long long hash;
} vectors[] = {
    {"3.10", "threading", -5426013259031524831LL},
    {"3.10", "_active", -5360198385244518320LL},
    {"3.10", "_name", 1204151771316391064LL},
    {"3.10", "a", -7583489610679606711LL},
    {"3.10", "abcdefgh", -1847705707669741165LL},
    {"3.10", "abcdefghi", 5991824118181275020LL},
    {"3.10", "MainThread", -3461516327402036419LL},
    {"3.11", "threading", -217255072549013292LL},
    {"3.11", "_active", -8459328279367953207LL},
    {"3.11", "_name", -5408393110073951154LL},
    {"3.11", "a", 4644417185603328019LL},
    {"3.11", "abcdefgh", 4574395652268504554LL},
    {"3.11", "abcdefghi", -532774252720507163LL},
    {"3.11", "MainThread", -6199482644530289537LL},
};

int main(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t algo = strcmp(vectors[i].version, "3.10") == 0 ? PS_HASH_SIPHASH24 : PS_HASH_SIPHASH13;
        int64_t h = 0;
        CHECK(ps_str_hash(algo, 0, 0, vectors[i].text, &h) == 0);
        CHECK(h == vectors[i].hash);
    }
    int64_t h;
    CHECK(ps_str_hash(PS_HASH_UNKNOWN, 0, 0, "x", &h) == -1);
    CHECK(ps_str_hash(PS_HASH_SIPHASH13, 1, 2, "", &h) == 0 && h == 0);
    return CHECK_DONE();
}
