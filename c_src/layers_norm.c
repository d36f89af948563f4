/* layers_norm.c - batch normalisation over channels (PyTorch's BatchNorm2d after a convolution, BatchNorm1d
 * over flat features), with its semantics:
 *
 *   training:  mean, var = the batch's per-channel mean and biased variance over images and pixels (M values);
 *              y = (x - mean) / sqrt(var + eps) * weight + bias
 *              afterwards (update_stats, once the step is applied): running = (1 - momentum) * running +
 *              momentum * batch, with the unbiased variance var * M / (M - 1); num_batches_tracked += 1
 *   inference: the same with the running mean and variance.
 *
 * eps = 1e-5 and momentum = 0.1 as PyTorch's defaults. Weight and bias are parameters (no weight decay);
 * running_mean and running_var are buffers; num_batches_tracked is an I64 counter in weight files.
 * Layout: x, y (n, h, w, c) seen as (rows = n * h * w, c). Sums are in double (the kernels). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

/* Per-channel coefficients of one normalisation: y = x * scale + shift. */
typedef struct {
    float *mean;    /* (c) the batch's mean (training) or the running mean (inference) */
    float *var;     /* (c) the batch's biased variance or the running variance */
    float *invstd;  /* (c) 1 / sqrt(var + eps) */
    float *scale;   /* (c) weight * invstd */
    float *shift;   /* (c) bias - mean * scale */
} bn_coeffs;

/* The scratch of a layer of c channels, in floats: 2 * c doubles of kernel work and the batch's value count (a
 * double); then the coefficients of the last training forward pass and, apart, of the last inference one (a
 * prediction between a step's forward pass and its update of the running statistics must not disturb the
 * batch's statistics); then two backward vectors. */
typedef struct {
    double *work;   /* (2, c) */
    double *count;  /* values per channel in the last training forward pass (M) */
    bn_coeffs batch, infer;
    float *a, *b;   /* (c) backward coefficients */
} bn_scratch;

static size_t bn_scratch_floats(int c) { return 4 * (size_t)c + 4 + 12 * (size_t)c; }

static bn_scratch bn_view(float *scratch, int c) {
    bn_scratch s;
    s.work = (double *)(void *)scratch; /* scratch offsets are multiples of 4 floats: 8-byte aligned */
    s.count = s.work + 2 * (size_t)c;
    float *f = scratch + 4 * (size_t)c + 4;
    bn_coeffs *sets[2] = {&s.batch, &s.infer};
    for (int k = 0; k < 2; k++, f += 5 * (size_t)c) {
        sets[k]->mean = f, sets[k]->var = f + c, sets[k]->invstd = f + 2 * (size_t)c;
        sets[k]->scale = f + 3 * (size_t)c, sets[k]->shift = f + 4 * (size_t)c;
    }
    s.a = f, s.b = f + c;
    return s;
}

/* The coefficients of the batch (training: its statistics, from x) or of the running statistics (inference). */
static bn_coeffs *bn_coefficients(bn_scratch *s, const float *x, const float *w, const float *buf, int rows, int c,
                                  int training) {
    bn_coeffs *k = training ? &s->batch : &s->infer;
    if (training) {
        cnn_kern()->bn_stats(k->mean, k->var, x, rows, c, s->work);
        *s->count = (double)rows;
    } else {
        memcpy(k->mean, buf, (size_t)c * sizeof(float));
        memcpy(k->var, buf + c, (size_t)c * sizeof(float));
    }
    for (int j = 0; j < c; j++) {
        k->invstd[j] = (float)(1.0 / sqrt((double)k->var[j] + BN_EPS));
        k->scale[j] = w[j] * k->invstd[j];
        k->shift[j] = w[c + j] - k->mean[j] * k->scale[j];
    }
    return k;
}

/* y (rows, c) <- normalise x (rows, c) with weight w[0..c), bias w[c..2c) */
static void batchnorm_forward(float *y, const float *x, const float *w, const float *buf, float *scratch, int rows,
                              int c, int training) {
    bn_scratch s = bn_view(scratch, c);
    bn_coeffs *k = bn_coefficients(&s, x, w, buf, rows, c, training);
    cnn_kern()->channel_affine(y, x, k->scale, k->shift, rows, c);
}

/* dw (2c: d weight, d bias) accumulates when not NULL; dx (rows, c) accumulates when not NULL. Uses the
 * statistics the forward pass of the same mode left in scratch. Training: the batch statistics depend on x, so
 *   dx = (dy - mean(dy) - (x - mean) * mean(dy * (x - mean)) / (var + eps)) * weight * invstd;
 * inference: dx = dy * weight * invstd. */
