/* fuzz_safetensors.c - libFuzzer entry for the safetensors parser: any input must parse or fail with
 * CNN_E_FORMAT, never crash, read out of bounds or leak. An accepted file is re-written and re-parsed: the
 * writer must accept everything the parser accepts and give back the same tensors.
 *
 * Built by `bash build.sh --test-deps` into build/fuzz/ and run briefly by tests/fuzz.test.mjs; for a longer run:
 *   build/fuzz/fuzz_safetensors -max_total_time=600 CORPUS_DIR */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Round trip of an accepted file; aborting is how a fuzz target reports a bug. */
static void roundtrip(const cnn_st_file *f) {
    const char **keys = malloc(((size_t)f->meta_count + 1) * sizeof *keys);
    const char **vals = malloc(((size_t)f->meta_count + 1) * sizeof *vals);
    uint8_t *buf = NULL;
    size_t len = 0;
    cnn_st_file g;
    if (!keys || !vals) abort();
    for (int i = 0; i < f->meta_count; i++) {
        keys[i] = f->meta_keys[i];
        vals[i] = f->meta_values[i];
    }
    if (cnn_st_write(&buf, &len, f->tensors, f->count, keys, vals, f->meta_count) != CNN_OK) abort();
    if (cnn_st_parse(&g, buf, len) != CNN_OK || g.count != f->count || g.meta_count != f->meta_count) abort();
    for (int i = 0; i < f->count; i++) {
        const cnn_st_tensor *a = &f->tensors[i], *b = &g.tensors[i];
        if (strcmp(a->name, b->name) != 0 || a->dtype != b->dtype || a->ndim != b->ndim || a->count != b->count ||
            memcmp(a->shape, b->shape, sizeof a->shape) != 0 ||
            memcmp(a->data, b->data, a->count * cnn_st_dtype_size(a->dtype)) != 0)
            abort();
    }
    cnn_st_file_free(&g);
    cnn_free(buf);
    free(keys);
    free(vals);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cnn_st_file f;
    int st = cnn_st_parse(&f, data, size);
    if (st == CNN_OK) roundtrip(&f);
    else if (st != CNN_E_FORMAT && st != CNN_E_NOMEM) abort();
    cnn_st_file_free(&f);
    return 0;
}
