/* test_gradients.c - finite-difference checks of every layer's backward pass, for every kernel variant.
 *
 * For sampled parameters, the analytic gradient of the mean cross-entropy is compared with the central
 * difference (L(w + h) - L(w - h)) / 2h, the loss summed in double. A sample whose perturbation flips a ReLU or
 * changes a max-pool winner (a kink, where the derivative does not exist) is drawn again; each layer must also
 * show gradients that are not all ~0, so the check cannot pass trivially. Dropout uses the same mask for every
 * evaluation (the generator state is restored before each forward pass). With frozen layers, the others must
 * still get exact gradients, the frozen ones none, and nothing below the lowest trainable layer is computed. */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "model.h"

#define MAX_BATCH 3
#define SAMPLES 24

static int BATCH = MAX_BATCH; /* images of the current check */

static double loss_of(cnn_model *m, const float *x, const uint8_t *y, const cnn_rng *rng_at_start) {
    size_t in = (size_t)m->in_h * m->in_w * m->in_c;
    memcpy(cnn_model_input(m), x, BATCH * in * sizeof(float));
    m->rng = *rng_at_start;
    cnn_model_forward(m, BATCH, 1);
    const float *p = cnn_model_probs(m);
    double l = 0;
    for (int b = 0; b < BATCH; b++) l += cnn_xent(p + b * m->classes, y[b]);
    return l / BATCH;
}

/* The kink signature: ReLU and leaky ReLU signs and max-pool winners of the current forward pass. */
static size_t signature(const cnn_model *m, unsigned char *sig) {
    size_t n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        const float *y = m->acts + l->out_off, *x = m->acts + l->in_off;
        if (l->kind == L_RELU || l->kind == L_LEAKYRELU) {
            for (size_t j = 0; j < BATCH * l->out_size; j++) sig[n++] = y[j] > 0.0f;
        } else if (l->kind == L_MAXPOOL) {
            for (int b = 0; b < BATCH; b++)
                for (int oy = 0; oy < l->oh; oy++)
                    for (int ox = 0; ox < l->ow; ox++)
                        for (int c = 0; c < l->oc; c++) {
                            float v = y[((b * l->oh + oy) * l->ow + ox) * l->oc + c];
                            unsigned char q = 0;
                            for (int dy = 1; dy >= 0; dy--)
                                for (int dx = 1; dx >= 0; dx--)
                                    if (x[((b * l->ih + 2 * oy + dy) * l->iw + 2 * ox + dx) * l->ic + c] == v)
                                        q = (unsigned char)(dy * 2 + dx);
                            sig[n++] = q;
                        }
        }
    }
    return n;
}

/* The lowest layer with parameters that train. */
static int lowest_trainable(const cnn_model *m) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].p_count && !m->layers[i].frozen) return i;
    return -1;
}

