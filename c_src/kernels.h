/* kernels.h - the hot loops, as a table of variants picked once at start-up (STYLE 1).
 *
 * Every variant has the same semantics as the scalar one, which is the reference: elementwise and pooling
 * kernels must match it bit for bit; GEMM matches cnn_gemm__ref within rounding. Layout NHWC everywhere.
 * Element counts, not bytes. Kernels never allocate; GEMM uses the caller's workspace. */
#ifndef CNN_KERNELS_H
#define CNN_KERNELS_H

#include <stddef.h>

/* GEMM blocking: micro-tile MR x NR, cache blocks MC x KC (A) and KC x NC (B). */
#define CNN_GEMM_MR 4
#define CNN_GEMM_NR 8
#define CNN_GEMM_MC 128
#define CNN_GEMM_KC 256
#define CNN_GEMM_NC 512
/* The most taps of a one-channel convolution (kernels up to 15x15). */
#define CNN_CONV1CH_MAX_TAPS (15 * 15)
/* maxpool_bwd modes (bits) */
#define CNN_POOL_WRITE 1
#define CNN_POOL_RELU 2
/* Floats of workspace a GEMM call needs. */
#define CNN_GEMM_WORK_FLOATS ((size_t)CNN_GEMM_MC * CNN_GEMM_KC + (size_t)CNN_GEMM_KC * CNN_GEMM_NC)

