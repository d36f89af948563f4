/* test_winograd.c - the Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions against a direct convolution computed
 * in double, forward (y) and backward (dx, dw, db), for every kernel variant, at sizes around the 2x2 and 4x4
 * tiles and the 4-lane channel blocks, valid and same padding, one chunk of tiles and several; their transform
 * kernels against the matrices and every variant's against the scalar reference bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "kernels.h"
#include "layers.h"
#include "model.h"

static cnn_rng rng;

static float *rand_buf(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = 2.0f * cnn_rng_uniform(&rng) - 1.0f;
    return p;
}

static cnn_layer conv_layer(int h, int w, int ic, int oc, int pad) {
    cnn_layer l;
    memset(&l, 0, sizeof l);
    l.ih = h, l.iw = w, l.ic = ic, l.oc = oc, l.k = 3, l.stride = 1, l.pad = pad;
    l.oh = h + 2 * pad - 2, l.ow = w + 2 * pad - 2;
    return l;
}

static double xat(const float *x, const cnn_layer *l, int img, int iy, int ix, int c) {
    if (iy < 0 || iy >= l->ih || ix < 0 || ix >= l->iw) return 0.0;
    return x[(((size_t)img * l->ih + iy) * l->iw + ix) * l->ic + c];
}

/* worst |got - want| / (1 + scale), scale the sum of the magnitudes of the terms of want */
static double worst_rel(const float *got, const double *want, const double *scale, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (1.0 + scale[i]);
        if (!(e <= worst)) worst = e; /* NaN becomes the worst */
    }
    return worst;
}

/* F(4x4) multiplies the transformed values by up to 8 (and the weights by 1/24): a larger rounding error than
 * F(2x2)'s adds and halves, still small next to the terms' magnitudes. */
static double tolerance(int m) { return m == 4 ? 1e-5 : 2e-6; }

