/* kernels_wasmsimd.c - WebAssembly SIMD128 kernels. Each mirrors its scalar reference operation for operation,
 * so elementwise and pooling results are bit-identical; loops run 4 lanes at a time and finish with a scalar
 * tail that never reads past the end. */
#ifdef __wasm_simd128__
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <wasm_simd128.h>

#include "kernels.h"
#include "winograd.h"

/* 4 x 8 tile in 8 vector accumulators: per k, two B vectors and four broadcast A values. */
void cnn_gemm_ukernel__wasmsimd(float *c, int ldc, const float *ap, const float *bp, int kc, int mr, int nr,
                                int accumulate) {
    v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
    v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (int p = 0; p < kc; p++) {
        v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
        v128_t a0 = wasm_v128_load32_splat(ap), a1 = wasm_v128_load32_splat(ap + 1);
        v128_t a2 = wasm_v128_load32_splat(ap + 2), a3 = wasm_v128_load32_splat(ap + 3);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
        c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a2, b0));
        c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a2, b1));
        c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a3, b0));
        c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a3, b1));
        ap += CNN_GEMM_MR;
        bp += CNN_GEMM_NR;
    }
    if (mr == CNN_GEMM_MR && nr == CNN_GEMM_NR) {
        float *r0 = c, *r1 = c + ldc, *r2 = c + 2 * (size_t)ldc, *r3 = c + 3 * (size_t)ldc;
        if (accumulate) {
            c00 = wasm_f32x4_add(c00, wasm_v128_load(r0)); c01 = wasm_f32x4_add(c01, wasm_v128_load(r0 + 4));
            c10 = wasm_f32x4_add(c10, wasm_v128_load(r1)); c11 = wasm_f32x4_add(c11, wasm_v128_load(r1 + 4));
            c20 = wasm_f32x4_add(c20, wasm_v128_load(r2)); c21 = wasm_f32x4_add(c21, wasm_v128_load(r2 + 4));
            c30 = wasm_f32x4_add(c30, wasm_v128_load(r3)); c31 = wasm_f32x4_add(c31, wasm_v128_load(r3 + 4));
        }
        wasm_v128_store(r0, c00); wasm_v128_store(r0 + 4, c01);
        wasm_v128_store(r1, c10); wasm_v128_store(r1 + 4, c11);
        wasm_v128_store(r2, c20); wasm_v128_store(r2 + 4, c21);
        wasm_v128_store(r3, c30); wasm_v128_store(r3 + 4, c31);
        return;
    }
    float t[CNN_GEMM_MR][CNN_GEMM_NR];
    wasm_v128_store(&t[0][0], c00); wasm_v128_store(&t[0][4], c01);
    wasm_v128_store(&t[1][0], c10); wasm_v128_store(&t[1][4], c11);
    wasm_v128_store(&t[2][0], c20); wasm_v128_store(&t[2][4], c21);
    wasm_v128_store(&t[3][0], c30); wasm_v128_store(&t[3][4], c31);
    cnn_gemm_store_tile(c, ldc, (const float(*)[CNN_GEMM_NR])t, mr, nr, accumulate);
}

static void gemm__wasmsimd(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs,
                           int b_cs, int m, int n, int k, int accumulate, float *work) {
    cnn_gemm_packed(c, ldc, a, a_rs, a_cs, b, b_rs, b_cs, m, n, k, accumulate, work, cnn_gemm_ukernel__wasmsimd);
}

/* cnn_expf_poly on 4 lanes, same operations in the same order. */
static v128_t expf_poly4(v128_t x0) {
    v128_t nan_mask = wasm_f32x4_ne(x0, x0);
    v128_t x = wasm_f32x4_pmin(x0, wasm_f32x4_splat(88.0f));  /* x > hi ? hi : x, NaN handled below */
    x = wasm_f32x4_pmax(x, wasm_f32x4_splat(-87.0f));
    v128_t fx = wasm_f32x4_floor(
        wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), wasm_f32x4_splat(0.5f)));
    x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, wasm_f32x4_splat(0.693359375f)));
    x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, wasm_f32x4_splat(-2.12194440e-4f)));
    v128_t z = wasm_f32x4_mul(x, x);
    v128_t y = wasm_f32x4_splat(1.9875691500e-4f);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(1.3981999507e-3f));
    y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(8.3334519073e-3f));
    y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(4.1665795894e-2f));
    y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(1.6666665459e-1f));
    y = wasm_f32x4_add(wasm_f32x4_mul(y, x), wasm_f32x4_splat(5.0000001201e-1f));
    y = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(y, z), x), wasm_f32x4_splat(1.0f));
    v128_t pow2 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(fx), wasm_i32x4_splat(127)), 23);
    return wasm_v128_bitselect(x0, wasm_f32x4_mul(y, pow2), nan_mask);
}

