/* layers_conv.c - the layers built on GEMM: 2-D convolution (im2col + GEMM) and dense (fully connected).
 *
 * Our layouts: conv weights (OC, KH, KW, IC), dense weights (OUT, IN) with IN in the (H, W, C) order of the
 * NHWC activations. Weight files hold PyTorch's: conv (OC, IC, KH, KW), dense (OUT, IN) with IN in (C, H, W)
 * order; ours_from_torch maps between them. */
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "layers.h"
#include "model.h"

/* ==================================================================================================== */
/* Convolution                                                                                          */
/* ==================================================================================================== */

/* Output rows unrolled at a time: bounded in rows and in workspace floats. */
static int conv_chunk_rows(const cnn_layer *l) {
    size_t K = (size_t)l->k * l->k * l->ic;
    size_t rows = CNN_CONV_CHUNK_FLOATS / K;
    if (rows > CNN_CONV_CHUNK_ROWS) rows = CNN_CONV_CHUNK_ROWS;
    return rows < 1 ? 1 : (int)rows;
}

/* One input channel: the direct kernels (conv1ch_*), whose weights are tap-major (K, oc) in ws->col. */
static int conv_direct(const cnn_layer *l) { return l->ic == 1 && l->k * l->k <= CNN_CONV1CH_MAX_TAPS; }

/* y (n, oh, ow, oc) = x (n, h, w, ic) convolved with w (oc, k, k, ic), + b (oc).
 * The one place a convolution's forward pass is computed: unrolls output rows in chunks into ws->col
 * (rows, k * k * ic) and multiplies by the weights; with one input channel, the direct kernel instead (the
 * same sums in the same order). */
static void conv2d_forward(float *y, const float *x, const float *w, const float *b, const cnn_layer *l, int n,
                           cnn_workspace *ws) {
    const cnn_kernels *kern = cnn_kern();
    int K = l->k * l->k * l->ic, chunk = conv_chunk_rows(l);
    size_t total = (size_t)n * l->oh * l->ow;
    if (conv_direct(l)) {
        float *wt = ws->col; /* (K, oc) */
        for (int j = 0; j < l->oc; j++)
            for (int t = 0; t < K; t++) wt[(size_t)t * l->oc + j] = w[(size_t)j * K + t];
        for (size_t r0 = 0; r0 < total; r0 += (size_t)chunk) {
            int rows = total - r0 < (size_t)chunk ? (int)(total - r0) : chunk;
            kern->conv1ch_fwd(y + r0 * l->oc, x, wt, b, r0, rows, l->ih, l->iw, l->k, l->stride, l->pad, l->oh,
                              l->ow, l->oc);
        }
        return;
    }
    for (size_t r0 = 0; r0 < total; r0 += (size_t)chunk) {
        int rows = total - r0 < (size_t)chunk ? (int)(total - r0) : chunk;
        float *yc = y + r0 * l->oc; /* (rows, oc) */
        cnn_im2col(ws->col, x, r0, rows, l->ih, l->iw, l->ic, l->k, l->stride, l->pad, l->oh, l->ow);
        kern->gemm(yc, l->oc, ws->col, K, 1, w, 1, K, rows, l->oc, K, 0, ws->gemm); /* col . W^T */
        kern->bias_add(yc, b, rows, l->oc);
    }
}

/* dw (oc, k, k, ic) and db (oc) accumulate the weight gradients (when not NULL); dx (n, h, w, ic) accumulates
 * the input gradient (when not NULL), from dy (n, oh, ow, oc), x and w. */
