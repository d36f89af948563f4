/* layers_act.c - elementwise layers: the activations ReLU, sigmoid, tanh and leaky ReLU (kernels in the kernel
 * table), GELU, and dropout. All but GELU may work in place; backward reads their output (activations), the
 * dropout mask, or for GELU its input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"

static double one_flop(const cnn_layer *l) { return (double)l->oh * l->ow * l->oc; }
static double four_flops(const cnn_layer *l) { return 4.0 * l->oh * l->ow * l->oc; }

static void name_text(const cnn_layer *l, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", cnn_layer_desc_of(l->kind)->name);
}

/* Elements of a batch's output. */
static size_t count(const cnn_layer *l, const cnn_pass *p) { return (size_t)p->n * l->out_size; }

/* y = max(x, 0); backward: dx (+)= y > 0 ? dy : 0 */
static void relu_fwd(const cnn_layer *l, const cnn_pass *p) { cnn_kern()->relu_fwd(p->y, p->x, count(l, p)); }
static void relu_bwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->relu_bwd(p->dx, p->y, p->dy, count(l, p), p->dx != p->dy);
}

/* y = 1 / (1 + exp(-x)); backward: dx (+)= dy * y * (1 - y) */
static void sigmoid_fwd(const cnn_layer *l, const cnn_pass *p) { cnn_kern()->sigmoid_fwd(p->y, p->x, count(l, p)); }
static void sigmoid_bwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->sigmoid_bwd(p->dx, p->y, p->dy, count(l, p), p->dx != p->dy);
}

/* y = tanh(x); backward: dx (+)= dy * (1 - y * y) */
static void tanh_fwd(const cnn_layer *l, const cnn_pass *p) { cnn_kern()->tanh_fwd(p->y, p->x, count(l, p)); }
static void tanh_bwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->tanh_bwd(p->dx, p->y, p->dy, count(l, p), p->dx != p->dy);
}

#define ACTIVATION(kind_, fwd_, bwd_, flops_)                                                                   \
    {                                                                                                          \
        .name = #kind_, .prefix = #kind_, .noun = "an activation",                                             \
        .flags = LF_ACTIVATION | LF_IN_PLACE | LF_NEEDS_OUTPUT, .forward = fwd_, .backward = bwd_,             \
        .text = name_text, .flops = flops_,                                                                    \
    }

const cnn_layer_desc cnn_layer_relu = ACTIVATION(relu, relu_fwd, relu_bwd, one_flop);
const cnn_layer_desc cnn_layer_sigmoid = ACTIVATION(sigmoid, sigmoid_fwd, sigmoid_bwd, four_flops);
const cnn_layer_desc cnn_layer_tanh = ACTIVATION(tanh, tanh_fwd, tanh_bwd, four_flops);

/* ---- leaky ReLU: y = x > 0 ? x : slope * x; slope in [0, 1), 0.01 by default (PyTorch's) ---- */

static int leakyrelu_parse(cnn_layer *l, char **args, int nargs, const char **act, const cnn_stmt *st) {
    (void)act;
    char *end;
    l->p = 0.01f;
    if (nargs > 1) return cnn_spec_fail(st, "expected 'leakyrelu [SLOPE]' with 0 <= SLOPE < 1");
    if (nargs == 1) {
        double v = strtod(args[0], &end);
        if (*end || !(v >= 0 && (float)v < 1.0f)) return cnn_spec_fail(st, "negative slope '%s' is not in [0, 1)", args[0]);
        l->p = (float)v;
    }
    return CNN_OK;
}

static void leakyrelu_fwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->leakyrelu_fwd(p->y, p->x, count(l, p), l->p);
}

/* dx (+)= y > 0 ? dy : slope * dy (y > 0 exactly when x > 0, since slope >= 0) */
static void leakyrelu_bwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->leakyrelu_bwd(p->dx, p->y, p->dy, count(l, p), l->p, p->dx != p->dy);
}

static void leakyrelu_text(const cnn_layer *l, char *buf, size_t cap) {
    char v[24];
    cnn_float_text(v, sizeof v, l->p);
    snprintf(buf, cap, "leakyrelu %s", v);
}

