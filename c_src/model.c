/* model.c - model creation (arenas, initialisation), forward and backward passes, prediction, introspection.
 *
 * Memory: one arena per kind (parameters, gradients, activations, activation gradients), sized at creation for
 * max_batch images; layers hold offsets into them. Flatten shares its input's block, and an activation or
 * dropout right after a conv, dense or avgpool layer works in place, so a conv + relu pair keeps one block. Each activation block has one consumer, so a layer's
 * backward writes (not accumulates) its input gradient; parameter gradients accumulate (+=) until
 * cnn_model_zero_grads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"

/* Output rows unrolled at a time for conv layer l: bounded in rows and in workspace floats. */
static int conv_chunk_rows(const cnn_layer *l) {
    size_t K = (size_t)l->k * l->k * l->ic;
    size_t rows = CNN_CONV_CHUNK_FLOATS / K;
    if (rows > CNN_CONV_CHUNK_ROWS) rows = CNN_CONV_CHUNK_ROWS;
    return rows < 1 ? 1 : (int)rows;
}

/* Assigns activation offsets (in floats, each block is max_batch * size) and returns the total, or 0 on
 * overflow. */
static size_t layout_activations(cnn_model *m) {
    /* 64-bit arithmetic: on wasm32 size_t would wrap before the limit check */
    uint64_t B = (uint64_t)m->max_batch, off = 0, cur = 0;
    off = B * (uint64_t)m->in_h * m->in_w * m->in_c; /* the input block */
    for (int i = 0; i < m->nlayers && off <= CNN_MAX_ACT_FLOATS; i++) {
        cnn_layer *l = &m->layers[i];
        l->in_off = (size_t)cur;
        l->in_size = (size_t)l->ih * l->iw * l->ic;
        l->out_size = (size_t)l->oh * l->ow * l->oc;
        /* An elementwise layer may overwrite its input only when the layer that produced it does not need its
         * own output for backward: conv, dense and avgpool (max-pool and activations do need theirs). */
        cnn_layer_kind prev = i > 0 ? m->layers[i - 1].kind : L_SOFTMAX;
        int in_place_ok = prev == L_CONV || prev == L_DENSE || prev == L_AVGPOOL;
        int elementwise = l->kind == L_RELU || l->kind == L_SIGMOID || l->kind == L_TANH || l->kind == L_DROPOUT;
        if (l->kind == L_DROPOUT) {
            l->mask_off = (size_t)off;
            off += B * l->out_size;
        }
        if (l->kind == L_FLATTEN || (elementwise && in_place_ok)) {
            l->out_off = (size_t)cur; /* flatten only renames; in-place layers reuse the block */
        } else {
            l->out_off = (size_t)off;
            off += B * l->out_size;
        }
        cur = l->out_off;
    }
    if (off > CNN_MAX_ACT_FLOATS) return 0;
    m->act_per_image = (size_t)(off / B);
    return (size_t)off;
}

static void init_params(cnn_model *m) {
    for (int i = 0; i < m->nlayers; i++) {
        cnn_layer *l = &m->layers[i];
        if (!l->w_count) continue;
        float fan_in, fan_out;
        if (l->kind == L_CONV) fan_in = (float)(l->k * l->k * l->ic), fan_out = (float)(l->k * l->k * l->oc);
        else fan_in = (float)l->ic, fan_out = (float)l->oc;
        float limit = l->relu_follows ? sqrtf(6.0f / fan_in) : sqrtf(6.0f / (fan_in + fan_out));
        float *w = m->params + l->w_off;
        for (size_t j = 0; j < l->w_count; j++) w[j] = (2.0f * cnn_rng_uniform(&m->rng) - 1.0f) * limit;
        memset(m->params + l->b_off, 0, l->b_count * sizeof(float));
    }
}

void cnn_model_free(cnn_model *m) {
    if (!m) return;
    free(m->spec);
    free(m->params);
    free(m->grads);
    free(m->acts);
    free(m->dacts);
    free(m->col);
    free(m->dcol);
    free(m->gemm_work);
    free(m);
}