static void conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                            const cnn_layer *l, int n, cnn_workspace *ws) {
    const cnn_kernels *kern = cnn_kern();
    int K = l->k * l->k * l->ic, chunk = conv_chunk_rows(l);
    size_t total = (size_t)n * l->oh * l->ow;
    if (dw && conv_direct(l)) { /* one input channel: the weight and bias gradients by the direct kernel */
        float *dwt = ws->col;   /* (K, oc) */
        memset(dwt, 0, (size_t)K * l->oc * sizeof(float));
        for (size_t r0 = 0; r0 < total; r0 += (size_t)chunk) {
            int rows = total - r0 < (size_t)chunk ? (int)(total - r0) : chunk;
            kern->conv1ch_dw(dwt, db, x, dy + r0 * l->oc, r0, rows, l->ih, l->iw, l->k, l->stride, l->pad, l->oh,
                             l->ow, l->oc);
        }
        for (int j = 0; j < l->oc; j++)
            for (int t = 0; t < K; t++) dw[(size_t)j * K + t] += dwt[(size_t)t * l->oc + j];
        dw = NULL; /* done; the input gradient, if wanted, below */
    }
    for (size_t r0 = 0; (dx || dw) && r0 < total; r0 += (size_t)chunk) {
        int rows = total - r0 < (size_t)chunk ? (int)(total - r0) : chunk;
        const float *dyc = dy + r0 * l->oc; /* (rows, oc) */
        if (dw) {
            cnn_im2col(ws->col, x, r0, rows, l->ih, l->iw, l->ic, l->k, l->stride, l->pad, l->oh, l->ow);
            kern->gemm(dw, K, dyc, 1, l->oc, ws->col, K, 1, l->oc, K, rows, 1, ws->gemm); /* dW += dY^T . col */
            kern->bias_grad(db, dyc, rows, l->oc);
        }
        if (dx) {
            kern->gemm(ws->dcol, K, dyc, l->oc, 1, w, K, 1, rows, K, l->oc, 0, ws->gemm); /* dcol = dY . W */
            cnn_col2im_add(dx, ws->dcol, r0, rows, l->ih, l->iw, l->ic, l->k, l->stride, l->pad, l->oh, l->ow);
        }
    }
}

static int conv_parse(cnn_layer *l, char **args, int nargs, const char **act, const cnn_stmt *st) {
    char acts[96], opts[128];
    cnn_layer_keywords(acts, sizeof acts, LF_ACTIVATION, "|");
    if (nargs < 2) return cnn_spec_fail(st, "expected 'conv2d FILTERS KxK [valid|same] [stride S] [%s]'", acts);
    int f, kd[2] = {0, 0}, same = 0, stride = 1;
    if (cnn_parse_int(args[0], 1, 1024, &f))
        return cnn_spec_fail(st, "filter count '%s' is not an integer in 1..1024", args[0]);
    int nk = cnn_parse_dims(args[1], kd, 2);
    if (nk < 1) return cnn_spec_fail(st, "kernel size '%s' is not KxK with K in 1..15", args[1]);
    int k = kd[0];
    if (nk == 2 && kd[1] != k) return cnn_spec_fail(st, "kernel '%s' is not square (only KxK kernels are supported)", args[1]);
    if (k > 15) return cnn_spec_fail(st, "kernel size '%s' is out of range (1x1 to 15x15)", args[1]);
    for (int i = 2; i < nargs; i++) {
        if (!strcmp(args[i], "same")) same = 1;
        else if (!strcmp(args[i], "valid")) same = 0;
        else if (!strcmp(args[i], "stride")) {
            if (i + 1 >= nargs || cnn_parse_int(args[i + 1], 1, CNN_MAX_STRIDE, &stride))
                return cnn_spec_fail(st, "'stride' needs a step in 1..%d after it, as in 'stride 2'", CNN_MAX_STRIDE);
            i++;
        }
        else if (!*act && cnn_layer_kind_by_word(args[i]) >= 0 &&
                 (cnn_layer_desc_of(cnn_layer_kind_by_word(args[i]))->flags & LF_ACTIVATION))
            *act = args[i];
        else {
            cnn_layer_keywords(opts, sizeof opts, LF_ACTIVATION, NULL);
            return cnn_spec_fail(st, "unknown option '%s' (expected valid, same, stride S, %s)", args[i], opts);
        }
    }
    if (same && k % 2 == 0) return cnn_spec_fail(st, "'same' padding needs an odd kernel, got %s", args[1]);
    l->k = k;
    l->stride = stride;
    l->pad = same ? (k - 1) / 2 : 0;
    l->oc = f;
    return CNN_OK;
}

static int conv_infer(cnn_layer *l, const cnn_stmt *st) {
    int eh = l->ih + 2 * l->pad, ew = l->iw + 2 * l->pad; /* the padded input */
    if (l->k > eh || l->k > ew)
        return cnn_spec_fail(st, "kernel %dx%d is larger than its %dx%d input", l->k, l->k, l->ih, l->iw);
    l->oh = (eh - l->k) / l->stride + 1;
    l->ow = (ew - l->k) / l->stride + 1;
    l->p_count = (size_t)l->oc * l->k * l->k * l->ic + (size_t)l->oc;
    return CNN_OK;
}