typedef struct {
    const char *name;
    /* C (m, n) row-major with row stride ldc  =  A (m, k) . B (k, n)  [+ C when accumulate].
     * A(i, p) is a[i * a_rs + p * a_cs]; B(p, j) is b[p * b_rs + j * b_cs]: transposes are just strides.
     * work: CNN_GEMM_WORK_FLOATS floats (unused by the reference). */
    void (*gemm)(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs, int b_cs,
                 int m, int n, int k, int accumulate, float *work);
    /* Elementwise forward kernels may run in place (y == x). Backward kernels write the input gradient
     * (dx = g, where dx may be dy: in place) or, when accumulate is 1, add it (dx += g, dx != dy). */
    /* y = max(x, 0)  (x > 0 ? x : 0: NaN and -0 give 0... exactly as pmax(0, x)) */
    void (*relu_fwd)(float *y, const float *x, size_t n);
    /* g = y > 0 ? dy : 0 */
    void (*relu_bwd)(float *dx, const float *y, const float *dy, size_t n, int accumulate);
    void (*sigmoid_fwd)(float *y, const float *x, size_t n);
    /* g = dy * y * (1 - y) */
    void (*sigmoid_bwd)(float *dx, const float *y, const float *dy, size_t n, int accumulate);
    void (*tanh_fwd)(float *y, const float *x, size_t n);
    /* g = dy * (1 - y * y) */
    void (*tanh_bwd)(float *dx, const float *y, const float *dy, size_t n, int accumulate);
    /* 2x2 stride-2 pooling: y (n, h/2, w/2, c) <- x (n, h, w, c); odd h or w: the last row/column is dropped */
    void (*maxpool_fwd)(float *y, const float *x, int n, int h, int w, int c);
    /* dx (n, h, w, c) accumulates: dy goes to the first window position (row-major) equal to the max. mode bits:
     * CNN_POOL_WRITE: dx is written instead (0 everywhere else, the dropped row/column included);
     * CNN_POOL_RELU: dy passes only where the max is > 0 (the backward pass of a ReLU below, folded in). */
    void (*maxpool_bwd)(float *dx, const float *x, const float *y, const float *dy, int n, int h, int w, int c,
                        int mode);
    void (*avgpool_fwd)(float *y, const float *x, int n, int h, int w, int c);
    /* dx (n, h, w, c) accumulates dy / 4 at each window position */
    void (*avgpool_bwd)(float *dx, const float *dy, int n, int h, int w, int c);
    /* y = x > 0 ? x : x * slope (0 <= slope < 1) */
    void (*leakyrelu_fwd)(float *y, const float *x, size_t n, float slope);
    /* g = y > 0 ? dy : dy * slope */
    void (*leakyrelu_bwd)(float *dx, const float *y, const float *dy, size_t n, float slope, int accumulate);
    /* Batch normalisation over the channels of x (rows, c), rows = images x pixels. Sums are taken in double,
     * row by row (so every variant adds in the same order); work holds 2 * c doubles.
     * mean (c), var (c) <- per-channel mean and biased variance (two passes). */
    void (*bn_stats)(float *mean, float *var, const float *x, int rows, int c, double *work);
    /* y (rows, c) = x * scale[c] + shift[c]; y may be x */
    void (*channel_affine)(float *y, const float *x, const float *scale, const float *shift, int rows, int c);
    /* sum_dy (c) = sum over rows of dy; sum_dy_xmu (c) = sum of dy * (x - mean) */
    void (*bn_bwd_sums)(float *sum_dy, float *sum_dy_xmu, const float *dy, const float *x, const float *mean,
                        int rows, int c, double *work);
    /* dx (rows, c) += ((dy - a[c]) - (x - mean[c]) * b[c]) * s[c] */
    void (*bn_bwd_dx)(float *dx, const float *dy, const float *x, const float *mean, const float *a,
                      const float *b, const float *s, int rows, int c);
    /* y (rows, cols) += b (cols) for every row */
    void (*bias_add)(float *y, const float *b, int rows, int cols);
    /* db (cols) accumulates the column sums of dy (rows, cols) */
    void (*bias_grad)(float *db, const float *dy, int rows, int cols);
    /* Direct convolution of a one-channel input (the first layer of an MNIST network: K = k * k is too short a
     * sum for a GEMM), for output rows [row0, row0 + rows) numbered as by cnn_im2col, zero padding:
     * y (rows, oc) = taps (rows, K) . wt (K, oc) + b (oc), where taps are im2col's rows of x (n, h, w, 1) and wt
     * is the weights (oc, k, k, 1) transposed (tap-major). Each sum runs over the taps in order from 0, then adds
     * the bias: the same operations as the im2col + packed GEMM + bias_add path, so the same bits. */
    void (*conv1ch_fwd)(float *y, const float *x, const float *wt, const float *b, size_t row0, int rows, int h,
                        int w, int k, int stride, int pad, int oh, int ow, int oc);
    /* dwt (K, oc) accumulates taps^T . dy over the same rows: the weight gradient, transposed (tap-major); db (oc)
     * accumulates the column sums of dy, row by row as bias_grad (the bias gradient, in the same pass). */
    void (*conv1ch_dw)(float *dwt, float *db, const float *x, const float *dy, size_t row0, int rows, int h, int w,
                       int k, int stride, int pad, int oh, int ow, int oc);
    /* Winograd F(2x2, 3x3) transforms (conv_winograd.c), channels innermost and vectorised: adds, subtracts and
     * the bias only, in the same order in every variant (so the same bits). Tile positions xi = 4 * row + col.
     * v[xi * vs + ch] <- (B^T d B)[xi] for the 4x4 input patch d, rows[r] + col * c + ch its pixel (r, col). */
    void (*wino_in)(float *v, size_t vs, const float *const rows[4], int c);
    /* rows[r] + col * c + ch <- (A^T m A)[r][col] + b[ch] for the 2x2 output tile, m[xi * ms + ch]. */
    void (*wino_out)(float *const rows[2], const float *m, size_t ms, const float *b, int c);
    /* dm[xi * ms + ch] <- (A g A^T)[xi], g the 2x2 output-gradient tile at rows[r] + col * c + ch. */
    void (*wino_out_grad)(float *dm, size_t ms, const float *const rows[2], int c);
    /* rows[r] + col * c + ch += (B dv B^T)[r][col] for the 4x4 input patch, dv[xi * vs + ch]. */
    void (*wino_in_grad)(float *const rows[4], const float *dv, size_t vs, int c);
    /* The same four for Winograd F(4x4, 3x3): 6x6 input patches (rows[6]), 4x4 output tiles (rows[4]), tile
     * positions xi = 6 * row + col; adds, subtracts and multiplies by small constants, in the same order in every
     * variant (so the same bits). */
    void (*wino4_in)(float *v, size_t vs, const float *const rows[6], int c);
    void (*wino4_out)(float *const rows[4], const float *m, size_t ms, const float *b, int c);
    void (*wino4_out_grad)(float *dm, size_t ms, const float *const rows[4], int c);
    void (*wino4_in_grad)(float *const rows[6], const float *dv, size_t vs, int c);
} cnn_kernels;

