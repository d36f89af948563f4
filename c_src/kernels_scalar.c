/* kernels_scalar.c - the scalar reference kernels and the naive reference GEMM.
 * Built without auto-vectorization (see build.sh) so they stay the plain loops every variant is checked
 * against. The scalar table's GEMM is the packed driver with the scalar micro-kernel. */
#include <math.h>
#include <stdint.h>

#include "kernels.h"
#include "winograd.h"

/* Cephes-style expf: range reduction by powers of 2, degree-6 polynomial; ~1 ulp; inputs clamped to [-87, 88]. The SIMD
 * version in kernels_wasmsimd.c performs the same operations in the same order. */
float cnn_expf_poly(float x) {
    if (x != x) return x;
    if (x > 88.0f) x = 88.0f;
    if (x < -87.0f) x = -87.0f;
    float fx = floorf(x * 1.44269504088896341f + 0.5f);
    x = x - fx * 0.693359375f;
    x = x - fx * -2.12194440e-4f;
    float z = x * x;
    float y = 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * z + x + 1.0f;
    union { uint32_t u; float f; } pow2 = {(uint32_t)((int)fx + 127) << 23};
    return y * pow2.f;
}

void cnn_gemm__ref(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs, int b_cs,
                   int m, int n, int k, int accumulate, float *work) {
    (void)work;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++) s += a[(size_t)i * a_rs + (size_t)p * a_cs] * b[(size_t)p * b_rs + (size_t)j * b_cs];
            c[(size_t)i * ldc + j] = accumulate ? c[(size_t)i * ldc + j] + s : s;
        }
}

static void gemm__scalar(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs,
                         int b_cs, int m, int n, int k, int accumulate, float *work) {
    cnn_gemm_packed(c, ldc, a, a_rs, a_cs, b, b_rs, b_cs, m, n, k, accumulate, work, cnn_gemm_ukernel__scalar);
}

static void relu_fwd__scalar(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_bwd__scalar(float *dx, const float *y, const float *dy, size_t n, int accumulate) {
    if (accumulate)
        for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
    else
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

static void sigmoid_fwd__scalar(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + cnn_expf_poly(-x[i]));
}

static void sigmoid_bwd__scalar(float *dx, const float *y, const float *dy, size_t n, int accumulate) {
    if (accumulate)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (y[i] * (1.0f - y[i]));
    else
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
}

/* tanh(x) = sign(x) * (1 - 2 / (exp(2|x|) + 1)): no overflow, exact sign for -0. */
static void tanh_fwd__scalar(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float e = cnn_expf_poly(2.0f * fabsf(x[i]));
        y[i] = copysignf(1.0f - 2.0f / (e + 1.0f), x[i]);
    }
}

