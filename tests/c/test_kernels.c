/* test_kernels.c - every kernel variant against the scalar reference, at sizes around the tiles, with special
 * values. Elementwise and pooling kernels must match bit for bit (NaN matches NaN); GEMM within
 * |a - r| <= atol + rtol * |r|, the tolerance scaled by the sum length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "kernels.h"

static cnn_rng rng;

static float *rand_buf(size_t n, float lo, float hi) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * cnn_rng_uniform(&rng);
    return p;
}

static int same_bits(float a, float b) {
    if (isnan(a) && isnan(b)) return 1;
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ua == ub;
}

/* Sprinkles special values (0, -0, NaN, +-inf, tiny, huge) into the first elements. */
static void add_specials(float *x, size_t n) {
    const float sp[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e-40f, -1e-40f, 3e38f, -3e38f, 88.5f, -90.0f, 1.0f};
    for (size_t i = 0; i < n && i < sizeof sp / sizeof sp[0]; i++) x[i * 3 % n] = sp[i];
}

static void test_gemm(void) {
    static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33};
    float *work = malloc(CNN_GEMM_WORK_FLOATS * sizeof(float));
    for (int v = 0; cnn_kernel_variants[v]; v++) {
        const cnn_kernels *k = cnn_kernel_variants[v];
        int fails = 0;
        for (int trial = 0; trial < 120; trial++) {
            int m = sizes[cnn_rng_below(&rng, 13)], n = sizes[cnn_rng_below(&rng, 13)], kk = sizes[cnn_rng_below(&rng, 13)];
            if (trial % 10 == 0) m = 129 + trial % 7, n = 513 + trial % 5, kk = 257 + trial % 3; /* past MC, NC, KC */
            int ta = trial % 2, tb = (trial / 2) % 2, acc = (trial / 4) % 2;
            float *a = rand_buf((size_t)m * kk, -1, 1), *b = rand_buf((size_t)kk * n, -1, 1);
            int ldc = n + (trial % 3); /* row stride larger than n: columns past n must stay untouched */
            float *c = rand_buf((size_t)m * ldc, -1, 1), *r = malloc((size_t)m * ldc * sizeof(float));
            memcpy(r, c, (size_t)m * ldc * sizeof(float));
            int a_rs = ta ? 1 : kk, a_cs = ta ? m : 1, b_rs = tb ? 1 : n, b_cs = tb ? kk : 1;
            k->gemm(c, ldc, a, a_rs, a_cs, b, b_rs, b_cs, m, n, kk, acc, work);
            cnn_gemm__ref(r, ldc, a, a_rs, a_cs, b, b_rs, b_cs, m, n, kk, acc, NULL);
            for (int i = 0; i < m && fails < 5; i++)
                for (int j = 0; j < ldc && fails < 5; j++) {
                    float got = c[(size_t)i * ldc + j], want = r[(size_t)i * ldc + j];
                    float tol = j < n ? 1e-6f + 4e-7f * kk * (1.0f + fabsf(want)) : 0.0f;
                    if (!(fabsf(got - want) <= tol)) {
                        fails++;
                        CHECK(0, "gemm %s m=%d n=%d k=%d ta=%d tb=%d acc=%d: C[%d][%d] = %.9g, reference %.9g", k->name,
                              m, n, kk, ta, tb, acc, i, j, got, want);
                    }
                }
            CHECK(fails == 0 || trial > 0, "gemm");
            free(a), free(b), free(c), free(r);
        }
        CHECK(fails == 0, "gemm %s: %d mismatches", k->name, fails);
    }
    free(work);
}

typedef void (*unary_fn)(float *, const float *, size_t);
typedef void (*binary_fn)(float *, const float *, const float *, size_t, int);

static void compare_bits(const char *what, const char *variant, const float *got, const float *want, size_t n) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (!same_bits(got[i], want[i]) && bad++ == 0) first = i;
    CHECK(bad == 0, "%s %s: %zu of %zu elements differ, first at %zu: %.9g vs reference %.9g", what, variant, bad, n,
          first, bad ? got[first] : 0.0f, bad ? want[first] : 0.0f);
}

