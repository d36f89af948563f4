/* fuzz_train.c - libFuzzer entry for the training path: spec -> create -> train a step -> save -> load.
 * The input is a spec text, a NUL byte, then bytes that become the images, labels and hyper-parameters of a tiny
 * data set. Whatever the input, every call returns a status with a message, and an accepted model must train one
 * step (or refuse with a status), save, and load back with bit-identical parameters and predictions.
 *
 * Built by `bash build.sh --test-deps` into build/fuzz/ and run briefly by tests/fuzz.test.mjs; for a longer run:
 *   build/fuzz/fuzz_train -max_total_time=600 CORPUS_DIR */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT_FLOATS 4096 /* keep one step fast: at most 64x64x1 inputs ... */
#define MAX_PARAMS 200000     /* ... and small networks */

static void check_refusal(int st, const void *obj) {
    if (st != CNN_OK && (obj || cnn_last_error()[0] == 0)) abort(); /* a refusal leaves nothing and says why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul) return 0;
    size_t spec_len = (size_t)(nul - data), rest = size - spec_len - 1;
    const uint8_t *bytes = nul + 1;
    char *spec = malloc(spec_len + 1);
    if (!spec) return 0;
    memcpy(spec, data, spec_len);
    spec[spec_len] = 0;

    cnn_model *m = NULL, *back = NULL;
    cnn_dataset *ds = NULL;
    cnn_trainer *t = NULL;
    uint8_t *file = NULL, *images = NULL, *labels = NULL;
    float *x = NULL, *p1 = NULL, *p2 = NULL;
    int st = cnn_model_create(&m, spec, 7, 2);
    check_refusal(st, m);
    if (st != CNN_OK) goto done;
    int h = cnn_model_input_height(m), w = cnn_model_input_width(m), c = cnn_model_input_channels(m);
    int classes = cnn_model_classes(m);
    size_t in = (size_t)h * w * c;
    if (in > MAX_INPUT_FLOATS || cnn_model_param_count(m) > MAX_PARAMS) goto done;

    /* two images from the bytes (zero-padded), labels below the class count */
    const int n = 2;
    images = calloc((size_t)n * in, 1);
    labels = malloc((size_t)n);
    if (!images || !labels) goto done;
    memcpy(images, bytes, rest < (size_t)n * in ? rest : (size_t)n * in);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)((rest > (size_t)i ? bytes[rest - 1 - i] : 0) % classes);
    st = cnn_dataset_from_arrays(&ds, images, labels, n, h, w, c, classes);
    if (st != CNN_OK) abort(); /* valid by construction */

    cnn_train_params p;
    cnn_train_params_init(&p);
    uint8_t knob = rest ? bytes[0] : 0;
    p.optimizer = knob & 1 ? CNN_OPT_SGD : CNN_OPT_ADAM;
    p.lr = knob & 2 ? 10.0f : 0.01f; /* large enough to diverge sometimes: the guard must keep the model intact */
    p.batch = 1 + (knob >> 2 & 1);
    p.augment = knob >> 3 & 1;
    p.momentum = knob & 16 ? 0.9f : 0.0f;
    p.weight_decay = knob & 32 ? 0.1f : 0.0f;
    st = cnn_trainer_create(&t, m, ds, 0, n, &p);
    check_refusal(st, t);
    if (st == CNN_OK) {
        cnn_step_stats s;
        st = cnn_trainer_run(t, 1, &s);
        if (st != CNN_OK && st != CNN_E_DIVERGED) abort();
        if (st == CNN_E_DIVERGED && cnn_last_error()[0] == 0) abort();
    }

    size_t len = 0;
    if (cnn_model_save(m, &file, &len) != CNN_OK) abort(); /* after training or a refused step: always savable */
    st = cnn_model_load(&back, file, len, 2);
    if (st != CNN_OK) abort();
    int np = cnn_model_param_count(m);
    if (np != cnn_model_param_count(back) || memcmp(cnn_model_params(m), cnn_model_params(back), (size_t)np * 4) != 0)
        abort();
    x = malloc(in * sizeof(float));
    p1 = malloc((size_t)classes * sizeof(float));
    p2 = malloc((size_t)classes * sizeof(float));
    if (!x || !p1 || !p2) goto done;
    for (size_t j = 0; j < in; j++) x[j] = images[j] / 255.0f;
    int s1 = cnn_model_predict(m, p1, x, 1), s2 = cnn_model_predict(back, p2, x, 1);
    if (s1 != s2 || (s1 == CNN_OK && memcmp(p1, p2, (size_t)classes * sizeof(float)) != 0)) abort();

done:
    free(x);
    free(p1);
    free(p2);
    cnn_trainer_free(t);
    cnn_dataset_free(ds);
    cnn_model_free(m);
    cnn_model_free(back);
    cnn_free(file);
    free(images);
    free(labels);
    free(spec);
    return 0;
}