/* frozen: comma-separated layer names to freeze, or NULL; batch: images (1..MAX_BATCH). */
static void check_spec(const char *spec, const char *frozen, int batch, const char *variant) {
    cnn_model *m = NULL;
    BATCH = batch;
    int st = cnn_model_create(&m, spec, 7, MAX_BATCH);
    CHECK(st == CNN_OK, "create '%s': %s", spec, cnn_last_error());
    if (st) return;
    char names[64];
    snprintf(names, sizeof names, "%s", frozen ? frozen : "");
    for (char *save = NULL, *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save))
        CHECK(cnn_model_set_frozen(m, t, 1) == CNN_OK, "freeze %s: %s", t, cnn_last_error());
    cnn_rng rng;
    cnn_rng_seed(&rng, 99);
    size_t in = (size_t)m->in_h * m->in_w * m->in_c;
    float *x = malloc(BATCH * in * sizeof(float));
    uint8_t y[MAX_BATCH];
    for (size_t i = 0; i < BATCH * in; i++) x[i] = cnn_rng_uniform(&rng);
    for (int b = 0; b < BATCH; b++) y[b] = (uint8_t)cnn_rng_below(&rng, (uint32_t)m->classes);
    cnn_rng start = m->rng;

    memset(m->grads, 0, m->nparams * sizeof(float));
    loss_of(m, x, y, &start);
    /* NaN in every activation gradient: backward must zero or write each value it uses (a block it leaves
     * stale would turn the gradients checked below into NaN) */
    for (size_t j = 0; j < m->act_floats; j++) m->dacts[j] = NAN;
    cnn_model_backward(m, BATCH, y);
    /* Backward stops at the lowest trainable layer: the gradient of its input (and of everything below it) is
     * not computed, so it keeps the values written above. */
    int stop = lowest_trainable(m);
    const cnn_layer *low = &m->layers[stop];
    size_t untouched = 0;
    for (size_t j = 0; j < (size_t)BATCH * low->in_size; j++) untouched += isnan(m->dacts[low->in_off + j]);
    CHECK(untouched == (size_t)BATCH * low->in_size, "[%s] '%s': backward computed the input gradient of %s, the "
          "lowest trainable layer (%zu of %zu values changed)", variant, spec, low->name,
          (size_t)BATCH * low->in_size - untouched, (size_t)BATCH * low->in_size);
    size_t sig_cap = m->act_per_image * BATCH + 16;
    unsigned char *sig0 = malloc(sig_cap), *sig1 = malloc(sig_cap);
    size_t nsig = signature(m, sig0);
    float *grad = malloc(m->nparams * sizeof(float));
    memcpy(grad, m->grads, m->nparams * sizeof(float));

    for (int li = 0; li < m->nlayers; li++) {
        cnn_layer *l = &m->layers[li];
        if (!l->p_count) continue;
        if (l->frozen) {
            size_t nonzero = 0;
            for (size_t j = 0; j < l->p_count; j++) nonzero += grad[l->p_off + j] != 0.0f;
            CHECK(nonzero == 0, "[%s] '%s': frozen layer %s got %zu non-zero gradients", variant, spec, l->name, nonzero);
            continue;
        }
        int checked = 0, redrawn = 0, big = 0;
        double worst = 0;
        for (int s = 0; checked < SAMPLES && s < SAMPLES * 4; s++) {
            size_t idx = l->p_off + cnn_rng_below(&rng, (uint32_t)l->p_count);
            /* a step of 1e-2, or 1e-3 when the larger one crosses a kink */
            static const float steps[2] = {1e-2f, 1e-3f};
            float w0 = m->params[idx], h = 0;
            double lp = 0, lm = 0;
            int kink = 1;
            for (int attempt = 0; attempt < 2 && kink; attempt++) {
                h = steps[attempt];
                m->params[idx] = w0 + h;
                lp = loss_of(m, x, y, &start);
                kink = signature(m, sig1) != nsig || memcmp(sig0, sig1, nsig) != 0;
                m->params[idx] = w0 - h;
                lm = loss_of(m, x, y, &start);
                kink |= signature(m, sig1) != nsig || memcmp(sig0, sig1, nsig) != 0;
            }
            m->params[idx] = w0;
            if (kink) {
                redrawn++;
                continue;
            }
            /* the step actually taken in float arithmetic, not the nominal h */
            double num = (lp - lm) / ((double)(w0 + h) - (double)(w0 - h));
            double ana = grad[idx];
            double err = fabs(num - ana), tol = 2e-4 + 1e-2 * fabs(ana);
            if (err / (tol) > worst) worst = err / tol;
            CHECK(err <= tol, "[%s] '%s' layer %s param %zu: analytic %.7g, numeric %.7g", variant, spec, l->name, idx,
                  ana, num);
            big += fabs(ana) > 1e-4;
            checked++;
        }
        CHECK(checked >= SAMPLES / 2, "[%s] '%s' layer %s: only %d samples away from kinks (%d redrawn)", variant, spec,
              l->name, checked, redrawn);
        CHECK(big >= 3, "[%s] '%s' layer %s: only %d of %d sampled gradients are non-negligible", variant, spec, l->name,
              big, checked);
        printf("# [%s] %-8s %-9s batch %d: checked %2d, redrawn %2d, worst error/tolerance %.3f%s%s\n", variant,
               l->name, cnn_layer_desc_of(l->kind)->name, batch, checked, redrawn, worst, frozen ? ", frozen: " : "",
               frozen ? frozen : "");
    }
    free(x), free(sig0), free(sig1), free(grad);
    cnn_model_free(m);
}