const cnn_layer_desc cnn_layer_leakyrelu = {
    .name = "leakyrelu", .prefix = "leakyrelu", .noun = "an activation",
    .flags = LF_ACTIVATION | LF_IN_PLACE | LF_NEEDS_OUTPUT, .parse = leakyrelu_parse, .forward = leakyrelu_fwd,
    .backward = leakyrelu_bwd, .text = leakyrelu_text, .flops = one_flop,
};

/* ---- GELU (exact, as PyTorch's default): y = x * Phi(x), Phi the standard normal CDF. No SIMD kernel: one
 * scalar loop serves every variant. Backward reads the input, so it never works in place. ---- */

static void gelu_forward(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* dx += dy * (Phi(x) + x * phi(x)), phi the standard normal density */
static void gelu_backward(float *dx, const float *x, const float *dy, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

static void gelu_fwd(const cnn_layer *l, const cnn_pass *p) { gelu_forward(p->y, p->x, count(l, p)); }
static void gelu_bwd(const cnn_layer *l, const cnn_pass *p) { gelu_backward(p->dx, p->x, p->dy, count(l, p)); }

const cnn_layer_desc cnn_layer_gelu = {
    .name = "gelu", .prefix = "gelu", .noun = "an activation", .flags = LF_ACTIVATION, .forward = gelu_fwd,
    .backward = gelu_bwd, .text = name_text, .flops = four_flops,
};

/* ---- dropout: inverted, so inference needs no change; the mask (n, size) is the layer's scratch ---- */

static int dropout_parse(cnn_layer *l, char **args, int nargs, const char **act, const cnn_stmt *st) {
    (void)act;
    char *end;
    if (nargs != 1) return cnn_spec_fail(st, "expected 'dropout P' with 0 <= P < 1");
    double v = strtod(args[0], &end);
    /* checked as the float it is stored as: 0.99999999 would round to 1 */
    if (*end || !(v >= 0 && (float)v < 1.0f)) return cnn_spec_fail(st, "dropout probability '%s' is not in [0, 1)", args[0]);
    l->p = (float)v;
    return CNN_OK;
}

static size_t dropout_scratch(const cnn_layer *l, int max_batch) { return (size_t)max_batch * l->out_size; }

/* training: mask = 0 with probability p, else 1 / (1 - p); y = x * mask. Otherwise y = x. */
static void dropout_fwd(const cnn_layer *l, const cnn_pass *p) {
    size_t n = count(l, p);
    if (p->training && l->p > 0.0f) {
        float *mask = p->scratch, scale = 1.0f / (1.0f - l->p);
        for (size_t j = 0; j < n; j++) {
            mask[j] = cnn_rng_uniform(p->rng) < l->p ? 0.0f : scale;
            p->y[j] = p->x[j] * mask[j];
        }
    } else if (p->y != p->x) {
        memcpy(p->y, p->x, n * sizeof(float));
    }
}

/* dx (+)= dy * mask (training) or dy */
static void dropout_bwd(const cnn_layer *l, const cnn_pass *p) {
    size_t n = count(l, p);
    int acc = p->dx != p->dy;
    if (p->training && l->p > 0.0f) {
        const float *mask = p->scratch;
        for (size_t j = 0; j < n; j++) p->dx[j] = acc ? p->dx[j] + p->dy[j] * mask[j] : p->dy[j] * mask[j];
    } else if (acc) {
        for (size_t j = 0; j < n; j++) p->dx[j] += p->dy[j];
    }
}

static void dropout_text(const cnn_layer *l, char *buf, size_t cap) {
    char v[24];
    cnn_float_text(v, sizeof v, l->p);
    snprintf(buf, cap, "dropout %s", v);
}

const cnn_layer_desc cnn_layer_dropout = {
    .name = "dropout", .prefix = "dropout", .noun = "dropout", .flags = LF_IN_PLACE, .parse = dropout_parse,
    .scratch = dropout_scratch, .forward = dropout_fwd, .backward = dropout_bwd, .text = dropout_text,
    .flops = one_flop,
};
