/* util.c - last-error message, overflow-checked sizes, allocation helpers and the seeded generator. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
double cnn_now_ms(void) { return emscripten_get_now(); }
#else
#include <time.h>
double cnn_now_ms(void) {
    struct timespec t;
    timespec_get(&t, TIME_UTC); /* C11; not monotonic, good enough for profiling */
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}
#endif

/* One message per module instance; instances are single-threaded (one per Web Worker). */
static char last_error[512];

int cnn_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

const char *cnn_last_error(void) { return last_error; }

const char *cnn_status_string(int status) {
    switch (status) {
    case CNN_OK: return "ok";
    case CNN_E_INVALID: return "invalid argument";
    case CNN_E_FORMAT: return "malformed input";
    case CNN_E_NOMEM: return "out of memory";
    case CNN_E_DIVERGED: return "training diverged";
    case CNN_E_EMPTY: return "empty input";
    default: return "unknown status";
    }
}

void *cnn_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
void cnn_free(void *p) { free(p); }

int cnn_mul_size(size_t *out, size_t a, size_t b) {
    if (a != 0 && b > (size_t)-1 / a) return -1;
    *out = a * b;
    return 0;
}

int cnn_add_size(size_t *out, size_t a, size_t b) {
    if (b > (size_t)-1 - a) return -1;
    *out = a + b;
    return 0;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void cnn_rng_seed(cnn_rng *r, uint64_t seed) {
    uint64_t x = seed;
    uint64_t a = splitmix64(&x), b = splitmix64(&x);
    r->s[0] = (uint32_t)a;
    r->s[1] = (uint32_t)(a >> 32);
    r->s[2] = (uint32_t)b;
    r->s[3] = (uint32_t)(b >> 32);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1; /* the all-zero state is a fixed point */
}

static uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

uint32_t cnn_rng_u32(cnn_rng *r) {
    uint32_t *s = r->s;
    uint32_t result = rotl32(s[1] * 5, 7) * 9;
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl32(s[3], 11);
    return result;
}

float cnn_rng_uniform(cnn_rng *r) { return (float)(cnn_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

uint32_t cnn_rng_below(cnn_rng *r, uint32_t n) {
    /* Rejection sampling: drop the top partial range so every value is equally likely. */
    uint32_t limit = (uint32_t)(0x100000000ull - (0x100000000ull % n));
    for (;;) {
        uint32_t v = cnn_rng_u32(r);
        if (limit == 0 || v < limit) return v % n;
    }
}