static void check_case(int m, int n, int h, int w, int ic, int oc, int pad) {
    double tol = tolerance(m);
    cnn_layer l = conv_layer(h, w, ic, oc, pad);
    size_t xn = (size_t)n * h * w * ic, yn = (size_t)n * l.oh * l.ow * oc, wn = (size_t)oc * 9 * ic;
    float *x = rand_buf(xn), *wt = rand_buf(wn), *b = rand_buf(oc), *dy = rand_buf(yn);
    double *y_ref = calloc(yn, sizeof(double)), *y_mag = calloc(yn, sizeof(double));
    double *dx_ref = calloc(xn, sizeof(double)), *dx_mag = calloc(xn, sizeof(double));
    double *dw_ref = calloc(wn + oc, sizeof(double)), *dw_mag = calloc(wn + oc, sizeof(double));
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < l.oh; oy++)
            for (int ox = 0; ox < l.ow; ox++)
                for (int o = 0; o < oc; o++) {
                    size_t yi = (((size_t)img * l.oh + oy) * l.ow + ox) * oc + o;
                    double s = b[o], mag = fabs(b[o]), g = dy[yi];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                            for (int c = 0; c < ic; c++) {
                                int iy = oy + ky - pad, ix = ox + kx - pad;
                                size_t wi = (((size_t)o * 3 + ky) * 3 + kx) * ic + c;
                                double xv = xat(x, &l, img, iy, ix, c);
                                s += xv * wt[wi], mag += fabs(xv * wt[wi]);
                                dw_ref[wi] += g * xv, dw_mag[wi] += fabs(g * xv);
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                    size_t xi = (((size_t)img * h + iy) * w + ix) * ic + c;
                                    dx_ref[xi] += g * wt[wi], dx_mag[xi] += fabs(g * wt[wi]);
                                }
                            }
                    y_ref[yi] = s, y_mag[yi] = mag;
                    dw_ref[wn + o] += g, dw_mag[wn + o] += fabs(g);
                }
    size_t need = cnn_winograd_workspace(&l, m, n);
    cnn_workspace ws = {malloc(need * sizeof(float)), malloc(need * sizeof(float)), need,
                        malloc(CNN_GEMM_WORK_FLOATS * sizeof(float))};
    for (int v = 0; cnn_kernel_variants[v]; v++) {
        cnn_kernels_select(cnn_kernel_variants[v]->name);
        float *y = malloc(yn * sizeof(float)), *dx = malloc(xn * sizeof(float)), *dw = malloc((wn + oc) * sizeof(float));
        for (size_t i = 0; i < xn; i++) dx[i] = 0.0f;
        for (size_t i = 0; i < wn + oc; i++) dw[i] = 0.0f;
        cnn_winograd_forward(y, x, wt, b, &l, m, n, &ws);
        cnn_winograd_backward(dx, dw, dw + wn, dy, x, wt, &l, m, n, &ws);
        double ey = worst_rel(y, y_ref, y_mag, yn), edx = worst_rel(dx, dx_ref, dx_mag, xn);
        double edw = worst_rel(dw, dw_ref, dw_mag, wn + oc);
        const char *name = cnn_kernel_variants[v]->name;
        CHECK(ey < tol, "[%s] F(%d) n=%d %dx%dx%d -> %d pad %d: forward error %.3g", name, m, n, h, w, ic, oc, pad, ey);
        CHECK(edx < tol, "[%s] F(%d) n=%d %dx%dx%d -> %d pad %d: input gradient error %.3g", name, m, n, h, w, ic, oc,
              pad, edx);
        CHECK(edw < tol, "[%s] F(%d) n=%d %dx%dx%d -> %d pad %d: weight gradient error %.3g", name, m, n, h, w, ic, oc,
              pad, edw);
        /* dx and dw accumulate: a second backward pass doubles them */
        cnn_winograd_backward(dx, dw, dw + wn, dy, x, wt, &l, m, n, &ws);
        for (size_t i = 0; i < xn; i++) dx_ref[i] *= 2.0, dx_mag[i] *= 2.0;
        for (size_t i = 0; i < wn + oc; i++) dw_ref[i] *= 2.0, dw_mag[i] *= 2.0;
        CHECK(worst_rel(dx, dx_ref, dx_mag, xn) < tol && worst_rel(dw, dw_ref, dw_mag, wn + oc) < tol,
              "[%s] F(%d) n=%d %dx%dx%d -> %d pad %d: the gradients do not accumulate", name, m, n, h, w, ic, oc, pad);
        for (size_t i = 0; i < xn; i++) dx_ref[i] *= 0.5, dx_mag[i] *= 0.5;
        for (size_t i = 0; i < wn + oc; i++) dw_ref[i] *= 0.5, dw_mag[i] *= 0.5;
        /* the input gradient alone (a frozen layer) and the weight gradient alone (the first layer) */
        for (size_t i = 0; i < xn; i++) dx[i] = 0.0f;
        cnn_winograd_backward(dx, NULL, NULL, dy, x, wt, &l, m, n, &ws);
        CHECK(worst_rel(dx, dx_ref, dx_mag, xn) < tol, "[%s] F(%d) input gradient alone", name, m);
        for (size_t i = 0; i < wn + oc; i++) dw[i] = 0.0f;
        cnn_winograd_backward(NULL, dw, dw + wn, dy, x, wt, &l, m, n, &ws);
        CHECK(worst_rel(dw, dw_ref, dw_mag, wn + oc) < tol, "[%s] F(%d) weight gradient alone", name, m);
        free(y), free(dx), free(dw);
    }
    cnn_kernels_select(cnn_kernel_variants[0]->name);
    free(ws.col), free(ws.dcol), free(ws.gemm);
    free(x), free(wt), free(b), free(dy), free(y_ref), free(y_mag), free(dx_ref), free(dx_mag), free(dw_ref),
        free(dw_mag);
}

static void test_winograd_conv(void) {
    /* odd and even sides (edge tiles of every width up to the tile's), channel counts around the 4 lanes and the
     * 4 x 8 GEMM tile, one image and several, the smallest inputs (3x3 valid: one output pixel) */
    static const int cases[][6] = {
        /* n, h, w, ic, oc, pad */
        {1, 3, 3, 8, 1, 0},  {1, 4, 4, 8, 8, 0},   {2, 5, 6, 9, 5, 0},  {3, 7, 5, 13, 17, 1},
        {1, 1, 1, 8, 3, 1},  {2, 2, 3, 11, 4, 1},  {2, 13, 13, 32, 64, 0}, {1, 14, 14, 32, 32, 1},
        {3, 8, 9, 16, 7, 1}, {2, 10, 11, 8, 9, 0}, {1, 9, 12, 12, 6, 1},
    };
    for (int m = 2; m <= 4; m += 2)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            check_case(m, cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4], cases[i][5]);
}