int cnn_model_create(cnn_model **out, const char *spec_or_preset, uint32_t seed, int max_batch) {
    if (!out) return cnn_fail(CNN_E_INVALID, "model_create: out is NULL");
    *out = NULL;
    if (max_batch < 1 || max_batch > CNN_MAX_BATCH)
        return cnn_fail(CNN_E_INVALID, "model_create: max_batch %d (expected 1..%d)", max_batch, CNN_MAX_BATCH);
    cnn_model *m = calloc(1, sizeof *m);
    if (!m) return cnn_fail(CNN_E_NOMEM, "model_create: out of memory");
    int st = cnn_spec_build(m, spec_or_preset);
    if (st) goto fail;
    m->max_batch = max_batch;
    cnn_rng_seed(&m->rng, seed);
    size_t np = 0, col = 0;
    for (int i = 0; i < m->nlayers; i++) {
        cnn_layer *l = &m->layers[i];
        l->w_off = np;
        np += l->w_count;
        l->b_off = np;
        np += l->b_count;
        if (l->kind == L_CONV) {
            uint64_t rows = (uint64_t)conv_chunk_rows(l), all = (uint64_t)max_batch * l->oh * l->ow;
            uint64_t need = (rows < all ? rows : all) * l->k * l->k * l->ic; /* <= CNN_CONV_CHUNK_FLOATS */
            if (need > col) col = (size_t)need;
        }
    }
    m->nparams = np;
    size_t acts = layout_activations(m);
    if (!acts) {
        st = cnn_fail(CNN_E_INVALID, "model_create: activations for max_batch %d need more than %zu floats "
                      "(lower max_batch or use a smaller network)", max_batch, (size_t)CNN_MAX_ACT_FLOATS);
        goto fail;
    }
    m->params = malloc(np * sizeof(float));
    m->grads = calloc(np, sizeof(float));
    m->acts = calloc(acts, sizeof(float));
    m->dacts = calloc(acts, sizeof(float));
    m->col = malloc((col ? col : 1) * sizeof(float));
    m->dcol = malloc((col ? col : 1) * sizeof(float));
    m->gemm_work = malloc(CNN_GEMM_WORK_FLOATS * sizeof(float));
    if (!m->params || !m->grads || !m->acts || !m->dacts || !m->col || !m->dcol || !m->gemm_work) {
        st = cnn_fail(CNN_E_NOMEM, "model_create: out of memory for %zu parameters and %zu activation floats "
                      "(max_batch %d)", np, acts, max_batch);
        goto fail;
    }
    init_params(m);
    *out = m;
    return CNN_OK;
fail:
    cnn_model_free(m);
    return st;
}

float *cnn_model_input(cnn_model *m) { return m->acts; }

const float *cnn_model_probs(const cnn_model *m) { return m->acts + m->layers[m->nlayers - 1].out_off; }

float cnn_xent(const float *p, int y) {
    float py = p[y];
    return -logf(py > 1e-30f ? py : 1e-30f);
}

static void softmax_rows(float *y, const float *x, int n, int classes) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * classes;
        float *yi = y + (size_t)i * classes;
        float mx = xi[0], sum = 0.0f;
        for (int j = 1; j < classes; j++)
            if (xi[j] > mx) mx = xi[j];
        for (int j = 0; j < classes; j++) sum += (yi[j] = expf(xi[j] - mx));
        for (int j = 0; j < classes; j++) yi[j] /= sum;
    }
}