static void relu_fwd__wasmsimd(float *y, const float *x, size_t n) {
    const v128_t zero = wasm_f32x4_splat(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_pmax(zero, wasm_v128_load(x + i)));
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dx = g, or dx += g when accumulating (4 lanes of g in v, at dx + i) */
static inline void store_grad(float *dx, size_t i, v128_t v, int accumulate) {
    wasm_v128_store(dx + i, accumulate ? wasm_f32x4_add(wasm_v128_load(dx + i), v) : v);
}

static void relu_bwd__wasmsimd(float *dx, const float *y, const float *dy, size_t n, int accumulate) {
    const v128_t zero = wasm_f32x4_splat(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t keep = wasm_f32x4_gt(wasm_v128_load(y + i), zero);
        store_grad(dx, i, wasm_v128_and(wasm_v128_load(dy + i), keep), accumulate);
    }
    for (; i < n; i++) {
        float g = y[i] > 0.0f ? dy[i] : 0.0f;
        dx[i] = accumulate ? dx[i] + g : g;
    }
}

static void sigmoid_fwd__wasmsimd(float *y, const float *x, size_t n) {
    const v128_t one = wasm_f32x4_splat(1.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t e = expf_poly4(wasm_f32x4_neg(wasm_v128_load(x + i)));
        wasm_v128_store(y + i, wasm_f32x4_div(one, wasm_f32x4_add(one, e)));
    }
    for (; i < n; i++) y[i] = 1.0f / (1.0f + cnn_expf_poly(-x[i]));
}

static void sigmoid_bwd__wasmsimd(float *dx, const float *y, const float *dy, size_t n, int accumulate) {
    const v128_t one = wasm_f32x4_splat(1.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t yv = wasm_v128_load(y + i);
        store_grad(dx, i, wasm_f32x4_mul(wasm_v128_load(dy + i), wasm_f32x4_mul(yv, wasm_f32x4_sub(one, yv))), accumulate);
    }
    for (; i < n; i++) {
        float g = dy[i] * (y[i] * (1.0f - y[i]));
        dx[i] = accumulate ? dx[i] + g : g;
    }
}

static void tanh_fwd__wasmsimd(float *y, const float *x, size_t n) {
    const v128_t one = wasm_f32x4_splat(1.0f), two = wasm_f32x4_splat(2.0f);
    const v128_t sign = wasm_i32x4_splat((int32_t)0x80000000u);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t xv = wasm_v128_load(x + i);
        v128_t e = expf_poly4(wasm_f32x4_mul(two, wasm_f32x4_abs(xv)));
        v128_t t = wasm_f32x4_sub(one, wasm_f32x4_div(two, wasm_f32x4_add(e, one)));
        /* copysign: magnitude bits of t, sign bit of x */
        wasm_v128_store(y + i, wasm_v128_bitselect(xv, t, sign));
    }
    for (; i < n; i++) {
        float e = cnn_expf_poly(2.0f * fabsf(x[i]));
        y[i] = copysignf(1.0f - 2.0f / (e + 1.0f), x[i]);
    }
}

static void tanh_bwd__wasmsimd(float *dx, const float *y, const float *dy, size_t n, int accumulate) {
    const v128_t one = wasm_f32x4_splat(1.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t yv = wasm_v128_load(y + i);
        store_grad(dx, i, wasm_f32x4_mul(wasm_v128_load(dy + i), wasm_f32x4_sub(one, wasm_f32x4_mul(yv, yv))), accumulate);
    }
    for (; i < n; i++) {
        float g = dy[i] * (1.0f - y[i] * y[i]);
        dx[i] = accumulate ? dx[i] + g : g;
    }
}

static void maxpool_fwd__wasmsimd(float *y, const float *x, int n, int h, int w, int c) {
    int oh = h / 2, ow = w / 2;
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *p00 = x + (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                const float *p01 = p00 + c, *p10 = p00 + (size_t)w * c, *p11 = p10 + c;
                float *out = y + (((size_t)img * oh + oy) * ow + ox) * c;
                int ch = 0;
                for (; ch + 4 <= c; ch += 4) {
                    /* pmax(m, v) = m < v ? v : m, which is the reference's "if (v > m) m = v" */
                    v128_t m = wasm_v128_load(p00 + ch);
                    m = wasm_f32x4_pmax(m, wasm_v128_load(p01 + ch));
                    m = wasm_f32x4_pmax(m, wasm_v128_load(p10 + ch));
                    m = wasm_f32x4_pmax(m, wasm_v128_load(p11 + ch));
                    wasm_v128_store(out + ch, m);
                }
                for (; ch < c; ch++) {
                    float m = p00[ch];
                    if (p01[ch] > m) m = p01[ch];
                    if (p10[ch] > m) m = p10[ch];
                    if (p11[ch] > m) m = p11[ch];
                    out[ch] = m;
                }
            }
}

static void maxpool_bwd__wasmsimd(float *dx, const float *x, const float *y, const float *dy, int n, int h,
                                  int w, int c, int mode) {
    int oh = h / 2, ow = w / 2, write = mode & CNN_POOL_WRITE, relu = mode & CNN_POOL_RELU;
    if (write) /* the positions no window takes: the last row and column when odd */
        for (int img = 0; img < n; img++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = iy < 2 * oh ? 2 * ow : 0; ix < w; ix++)
                    memset(dx + (((size_t)img * h + iy) * w + ix) * c, 0, (size_t)c * sizeof(float));
    const v128_t zero = wasm_f32x4_splat(0.0f);
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                size_t o00 = (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                size_t offs[4] = {o00, o00 + c, o00 + (size_t)w * c, o00 + (size_t)w * c + c};
                size_t o = (((size_t)img * oh + oy) * ow + ox) * c;
                int ch = 0;
                for (; ch + 4 <= c; ch += 4) {
                    v128_t m = wasm_v128_load(y + o + ch), g = wasm_v128_load(dy + o + ch);
                    if (relu) g = wasm_v128_and(g, wasm_f32x4_gt(m, zero));
                    v128_t taken = wasm_i32x4_splat(0);
                    for (int q = 0; q < 4; q++) {
                        /* the first window position equal to the max takes the gradient */
                        v128_t hit = wasm_v128_andnot(wasm_f32x4_eq(wasm_v128_load(x + offs[q] + ch), m), taken);
                        float *d = dx + offs[q] + ch;
                        v128_t part = wasm_v128_and(g, hit);
                        wasm_v128_store(d, write ? part : wasm_f32x4_add(wasm_v128_load(d), part));
                        taken = wasm_v128_or(taken, hit);
                    }
                }
                for (; ch < c; ch++) {
                    float m = y[o + ch], g = relu && !(m > 0.0f) ? 0.0f : dy[o + ch];
                    int taken = 0;
                    for (int q = 0; q < 4; q++) {
                        int hit = !taken && x[offs[q] + ch] == m;
                        taken |= hit;
                        if (write) dx[offs[q] + ch] = hit ? g : 0.0f;
                        else if (hit) dx[offs[q] + ch] += g;
                    }
                }
            }
}