static void test_elementwise(void) {
    static const size_t sizes[] = {1, 3, 4, 5, 7, 8, 9, 33, 1001};
    const cnn_kernels *ref = &cnn_kernels_scalar;
    for (int v = 0; cnn_kernel_variants[v]; v++) {
        const cnn_kernels *k = cnn_kernel_variants[v];
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            float *x = rand_buf(n, -12, 12), *dy = rand_buf(n, -2, 2);
            add_specials(x, n);
            float *y1 = malloc(n * 4 + 4), *y2 = malloc(n * 4 + 4);
            unary_fn f1[] = {k->relu_fwd, k->sigmoid_fwd, k->tanh_fwd}, f2[] = {ref->relu_fwd, ref->sigmoid_fwd, ref->tanh_fwd};
            binary_fn g1[] = {k->relu_bwd, k->sigmoid_bwd, k->tanh_bwd}, g2[] = {ref->relu_bwd, ref->sigmoid_bwd, ref->tanh_bwd};
            const char *names[] = {"relu", "sigmoid", "tanh"};
            for (int f = 0; f < 3; f++) {
                f1[f](y1, x, n);
                f2[f](y2, x, n);
                compare_bits(names[f], k->name, y1, y2, n);
                /* in place, as the model runs them */
                memcpy(y1, x, n * 4);
                f1[f](y1, y1, n);
                compare_bits(names[f], "in place", y1, y2, n);
                float *dx1 = malloc(n * 4 + 4), *dx2 = malloc(n * 4 + 4);
                g1[f](dx1, y2, dy, n, 0);
                g2[f](dx2, y2, dy, n, 0);
                compare_bits(names[f], "backward", dx1, dx2, n);
                /* in place: dx == dy, as an activation working in its input's block */
                memcpy(dx1, dy, n * 4);
                g1[f](dx1, y2, dx1, n, 0);
                compare_bits(names[f], "backward in place", dx1, dx2, n);
                /* accumulating onto what is there: exactly start + the gradient written above */
                float *start = rand_buf(n, -1, 1);
                memcpy(dx1, start, n * 4);
                g1[f](dx1, y2, dy, n, 1);
                for (size_t i = 0; i < n; i++) dx2[i] = start[i] + dx2[i];
                compare_bits(names[f], "backward accumulating", dx1, dx2, n);
                free(dx1), free(dx2), free(start);
            }
            /* leaky ReLU: forward (also in place) and backward in both modes, two slopes */
            for (int si = 0; si < 2; si++) {
                float slope = si ? 0.2f : 0.01f;
                k->leakyrelu_fwd(y1, x, n, slope);
                ref->leakyrelu_fwd(y2, x, n, slope);
                compare_bits("leakyrelu", k->name, y1, y2, n);
                memcpy(y1, x, n * 4);
                k->leakyrelu_fwd(y1, y1, n, slope);
                compare_bits("leakyrelu", "in place", y1, y2, n);
                float *dx1 = malloc(n * 4 + 4), *dx2 = malloc(n * 4 + 4), *start = rand_buf(n, -1, 1);
                k->leakyrelu_bwd(dx1, y2, dy, n, slope, 0);
                ref->leakyrelu_bwd(dx2, y2, dy, n, slope, 0);
                compare_bits("leakyrelu backward", k->name, dx1, dx2, n);
                memcpy(dx1, start, n * 4);
                memcpy(dx2, start, n * 4);
                k->leakyrelu_bwd(dx1, y2, dy, n, slope, 1);
                ref->leakyrelu_bwd(dx2, y2, dy, n, slope, 1);
                compare_bits("leakyrelu backward accumulating", k->name, dx1, dx2, n);
                free(dx1), free(dx2), free(start);
            }
            float *bias = rand_buf(n, -1, 1), *yb1 = rand_buf(3 * n, -1, 1), *yb2 = malloc(3 * n * 4);
            memcpy(yb2, yb1, 3 * n * 4);
            k->bias_add(yb1, bias, 3, (int)n);
            ref->bias_add(yb2, bias, 3, (int)n);
            compare_bits("bias_add", k->name, yb1, yb2, 3 * n);
            float *db1 = rand_buf(n, -1, 1), *db2 = malloc(n * 4);
            memcpy(db2, db1, n * 4);
            k->bias_grad(db1, yb1, 3, (int)n);
            ref->bias_grad(db2, yb1, 3, (int)n);
            compare_bits("bias_grad", k->name, db1, db2, n);
            free(x), free(dy), free(y1), free(y2), free(bias), free(yb1), free(yb2), free(db1), free(db2);
        }
    }
}

