/* layers_pool.c - pooling: 2x2 max and average pooling with stride 2 (kernels in the kernel table). */
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"

static int pool_parse(cnn_layer *l, char **args, int nargs, const char **act, const cnn_stmt *st) {
    (void)act;
    const char *name = cnn_layer_desc_of(l->kind)->name;
    if (nargs > 1 || (nargs == 1 && strcmp(args[0], "2") && strcmp(args[0], "2x2")))
        return cnn_spec_fail(st, "only 2x2 pooling with stride 2 is supported (write '%s 2')", name);
    l->k = 2, l->stride = 2;
    return CNN_OK;
}

/* Odd sides are floored, as in PyTorch: the last row or column is not pooled. */
static int pool_infer(cnn_layer *l, const cnn_stmt *st) {
    if (l->ih < 2 || l->iw < 2) return cnn_spec_fail(st, "input %dx%d is too small to pool 2x2", l->ih, l->iw);
    l->oh = l->ih / 2, l->ow = l->iw / 2, l->oc = l->ic;
    return CNN_OK;
}

static double pool_flops(const cnn_layer *l) { return 4.0 * l->oh * l->ow * l->oc; }

static void pool_text(const cnn_layer *l, char *buf, size_t cap) {
    snprintf(buf, cap, "%s 2", cnn_layer_desc_of(l->kind)->name);
}

/* y (n, h/2, w/2, c) <- max of each 2x2 window of x (n, h, w, c) */
static void maxpool_fwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->maxpool_fwd(p->y, p->x, p->n, l->ih, l->iw, l->ic);
}

/* dx accumulates dy at the first position of each window holding its max (x and y tell which); or is written,
 * and masked by the ReLU below, as the model planned (bwd_write, bwd_relu) */
static void maxpool_bwd(const cnn_layer *l, const cnn_pass *p) {
    int mode = (l->bwd_write ? CNN_POOL_WRITE : 0) | (l->bwd_relu ? CNN_POOL_RELU : 0);
    cnn_kern()->maxpool_bwd(p->dx, p->x, p->y, p->dy, p->n, l->ih, l->iw, l->ic, mode);
}

/* y (n, h/2, w/2, c) <- mean of each 2x2 window of x (n, h, w, c) */
static void avgpool_fwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->avgpool_fwd(p->y, p->x, p->n, l->ih, l->iw, l->ic);
}

/* dx accumulates dy / 4 at each position of the window */
static void avgpool_bwd(const cnn_layer *l, const cnn_pass *p) {
    cnn_kern()->avgpool_bwd(p->dx, p->dy, p->n, l->ih, l->iw, l->ic);
}

const cnn_layer_desc cnn_layer_maxpool = {
    .name = "maxpool", .prefix = "pool", .noun = "pooling", .flags = LF_SPATIAL | LF_NEEDS_OUTPUT,
    .parse = pool_parse, .infer = pool_infer, .forward = maxpool_fwd, .backward = maxpool_bwd, .text = pool_text,
    .flops = pool_flops,
};

const cnn_layer_desc cnn_layer_avgpool = {
    .name = "avgpool", .prefix = "pool", .noun = "pooling", .flags = LF_SPATIAL, .parse = pool_parse,
    .infer = pool_infer, .forward = avgpool_fwd, .backward = avgpool_bwd, .text = pool_text, .flops = pool_flops,
};

/* ---- global average pooling: y (n, 1, 1, c) <- the mean of x (n, h, w, c) over its pixels ---- */

static void globalavgpool_forward(float *y, const float *x, int n, int pixels, int c) {
    for (int img = 0; img < n; img++)
        for (int j = 0; j < c; j++) {
            const float *xi = x + (size_t)img * pixels * c + j;
            double s = 0.0;
            for (int q = 0; q < pixels; q++) s += (double)xi[(size_t)q * c];
            y[(size_t)img * c + j] = (float)(s / pixels);
        }
}

/* dx (n, h, w, c) accumulates dy / pixels at every pixel */
static void globalavgpool_backward(float *dx, const float *dy, int n, int pixels, int c) {
    float inv = 1.0f / (float)pixels;
    for (int img = 0; img < n; img++)
        for (int q = 0; q < pixels; q++) {
            float *d = dx + ((size_t)img * pixels + q) * c;
            const float *g = dy + (size_t)img * c;
            for (int j = 0; j < c; j++) d[j] += g[j] * inv;
        }
}

static int gap_infer(cnn_layer *l, const cnn_stmt *st) {
    (void)st;
    l->oh = l->ow = 1, l->oc = l->ic;
    return CNN_OK;
}

static void gap_fwd(const cnn_layer *l, const cnn_pass *p) {
    globalavgpool_forward(p->y, p->x, p->n, l->ih * l->iw, l->ic);
}

static void gap_bwd(const cnn_layer *l, const cnn_pass *p) {
    globalavgpool_backward(p->dx, p->dy, p->n, l->ih * l->iw, l->ic);
}

static void gap_text(const cnn_layer *l, char *buf, size_t cap) { (void)l, snprintf(buf, cap, "globalavgpool"); }

static double gap_flops(const cnn_layer *l) { return (double)l->ih * l->iw * l->ic; }

const cnn_layer_desc cnn_layer_globalavgpool = {
    .name = "globalavgpool", .alias = "gap", .prefix = "gap", .noun = "global pooling",
    .flags = LF_SPATIAL | LF_FLAT_OUTPUT, .infer = gap_infer, .forward = gap_fwd, .backward = gap_bwd,
    .text = gap_text, .flops = gap_flops,
};