/* The layer's tile side: the one with fewer multiplies (F(4x4) for the keras preset's 11x11 output). */
static void test_winograd_tile_choice(void) {
    static const int cases[][3] = {{13, 0, 4}, {3, 0, 2}, {4, 0, 2}, {6, 0, 4}, {7, 0, 2}, {9, 0, 4}, {14, 1, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cnn_layer l = conv_layer(cases[i][0], cases[i][0], 16, 16, cases[i][1]);
        size_t t2 = (size_t)((l.oh + 1) / 2) * ((l.ow + 1) / 2), t4 = (size_t)((l.oh + 3) / 4) * ((l.ow + 3) / 4);
        int want = t4 * 36 < t2 * 16 ? 4 : 2;
        CHECK(want == cases[i][2], "the case table is wrong for %dx%d", cases[i][0], cases[i][0]);
        CHECK(cnn_winograd_tile(&l) == want, "%dx%d pad %d: tile %d, want %d", cases[i][0], cases[i][0], cases[i][1],
              cnn_winograd_tile(&l), want);
    }
}

static void test_winograd_chunks(void) {
    /* more tiles than one chunk holds: the keras preset's second convolution on 6 (F(2x2)) or 9 images */
    size_t per_chunk2 = CNN_WINO_CHUNK_FLOATS / (16 * (32 + 64)), tiles2 = 6 * 6 * 6;
    size_t per_chunk4 = CNN_WINO_CHUNK_FLOATS / (36 * (32 + 64)), tiles4 = 9 * 3 * 3;
    CHECK(tiles2 > per_chunk2 && tiles4 > per_chunk4, "the cases must span chunks");
    check_case(2, 6, 13, 13, 32, 64, 0);
    check_case(2, 5, 14, 14, 33, 64, 1);
    check_case(4, 9, 13, 13, 32, 64, 0);
    check_case(4, 5, 14, 14, 33, 64, 1);
}

/* The transform kernels of every variant against the scalar ones, bit for bit, channel counts around 4 lanes. */
static void test_winograd_kernels(void) {
    static const int cs[] = {1, 3, 4, 5, 8, 13, 32};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        int c = cs[ci];
        size_t s = (size_t)c + 3; /* a stride past the channels */
        float *patch = rand_buf(16 * (size_t)c), *m = rand_buf(16 * s), *b = rand_buf(c), *g = rand_buf(4 * (size_t)c);
        const float *in_rows[4] = {patch, patch + 4 * c, patch + 8 * c, patch + 12 * c};
        const float *g_rows[2] = {g, g + 2 * c};
        float *want[4], *got[4];
        for (int k = 0; k < 4; k++) want[k] = calloc(16 * s, sizeof(float)), got[k] = calloc(16 * s, sizeof(float));
        const cnn_kernels *ref = cnn_kernel_variants[0];
        float *out_want[2] = {want[1], want[1] + 2 * c}, *grad_want[4] = {want[3], want[3] + 4 * c, want[3] + 8 * c, want[3] + 12 * c};
        ref->wino_in(want[0], s, in_rows, c);
        ref->wino_out(out_want, m, s, b, c);
        ref->wino_out_grad(want[2], s, g_rows, c);
        ref->wino_in_grad(grad_want, m, s, c);
        /* the reference against the matrices of winograd.h, in double */
        static const double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
        static const double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
        double worst = 0;
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    double vin = 0, dm = 0, dd = 0, y = b[ch];
                    for (int r = 0; r < 4; r++)
                        for (int q = 0; q < 4; q++) {
                            vin += BT[i][r] * patch[(r * 4 + q) * c + ch] * BT[j][q];
                            dd += BT[r][i] * m[(size_t)(r * 4 + q) * s + ch] * BT[q][j];
                            if (i < 2 && j < 2) y += AT[i][r] * m[(size_t)(r * 4 + q) * s + ch] * AT[j][q];
                            if (r < 2 && q < 2) dm += AT[r][i] * g[(r * 2 + q) * c + ch] * AT[q][j];
                        }
                    double e = fabs(want[0][(size_t)(i * 4 + j) * s + ch] - vin);
                    e = fmax(e, fabs(want[2][(size_t)(i * 4 + j) * s + ch] - dm));
                    e = fmax(e, fabs(grad_want[i][j * c + ch] - dd));
                    if (i < 2 && j < 2) e = fmax(e, fabs(out_want[i][j * c + ch] - y));
                    if (!(e <= worst)) worst = e;
                }
        CHECK(worst < 1e-5, "scalar Winograd transforms c=%d: worst difference from the matrices %.3g", c, worst);
        for (int v = 1; cnn_kernel_variants[v]; v++) {
            const cnn_kernels *kv = cnn_kernel_variants[v];
            for (int k = 0; k < 4; k++) memset(got[k], 0, 16 * s * sizeof(float));
            float *out_got[2] = {got[1], got[1] + 2 * c}, *grad_got[4] = {got[3], got[3] + 4 * c, got[3] + 8 * c, got[3] + 12 * c};
            kv->wino_in(got[0], s, in_rows, c);
            kv->wino_out(out_got, m, s, b, c);
            kv->wino_out_grad(got[2], s, g_rows, c);
            kv->wino_in_grad(grad_got, m, s, c);
            static const char *names[4] = {"wino_in", "wino_out", "wino_out_grad", "wino_in_grad"};
            for (int k = 0; k < 4; k++)
                CHECK(memcmp(got[k], want[k], 16 * s * sizeof(float)) == 0, "%s %s c=%d differs from the scalar kernel",
                      kv->name, names[k], c);
        }
        for (int k = 0; k < 4; k++) free(want[k]), free(got[k]);
        free(patch), free(m), free(b), free(g);
    }
}