/* Batch-norm kernels: every variant bit for bit against the scalar one (the same additions in double, in the
 * same order), at channel counts around the vector width and small and odd row counts; the reference's
 * statistics against a direct two-pass computation. */
static void test_batchnorm_kernels(void) {
    static const int channels[] = {1, 3, 4, 5, 8, 9, 33}, rows_list[] = {1, 2, 7, 50};
    const cnn_kernels *ref = &cnn_kernels_scalar;
    for (size_t ci = 0; ci < sizeof channels / sizeof channels[0]; ci++)
        for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri++) {
            int c = channels[ci], rows = rows_list[ri];
            size_t n = (size_t)rows * c;
            float *x = rand_buf(n, -3, 5), *dy = rand_buf(n, -1, 1), *scale = rand_buf((size_t)c, 0.5f, 2);
            float *shift = rand_buf((size_t)c, -1, 1), *a = rand_buf((size_t)c, -1, 1), *b = rand_buf((size_t)c, -1, 1);
            double *work = malloc(2 * (size_t)c * sizeof(double));
            float *m1 = malloc((size_t)c * 4), *v1 = malloc((size_t)c * 4), *m2 = malloc((size_t)c * 4), *v2 = malloc((size_t)c * 4);
            float *y1 = malloc(n * 4), *y2 = malloc(n * 4);
            ref->bn_stats(m2, v2, x, rows, c, work);
            double worst = 0;
            for (int j = 0; j < c; j++) {
                double mean = 0, var = 0;
                for (int r = 0; r < rows; r++) mean += x[(size_t)r * c + j];
                mean /= rows;
                for (int r = 0; r < rows; r++) var += (x[(size_t)r * c + j] - mean) * (x[(size_t)r * c + j] - mean);
                var /= rows;
                double e = fabs(mean - m2[j]) + fabs(var - v2[j]);
                if (e > worst) worst = e;
            }
            CHECK(worst < 1e-5, "bn_stats reference (rows %d, c %d): off the direct mean/variance by %g", rows, c, worst);
            for (int v = 0; cnn_kernel_variants[v]; v++) {
                const cnn_kernels *k = cnn_kernel_variants[v];
                k->bn_stats(m1, v1, x, rows, c, work);
                compare_bits("bn_stats mean", k->name, m1, m2, (size_t)c);
                compare_bits("bn_stats var", k->name, v1, v2, (size_t)c);
                k->channel_affine(y1, x, scale, shift, rows, c);
                ref->channel_affine(y2, x, scale, shift, rows, c);
                compare_bits("channel_affine", k->name, y1, y2, n);
                float *sums = malloc(2 * (size_t)c * 4);
                k->bn_bwd_sums(m1, v1, dy, x, m2, rows, c, work);
                ref->bn_bwd_sums(sums, sums + c, dy, x, m2, rows, c, work);
                compare_bits("bn_bwd_sums dy", k->name, m1, sums, (size_t)c);
                compare_bits("bn_bwd_sums dy*(x-mean)", k->name, v1, sums + c, (size_t)c);
                free(sums);
                memcpy(y1, dy, n * 4);
                memcpy(y2, dy, n * 4);
                k->bn_bwd_dx(y1, dy, x, m2, a, b, scale, rows, c);
                ref->bn_bwd_dx(y2, dy, x, m2, a, b, scale, rows, c);
                compare_bits("bn_bwd_dx", k->name, y1, y2, n);
            }
            free(x), free(dy), free(scale), free(shift), free(a), free(b), free(work);
            free(m1), free(v1), free(m2), free(v2), free(y1), free(y2);
        }
}