static void avgpool_fwd__wasmsimd(float *y, const float *x, int n, int h, int w, int c) {
    int oh = h / 2, ow = w / 2;
    const v128_t quarter = wasm_f32x4_splat(0.25f);
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *p00 = x + (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                const float *p01 = p00 + c, *p10 = p00 + (size_t)w * c, *p11 = p10 + c;
                float *out = y + (((size_t)img * oh + oy) * ow + ox) * c;
                int ch = 0;
                for (; ch + 4 <= c; ch += 4) {
                    v128_t s = wasm_f32x4_add(wasm_v128_load(p00 + ch), wasm_v128_load(p01 + ch));
                    s = wasm_f32x4_add(s, wasm_v128_load(p10 + ch));
                    s = wasm_f32x4_add(s, wasm_v128_load(p11 + ch));
                    wasm_v128_store(out + ch, wasm_f32x4_mul(s, quarter));
                }
                for (; ch < c; ch++) out[ch] = (((p00[ch] + p01[ch]) + p10[ch]) + p11[ch]) * 0.25f;
            }
}

static void avgpool_bwd__wasmsimd(float *dx, const float *dy, int n, int h, int w, int c) {
    int oh = h / 2, ow = w / 2;
    const v128_t quarter = wasm_f32x4_splat(0.25f);
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float *p00 = dx + (((size_t)img * h + 2 * oy) * w + 2 * ox) * c;
                float *p01 = p00 + c, *p10 = p00 + (size_t)w * c, *p11 = p10 + c;
                const float *g = dy + (((size_t)img * oh + oy) * ow + ox) * c;
                int ch = 0;
                for (; ch + 4 <= c; ch += 4) {
                    v128_t v = wasm_f32x4_mul(wasm_v128_load(g + ch), quarter);
                    wasm_v128_store(p00 + ch, wasm_f32x4_add(wasm_v128_load(p00 + ch), v));
                    wasm_v128_store(p01 + ch, wasm_f32x4_add(wasm_v128_load(p01 + ch), v));
                    wasm_v128_store(p10 + ch, wasm_f32x4_add(wasm_v128_load(p10 + ch), v));
                    wasm_v128_store(p11 + ch, wasm_f32x4_add(wasm_v128_load(p11 + ch), v));
                }
                for (; ch < c; ch++) {
                    float v = g[ch] * 0.25f;
                    p00[ch] += v; p01[ch] += v; p10[ch] += v; p11[ch] += v;
                }
            }
}

static void leakyrelu_fwd__wasmsimd(float *y, const float *x, size_t n, float slope) {
    const v128_t zero = wasm_f32x4_splat(0.0f), k = wasm_f32x4_splat(slope);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_v128_load(x + i);
        wasm_v128_store(y + i, wasm_v128_bitselect(v, wasm_f32x4_mul(v, k), wasm_f32x4_gt(v, zero)));
    }
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

static void leakyrelu_bwd__wasmsimd(float *dx, const float *y, const float *dy, size_t n, float slope,
                                    int accumulate) {
    const v128_t zero = wasm_f32x4_splat(0.0f), k = wasm_f32x4_splat(slope);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t g = wasm_v128_load(dy + i);
        v128_t pos = wasm_f32x4_gt(wasm_v128_load(y + i), zero);
        store_grad(dx, i, wasm_v128_bitselect(g, wasm_f32x4_mul(g, k), pos), accumulate);
    }
    for (; i < n; i++) {
        float g = y[i] > 0.0f ? dy[i] : dy[i] * slope;
        dx[i] = accumulate ? dx[i] + g : g;
    }
}

/* Lanes 2 and 3 of v as two doubles. */
static inline v128_t promote_high(v128_t v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)); }

/* acc[j], acc[j + 1], acc[j + 2], acc[j + 3] (doubles) += the four floats of v, in lane order */
static inline void add4_double(double *acc, v128_t v) {
    wasm_v128_store(acc, wasm_f64x2_add(wasm_v128_load(acc), wasm_f64x2_promote_low_f32x4(v)));
    wasm_v128_store(acc + 2, wasm_f64x2_add(wasm_v128_load(acc + 2), promote_high(v)));
}

static void bn_stats__wasmsimd(float *mean, float *var, const float *x, int rows, int c, double *work) {
    double *s = work, *q = work + c;
    for (int j = 0; j < c; j++) s[j] = 0.0, q[j] = 0.0;
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * c;
        int j = 0;
        for (; j + 4 <= c; j += 4) add4_double(s + j, wasm_v128_load(row + j));
        for (; j < c; j++) s[j] += (double)row[j];
    }
    for (int j = 0; j < c; j++) s[j] /= rows;
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * c;
        int j = 0;
        for (; j + 4 <= c; j += 4) {
            v128_t v = wasm_v128_load(row + j);
            v128_t d0 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(v), wasm_v128_load(s + j));
            v128_t d1 = wasm_f64x2_sub(promote_high(v), wasm_v128_load(s + j + 2));
            wasm_v128_store(q + j, wasm_f64x2_add(wasm_v128_load(q + j), wasm_f64x2_mul(d0, d0)));
            wasm_v128_store(q + j + 2, wasm_f64x2_add(wasm_v128_load(q + j + 2), wasm_f64x2_mul(d1, d1)));
        }
        for (; j < c; j++) {
            double d = (double)row[j] - s[j];
            q[j] += d * d;
        }
    }
    for (int j = 0; j < c; j++) mean[j] = (float)s[j], var[j] = (float)(q[j] / rows);
}

static void channel_affine__wasmsimd(float *y, const float *x, const float *scale, const float *shift, int rows,
                                     int c) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * c;
        float *yr = y + (size_t)r * c;
        int j = 0;
        for (; j + 4 <= c; j += 4)
            wasm_v128_store(yr + j, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xr + j), wasm_v128_load(scale + j)),
                                                   wasm_v128_load(shift + j)));
        for (; j < c; j++) yr[j] = xr[j] * scale[j] + shift[j];
    }
}