static void conv_forward(cnn_model *m, const cnn_layer *l, float *y, const float *x, int n) {
    const cnn_kernels *k = cnn_kern();
    int K = l->k * l->k * l->ic, chunk = conv_chunk_rows(l);
    size_t total = (size_t)n * l->oh * l->ow;
    const float *w = m->params + l->w_off; /* (OC, KH, KW, IC) = (OC, K) */
    for (size_t r0 = 0; r0 < total; r0 += (size_t)chunk) {
        int rows = total - r0 < (size_t)chunk ? (int)(total - r0) : chunk;
        float *yc = y + r0 * l->oc; /* (rows, OC) */
        cnn_im2col(m->col, x, r0, rows, l->ih, l->iw, l->ic, l->k, l->pad, l->oh, l->ow);
        k->gemm(yc, l->oc, m->col, K, 1, w, 1, K, rows, l->oc, K, 0, m->gemm_work); /* col . W^T */
        k->bias_add(yc, m->params + l->b_off, rows, l->oc);
    }
}

/* need_dx: compute the input gradient (not needed below the lowest trainable layer). */
static void conv_backward(cnn_model *m, const cnn_layer *l, float *dx, const float *x, const float *dy, int n,
                          int need_dx) {
    const cnn_kernels *k = cnn_kern();
    int K = l->k * l->k * l->ic, chunk = conv_chunk_rows(l);
    size_t total = (size_t)n * l->oh * l->ow;
    const float *w = m->params + l->w_off;
    float *dw = m->grads + l->w_off, *db = m->grads + l->b_off;
    if (need_dx) memset(dx, 0, (size_t)n * l->in_size * sizeof(float)); /* chunks scatter-add into it */
    for (size_t r0 = 0; r0 < total; r0 += (size_t)chunk) {
        int rows = total - r0 < (size_t)chunk ? (int)(total - r0) : chunk;
        const float *dyc = dy + r0 * l->oc; /* (rows, OC) */
        if (!l->frozen) {
            cnn_im2col(m->col, x, r0, rows, l->ih, l->iw, l->ic, l->k, l->pad, l->oh, l->ow);
            k->gemm(dw, K, dyc, 1, l->oc, m->col, K, 1, l->oc, K, rows, 1, m->gemm_work); /* dW += dY^T . col */
            k->bias_grad(db, dyc, rows, l->oc);
        }
        if (need_dx) {
            k->gemm(m->dcol, K, dyc, l->oc, 1, w, K, 1, rows, K, l->oc, 0, m->gemm_work); /* dcol = dY . W */
            cnn_col2im_add(dx, m->dcol, r0, rows, l->ih, l->iw, l->ic, l->k, l->pad, l->oh, l->ow);
        }
    }
}

static void dense_forward(cnn_model *m, const cnn_layer *l, float *y, const float *x, int n) {
    const cnn_kernels *k = cnn_kern();
    int in = l->ic, out = l->oc;
    k->gemm(y, out, x, in, 1, m->params + l->w_off, 1, in, n, out, in, 0, m->gemm_work); /* x . W^T */
    k->bias_add(y, m->params + l->b_off, n, out);
}

static void dense_backward(cnn_model *m, const cnn_layer *l, float *dx, const float *x, const float *dy, int n,
                           int need_dx) {
    const cnn_kernels *k = cnn_kern();
    int in = l->ic, out = l->oc;
    if (!l->frozen) {
        k->gemm(m->grads + l->w_off, in, dy, 1, out, x, in, 1, out, in, n, 1, m->gemm_work); /* dW += dY^T . x */
        k->bias_grad(m->grads + l->b_off, dy, n, out);
    }
    if (need_dx) k->gemm(dx, in, dy, out, 1, m->params + l->w_off, in, 1, n, in, out, 0, m->gemm_work); /* dY . W */
}