static void test_expf_poly(void) {
    float worst = 0.0f;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        float e = cnn_expf_poly(x), r = expf(x);
        float rel = fabsf(e - r) / r;
        if (rel > worst) worst = rel;
    }
    CHECK(worst < 5e-7f, "expf_poly: worst relative error %g (expected < 5e-7)", worst);
    CHECK(cnn_expf_poly(-1000.0f) >= 0.0f && cnn_expf_poly(-1000.0f) < 1e-37f, "expf_poly(-1000) = %g", cnn_expf_poly(-1000.0f));
    CHECK(isfinite(cnn_expf_poly(1000.0f)), "expf_poly(1000) must stay finite, got %g", cnn_expf_poly(1000.0f));
    CHECK(isnan(cnn_expf_poly(NAN)), "expf_poly(NaN) must be NaN");
}

static void test_pooling(void) {
    static const int shapes[][3] = {{2, 2, 1}, {3, 3, 1}, {4, 5, 3}, {5, 4, 4}, {6, 6, 5}, {7, 9, 8}, {26, 26, 32}, {11, 11, 9}};
    const cnn_kernels *ref = &cnn_kernels_scalar;
    for (int v = 0; cnn_kernel_variants[v]; v++) {
        const cnn_kernels *k = cnn_kernel_variants[v];
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int n = 2, h = shapes[s][0], w = shapes[s][1], c = shapes[s][2];
            size_t in = (size_t)n * h * w * c, out = (size_t)n * (h / 2) * (w / 2) * c;
            float *x = rand_buf(in, -1, 1);
            /* ties: quantise half of the inputs so windows often hold equal maxima */
            for (size_t i = 0; i < in; i += 2) x[i] = roundf(x[i] * 2.0f) / 2.0f;
            add_specials(x, in);
            float *y1 = malloc(out * 4 + 4), *y2 = malloc(out * 4 + 4), *dy = rand_buf(out, -1, 1);
            /* backward accumulates: both start from the same values */
            float *dx1 = rand_buf(in, -1, 1), *dx2 = malloc(in * 4);
            memcpy(dx2, dx1, in * 4);
            k->maxpool_fwd(y1, x, n, h, w, c);
            ref->maxpool_fwd(y2, x, n, h, w, c);
            compare_bits("maxpool_fwd", k->name, y1, y2, out);
            /* every mode: adding or writing (over garbage), with or without the ReLU mask */
            static const char *modes[4] = {"maxpool_bwd", "maxpool_bwd write", "maxpool_bwd relu",
                                           "maxpool_bwd write relu"};
            float *dx0 = malloc(in * 4);
            memcpy(dx0, dx1, in * 4);
            for (int mode = 0; mode < 4; mode++) {
                memcpy(dx1, dx0, in * 4), memcpy(dx2, dx0, in * 4);
                k->maxpool_bwd(dx1, x, y2, dy, n, h, w, c, mode);
                ref->maxpool_bwd(dx2, x, y2, dy, n, h, w, c, mode);
                compare_bits(modes[mode], k->name, dx1, dx2, in);
            }
            free(dx0);
            k->avgpool_fwd(y1, x, n, h, w, c);
            ref->avgpool_fwd(y2, x, n, h, w, c);
            compare_bits("avgpool_fwd", k->name, y1, y2, out);
            memcpy(dx1, dx2, in * 4);
            k->avgpool_bwd(dx1, dy, n, h, w, c);
            ref->avgpool_bwd(dx2, dy, n, h, w, c);
            compare_bits("avgpool_bwd", k->name, dx1, dx2, in);
            free(x), free(y1), free(y2), free(dy), free(dx1), free(dx2);
        }
    }
}