static void bn_bwd_sums__wasmsimd(float *sum_dy, float *sum_dy_xmu, const float *dy, const float *x,
                                  const float *mean, int rows, int c, double *work) {
    double *a = work, *b = work + c;
    for (int j = 0; j < c; j++) a[j] = 0.0, b[j] = 0.0;
    for (int r = 0; r < rows; r++) {
        const float *g = dy + (size_t)r * c, *xr = x + (size_t)r * c;
        int j = 0;
        for (; j + 4 <= c; j += 4) {
            v128_t gv = wasm_v128_load(g + j), xv = wasm_v128_load(xr + j), mv = wasm_v128_load(mean + j);
            v128_t g0 = wasm_f64x2_promote_low_f32x4(gv), g1 = promote_high(gv);
            v128_t d0 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(xv), wasm_f64x2_promote_low_f32x4(mv));
            v128_t d1 = wasm_f64x2_sub(promote_high(xv), promote_high(mv));
            wasm_v128_store(a + j, wasm_f64x2_add(wasm_v128_load(a + j), g0));
            wasm_v128_store(a + j + 2, wasm_f64x2_add(wasm_v128_load(a + j + 2), g1));
            wasm_v128_store(b + j, wasm_f64x2_add(wasm_v128_load(b + j), wasm_f64x2_mul(g0, d0)));
            wasm_v128_store(b + j + 2, wasm_f64x2_add(wasm_v128_load(b + j + 2), wasm_f64x2_mul(g1, d1)));
        }
        for (; j < c; j++) {
            a[j] += (double)g[j];
            b[j] += (double)g[j] * ((double)xr[j] - (double)mean[j]);
        }
    }
    for (int j = 0; j < c; j++) sum_dy[j] = (float)a[j], sum_dy_xmu[j] = (float)b[j];
}

static void bn_bwd_dx__wasmsimd(float *dx, const float *dy, const float *x, const float *mean, const float *a,
                                const float *b, const float *s, int rows, int c) {
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * c;
        int j = 0;
        for (; j + 4 <= c; j += 4) {
            v128_t t = wasm_f32x4_sub(wasm_v128_load(dy + o + j), wasm_v128_load(a + j));
            v128_t u = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + o + j), wasm_v128_load(mean + j)),
                                      wasm_v128_load(b + j));
            v128_t g = wasm_f32x4_mul(wasm_f32x4_sub(t, u), wasm_v128_load(s + j));
            wasm_v128_store(dx + o + j, wasm_f32x4_add(wasm_v128_load(dx + o + j), g));
        }
        for (; j < c; j++) dx[o + j] += ((dy[o + j] - a[j]) - (x[o + j] - mean[j]) * b[j]) * s[j];
    }
}

static void bias_add__wasmsimd(float *y, const float *b, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        float *row = y + (size_t)r * cols;
        int j = 0;
        for (; j + 4 <= cols; j += 4) wasm_v128_store(row + j, wasm_f32x4_add(wasm_v128_load(row + j), wasm_v128_load(b + j)));
        for (; j < cols; j++) row[j] += b[j];
    }
}

/* 32, then 4 columns at a time held in registers over all rows (each column still adds row by row, as the
 * scalar kernel does, starting from db), then one by one. */
static void bias_grad__wasmsimd(float *db, const float *dy, int rows, int cols) {
    int j = 0;
    for (; j + 32 <= cols; j += 32) {
        v128_t acc[8];
        for (int q = 0; q < 8; q++) acc[q] = wasm_v128_load(db + j + 4 * q);
        for (int r = 0; r < rows; r++) {
            const float *row = dy + (size_t)r * cols + j;
            for (int q = 0; q < 8; q++) acc[q] = wasm_f32x4_add(acc[q], wasm_v128_load(row + 4 * q));
        }
        for (int q = 0; q < 8; q++) wasm_v128_store(db + j + 4 * q, acc[q]);
    }
    for (; j + 4 <= cols; j += 4) {
        v128_t acc = wasm_v128_load(db + j);
        for (int r = 0; r < rows; r++) acc = wasm_f32x4_add(acc, wasm_v128_load(dy + (size_t)r * cols + j));
        wasm_v128_store(db + j, acc);
    }
    for (; j < cols; j++) {
        float acc = db[j];
        for (int r = 0; r < rows; r++) acc += dy[(size_t)r * cols + j];
        db[j] = acc;
    }
}

/* ---- one-channel direct convolution (conv1ch_*) ----
 * Output pixels are taken run by run: a run is consecutive pixels of one output row. Pixel i of a run has its
 * window's top-left tap at base + i * ps and the window's rows rs floats apart. The taps are read straight from
 * x when every window lies inside the image (valid padding); otherwise from the band, a zero-padded copy of
 * the k input rows under the output row; when the band does not fit, one pixel at a time from its gathered
 * taps. */
#define C1_BAND_FLOATS 2048
#define MAC(s, t, v) s = wasm_f32x4_add(s, wasm_f32x4_mul(t, v))

typedef struct {
    const float *base;
    size_t row;     /* output row of the run's first pixel */
    int n, ps, rs;  /* pixels, pixel step, window row stride */
} c1_run;

typedef struct {
    const float *x;            /* (n, h, w, 1) */
    size_t row, end;           /* the next output row; one past the last */
    int h, w, k, stride, pad, oh, ow;
    int inside;                /* every window lies inside the image */
    int bw;                    /* band width: the padded columns the windows of a row cover */
    float band[C1_BAND_FLOATS]; /* (k, bw) */
    float taps[CNN_CONV1CH_MAX_TAPS];
} c1_walk;

static void c1_walk_init(c1_walk *s, const float *x, size_t row0, int rows, int h, int w, int k, int stride,
                         int pad, int oh, int ow) {
    s->x = x, s->row = row0, s->end = row0 + (size_t)rows;
    s->h = h, s->w = w, s->k = k, s->stride = stride, s->pad = pad, s->oh = oh, s->ow = ow;
    s->inside = pad == 0 && (oh - 1) * stride + k <= h && (ow - 1) * stride + k <= w;
    s->bw = (ow - 1) * stride + k;
}

/* band (k, bw) <- input rows y0 .. y0 + k - 1 of the image xi (h, w), columns -pad .. bw - pad - 1, zero outside */
static void c1_fill_band(float *band, const float *xi, int y0, int h, int w, int k, int pad, int bw) {
    int c0 = pad < bw ? pad : bw, c1 = pad + w < bw ? pad + w : bw; /* band columns [c0, c1) are in the image */
    for (int ky = 0; ky < k; ky++) {
        float *row = band + (size_t)ky * bw;
        int iy = y0 + ky;
        if (iy < 0 || iy >= h) {
            memset(row, 0, (size_t)bw * sizeof(float));
            continue;
        }
        memset(row, 0, (size_t)c0 * sizeof(float));
        if (c1 > c0) memcpy(row + c0, xi + (size_t)iy * w + (c0 - pad), (size_t)(c1 - c0) * sizeof(float));
        memset(row + c1, 0, (size_t)(bw - c1) * sizeof(float));
    }
}

