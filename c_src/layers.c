/* layers.c - the table of layer kinds and the helpers their descriptors share. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

/* Indexed by kind. Designated initialisers, so an entry cannot land at another kind's index. */
static const cnn_layer_desc *const table[] = {
    [L_CONV] = &cnn_layer_conv2d,
    [L_DENSE] = &cnn_layer_dense,
    [L_MAXPOOL] = &cnn_layer_maxpool,
    [L_AVGPOOL] = &cnn_layer_avgpool,
    [L_RELU] = &cnn_layer_relu,
    [L_SIGMOID] = &cnn_layer_sigmoid,
    [L_TANH] = &cnn_layer_tanh,
    [L_DROPOUT] = &cnn_layer_dropout,
    [L_FLATTEN] = &cnn_layer_flatten,
    [L_SOFTMAX] = &cnn_layer_softmax,
    [L_BATCHNORM] = &cnn_layer_batchnorm,
    [L_GLOBALAVGPOOL] = &cnn_layer_globalavgpool,
    [L_LEAKYRELU] = &cnn_layer_leakyrelu,
    [L_GELU] = &cnn_layer_gelu,
    [L_ADD] = &cnn_layer_add,
};
_Static_assert(sizeof table / sizeof table[0] == L_COUNT, "one descriptor per layer kind");

const cnn_layer_desc *cnn_layer_desc_of(cnn_layer_kind kind) { return table[kind]; }

int cnn_layer_kind_by_word(const char *word) {
    for (int k = 0; k < L_COUNT; k++) {
        const cnn_layer_desc *d = table[k];
        if (d->flags & LF_INTERNAL) continue;
        if (strcmp(word, d->name) == 0 || (d->alias && strcmp(word, d->alias) == 0)) return k;
    }
    return -1;
}

void cnn_layer_keywords(char *buf, size_t cap, unsigned with, const char *sep) {
    int total = 0, done = 0;
    for (int k = 0; k < L_COUNT; k++) total += !(table[k]->flags & LF_INTERNAL) && (table[k]->flags & with) == with;
    buf[0] = 0;
    for (int k = 0; k < L_COUNT; k++) {
        const cnn_layer_desc *d = table[k];
        if ((d->flags & LF_INTERNAL) || (d->flags & with) != with) continue;
        size_t len = strlen(buf);
        const char *before = done == 0 ? "" : sep ? sep : done == total - 1 ? " or " : ", ";
        snprintf(buf + len, cap - len, "%s%s", before, d->name);
        done++;
    }
}

int cnn_spec_fail(const cnn_stmt *st, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cnn_fail(CNN_E_FORMAT, "spec: layer %d ('%.60s'): %s", st->index, st->text, msg);
}

int cnn_parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    if (!*s || !isdigit((unsigned char)*s)) return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cnn_parse_dims(const char *s, int *out, int max) {
    int n = 0;
    char part[16];
    while (*s) {
        size_t len = strcspn(s, "x");
        if (n == max || len == 0 || len >= sizeof part) return -1;
        memcpy(part, s, len);
        part[len] = 0;
        if (cnn_parse_int(part, 1, 4096, &out[n++])) return -1;
        s += len;
        if (*s == 'x' && !*++s) return -1; /* a trailing 'x' */
    }
    return n;
}

void cnn_float_text(char *buf, size_t cap, float v) {
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
}

void cnn_init_uniform(float *w, size_t n, float fan_in, float fan_out, int relu, cnn_rng *r) {
    float limit = relu ? sqrtf(6.0f / fan_in) : sqrtf(6.0f / (fan_in + fan_out));
    for (size_t j = 0; j < n; j++) w[j] = (2.0f * cnn_rng_uniform(r) - 1.0f) * limit;
}

size_t cnn_flat_ours_from_torch(size_t j, int fh, int fw, int fc) {
    size_t x = j % (size_t)fw, y = (j / (size_t)fw) % (size_t)fh, c = j / ((size_t)fw * (size_t)fh);
    return (y * (size_t)fw + x) * (size_t)fc + c;
}

int cnn_layer_kind_count(void) { return L_COUNT; }

const char *cnn_layer_kind_name(int kind) { return kind >= 0 && kind < L_COUNT ? table[kind]->name : NULL; }

int cnn_layer_kind_role(int kind) {
    if (kind < 0 || kind >= L_COUNT) return -1;
    return (table[kind]->flags & LF_INTERNAL) ? 2 : (table[kind]->flags & LF_ACTIVATION) ? 1 : 0;
}
