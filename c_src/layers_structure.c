/* layers_structure.c - layers that shape the network: flatten, the join of a residual block (add), and the
 * softmax output with its cross-entropy gradient. */
#include <math.h>
#include <stdio.h>

#include "layers.h"

/* ---- flatten: (H, W, C) -> (1, 1, H * W * C); the block is shared, features stay in (H, W, C) order ---- */

static int flatten_infer(cnn_layer *l, const cnn_stmt *st) {
    (void)st;
    l->oh = l->ow = 1, l->oc = l->ih * l->iw * l->ic;
    return CNN_OK;
}

static void nothing(const cnn_layer *l, const cnn_pass *p) { (void)l, (void)p; }

static double no_flops(const cnn_layer *l) { (void)l; return 0.0; }

static void flatten_text(const cnn_layer *l, char *buf, size_t cap) { (void)l, snprintf(buf, cap, "flatten"); }

const cnn_layer_desc cnn_layer_flatten = {
    .name = "flatten", .prefix = "flatten", .noun = "flatten", .flags = LF_ALIAS | LF_FLAT_OUTPUT,
    .infer = flatten_infer, .forward = nothing, .backward = nothing, .text = flatten_text, .flops = no_flops,
};

/* ---- softmax output: probabilities (n, classes) <- logits (n, classes) ---- */

static void softmax_fwd(const cnn_layer *l, const cnn_pass *p) {
    int classes = l->oc;
    for (int i = 0; i < p->n; i++) {
        const float *xi = p->x + (size_t)i * classes;
        float *yi = p->y + (size_t)i * classes;
        float mx = xi[0], sum = 0.0f;
        for (int j = 1; j < classes; j++)
            if (xi[j] > mx) mx = xi[j];
        for (int j = 0; j < classes; j++) sum += (yi[j] = expf(xi[j] - mx));
        for (int j = 0; j < classes; j++) yi[j] /= sum;
    }
}

/* The gradient of the mean cross-entropy over the batch with respect to the logits: dx += (y - onehot) / n. */
static void softmax_bwd(const cnn_layer *l, const cnn_pass *p) {
    float inv = 1.0f / (float)p->n;
    for (int b = 0; b < p->n; b++)
        for (int j = 0; j < l->oc; j++) {
            size_t o = (size_t)b * l->oc + j;
            p->dx[o] += (p->y[o] - (j == p->labels[b] ? 1.0f : 0.0f)) * inv;
        }
}

static double softmax_flops(const cnn_layer *l) { return 4.0 * l->oc; }

static void softmax_text(const cnn_layer *l, char *buf, size_t cap) { (void)l, snprintf(buf, cap, "softmax"); }

const cnn_layer_desc cnn_layer_softmax = {
    .name = "softmax", .noun = "softmax", .flags = LF_INTERNAL | LF_FLAT_INPUT | LF_FLAT_OUTPUT,
    .forward = softmax_fwd, .backward = softmax_bwd, .text = softmax_text, .flops = softmax_flops,
};

/* ---- add: the end of a residual block, y = branch + skip (both (n, size)) ---- */

static void add_forward(float *y, const float *x, const float *x2, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] + x2[i];
}

static void add_fwd(const cnn_layer *l, const cnn_pass *p) { add_forward(p->y, p->x, p->x2, (size_t)p->n * l->out_size); }

/* each input's gradient accumulates dy */
static void add_bwd(const cnn_layer *l, const cnn_pass *p) {
    size_t n = (size_t)p->n * l->out_size;
    if (p->dx)
        for (size_t i = 0; i < n; i++) p->dx[i] += p->dy[i];
    if (p->dx2)
        for (size_t i = 0; i < n; i++) p->dx2[i] += p->dy[i];
}

static double add_flops(const cnn_layer *l) { return (double)l->oh * l->ow * l->oc; }

static void add_text(const cnn_layer *l, char *buf, size_t cap) { (void)l, snprintf(buf, cap, "end"); }

const cnn_layer_desc cnn_layer_add = {
    .name = "add", .prefix = "add", .noun = "the end of a residual block", .flags = LF_INTERNAL, .forward = add_fwd,
    .backward = add_bwd, .text = add_text, .flops = add_flops,
};