static void tanh_bwd__scalar(float *dx, const float *y, const float *dy, size_t n, int accumulate) {
    if (accumulate)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
    else
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

static void maxpool_fwd__scalar(float *y, const float *x, int n, int h, int w, int c) {
    int oh = h / 2, ow = w / 2;
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *p00 = x + (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                const float *p01 = p00 + c, *p10 = p00 + (size_t)w * c, *p11 = p10 + c;
                float *out = y + (((size_t)img * oh + oy) * ow + ox) * c;
                for (int ch = 0; ch < c; ch++) {
                    float m = p00[ch];
                    if (p01[ch] > m) m = p01[ch];
                    if (p10[ch] > m) m = p10[ch];
                    if (p11[ch] > m) m = p11[ch];
                    out[ch] = m;
                }
            }
}

static void maxpool_bwd__scalar(float *dx, const float *x, const float *y, const float *dy, int n, int h, int w,
                                int c, int mode) {
    int oh = h / 2, ow = w / 2;
    if (mode & CNN_POOL_WRITE) /* the positions no window takes: the last row and column when odd */
        for (int img = 0; img < n; img++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = iy < 2 * oh ? 2 * ow : 0; ix < w; ix++)
                    for (int ch = 0; ch < c; ch++) dx[(((size_t)img * h + iy) * w + ix) * c + ch] = 0.0f;
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                size_t o00 = (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                size_t offs[4] = {o00, o00 + c, o00 + (size_t)w * c, o00 + (size_t)w * c + c};
                size_t o = (((size_t)img * oh + oy) * ow + ox) * c;
                for (int ch = 0; ch < c; ch++) {
                    float m = y[o + ch], g = (mode & CNN_POOL_RELU) && !(m > 0.0f) ? 0.0f : dy[o + ch];
                    int taken = 0;
                    for (int q = 0; q < 4; q++) {
                        int hit = !taken && x[offs[q] + ch] == m;
                        taken |= hit;
                        if (mode & CNN_POOL_WRITE) dx[offs[q] + ch] = hit ? g : 0.0f;
                        else if (hit) dx[offs[q] + ch] += g;
                    }
                }
            }
}

static void avgpool_fwd__scalar(float *y, const float *x, int n, int h, int w, int c) {
    int oh = h / 2, ow = w / 2;
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *p00 = x + (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                const float *p01 = p00 + c, *p10 = p00 + (size_t)w * c, *p11 = p10 + c;
                float *out = y + (((size_t)img * oh + oy) * ow + ox) * c;
                for (int ch = 0; ch < c; ch++) out[ch] = (((p00[ch] + p01[ch]) + p10[ch]) + p11[ch]) * 0.25f;
            }
}

static void avgpool_bwd__scalar(float *dx, const float *dy, int n, int h, int w, int c) {
    int oh = h / 2, ow = w / 2;
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float *p00 = dx + (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                float *p01 = p00 + c, *p10 = p00 + (size_t)w * c, *p11 = p10 + c;
                const float *g = dy + (((size_t)img * oh + oy) * ow + ox) * c;
                for (int ch = 0; ch < c; ch++) {
                    float v = g[ch] * 0.25f;
                    p00[ch] += v; p01[ch] += v; p10[ch] += v; p11[ch] += v;
                }
            }
}

static void leakyrelu_fwd__scalar(float *y, const float *x, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

static void leakyrelu_bwd__scalar(float *dx, const float *y, const float *dy, size_t n, float slope, int accumulate) {
    if (accumulate)
        for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : dy[i] * slope;
    else
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : dy[i] * slope;
}

static void bn_stats__scalar(float *mean, float *var, const float *x, int rows, int c, double *work) {
    double *s = work, *q = work + c;
    for (int j = 0; j < c; j++) s[j] = 0.0, q[j] = 0.0;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < c; j++) s[j] += (double)x[(size_t)r * c + j];
    for (int j = 0; j < c; j++) s[j] /= rows;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < c; j++) {
            double d = (double)x[(size_t)r * c + j] - s[j];
            q[j] += d * d;
        }
    for (int j = 0; j < c; j++) mean[j] = (float)s[j], var[j] = (float)(q[j] / rows);
}

static void channel_affine__scalar(float *y, const float *x, const float *scale, const float *shift, int rows, int c) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < c; j++) y[(size_t)r * c + j] = x[(size_t)r * c + j] * scale[j] + shift[j];
}

static void bn_bwd_sums__scalar(float *sum_dy, float *sum_dy_xmu, const float *dy, const float *x, const float *mean,
                                int rows, int c, double *work) {
    double *a = work, *b = work + c;
    for (int j = 0; j < c; j++) a[j] = 0.0, b[j] = 0.0;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < c; j++) {
            size_t i = (size_t)r * c + j;
            a[j] += (double)dy[i];
            b[j] += (double)dy[i] * ((double)x[i] - (double)mean[j]);
        }
    for (int j = 0; j < c; j++) sum_dy[j] = (float)a[j], sum_dy_xmu[j] = (float)b[j];
}

static void bn_bwd_dx__scalar(float *dx, const float *dy, const float *x, const float *mean, const float *a,
                              const float *b, const float *s, int rows, int c) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < c; j++) {
            size_t i = (size_t)r * c + j;
            dx[i] += ((dy[i] - a[j]) - (x[i] - mean[j]) * b[j]) * s[j];
        }
}

static void bias_add__scalar(float *y, const float *b, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) y[(size_t)r * cols + j] += b[j];
}

static void bias_grad__scalar(float *db, const float *dy, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) db[j] += dy[(size_t)r * cols + j];
}

static void conv1ch_fwd__scalar(float *y, const float *x, const float *wt, const float *b, size_t row0, int rows,
                                int h, int w, int k, int stride, int pad, int oh, int ow, int oc) {
    float taps[CNN_CONV1CH_MAX_TAPS];
    int K = k * k;
    for (int r = 0; r < rows; r++) {
        cnn_conv1ch_taps(taps, x, row0 + (size_t)r, h, w, k, stride, pad, oh, ow);
        float *yr = y + (size_t)r * oc;
        for (int j = 0; j < oc; j++) {
            float s = 0.0f;
            for (int t = 0; t < K; t++) s += taps[t] * wt[(size_t)t * oc + j];
            yr[j] = s + b[j];
        }
    }
}