/* The reference maxpool itself against a direct definition, so the comparisons above are not vacuous. */
static void test_pooling_reference(void) {
    float x[2 * 3 * 3 * 1] = {1, 5, 2, 3, 4, 9, 0, 0, 0, /* image 2 */ -1, -2, 7, -3, -1, 7, 7, 7, 7};
    float y[2], dy[2] = {10, 20}, dx[18] = {0};
    cnn_kernels_scalar.maxpool_fwd(y, x, 2, 3, 3, 1);
    CHECK(y[0] == 5 && y[1] == -1, "maxpool reference: got %g %g, expected 5 -1", y[0], y[1]);
    cnn_kernels_scalar.maxpool_bwd(dx, x, y, dy, 2, 3, 3, 1, 0);
    CHECK(dx[1] == 10 && dx[0] == 0 && dx[3] == 0 && dx[4] == 0, "maxpool_bwd reference routes to the max");
    CHECK(dx[9] == 20 && dx[13] == 0, "maxpool_bwd reference: a tie goes to the first position (%g %g)", dx[9], dx[13]);
    /* adding to what is there; writing over it, zeros elsewhere (the dropped row and column too) */
    for (int i = 0; i < 18; i++) dx[i] = 1.0f;
    cnn_kernels_scalar.maxpool_bwd(dx, x, y, dy, 2, 3, 3, 1, 0);
    CHECK(dx[1] == 11 && dx[0] == 1 && dx[8] == 1 && dx[9] == 21, "maxpool_bwd reference adds (%g %g %g)", dx[1], dx[0], dx[9]);
    for (int i = 0; i < 18; i++) dx[i] = 1.0f;
    cnn_kernels_scalar.maxpool_bwd(dx, x, y, dy, 2, 3, 3, 1, CNN_POOL_WRITE);
    int others_zero = 1;
    for (int i = 0; i < 18; i++) others_zero &= i == 1 || i == 9 || dx[i] == 0.0f;
    CHECK(dx[1] == 10 && dx[9] == 20 && others_zero, "maxpool_bwd reference writes (%g %g)", dx[1], dx[9]);
    /* the ReLU mask: image 2's max is -1, not > 0, so no gradient passes */
    cnn_kernels_scalar.maxpool_bwd(dx, x, y, dy, 2, 3, 3, 1, CNN_POOL_WRITE | CNN_POOL_RELU);
    CHECK(dx[1] == 10 && dx[9] == 0, "maxpool_bwd reference with the ReLU mask (%g %g)", dx[1], dx[9]);
    cnn_kernels_scalar.avgpool_fwd(y, x, 2, 3, 3, 1);
    CHECK(y[0] == 3.25f && y[1] == -1.75f, "avgpool reference: got %g %g", y[0], y[1]);
}