/* The variants of this module, terminated by NULL: those compiled in (the first is the scalar reference), then
 * those added at run time (cnn_kernels_register). */
extern const cnn_kernels *cnn_kernel_variants[];
/* Appends a variant to the table (or replaces the one of the same name); the selection does not change. */
void cnn_kernels_register(const cnn_kernels *k);
/* The selected variant (set once at start-up or by cnn_kernels_select). */
const cnn_kernels *cnn_kern(void);

extern const cnn_kernels cnn_kernels_scalar;
#ifdef __wasm_simd128__
extern const cnn_kernels cnn_kernels_wasmsimd;
#endif

/* Naive triple-loop GEMM: the reference every GEMM variant is tested against. Same contract as .gemm. */
void cnn_gemm__ref(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs, int b_cs,
                   int m, int n, int k, int accumulate, float *work);

/* The packed, cache-blocked GEMM driver, parameterised by its MR x NR micro-kernel:
 * c (mr, nr) [+]= sum over p < kc of ap[p * MR + i] * bp[p * NR + j]; mr <= MR and nr <= NR at the edges. */
typedef void (*cnn_gemm_ukernel)(float *c, int ldc, const float *ap, const float *bp, int kc, int mr, int nr,
                                 int accumulate);
void cnn_gemm_packed(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs, int b_cs,
                     int m, int n, int k, int accumulate, float *work, cnn_gemm_ukernel ukernel);
void cnn_gemm_ukernel__scalar(float *c, int ldc, const float *ap, const float *bp, int kc, int mr, int nr,
                              int accumulate);
#ifdef __wasm_simd128__
/* The relaxed-SIMD micro-kernel comes from its own module (c_src/relaxed/); see kernels_wasmrelaxed.c. */
void cnn_gemm_ukernel__wasmsimd(float *c, int ldc, const float *ap, const float *bp, int kc, int mr, int nr,
                                int accumulate);
#endif

/* Stores an MR x NR tile held in t into C, adding when accumulating, only the valid mr x nr part. */
static inline void cnn_gemm_store_tile(float *c, int ldc, const float t[CNN_GEMM_MR][CNN_GEMM_NR], int mr, int nr,
                                       int accumulate) {
    for (int i = 0; i < mr; i++) {
        float *row = c + (size_t)i * ldc;
        if (accumulate)
            for (int j = 0; j < nr; j++) row[j] += t[i][j];
        else
            for (int j = 0; j < nr; j++) row[j] = t[i][j];
    }
}

/* ---- layout helpers shared by all variants (memory movement, no arithmetic to vectorise by hand) ---- */
/* col (rows, k * k * c) <- output rows [row0, row0 + rows) of the convolution of x (n, h, w, c): output row r is
 * (image, oy, ox) with r = (image * oh + oy) * ow + ox, its window's top-left input pixel at
 * (oy * stride - pad, ox * stride - pad); columns (ky, kx, channel); zero padding. */
void cnn_im2col(float *col, const float *x, size_t row0, int rows, int h, int w, int c, int k, int stride, int pad,
                int oh, int ow);
/* dx (n, h, w, c) accumulates the scatter-add of dcol (rows, k * k * c) for the same output rows. */
void cnn_col2im_add(float *dx, const float *dcol, size_t row0, int rows, int h, int w, int c, int k, int stride,
                    int pad, int oh, int ow);

/* taps (k * k) <- the window of output row `row` of a one-channel convolution of x (n, h, w, 1), zero outside
 * the image (one row of cnn_im2col with c = 1). */
void cnn_conv1ch_taps(float *taps, const float *x, size_t row, int h, int w, int k, int stride, int pad, int oh,
                      int ow);

/* exp(x) for float, the same polynomial in the scalar and the SIMD kernels so they agree bit for bit. */
float cnn_expf_poly(float x);

#endif /* CNN_KERNELS_H */