static void conv_tensor(const cnn_layer *l, int t, cnn_tensor_info *o) {
    size_t wn = (size_t)l->oc * l->k * l->k * l->ic;
    if (t == 0) *o = (cnn_tensor_info){.suffix = "weight", .decay = 1, .ndim = 4, .shape = {l->oc, l->ic, l->k, l->k}, .count = wn};
    else *o = (cnn_tensor_info){.suffix = "bias", .ndim = 1, .shape = {l->oc}, .count = (size_t)l->oc, .offset = wn};
}

static size_t conv_ours_from_torch(const cnn_layer *l, int t, size_t i) {
    if (t != 0) return i;
    size_t k = (size_t)l->k, ic = (size_t)l->ic; /* i indexes (oc, ic, ky, kx); ours is (oc, ky, kx, ic) */
    size_t kx = i % k, ky = (i / k) % k, c = (i / (k * k)) % ic, o = i / (k * k * ic);
    return ((o * k + ky) * k + kx) * ic + c;
}

static void conv_init(const cnn_layer *l, float *w, float *buf, cnn_rng *r) {
    (void)buf;
    size_t wn = (size_t)l->oc * l->k * l->k * l->ic;
    cnn_init_uniform(w, wn, (float)(l->k * l->k * l->ic), (float)(l->k * l->k * l->oc), l->relu_follows, r);
    memset(w + wn, 0, (size_t)l->oc * sizeof(float));
}

static size_t conv_workspace(const cnn_layer *l, int max_batch) {
    if (cnn_winograd_applies(l)) return cnn_winograd_workspace(l, cnn_winograd_tile(l), max_batch);
    uint64_t rows = (uint64_t)conv_chunk_rows(l), all = (uint64_t)max_batch * l->oh * l->ow;
    size_t need = (size_t)((rows < all ? rows : all) * l->k * l->k * l->ic); /* <= CNN_CONV_CHUNK_FLOATS */
    size_t wt = (size_t)l->k * l->k * l->oc; /* the direct kernels' transposed weights */
    return conv_direct(l) && wt > need ? wt : need;
}

/* The algorithm is the layer's own: Winograd for 3x3 stride-1 convolutions of enough channels, the direct kernels
 * for one input channel, im2col + GEMM otherwise. */
static void conv_fwd(const cnn_layer *l, const cnn_pass *p) {
    size_t wn = (size_t)l->oc * l->k * l->k * l->ic;
    if (cnn_winograd_applies(l))
        cnn_winograd_forward(p->y, p->x, p->w, p->w + wn, l, cnn_winograd_tile(l), p->n, p->ws);
    else conv2d_forward(p->y, p->x, p->w, p->w + wn, l, p->n, p->ws);
}

static void conv_bwd(const cnn_layer *l, const cnn_pass *p) {
    size_t wn = (size_t)l->oc * l->k * l->k * l->ic;
    float *db = p->dw ? p->dw + wn : NULL;
    if (cnn_winograd_applies(l))
        cnn_winograd_backward(p->dx, p->dw, db, p->dy, p->x, p->w, l, cnn_winograd_tile(l), p->n, p->ws);
    else conv2d_backward(p->dx, p->dw, db, p->dy, p->x, p->w, l, p->n, p->ws);
}

static void conv_text(const cnn_layer *l, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "conv2d %d %dx%d %s", l->oc, l->k, l->k, l->pad ? "same" : "valid");
    if (l->stride != 1 && n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, " stride %d", l->stride);
}

static double conv_flops(const cnn_layer *l) {
    return (double)l->oh * l->ow * l->oc * (2.0 * l->k * l->k * l->ic + 1.0);
}

const cnn_layer_desc cnn_layer_conv2d = {
    .name = "conv2d", .alias = "conv", .prefix = "conv", .noun = "a convolution", .flags = LF_SPATIAL,
    .parse = conv_parse, .infer = conv_infer, .ntensors = 2, .tensor = conv_tensor,
    .ours_from_torch = conv_ours_from_torch, .init = conv_init, .workspace = conv_workspace, .forward = conv_fwd,
    .backward = conv_bwd, .text = conv_text, .flops = conv_flops,
};

/* ==================================================================================================== */
/* Dense                                                                                                */
/* ==================================================================================================== */

/* y (n, out) = x (n, in) . w^T + b, with w (out, in) and b (out). */
static void dense_forward(float *y, const float *x, const float *w, const float *b, int n, int in, int out,
                          float *work) {
    const cnn_kernels *kern = cnn_kern();
    kern->gemm(y, out, x, in, 1, w, 1, in, n, out, in, 0, work); /* x . W^T */
    kern->bias_add(y, b, n, out);
}