/* The next run, up to the end of its output row and of the rows asked for; 0 when none is left. */
static int c1_next(c1_walk *s, c1_run *run) {
    if (s->row >= s->end) return 0;
    size_t per_image = (size_t)s->oh * s->ow, img = s->row / per_image;
    int oy = (int)(s->row % per_image) / s->ow, ox = (int)(s->row % per_image) % s->ow;
    int y0 = oy * s->stride - s->pad, n = s->ow - ox;
    if ((size_t)n > s->end - s->row) n = (int)(s->end - s->row);
    const float *xi = s->x + img * s->h * s->w;
    run->row = s->row;
    if (s->inside) {
        run->base = xi + (size_t)y0 * s->w + (size_t)ox * s->stride;
        run->ps = s->stride, run->rs = s->w;
    } else if ((size_t)s->k * s->bw <= C1_BAND_FLOATS) {
        c1_fill_band(s->band, xi, y0, s->h, s->w, s->k, s->pad, s->bw);
        run->base = s->band + (size_t)ox * s->stride;
        run->ps = s->stride, run->rs = s->bw;
    } else {
        cnn_conv1ch_taps(s->taps, s->x, s->row, s->h, s->w, s->k, s->stride, s->pad, s->oh, s->ow);
        run->base = s->taps;
        run->ps = 0, run->rs = s->k, n = 1;
    }
    run->n = n;
    s->row += (size_t)n;
    return 1;
}

/* y (np, oc) for np (1..4) consecutive pixels of a run: 4 pixels x 8 channels in 8 independent accumulators
 * (then 4 x 4, then channel by channel). Pixels past np repeat the last one (the same values stored to the
 * same place). Each sum runs over the taps in order from 0, then adds the bias, as the scalar kernel.
 * Inlined into a 3x3 copy (whose tap loops unroll) and an any-k one. */
static inline __attribute__((always_inline)) void c1_fwd_pixels(float *y, const float *p, int ps, int rs, int np,
                                                                int k, const float *wt, const float *b, int oc) {
    int i1 = np > 1, i2 = np > 2 ? 2 : i1, i3 = np > 3 ? 3 : i2;
    const float *p0 = p, *p1 = p + i1 * ps, *p2 = p + i2 * ps, *p3 = p + i3 * ps;
    float *y0 = y, *y1 = y + (size_t)i1 * oc, *y2 = y + (size_t)i2 * oc, *y3 = y + (size_t)i3 * oc;
    const v128_t zero = wasm_f32x4_splat(0.0f);
    int j = 0;
    for (; j + 8 <= oc; j += 8) {
        v128_t s00 = zero, s01 = zero, s10 = zero, s11 = zero, s20 = zero, s21 = zero, s30 = zero, s31 = zero;
        const float *wr = wt + j;
        for (int ky = 0; ky < k; ky++) {
            const float *q0 = p0 + ky * rs, *q1 = p1 + ky * rs, *q2 = p2 + ky * rs, *q3 = p3 + ky * rs;
            for (int kx = 0; kx < k; kx++, wr += oc) {
                v128_t w0 = wasm_v128_load(wr), w1 = wasm_v128_load(wr + 4), t;
                t = wasm_v128_load32_splat(q0 + kx), MAC(s00, t, w0), MAC(s01, t, w1);
                t = wasm_v128_load32_splat(q1 + kx), MAC(s10, t, w0), MAC(s11, t, w1);
                t = wasm_v128_load32_splat(q2 + kx), MAC(s20, t, w0), MAC(s21, t, w1);
                t = wasm_v128_load32_splat(q3 + kx), MAC(s30, t, w0), MAC(s31, t, w1);
            }
        }
        v128_t b0 = wasm_v128_load(b + j), b1 = wasm_v128_load(b + j + 4);
        wasm_v128_store(y0 + j, wasm_f32x4_add(s00, b0)), wasm_v128_store(y0 + j + 4, wasm_f32x4_add(s01, b1));
        wasm_v128_store(y1 + j, wasm_f32x4_add(s10, b0)), wasm_v128_store(y1 + j + 4, wasm_f32x4_add(s11, b1));
        wasm_v128_store(y2 + j, wasm_f32x4_add(s20, b0)), wasm_v128_store(y2 + j + 4, wasm_f32x4_add(s21, b1));
        wasm_v128_store(y3 + j, wasm_f32x4_add(s30, b0)), wasm_v128_store(y3 + j + 4, wasm_f32x4_add(s31, b1));
    }
    for (; j + 4 <= oc; j += 4) {
        v128_t s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        const float *wr = wt + j;
        for (int ky = 0; ky < k; ky++) {
            const float *q0 = p0 + ky * rs, *q1 = p1 + ky * rs, *q2 = p2 + ky * rs, *q3 = p3 + ky * rs;
            for (int kx = 0; kx < k; kx++, wr += oc) {
                v128_t w0 = wasm_v128_load(wr);
                MAC(s0, wasm_v128_load32_splat(q0 + kx), w0), MAC(s1, wasm_v128_load32_splat(q1 + kx), w0);
                MAC(s2, wasm_v128_load32_splat(q2 + kx), w0), MAC(s3, wasm_v128_load32_splat(q3 + kx), w0);
            }
        }
        v128_t b0 = wasm_v128_load(b + j);
        wasm_v128_store(y0 + j, wasm_f32x4_add(s0, b0)), wasm_v128_store(y1 + j, wasm_f32x4_add(s1, b0));
        wasm_v128_store(y2 + j, wasm_f32x4_add(s2, b0)), wasm_v128_store(y3 + j, wasm_f32x4_add(s3, b0));
    }
    for (; j < oc; j++) {
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        const float *wr = wt + j;
        for (int ky = 0; ky < k; ky++) {
            const float *q0 = p0 + ky * rs, *q1 = p1 + ky * rs, *q2 = p2 + ky * rs, *q3 = p3 + ky * rs;
            for (int kx = 0; kx < k; kx++, wr += oc)
                s0 += q0[kx] * *wr, s1 += q1[kx] * *wr, s2 += q2[kx] * *wr, s3 += q3[kx] * *wr;
        }
        y0[j] = s0 + b[j], y1[j] = s1 + b[j], y2[j] = s2 + b[j], y3[j] = s3 + b[j];
    }
}