static void test_im2col(void) {
    /* im2col followed by the reference GEMM equals a direct convolution: valid and same padding, stride 1
     * and 2 (odd and even sides) */
    for (int cfg = 0; cfg < 6; cfg++) {
        int pad = cfg % 2, stride = cfg < 2 ? 1 : 2;
        int n = 2, h = cfg < 4 ? 5 : 8, w = cfg < 4 ? 6 : 7, c = 3, k = 3, oc = 4;
        int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1, K = k * k * c;
        float *x = rand_buf((size_t)n * h * w * c, -1, 1), *wt = rand_buf((size_t)oc * K, -1, 1);
        float *col = malloc((size_t)n * oh * ow * K * 4), *y = malloc((size_t)n * oh * ow * oc * 4);
        /* in two uneven row ranges, the first ending inside an image */
        int total_rows = n * oh * ow, split = oh * ow / 2 + 1;
        cnn_im2col(col, x, 0, split, h, w, c, k, stride, pad, oh, ow);
        cnn_im2col(col + (size_t)split * K, x, (size_t)split, total_rows - split, h, w, c, k, stride, pad, oh, ow);
        cnn_gemm__ref(y, oc, col, K, 1, wt, 1, K, n * oh * ow, oc, K, 0, NULL);
        float worst = 0;
        for (int img = 0; img < n; img++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int o = 0; o < oc; o++) {
                        double s = 0;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                for (int ch = 0; ch < c; ch++) {
                                    int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)x[((img * h + iy) * w + ix) * c + ch] * wt[((o * k + ky) * k + kx) * c + ch];
                                }
                        float d = fabsf((float)s - y[((img * oh + oy) * ow + ox) * oc + o]);
                        if (d > worst) worst = d;
                    }
        CHECK(worst < 1e-5f, "im2col pad=%d stride=%d: worst difference from direct convolution %g", pad, stride, worst);
        /* col2im is the adjoint of im2col: <im2col(x), g> == <x, col2im(g)> */
        float *g = rand_buf((size_t)n * oh * ow * K, -1, 1), *dx = malloc((size_t)n * h * w * c * 4);
        memset(dx, 0, (size_t)n * h * w * c * 4);
        cnn_col2im_add(dx, g, 0, split, h, w, c, k, stride, pad, oh, ow);
        cnn_col2im_add(dx, g + (size_t)split * K, (size_t)split, total_rows - split, h, w, c, k, stride, pad, oh, ow);
        double lhs = 0, rhs = 0;
        for (size_t i = 0; i < (size_t)n * oh * ow * K; i++) lhs += (double)col[i] * g[i];
        for (size_t i = 0; i < (size_t)n * h * w * c; i++) rhs += (double)x[i] * dx[i];
        CHECK(fabs(lhs - rhs) < 1e-3, "col2im pad=%d stride=%d is not the adjoint of im2col: %g vs %g", pad, stride,
              lhs, rhs);
        free(x), free(wt), free(col), free(y), free(g), free(dx);
    }
}

/* The direct one-channel convolution kernels against im2col + the naive GEMM (+ bias): the same sums in the same
 * order, so bit for bit. The shapes reach every path of the SIMD kernels: windows read straight from x (valid
 * padding: 4-pixel blocks, runs of 1 to 3 pixels, the 3x3 and the any-k code), the zero-padded band (padding),
 * the gathered taps of a band too wide for its buffer, strides 2 and 3, 1x1 to 15x15 kernels; output channels
 * around the 8- and 4-lane blocks. Rows are computed in chunks of awkward sizes from a row0 inside the batch
 * (chunks starting mid-row and spanning images), the weight and bias gradients accumulating over the chunks (the
 * bias gradient against column sums taken row by row); then in one call onto non-zero gradients, against the
 * scalar variant. Nothing is written past the rows asked for. */