static void conv1ch_dw__scalar(float *dwt, float *db, const float *x, const float *dy, size_t row0, int rows, int h,
                               int w, int k, int stride, int pad, int oh, int ow, int oc) {
    float taps[CNN_CONV1CH_MAX_TAPS];
    int K = k * k;
    for (int r = 0; r < rows; r++) {
        cnn_conv1ch_taps(taps, x, row0 + (size_t)r, h, w, k, stride, pad, oh, ow);
        const float *g = dy + (size_t)r * oc;
        for (int t = 0; t < K; t++)
            for (int j = 0; j < oc; j++) dwt[(size_t)t * oc + j] += taps[t] * g[j];
    }
    bias_grad__scalar(db, dy, rows, oc);
}

static void wino_in__scalar(float *v, size_t vs, const float *const rows[4], int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino_in_lane(v, vs, rows, c, ch);
}

static void wino_out__scalar(float *const rows[2], const float *m, size_t ms, const float *b, int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino_out_lane(rows, m, ms, b, c, ch);
}

static void wino_out_grad__scalar(float *dm, size_t ms, const float *const rows[2], int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino_out_grad_lane(dm, ms, rows, c, ch);
}

static void wino_in_grad__scalar(float *const rows[4], const float *dv, size_t vs, int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino_in_grad_lane(rows, dv, vs, c, ch);
}

static void wino4_in__scalar(float *v, size_t vs, const float *const rows[6], int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino4_in_lane(v, vs, rows, c, ch);
}

static void wino4_out__scalar(float *const rows[4], const float *m, size_t ms, const float *b, int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino4_out_lane(rows, m, ms, b, c, ch);
}

static void wino4_out_grad__scalar(float *dm, size_t ms, const float *const rows[4], int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino4_out_grad_lane(dm, ms, rows, c, ch);
}

static void wino4_in_grad__scalar(float *const rows[6], const float *dv, size_t vs, int c) {
    for (int ch = 0; ch < c; ch++) cnn_wino4_in_grad_lane(rows, dv, vs, c, ch);
}

/* The scalar GEMM micro-kernel (built without vectorisation, as all of this file). */
void cnn_gemm_ukernel__scalar(float *c, int ldc, const float *ap, const float *bp, int kc, int mr, int nr,
                              int accumulate) {
    float t[CNN_GEMM_MR][CNN_GEMM_NR] = {{0}};
    for (int p = 0; p < kc; p++) {
        for (int i = 0; i < CNN_GEMM_MR; i++) {
            float av = ap[p * CNN_GEMM_MR + i];
            for (int j = 0; j < CNN_GEMM_NR; j++) t[i][j] += av * bp[p * CNN_GEMM_NR + j];
        }
    }
    cnn_gemm_store_tile(c, ldc, (const float(*)[CNN_GEMM_NR])t, mr, nr, accumulate);
}

const cnn_kernels cnn_kernels_scalar = {
    .name = "scalar",
    .gemm = gemm__scalar,
    .relu_fwd = relu_fwd__scalar,
    .relu_bwd = relu_bwd__scalar,
    .sigmoid_fwd = sigmoid_fwd__scalar,
    .sigmoid_bwd = sigmoid_bwd__scalar,
    .tanh_fwd = tanh_fwd__scalar,
    .tanh_bwd = tanh_bwd__scalar,
    .maxpool_fwd = maxpool_fwd__scalar,
    .maxpool_bwd = maxpool_bwd__scalar,
    .avgpool_fwd = avgpool_fwd__scalar,
    .avgpool_bwd = avgpool_bwd__scalar,
    .leakyrelu_fwd = leakyrelu_fwd__scalar,
    .leakyrelu_bwd = leakyrelu_bwd__scalar,
    .bn_stats = bn_stats__scalar,
    .channel_affine = channel_affine__scalar,
    .bn_bwd_sums = bn_bwd_sums__scalar,
    .bn_bwd_dx = bn_bwd_dx__scalar,
    .bias_add = bias_add__scalar,
    .bias_grad = bias_grad__scalar,
    .conv1ch_fwd = conv1ch_fwd__scalar,
    .conv1ch_dw = conv1ch_dw__scalar,
    .wino_in = wino_in__scalar,
    .wino_out = wino_out__scalar,
    .wino_out_grad = wino_out_grad__scalar,
    .wino_in_grad = wino_in_grad__scalar,
    .wino4_in = wino4_in__scalar,
    .wino4_out = wino4_out__scalar,
    .wino4_out_grad = wino4_out_grad__scalar,
    .wino4_in_grad = wino4_in_grad__scalar,
};