static void c1_fwd_pixels_k3(float *y, const float *p, int ps, int rs, int np, const float *wt, const float *b,
                             int oc) {
    c1_fwd_pixels(y, p, ps, rs, np, 3, wt, b, oc);
}

static void c1_fwd_pixels_any(float *y, const float *p, int ps, int rs, int np, int k, const float *wt,
                              const float *b, int oc) {
    c1_fwd_pixels(y, p, ps, rs, np, k, wt, b, oc);
}

/* Runs of the output rows, 4 pixels at a time. */
static void conv1ch_fwd__wasmsimd(float *y, const float *x, const float *wt, const float *b, size_t row0, int rows,
                                  int h, int w, int k, int stride, int pad, int oh, int ow, int oc) {
    c1_walk s;
    c1_run run;
    c1_walk_init(&s, x, row0, rows, h, w, k, stride, pad, oh, ow);
    while (c1_next(&s, &run)) {
        float *yr = y + (run.row - row0) * oc; /* (run.n, oc) */
        for (int i = 0; i < run.n; i += 4) {
            int np = run.n - i < 4 ? run.n - i : 4;
            const float *p = run.base + (size_t)i * run.ps;
            if (k == 3) c1_fwd_pixels_k3(yr + (size_t)i * oc, p, run.ps, run.rs, np, wt, b, oc);
            else c1_fwd_pixels_any(yr + (size_t)i * oc, p, run.ps, run.rs, np, k, wt, b, oc);
        }
    }
}

/* The channels from j0 on, one tap and one channel at a time. */
static void c1_dw_scalar(float *dwt, const c1_run *run, const float *g, int k, int oc, int j0) {
    for (int j = j0; j < oc; j++)
        for (int t = 0; t < k * k; t++) {
            const float *p = run->base + (t / k) * run->rs + t % k;
            float s = dwt[(size_t)t * oc + j];
            for (int i = 0; i < run->n; i++) s += p[(size_t)i * run->ps] * g[(size_t)i * oc + j];
            dwt[(size_t)t * oc + j] = s;
        }
}

/* 3x3: for 4 channels at a time, the 9 taps' sums and the bias gradient's held in registers over the run
 * (loaded before it, stored after it), each adding pixel by pixel as the scalar kernel does. */
static void c1_dw_run_k3(float *dwt, float *db, const c1_run *run, const float *g, int oc) {
    int j = 0, rs = run->rs;
    for (; j + 4 <= oc; j += 4) {
        float *d = dwt + j;
        v128_t e = wasm_v128_load(db + j);
        v128_t d0 = wasm_v128_load(d), d1 = wasm_v128_load(d + oc), d2 = wasm_v128_load(d + 2 * oc);
        v128_t d3 = wasm_v128_load(d + 3 * oc), d4 = wasm_v128_load(d + 4 * oc), d5 = wasm_v128_load(d + 5 * oc);
        v128_t d6 = wasm_v128_load(d + 6 * oc), d7 = wasm_v128_load(d + 7 * oc), d8 = wasm_v128_load(d + 8 * oc);
        const float *p = run->base, *gi = g + j;
        for (int i = 0; i < run->n; i++, p += run->ps, gi += oc) {
            v128_t gv = wasm_v128_load(gi);
            const float *q1 = p + rs, *q2 = p + 2 * rs;
            e = wasm_f32x4_add(e, gv);
            MAC(d0, wasm_v128_load32_splat(p), gv), MAC(d1, wasm_v128_load32_splat(p + 1), gv);
            MAC(d2, wasm_v128_load32_splat(p + 2), gv), MAC(d3, wasm_v128_load32_splat(q1), gv);
            MAC(d4, wasm_v128_load32_splat(q1 + 1), gv), MAC(d5, wasm_v128_load32_splat(q1 + 2), gv);
            MAC(d6, wasm_v128_load32_splat(q2), gv), MAC(d7, wasm_v128_load32_splat(q2 + 1), gv);
            MAC(d8, wasm_v128_load32_splat(q2 + 2), gv);
        }
        wasm_v128_store(d, d0), wasm_v128_store(d + oc, d1), wasm_v128_store(d + 2 * oc, d2);
        wasm_v128_store(d + 3 * oc, d3), wasm_v128_store(d + 4 * oc, d4), wasm_v128_store(d + 5 * oc, d5);
        wasm_v128_store(d + 6 * oc, d6), wasm_v128_store(d + 7 * oc, d7), wasm_v128_store(d + 8 * oc, d8);
        wasm_v128_store(db + j, e);
    }
    c1_dw_scalar(dwt, run, g, 3, oc, j);
    for (; j < oc; j++) {
        float s = db[j];
        for (int i = 0; i < run->n; i++) s += g[(size_t)i * oc + j];
        db[j] = s;
    }
}

/* Any k: 4 channels and 4 taps at a time in registers over the run (then tap by tap). */
static void c1_dw_run_any(float *dwt, const c1_run *run, const float *g, int k, int oc) {
    int K = k * k, j = 0, rs = run->rs;
    for (; j + 4 <= oc; j += 4) {
        int t = 0;
        for (; t + 4 <= K; t += 4) {
            int o0 = t / k * rs + t % k, o1 = (t + 1) / k * rs + (t + 1) % k;
            int o2 = (t + 2) / k * rs + (t + 2) % k, o3 = (t + 3) / k * rs + (t + 3) % k;
            float *d = dwt + (size_t)t * oc + j;
            v128_t d0 = wasm_v128_load(d), d1 = wasm_v128_load(d + oc);
            v128_t d2 = wasm_v128_load(d + 2 * oc), d3 = wasm_v128_load(d + 3 * oc);
            const float *p = run->base, *gi = g + j;
            for (int i = 0; i < run->n; i++, p += run->ps, gi += oc) {
                v128_t gv = wasm_v128_load(gi);
                MAC(d0, wasm_v128_load32_splat(p + o0), gv), MAC(d1, wasm_v128_load32_splat(p + o1), gv);
                MAC(d2, wasm_v128_load32_splat(p + o2), gv), MAC(d3, wasm_v128_load32_splat(p + o3), gv);
            }
            wasm_v128_store(d, d0), wasm_v128_store(d + oc, d1);
            wasm_v128_store(d + 2 * oc, d2), wasm_v128_store(d + 3 * oc, d3);
        }
        for (; t < K; t++) {
            int o = t / k * rs + t % k;
            float *d = dwt + (size_t)t * oc + j;
            v128_t d0 = wasm_v128_load(d);
            const float *p = run->base, *gi = g + j;
            for (int i = 0; i < run->n; i++, p += run->ps, gi += oc)
                MAC(d0, wasm_v128_load32_splat(p + o), wasm_v128_load(gi));
            wasm_v128_store(d, d0);
        }
    }
    c1_dw_scalar(dwt, run, g, k, oc, j);
}