void cnn_model_forward(cnn_model *m, int n, int training) {
    const cnn_kernels *k = cnn_kern();
    for (int i = 0; i < m->nlayers; i++) {
        cnn_layer *l = &m->layers[i];
        const float *x = m->acts + l->in_off;
        float *y = m->acts + l->out_off;
        size_t count = (size_t)n * l->out_size;
        switch (l->kind) {
        case L_CONV: conv_forward(m, l, y, x, n); break;
        case L_DENSE: dense_forward(m, l, y, x, n); break;
        case L_MAXPOOL: k->maxpool_fwd(y, x, n, l->ih, l->iw, l->ic); break;
        case L_AVGPOOL: k->avgpool_fwd(y, x, n, l->ih, l->iw, l->ic); break;
        case L_RELU: k->relu_fwd(y, x, count); break;
        case L_SIGMOID: k->sigmoid_fwd(y, x, count); break;
        case L_TANH: k->tanh_fwd(y, x, count); break;
        case L_DROPOUT:
            if (training && l->p > 0.0f) {
                /* inverted dropout: kept units are scaled by 1 / (1 - p) so inference needs no change */
                float *mask = m->acts + l->mask_off, scale = 1.0f / (1.0f - l->p);
                for (size_t j = 0; j < count; j++) {
                    mask[j] = cnn_rng_uniform(&m->rng) < l->p ? 0.0f : scale;
                    y[j] = x[j] * mask[j];
                }
            } else if (y != x) {
                memcpy(y, x, count * sizeof(float));
            }
            break;
        case L_FLATTEN: break;
        case L_SOFTMAX: softmax_rows(y, x, n, l->oc); break;
        }
    }
    m->last_batch = n;
}

/* The lowest layer whose parameters train; backward stops there. -1 when everything is frozen. */
static int lowest_trainable(const cnn_model *m) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].w_count && !m->layers[i].frozen) return i;
    return -1;
}

void cnn_model_backward(cnn_model *m, int n, const uint8_t *labels) {
    const cnn_kernels *k = cnn_kern();
    int stop = lowest_trainable(m);
    if (stop < 0) return;
    for (int i = m->nlayers - 1; i >= stop; i--) {
        cnn_layer *l = &m->layers[i];
        const float *x = m->acts + l->in_off, *y = m->acts + l->out_off;
        float *dx = m->dacts + l->in_off;
        const float *dy = m->dacts + l->out_off;
        size_t count = (size_t)n * l->out_size;
        int need_dx = i > stop;
        switch (l->kind) {
        case L_SOFTMAX: {
            /* d loss / d logits for mean cross-entropy over n images: (p - onehot) / n */
            float inv = 1.0f / (float)n;
            for (int b = 0; b < n; b++)
                for (int j = 0; j < l->oc; j++) {
                    size_t o = (size_t)b * l->oc + j;
                    dx[o] = (y[o] - (j == labels[b] ? 1.0f : 0.0f)) * inv;
                }
            break;
        }
        case L_CONV: conv_backward(m, l, dx, x, dy, n, need_dx); break;
        case L_DENSE: dense_backward(m, l, dx, x, dy, n, need_dx); break;
        case L_MAXPOOL: k->maxpool_bwd(dx, x, y, dy, n, l->ih, l->iw, l->ic); break;
        case L_AVGPOOL: k->avgpool_bwd(dx, dy, n, l->ih, l->iw, l->ic); break;
        case L_RELU: k->relu_bwd(dx, y, dy, count); break;
        case L_SIGMOID: k->sigmoid_bwd(dx, y, dy, count); break;
        case L_TANH: k->tanh_bwd(dx, y, dy, count); break;
        case L_DROPOUT:
            if (l->p > 0.0f) {
                const float *mask = m->acts + l->mask_off;
                for (size_t j = 0; j < count; j++) dx[j] = dy[j] * mask[j];
            } else if (dx != dy) {
                memcpy(dx, dy, count * sizeof(float));
            }
            break;
        case L_FLATTEN: break;
        }
    }
}