static void test_conv1ch(void) {
    static const struct { int k, stride, pad, h, w, n; } shapes[] = {
        {3, 1, 0, 12, 11, 3}, {3, 1, 0, 9, 10, 2}, {3, 1, 0, 7, 13, 2}, {3, 1, 0, 6, 5, 3}, {3, 1, 0, 28, 28, 2},
        {3, 2, 0, 11, 12, 2}, {3, 1, 1, 9, 10, 2}, {3, 2, 1, 10, 9, 2}, {3, 1, 1, 3, 700, 1}, {1, 1, 0, 5, 6, 2},
        {2, 1, 0, 7, 8, 2},   {4, 2, 0, 9, 12, 2}, {5, 1, 2, 9, 11, 2}, {5, 2, 0, 13, 12, 2}, {7, 3, 3, 12, 14, 2},
        {15, 1, 0, 16, 18, 2}, {15, 1, 7, 16, 17, 1}, {15, 1, 7, 16, 130, 1},
    };
    static const int ocs[] = {1, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 32, 33};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]), nocs = (int)(sizeof ocs / sizeof ocs[0]);
    for (int trial = 0; trial < 3 * nshapes; trial++) {
        int sh = trial % nshapes, k = shapes[sh].k, stride = shapes[sh].stride, pad = shapes[sh].pad;
        int h = shapes[sh].h, w = shapes[sh].w, n = shapes[sh].n, oc = ocs[(trial * 5 + trial / nshapes) % nocs];
        int K = k * k, oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        size_t total = (size_t)n * oh * ow, row0 = (size_t)(trial % 5) % total, rows = total - row0;
        float *x = rand_buf((size_t)n * h * w, -1, 1), *wt = rand_buf((size_t)K * oc, -1, 1), *b = rand_buf(oc, -1, 1);
        /* -0 inputs, positive weights and a -0 bias for channel 0: a sum that did not start from +0 would end
         * at -0 where a window lies in the first three rows */
        for (int i = 0; i < 3 * w && i < n * h * w; i++) x[i] = -0.0f;
        for (int t = 0; t < K; t++) wt[(size_t)t * oc] = fabsf(wt[(size_t)t * oc]);
        b[0] = -0.0f;
        if (trial % 4 == 3) add_specials(x, (size_t)n * h * w);
        float *dy = rand_buf(rows * oc, -1, 1), *col = malloc(rows * K * sizeof(float));
        float *ref = malloc(rows * oc * sizeof(float)), *dref = calloc((size_t)K * oc, sizeof(float));
        float *dw0 = rand_buf((size_t)K * oc, -1, 1), *dref1 = malloc((size_t)K * oc * sizeof(float));
        float *db0 = rand_buf(oc, -1, 1), *dbref = calloc(oc, sizeof(float)), *dbref1 = malloc(oc * sizeof(float));
        cnn_im2col(col, x, row0, (int)rows, h, w, 1, k, stride, pad, oh, ow);
        cnn_gemm__ref(ref, oc, col, K, 1, wt, oc, 1, (int)rows, oc, K, 0, NULL);          /* col . wt */
        for (size_t r = 0; r < rows; r++)
            for (int j = 0; j < oc; j++) ref[r * oc + j] += b[j];
        cnn_gemm__ref(dref, oc, col, 1, K, dy, oc, 1, K, oc, (int)rows, 0, NULL);           /* col^T . dy */
        for (size_t r = 0; r < rows; r++)
            for (int j = 0; j < oc; j++) dbref[j] += dy[r * oc + j];
        memcpy(dref1, dw0, (size_t)K * oc * sizeof(float));
        memcpy(dbref1, db0, oc * sizeof(float));
        cnn_kernels_scalar.conv1ch_dw(dref1, dbref1, x, dy, row0, (int)rows, h, w, k, stride, pad, oh, ow, oc);
        const size_t guard = 8;
        for (int v = 0; cnn_kernel_variants[v]; v++) {
            const cnn_kernels *kv = cnn_kernel_variants[v];
            float *y = malloc((rows * oc + guard) * sizeof(float));
            float *dwt = calloc((size_t)K * oc + guard, sizeof(float)), *db = calloc(oc + guard, sizeof(float));
            for (size_t i = 0; i < guard; i++)
                y[rows * oc + i] = 7.0f, dwt[(size_t)K * oc + i] = 7.0f, db[oc + i] = 7.0f;
            const int chunks[] = {1, 2, 3, 5, ow - 1, ow + 1, 2 * ow + 3, 7, 4 * ow, 1 << 30};
            size_t r = 0;
            for (int c = 0; r < rows; c++) {
                size_t len = (size_t)(chunks[c % 10] > 0 ? chunks[c % 10] : 1);
                if (len > rows - r) len = rows - r;
                kv->conv1ch_fwd(y + r * oc, x, wt, b, row0 + r, (int)len, h, w, k, stride, pad, oh, ow, oc);
                kv->conv1ch_dw(dwt, db, x, dy + r * oc, row0 + r, (int)len, h, w, k, stride, pad, oh, ow, oc);
                r += len;
            }
            int untouched = 1;
            for (size_t i = 0; i < guard; i++)
                untouched &= y[rows * oc + i] == 7.0f && dwt[(size_t)K * oc + i] == 7.0f && db[oc + i] == 7.0f;
            char what[128];
            snprintf(what, sizeof what, "conv1ch k=%d stride=%d pad=%d %dx%d oc=%d", k, stride, pad, h, w, oc);
            CHECK(untouched, "%s %s: wrote past the end of y, dwt or db", what, kv->name);
            snprintf(what, sizeof what, "conv1ch_fwd k=%d stride=%d pad=%d %dx%d oc=%d", k, stride, pad, h, w, oc);
            compare_bits(what, kv->name, y, ref, rows * oc);
            snprintf(what, sizeof what, "conv1ch_dw k=%d stride=%d pad=%d %dx%d oc=%d", k, stride, pad, h, w, oc);
            compare_bits(what, kv->name, dwt, dref, (size_t)K * oc);
            snprintf(what, sizeof what, "conv1ch_dw db k=%d stride=%d pad=%d %dx%d oc=%d", k, stride, pad, h, w, oc);
            compare_bits(what, kv->name, db, dbref, oc);
            /* accumulates onto what dwt and db hold, in one call */
            memcpy(dwt, dw0, (size_t)K * oc * sizeof(float));
            memcpy(db, db0, oc * sizeof(float));
            kv->conv1ch_dw(dwt, db, x, dy, row0, (int)rows, h, w, k, stride, pad, oh, ow, oc);
            snprintf(what, sizeof what, "conv1ch_dw += k=%d stride=%d pad=%d %dx%d oc=%d", k, stride, pad, h, w, oc);
            compare_bits(what, kv->name, dwt, dref1, (size_t)K * oc);
            snprintf(what, sizeof what, "conv1ch_dw db += k=%d stride=%d pad=%d %dx%d oc=%d", k, stride, pad, h, w, oc);
            compare_bits(what, kv->name, db, dbref1, oc);
            free(y), free(dwt), free(db);
        }
        free(x), free(wt), free(b), free(dy), free(col), free(ref), free(dref), free(dw0), free(dref1);
        free(db0), free(dbref), free(dbref1);
    }
}