/* Run by run; with 3x3 kernels, the bias gradient in the same pass. */
static void conv1ch_dw__wasmsimd(float *dwt, float *db, const float *x, const float *dy, size_t row0, int rows,
                                 int h, int w, int k, int stride, int pad, int oh, int ow, int oc) {
    c1_walk s;
    c1_run run;
    c1_walk_init(&s, x, row0, rows, h, w, k, stride, pad, oh, ow);
    while (c1_next(&s, &run)) {
        const float *g = dy + (run.row - row0) * oc; /* (run.n, oc) */
        if (k == 3) c1_dw_run_k3(dwt, db, &run, g, oc);
        else c1_dw_run_any(dwt, &run, g, k, oc);
    }
    if (k != 3) bias_grad__wasmsimd(db, dy, rows, oc);
}
#undef MAC

/* Winograd transforms, 4 channels at a time, each lane exactly as cnn_wino_*_lane (winograd.h). */
#define VADD wasm_f32x4_add
#define VSUB wasm_f32x4_sub
#define VNEG wasm_f32x4_neg

static void wino_in__wasmsimd(float *v, size_t vs, const float *const rows[4], int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t t[4][4];
        for (int q = 0; q < 4; q++) {
            v128_t d0 = wasm_v128_load(rows[0] + q * c + ch), d1 = wasm_v128_load(rows[1] + q * c + ch);
            v128_t d2 = wasm_v128_load(rows[2] + q * c + ch), d3 = wasm_v128_load(rows[3] + q * c + ch);
            WINO_BT(t[0][q], t[1][q], t[2][q], t[3][q], d0, d1, d2, d3, VADD, VSUB);
        }
        for (int r = 0; r < 4; r++) {
            v128_t o0, o1, o2, o3;
            WINO_BT(o0, o1, o2, o3, t[r][0], t[r][1], t[r][2], t[r][3], VADD, VSUB);
            wasm_v128_store(v + (size_t)(4 * r) * vs + ch, o0);
            wasm_v128_store(v + (size_t)(4 * r + 1) * vs + ch, o1);
            wasm_v128_store(v + (size_t)(4 * r + 2) * vs + ch, o2);
            wasm_v128_store(v + (size_t)(4 * r + 3) * vs + ch, o3);
        }
    }
    for (; ch < c; ch++) cnn_wino_in_lane(v, vs, rows, c, ch);
}

static void wino_out__wasmsimd(float *const rows[2], const float *m, size_t ms, const float *b, int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t s[2][4], bv = wasm_v128_load(b + ch);
        for (int q = 0; q < 4; q++)
            WINO_AT(s[0][q], s[1][q], wasm_v128_load(m + (size_t)q * ms + ch),
                    wasm_v128_load(m + (size_t)(4 + q) * ms + ch), wasm_v128_load(m + (size_t)(8 + q) * ms + ch),
                    wasm_v128_load(m + (size_t)(12 + q) * ms + ch), VADD, VSUB);
        for (int r = 0; r < 2; r++) {
            v128_t y0, y1;
            WINO_AT(y0, y1, s[r][0], s[r][1], s[r][2], s[r][3], VADD, VSUB);
            wasm_v128_store(rows[r] + ch, VADD(y0, bv));
            wasm_v128_store(rows[r] + c + ch, VADD(y1, bv));
        }
    }
    for (; ch < c; ch++) cnn_wino_out_lane(rows, m, ms, b, c, ch);
}

static void wino_out_grad__wasmsimd(float *dm, size_t ms, const float *const rows[2], int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t t[4][2];
        for (int q = 0; q < 2; q++)
            WINO_A(t[0][q], t[1][q], t[2][q], t[3][q], wasm_v128_load(rows[0] + q * c + ch),
                   wasm_v128_load(rows[1] + q * c + ch), VADD, VSUB, VNEG);
        for (int r = 0; r < 4; r++) {
            v128_t o0, o1, o2, o3;
            WINO_A(o0, o1, o2, o3, t[r][0], t[r][1], VADD, VSUB, VNEG);
            wasm_v128_store(dm + (size_t)(4 * r) * ms + ch, o0);
            wasm_v128_store(dm + (size_t)(4 * r + 1) * ms + ch, o1);
            wasm_v128_store(dm + (size_t)(4 * r + 2) * ms + ch, o2);
            wasm_v128_store(dm + (size_t)(4 * r + 3) * ms + ch, o3);
        }
    }
    for (; ch < c; ch++) cnn_wino_out_grad_lane(dm, ms, rows, c, ch);
}

static void wino_in_grad__wasmsimd(float *const rows[4], const float *dv, size_t vs, int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t t[4][4];
        for (int q = 0; q < 4; q++)
            WINO_B(t[0][q], t[1][q], t[2][q], t[3][q], wasm_v128_load(dv + (size_t)q * vs + ch),
                   wasm_v128_load(dv + (size_t)(4 + q) * vs + ch), wasm_v128_load(dv + (size_t)(8 + q) * vs + ch),
                   wasm_v128_load(dv + (size_t)(12 + q) * vs + ch), VADD, VSUB, VNEG);
        for (int r = 0; r < 4; r++) {
            v128_t o[4];
            WINO_B(o[0], o[1], o[2], o[3], t[r][0], t[r][1], t[r][2], t[r][3], VADD, VSUB, VNEG);
            for (int q = 0; q < 4; q++) {
                float *d = rows[r] + q * c + ch;
                wasm_v128_store(d, VADD(wasm_v128_load(d), o[q]));
            }
        }
    }
    for (; ch < c; ch++) cnn_wino_in_grad_lane(rows, dv, vs, c, ch);
}