/* The F(4x4, 3x3) transform kernels: the scalar ones against the matrices of winograd.h in double, every
 * variant's against the scalar ones bit for bit. */
static void test_winograd_kernels4(void) {
    static const double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
    static const double AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
    static const int cs[] = {1, 3, 4, 5, 8, 13, 32};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        int c = cs[ci];
        size_t s = (size_t)c + 3, big = 36 * s; /* a stride past the channels */
        float *patch = rand_buf(36 * (size_t)c), *m = rand_buf(big), *b = rand_buf(c), *g = rand_buf(16 * (size_t)c);
        const float *in_rows[6], *g_rows[4];
        for (int r = 0; r < 6; r++) in_rows[r] = patch + 6 * r * c;
        for (int r = 0; r < 4; r++) g_rows[r] = g + 4 * r * c;
        float *want[4], *got[4];
        for (int k = 0; k < 4; k++) want[k] = calloc(big, sizeof(float)), got[k] = calloc(big, sizeof(float));
        const cnn_kernels *ref = cnn_kernel_variants[0];
        float *out_want[4], *grad_want[6];
        for (int r = 0; r < 4; r++) out_want[r] = want[1] + 4 * r * c;
        for (int r = 0; r < 6; r++) grad_want[r] = want[3] + 6 * r * c;
        ref->wino4_in(want[0], s, in_rows, c);
        ref->wino4_out(out_want, m, s, b, c);
        ref->wino4_out_grad(want[2], s, g_rows, c);
        ref->wino4_in_grad(grad_want, m, s, c);
        double worst = 0;
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) {
                    double vin = 0, dm = 0, dd = 0, y = b[ch];
                    for (int r = 0; r < 6; r++)
                        for (int q = 0; q < 6; q++) {
                            vin += BT[i][r] * patch[(r * 6 + q) * c + ch] * BT[j][q];
                            dd += BT[r][i] * m[(size_t)(r * 6 + q) * s + ch] * BT[q][j];
                            if (i < 4 && j < 4) y += AT[i][r] * m[(size_t)(r * 6 + q) * s + ch] * AT[j][q];
                            if (r < 4 && q < 4) dm += AT[r][i] * g[(r * 4 + q) * c + ch] * AT[q][j];
                        }
                    double e = fabs(want[0][(size_t)(i * 6 + j) * s + ch] - vin);
                    e = fmax(e, fabs(want[2][(size_t)(i * 6 + j) * s + ch] - dm));
                    e = fmax(e, fabs(grad_want[i][j * c + ch] - dd));
                    if (i < 4 && j < 4) e = fmax(e, fabs(out_want[i][j * c + ch] - y));
                    if (!(e <= worst)) worst = e;
                }
        CHECK(worst < 1e-4, "scalar Winograd F(4x4) transforms c=%d: worst difference from the matrices %.3g", c, worst);
        for (int v = 1; cnn_kernel_variants[v]; v++) {
            const cnn_kernels *kv = cnn_kernel_variants[v];
            for (int k = 0; k < 4; k++) memset(got[k], 0, big * sizeof(float));
            float *out_got[4], *grad_got[6];
            for (int r = 0; r < 4; r++) out_got[r] = got[1] + 4 * r * c;
            for (int r = 0; r < 6; r++) grad_got[r] = got[3] + 6 * r * c;
            kv->wino4_in(got[0], s, in_rows, c);
            kv->wino4_out(out_got, m, s, b, c);
            kv->wino4_out_grad(got[2], s, g_rows, c);
            kv->wino4_in_grad(grad_got, m, s, c);
            static const char *names[4] = {"wino4_in", "wino4_out", "wino4_out_grad", "wino4_in_grad"};
            for (int k = 0; k < 4; k++)
                CHECK(memcmp(got[k], want[k], big * sizeof(float)) == 0, "%s %s c=%d differs from the scalar kernel",
                      kv->name, names[k], c);
        }
        for (int k = 0; k < 4; k++) free(want[k]), free(got[k]);
        free(patch), free(m), free(b), free(g);
    }
}

int main(void) {
    cnn_rng_seed(&rng, 2468);
    RUN(test_winograd_kernels);
    RUN(test_winograd_kernels4);
    RUN(test_winograd_conv);
    RUN(test_winograd_tile_choice);
    RUN(test_winograd_chunks);
    return check_summary();
}