static const struct {
    const char *spec, *frozen;
    int batch;
} specs[] = {
    /* valid conv, ReLU, max-pool, dense with ReLU and dropout */
    {"input 8x8x2; conv2d 4 3x3 relu; maxpool 2; flatten; dense 6 relu; dropout 0.3; dense 3", NULL, 0},
    /* same padding, tanh, avg-pool, sigmoid, odd sizes (pooling drops the last row and column) */
    {"input 7x9x1; conv2d 3 3x3 same tanh; avgpool 2; conv2d 5 1x1 sigmoid; dense 4 tanh; dense 5", NULL, 0},
    /* the keras preset's shape: ReLU then max-pool twice (the pool writes the gradient and applies the ReLU's
     * mask), odd sides (the first pool drops a row and a column), the second convolution by Winograd */
    {"input 11x11x1; conv2d 8 3x3 relu; maxpool 2; conv2d 8 3x3 same relu; maxpool 2; dense 3", NULL, 0},
    /* two convolutions before pooling (the pytorch preset's shape), 5x5 kernel */
    {"input 10x10x1; conv2d 2 5x5 relu; conv2d 3 3x3 same relu; maxpool 2; dropout 0.25; dense 3", NULL, 0},
    /* dense only */
    {"input 4x4x1; dense 5 sigmoid; dense 3", NULL, 0},
    /* parameter layers back to back, nothing in between: conv -> conv and dense -> dense */
    {"input 7x7x2; conv2d 3 3x3; conv2d 4 3x3 same; dense 5; dense 3", NULL, 0},
    /* a frozen lowest layer: the others train, backward stops above it */
    {"input 8x8x2; conv2d 4 3x3 relu; conv2d 3 3x3 tanh; dense 5; dense 3", "conv1", 0},
    /* a frozen layer in the middle: gradients still flow through it to the layer below */
    {"input 8x8x2; conv2d 4 3x3 relu; conv2d 3 3x3 tanh; dense 5 sigmoid; dense 3", "conv2,fc1", 0},
    /* strided convolutions, even and odd sides, with and without padding */
    {"input 9x8x2; conv2d 4 3x3 same stride 2 relu; conv2d 3 3x3 stride 2; dense 3", NULL, 0},
    /* batch norm after a convolution in training mode (batch statistics), batches of 1, 2 and 3 images;
     * global average pooling */
    {"input 6x6x2; conv2d 3 3x3 same; batchnorm; relu; globalavgpool; dense 3", NULL, 1},
    {"input 6x6x2; conv2d 3 3x3 same; batchnorm; relu; globalavgpool; dense 3", NULL, 2},
    {"input 6x6x2; conv2d 3 3x3 same; batchnorm; tanh; avgpool 2; dense 3", NULL, 0},
    /* batch norm over flat features (after dense and after a flatten, whose file order differs) */
    {"input 4x3x2; flatten; batchnorm; dense 6; batchnorm; tanh; dense 3", NULL, 3},
    /* a residual block whose branch and projection skip both train */
    {"input 6x6x2; conv2d 4 3x3 same tanh; residual; conv2d 4 3x3 same; batchnorm; relu; conv2d 4 3x3 same; skip; "
     "conv2d 4 1x1; end tanh; dense 3", NULL, 0},
    /* identity skips: the block's input gets the branch's gradient plus the skip's; leaky ReLU and GELU;
     * a pre-activation block (its first layer reads the input the skip also needs) */
    {"input 5x5x2; conv2d 3 3x3 same tanh; residual; conv2d 3 3x3 same; leakyrelu 0.1; conv2d 3 3x3 same; end; "
     "gelu; residual; relu; conv2d 3 3x3 same; end; dense 3", NULL, 2},
    /* 3x3 stride-1 convolutions of 8 and more input channels run by Winograd F(2x2, 3x3): valid and same, odd
     * sides (edge tiles), frozen in the middle (its input gradient alone) */
    {"input 7x6x1; conv2d 8 3x3 same tanh; conv2d 5 3x3 tanh; conv2d 4 1x1; conv2d 9 3x3 same; dense 3", NULL, 0},
    {"input 6x7x1; conv2d 9 3x3 same tanh; conv2d 8 3x3 same tanh; conv2d 6 3x3 tanh; dense 3", "conv2", 0},
    /* a residual block over flat features, with a stride-2 block before it */
    {"input 8x8x1; conv2d 4 3x3 same; residual; conv2d 6 3x3 same stride 2 tanh; skip; conv2d 6 1x1 stride 2; "
     "end; dense 8 tanh; residual; dense 5 tanh; dense 8; end; dense 3", NULL, 2},
};

static void test_gradients(void) {
    for (int v = 0; cnn_kernel_variants[v]; v++) {
        cnn_kernels_select(cnn_kernel_variants[v]->name);
        for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
            check_spec(specs[s].spec, specs[s].frozen, specs[s].batch ? specs[s].batch : MAX_BATCH,
                       cnn_kernel_variants[v]->name);
    }
}

/* Parameter gradients accumulate over backward calls until zeroed (two passes = twice one pass). */
static void test_gradients_accumulate(void) {
    cnn_model *m = NULL;
    BATCH = MAX_BATCH;
    CHECK(cnn_model_create(&m, specs[0].spec, 3, MAX_BATCH) == CNN_OK, "%s", cnn_last_error());
    if (!m) return;
    size_t in = (size_t)m->in_h * m->in_w * m->in_c;
    for (size_t i = 0; i < BATCH * in; i++) cnn_model_input(m)[i] = (float)(i % 7) / 7.0f;
    uint8_t y[MAX_BATCH] = {0, 1, 2};
    memset(m->grads, 0, m->nparams * sizeof(float));
    cnn_rng start = m->rng;
    cnn_model_forward(m, BATCH, 1);
    cnn_model_backward(m, BATCH, y);
    float *once = malloc(m->nparams * sizeof(float));
    memcpy(once, m->grads, m->nparams * sizeof(float));
    m->rng = start;
    cnn_model_forward(m, BATCH, 1);
    cnn_model_backward(m, BATCH, y);
    size_t bad = 0;
    for (size_t i = 0; i < m->nparams; i++) bad += fabsf(m->grads[i] - 2.0f * once[i]) > 1e-6f * (1.0f + fabsf(once[i]));
    CHECK(bad == 0, "%zu gradients did not accumulate", bad);
    free(once);
    cnn_model_free(m);
}

int main(void) {
    RUN(test_gradients);
    RUN(test_gradients_accumulate);
    return check_summary();
}