int cnn_model_predict(cnn_model *m, float *probs, const float *x, int n) {
    if (!m || !probs || !x) return cnn_fail(CNN_E_INVALID, "predict: NULL argument");
    if (n < 1) return cnn_fail(CNN_E_INVALID, "predict: %d images (expected >= 1)", n);
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    for (int i0 = 0; i0 < n; i0 += m->max_batch) {
        int ni = n - i0 < m->max_batch ? n - i0 : m->max_batch;
        const float *src = x + (size_t)i0 * in_size;
        for (size_t j = 0; j < (size_t)ni * in_size; j++)
            if (!isfinite(src[j]))
                return cnn_fail(CNN_E_INVALID, "predict: pixel %zu of image %d is not a finite number",
                                j % in_size, i0 + (int)(j / in_size));
        memcpy(m->acts, src, (size_t)ni * in_size * sizeof(float));
        cnn_model_forward(m, ni, 0);
        const float *p = cnn_model_probs(m);
        for (size_t j = 0; j < (size_t)ni * m->classes; j++)
            if (!isfinite(p[j]))
                return cnn_fail(CNN_E_INVALID, "predict: the network's outputs for image %d are not finite numbers "
                                "(are its inputs or weights extremely large?)", i0 + (int)(j / m->classes));
        memcpy(probs + (size_t)i0 * m->classes, p, (size_t)ni * m->classes * sizeof(float));
    }
    return CNN_OK;
}

static const cnn_layer *layer_at(const cnn_model *m, int i) {
    return (m && i >= 0 && i < m->nlayers) ? &m->layers[i] : NULL;
}

int cnn_model_layer_output(const cnn_model *m, float *out, int layer) {
    const cnn_layer *l = layer_at(m, layer);
    if (!l || !out) return cnn_fail(CNN_E_INVALID, "layer_output: layer %d does not exist", layer);
    if (m->last_batch < 1) return cnn_fail(CNN_E_EMPTY, "layer_output: nothing has been predicted yet");
    memcpy(out, m->acts + l->out_off + (size_t)(m->last_batch - 1) * l->out_size, l->out_size * sizeof(float));
    return CNN_OK;
}

static const char *kind_name(cnn_layer_kind k) {
    static const char *names[] = {"conv2d", "dense", "maxpool", "avgpool", "relu", "sigmoid", "tanh", "dropout",
                                  "flatten", "softmax"};
    return names[k];
}

const char *cnn_model_spec(const cnn_model *m) { return m ? m->spec : ""; }
int cnn_model_input_height(const cnn_model *m) { return m ? m->in_h : 0; }
int cnn_model_input_width(const cnn_model *m) { return m ? m->in_w : 0; }
int cnn_model_input_channels(const cnn_model *m) { return m ? m->in_c : 0; }
int cnn_model_classes(const cnn_model *m) { return m ? m->classes : 0; }
int cnn_model_max_batch(const cnn_model *m) { return m ? m->max_batch : 0; }
int cnn_model_param_count(const cnn_model *m) { return m ? (int)m->nparams : 0; }
float *cnn_model_params(cnn_model *m) { return m ? m->params : NULL; }
int cnn_model_layer_count(const cnn_model *m) { return m ? m->nlayers : 0; }
const char *cnn_model_layer_kind(const cnn_model *m, int i) { return layer_at(m, i) ? kind_name(m->layers[i].kind) : ""; }
const char *cnn_model_layer_name(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].name : ""; }
int cnn_model_layer_out_height(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].oh : -1; }
int cnn_model_layer_out_width(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].ow : -1; }
int cnn_model_layer_out_channels(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].oc : -1; }
int cnn_model_layer_param_count(const cnn_model *m, int i) {
    return layer_at(m, i) ? (int)(m->layers[i].w_count + m->layers[i].b_count) : -1;
}

static cnn_layer *find_param_layer(cnn_model *m, const char *name) {
    for (int i = 0; m && name && i < m->nlayers; i++)
        if (m->layers[i].w_count && strcmp(m->layers[i].name, name) == 0) return &m->layers[i];
    return NULL;
}

int cnn_model_set_frozen(cnn_model *m, const char *name, int frozen) {
    cnn_layer *l = find_param_layer(m, name);
    if (!l) return cnn_fail(CNN_E_INVALID, "freeze: no layer with parameters named '%s'", name ? name : "(null)");
    l->frozen = frozen ? 1 : 0;
    return CNN_OK;
}

int cnn_model_is_frozen(const cnn_model *m, const char *name) {
    cnn_layer *l = find_param_layer((cnn_model *)m, name);
    return l ? l->frozen : 0;
}