#ifdef __wasm_simd128__
/* Says whether this engine fuses relaxed_madd here: the 1 x 2 . 2 x 1 product (1, a) . (c, a) with
 * a = 1 + 2^-12 and c = -(1 + 2^-11) is c + a * a: 2^-24 when fused, 0 when a * a is rounded first. Either is
 * allowed (the GEMM test above holds both to the reference's tolerance); this only reports which. */
static void report_fusion(void) {
    float a = 1.0f + 0x1p-12f, c = -(1.0f + 0x1p-11f), out = 1.0f;
    float lhs[2] = {1.0f, a}, rhs[2] = {c, a};
    float *ws = malloc(CNN_GEMM_WORK_FLOATS * sizeof(float));
    cnn_kernel_variants[2]->gemm(&out, 1, lhs, 2, 1, rhs, 1, 1, 1, 1, 2, 0, ws);
    printf("# wasmrelaxed on this engine and CPU: %s (c + a * a = %g)\n", out != 0.0f ? "fused" : "not fused",
           (double)out);
    free(ws);
}
#endif

int main(void) {
    cnn_rng_seed(&rng, 12345);
    int variants = 0;
    while (cnn_kernel_variants[variants]) variants++;
    printf("# kernel variants in this build: %d (selected: %s)\n", variants, cnn_kernels_selected());
#ifdef __wasm_simd128__
    /* tests/c/add-wasmrelaxed.js adds the relaxed-SIMD variant before main(), as cnn.mjs does */
    CHECK(variants == 3 && !strcmp(cnn_kernel_variants[1]->name, "wasmsimd") &&
          !strcmp(cnn_kernel_variants[2]->name, "wasmrelaxed"),
          "the SIMD build must carry the scalar, wasmsimd and wasmrelaxed variants, has %d", variants);
    report_fusion();
#endif
    RUN(test_gemm);
    RUN(test_elementwise);
    RUN(test_batchnorm_kernels);
    RUN(test_expf_poly);
    RUN(test_pooling);
    RUN(test_pooling_reference);
    RUN(test_im2col);
    RUN(test_conv1ch);
    return check_summary();
}
