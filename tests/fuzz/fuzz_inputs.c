/* fuzz_inputs.c - libFuzzer entry for the other untrusted inputs: the first byte picks the target, the rest is
 * an IDX images file (with a fixed valid labels file), an architecture spec, or a whole weight file loaded as a
 * model. Any input must be accepted or refused with a status and a message, never crash or leak.
 *
 * Built by `bash build.sh --test-deps` into build/fuzz/ and run briefly by tests/fuzz.test.mjs; for a longer run:
 *   build/fuzz/fuzz_inputs -max_total_time=600 CORPUS_DIR */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: { /* IDX images, labels for as many images as the header claims (bounded) */
        static uint8_t labels[8 + 64];
        uint32_t count = n >= 8 ? ((uint32_t)body[4] << 24 | (uint32_t)body[5] << 16 | (uint32_t)body[6] << 8 | body[7]) : 1;
        if (count > 64) count = 64;
        memset(labels, 0, sizeof labels);
        labels[2] = 8, labels[3] = 1, labels[7] = (uint8_t)count;
        cnn_dataset *ds = NULL;
        int st = cnn_dataset_from_idx(&ds, body, n, labels, 8 + count);
        if (st == CNN_OK && (!ds || cnn_dataset_count(ds) != (int)count)) abort();
        if (st != CNN_OK && (ds || cnn_last_error()[0] == 0)) abort();
        cnn_dataset_free(ds);
        break;
    }
    case 1: { /* architecture spec text: checked with its length (NUL bytes included), then created */
        cnn_model *plan = NULL, *m = NULL;
        int st = cnn_spec_check(&plan, (const char *)body, n);
        if (st != CNN_OK && (plan || cnn_last_error()[0] == 0)) abort();
        if (plan) {
            if (memchr(body, 0, n)) abort(); /* a NUL inside must be refused */
            if (cnn_model_create_n(&m, (const char *)body, n, 1, 2) != CNN_OK) { /* activations too large */
                cnn_model_free(plan);
                break;
            }
            if (cnn_model_param_count(m) != cnn_model_param_count(plan)) abort();
            /* an accepted spec's canonical text must be accepted again, with the same parameters */
            cnn_model *again = NULL;
            if (cnn_model_create(&again, cnn_model_spec(m), 1, 2) != CNN_OK) abort();
            if (cnn_model_param_count(again) != cnn_model_param_count(m)) abort();
            if (strcmp(cnn_model_spec(again), cnn_model_spec(m)) != 0) abort();
            cnn_model_free(again);
        }
        cnn_model_free(m);
        cnn_model_free(plan);
        break;
    }
    default: { /* a weight file */
        cnn_model *m = NULL;
        int st = cnn_model_load(&m, body, n, 1);
        if (st != CNN_OK && (m || cnn_last_error()[0] == 0)) abort();
        cnn_model_free(m);
        break;
    }
    }
    return 0;
}