/* dw (out, in) and db (out) accumulate dY^T . x and the column sums of dy (when not NULL); dx (n, in)
 * accumulates dY . w (when not NULL). */
static void dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int n,
                           int in, int out, float *work) {
    const cnn_kernels *kern = cnn_kern();
    if (dw) {
        kern->gemm(dw, in, dy, 1, out, x, in, 1, out, in, n, 1, work); /* dW += dY^T . x */
        kern->bias_grad(db, dy, n, out);
    }
    if (dx) kern->gemm(dx, in, dy, out, 1, w, in, 1, n, in, out, 1, work); /* dx += dY . W */
}

static int dense_parse(cnn_layer *l, char **args, int nargs, const char **act, const cnn_stmt *st) {
    char acts[96];
    int units;
    if (nargs < 1 || nargs > 2) {
        cnn_layer_keywords(acts, sizeof acts, LF_ACTIVATION, "|");
        return cnn_spec_fail(st, "expected 'dense UNITS [%s]'", acts);
    }
    if (cnn_parse_int(args[0], 1, 65536, &units))
        return cnn_spec_fail(st, "unit count '%s' is not an integer in 1..65536", args[0]);
    if (nargs == 2) {
        int k = cnn_layer_kind_by_word(args[1]);
        if (k < 0 || !(cnn_layer_desc_of(k)->flags & LF_ACTIVATION)) {
            cnn_layer_keywords(acts, sizeof acts, LF_ACTIVATION, NULL);
            return cnn_spec_fail(st, "unknown option '%s' (expected %s)", args[1], acts);
        }
        *act = args[1];
    }
    l->oc = units;
    return CNN_OK;
}

static int dense_infer(cnn_layer *l, const cnn_stmt *st) {
    if ((double)l->oc * l->ic > CNN_MAX_PARAMS) return cnn_spec_fail(st, "too many weights (at most %d)", CNN_MAX_PARAMS);
    l->oh = l->ow = 1;
    l->p_count = (size_t)l->oc * l->ic + (size_t)l->oc;
    return CNN_OK;
}

static void dense_tensor(const cnn_layer *l, int t, cnn_tensor_info *o) {
    size_t wn = (size_t)l->oc * l->ic;
    if (t == 0) *o = (cnn_tensor_info){.suffix = "weight", .decay = 1, .ndim = 2, .shape = {l->oc, l->ic}, .count = wn};
    else *o = (cnn_tensor_info){.suffix = "bias", .ndim = 1, .shape = {l->oc}, .count = (size_t)l->oc, .offset = wn};
}

static size_t dense_ours_from_torch(const cnn_layer *l, int t, size_t i) {
    if (t != 0) return i;
    size_t in = (size_t)l->ic;
    return (i / in) * in + cnn_flat_ours_from_torch(i % in, l->fh, l->fw, l->fc);
}

static void dense_init(const cnn_layer *l, float *w, float *buf, cnn_rng *r) {
    (void)buf;
    size_t wn = (size_t)l->oc * l->ic;
    cnn_init_uniform(w, wn, (float)l->ic, (float)l->oc, l->relu_follows, r);
    memset(w + wn, 0, (size_t)l->oc * sizeof(float));
}

static void dense_fwd(const cnn_layer *l, const cnn_pass *p) {
    dense_forward(p->y, p->x, p->w, p->w + (size_t)l->oc * l->ic, p->n, l->ic, l->oc, p->ws->gemm);
}

static void dense_bwd(const cnn_layer *l, const cnn_pass *p) {
    float *db = p->dw ? p->dw + (size_t)l->oc * l->ic : NULL;
    dense_backward(p->dx, p->dw, db, p->dy, p->x, p->w, p->n, l->ic, l->oc, p->ws->gemm);
}

static void dense_text(const cnn_layer *l, char *buf, size_t cap) { snprintf(buf, cap, "dense %d", l->oc); }

static double dense_flops(const cnn_layer *l) { return (double)l->oc * (2.0 * l->ic + 1.0); }

const cnn_layer_desc cnn_layer_dense = {
    .name = "dense", .alias = "linear", .prefix = "fc", .noun = "a dense layer",
    .flags = LF_FLAT_INPUT | LF_FLAT_OUTPUT, .parse = dense_parse, .infer = dense_infer, .ntensors = 2,
    .tensor = dense_tensor, .ours_from_torch = dense_ours_from_torch, .init = dense_init, .forward = dense_fwd,
    .backward = dense_bwd, .text = dense_text, .flops = dense_flops,
};