/* F(4x4, 3x3): the column pass into t, then the row pass, 4 channels at a time. */
#define VMULK(a, k) wasm_f32x4_mul(a, wasm_f32x4_splat(k))

static void wino4_in__wasmsimd(float *v, size_t vs, const float *const rows[6], int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t t[6][6], col[6], o[6];
        for (int q = 0; q < 6; q++) {
            for (int r = 0; r < 6; r++) col[r] = wasm_v128_load(rows[r] + q * c + ch);
            WINO4_BT(v128_t, o, col, VADD, VSUB, VMULK);
            for (int r = 0; r < 6; r++) t[r][q] = o[r];
        }
        for (int r = 0; r < 6; r++) {
            WINO4_BT(v128_t, o, t[r], VADD, VSUB, VMULK);
            for (int q = 0; q < 6; q++) wasm_v128_store(v + (size_t)(6 * r + q) * vs + ch, o[q]);
        }
    }
    for (; ch < c; ch++) cnn_wino4_in_lane(v, vs, rows, c, ch);
}

static void wino4_out__wasmsimd(float *const rows[4], const float *m, size_t ms, const float *b, int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t s[4][6], col[6], o[4], bv = wasm_v128_load(b + ch);
        for (int q = 0; q < 6; q++) {
            for (int r = 0; r < 6; r++) col[r] = wasm_v128_load(m + (size_t)(6 * r + q) * ms + ch);
            WINO4_AT(v128_t, o, col, VADD, VSUB, VMULK);
            for (int r = 0; r < 4; r++) s[r][q] = o[r];
        }
        for (int r = 0; r < 4; r++) {
            WINO4_AT(v128_t, o, s[r], VADD, VSUB, VMULK);
            for (int q = 0; q < 4; q++) wasm_v128_store(rows[r] + q * c + ch, VADD(o[q], bv));
        }
    }
    for (; ch < c; ch++) cnn_wino4_out_lane(rows, m, ms, b, c, ch);
}

static void wino4_out_grad__wasmsimd(float *dm, size_t ms, const float *const rows[4], int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t t[6][4], col[4], o[6];
        for (int q = 0; q < 4; q++) {
            for (int r = 0; r < 4; r++) col[r] = wasm_v128_load(rows[r] + q * c + ch);
            WINO4_A(v128_t, o, col, VADD, VSUB, VMULK);
            for (int r = 0; r < 6; r++) t[r][q] = o[r];
        }
        for (int r = 0; r < 6; r++) {
            WINO4_A(v128_t, o, t[r], VADD, VSUB, VMULK);
            for (int q = 0; q < 6; q++) wasm_v128_store(dm + (size_t)(6 * r + q) * ms + ch, o[q]);
        }
    }
    for (; ch < c; ch++) cnn_wino4_out_grad_lane(dm, ms, rows, c, ch);
}

static void wino4_in_grad__wasmsimd(float *const rows[6], const float *dv, size_t vs, int c) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        v128_t t[6][6], col[6], o[6];
        for (int q = 0; q < 6; q++) {
            for (int r = 0; r < 6; r++) col[r] = wasm_v128_load(dv + (size_t)(6 * r + q) * vs + ch);
            WINO4_B(v128_t, o, col, VADD, VSUB, VMULK);
            for (int r = 0; r < 6; r++) t[r][q] = o[r];
        }
        for (int r = 0; r < 6; r++) {
            WINO4_B(v128_t, o, t[r], VADD, VSUB, VMULK);
            for (int q = 0; q < 6; q++) {
                float *d = rows[r] + q * c + ch;
                wasm_v128_store(d, VADD(wasm_v128_load(d), o[q]));
            }
        }
    }
    for (; ch < c; ch++) cnn_wino4_in_grad_lane(rows, dv, vs, c, ch);
}

const cnn_kernels cnn_kernels_wasmsimd = {
    .name = "wasmsimd",
    .gemm = gemm__wasmsimd,
    .relu_fwd = relu_fwd__wasmsimd,
    .relu_bwd = relu_bwd__wasmsimd,
    .sigmoid_fwd = sigmoid_fwd__wasmsimd,
    .sigmoid_bwd = sigmoid_bwd__wasmsimd,
    .tanh_fwd = tanh_fwd__wasmsimd,
    .tanh_bwd = tanh_bwd__wasmsimd,
    .maxpool_fwd = maxpool_fwd__wasmsimd,
    .maxpool_bwd = maxpool_bwd__wasmsimd,
    .avgpool_fwd = avgpool_fwd__wasmsimd,
    .avgpool_bwd = avgpool_bwd__wasmsimd,
    .leakyrelu_fwd = leakyrelu_fwd__wasmsimd,
    .leakyrelu_bwd = leakyrelu_bwd__wasmsimd,
    .bn_stats = bn_stats__wasmsimd,
    .channel_affine = channel_affine__wasmsimd,
    .bn_bwd_sums = bn_bwd_sums__wasmsimd,
    .bn_bwd_dx = bn_bwd_dx__wasmsimd,
    .bias_add = bias_add__wasmsimd,
    .bias_grad = bias_grad__wasmsimd,
    .conv1ch_fwd = conv1ch_fwd__wasmsimd,
    .conv1ch_dw = conv1ch_dw__wasmsimd,
    .wino_in = wino_in__wasmsimd,
    .wino_out = wino_out__wasmsimd,
    .wino_out_grad = wino_out_grad__wasmsimd,
    .wino_in_grad = wino_in_grad__wasmsimd,
    .wino4_in = wino4_in__wasmsimd,
    .wino4_out = wino4_out__wasmsimd,
    .wino4_out_grad = wino4_out_grad__wasmsimd,
    .wino4_in_grad = wino4_in_grad__wasmsimd,
};
#endif /* __wasm_simd128__ */