static void batchnorm_backward(float *dx, float *dw, const float *dy, const float *x, float *scratch, int rows,
                               int c, int training) {
    const cnn_kernels *kern = cnn_kern();
    bn_scratch s = bn_view(scratch, c);
    const bn_coeffs *k = training ? &s.batch : &s.infer;
    kern->bn_bwd_sums(s.a, s.b, dy, x, k->mean, rows, c, s.work); /* a = sum dy, b = sum dy * (x - mean) */
    if (dw)
        for (int j = 0; j < c; j++) {
            dw[j] += s.b[j] * k->invstd[j];
            dw[c + j] += s.a[j];
        }
    if (!dx) return;
    for (int j = 0; j < c; j++) {
        if (training) {
            s.a[j] = s.a[j] / (float)rows;
            s.b[j] = s.b[j] / (float)rows * k->invstd[j] * k->invstd[j];
        } else {
            s.a[j] = 0.0f, s.b[j] = 0.0f;
        }
    }
    kern->bn_bwd_dx(dx, dy, x, k->mean, s.a, s.b, k->scale, rows, c);
}

static int bn_rows(const cnn_layer *l, const cnn_pass *p) { return p->n * l->ih * l->iw; }

static void bn_fwd(const cnn_layer *l, const cnn_pass *p) {
    batchnorm_forward(p->y, p->x, p->w, p->buf, p->scratch, bn_rows(l, p), l->ic, p->training);
}

static void bn_bwd(const cnn_layer *l, const cnn_pass *p) {
    batchnorm_backward(p->dx, p->dw, p->dy, p->x, p->scratch, bn_rows(l, p), l->ic, p->training);
}

static int bn_update(cnn_layer *l, float *buf, const float *scratch, int apply) {
    int c = l->ic;
    bn_scratch s = bn_view((float *)scratch, c);
    for (int j = 0; j < c; j++)
        if (!isfinite(s.batch.mean[j]) || !isfinite(s.batch.var[j])) return -1;
    if (!apply) return 0;
    double m = *s.count, unbias = m > 1.0 ? m / (m - 1.0) : 1.0; /* one value per channel: no spread to correct */
    for (int j = 0; j < c; j++) {
        buf[j] = (float)((1.0 - BN_MOMENTUM) * buf[j] + BN_MOMENTUM * s.batch.mean[j]);
        buf[c + j] = (float)((1.0 - BN_MOMENTUM) * buf[c + j] + BN_MOMENTUM * s.batch.var[j] * unbias);
    }
    l->batches++;
    return 0;
}

static int bn_infer(cnn_layer *l, const cnn_stmt *st) {
    (void)st;
    l->oc = l->ic;
    l->p_count = 2 * (size_t)l->ic;
    l->b_count = 2 * (size_t)l->ic;
    return CNN_OK;
}

static void bn_tensor(const cnn_layer *l, int t, cnn_tensor_info *o) {
    size_t c = (size_t)l->ic;
    static const char *suffix[] = {"weight", "bias", "running_mean", "running_var"};
    if (t < 4)
        *o = (cnn_tensor_info){.suffix = suffix[t], .ndim = 1, .shape = {l->ic}, .count = c, .offset = (size_t)(t % 2) * c,
                               .role = t < 2 ? T_PARAM : T_BUFFER, .nonneg = t == 3};
    else *o = (cnn_tensor_info){.suffix = "num_batches_tracked", .ndim = 0, .count = 1, .role = T_COUNT, .nonneg = 1};
}

/* Over flat features that came from (fh, fw, fc), PyTorch orders them (C, H, W). */
static size_t bn_ours_from_torch(const cnn_layer *l, int t, size_t i) {
    (void)t;
    return cnn_flat_ours_from_torch(i, l->fh, l->fw, l->fc);
}

static void bn_init(const cnn_layer *l, float *w, float *buf, cnn_rng *r) {
    (void)r;
    for (int j = 0; j < l->ic; j++) w[j] = 1.0f, w[l->ic + j] = 0.0f, buf[j] = 0.0f, buf[l->ic + j] = 1.0f;
}

static size_t bn_scratch_size(const cnn_layer *l, int max_batch) {
    (void)max_batch;
    return bn_scratch_floats(l->ic);
}

static void bn_text(const cnn_layer *l, char *buf, size_t cap) { (void)l, snprintf(buf, cap, "batchnorm"); }

static double bn_flops(const cnn_layer *l) { return 2.0 * l->oh * l->ow * l->oc; }

const cnn_layer_desc cnn_layer_batchnorm = {
    .name = "batchnorm", .alias = "bn", .prefix = "bn", .noun = "batch normalisation", .flags = LF_NORM,
    .infer = bn_infer, .ntensors = 5, .tensor = bn_tensor, .ours_from_torch = bn_ours_from_torch, .init = bn_init,
    .scratch = bn_scratch_size, .forward = bn_fwd, .backward = bn_bwd, .update_stats = bn_update, .text = bn_text,
    .flops = bn_flops,
};
