/* winograd.h - the Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms in one dimension, written once for every
 * element type.
 *
 * A 3x3 correlation of a 4x4 input patch d with weights g gives the 2x2 output Y = A^T [(G g G^T) . (B^T d B)] A
 * (Lavin & Gray, "Fast algorithms for convolutional neural networks", 2015), with
 *     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *     A^T = [1 1 1 0; 0 1 -1 -1].
 * Backward, for an output gradient dY: dM = A dY A^T, the weights' gradient G^T (dM . V) G summed over tiles, the
 * input patch's B (dM . U) B^T. Each 2-D transform applies the 1-D one down the columns, then along the rows.
 * ADD, SUB and NEG are the element type's operations, so the scalar and the SIMD kernels do the same arithmetic
 * in the same order (and give the same bits). */
#ifndef CNN_WINOGRAD_H
#define CNN_WINOGRAD_H

#include <stddef.h>

/* (o0..o3) = B^T (d0..d3) */
#define WINO_BT(o0, o1, o2, o3, d0, d1, d2, d3, ADD, SUB) \
    ((o0) = SUB(d0, d2), (o1) = ADD(d1, d2), (o2) = SUB(d2, d1), (o3) = SUB(d1, d3))
/* (o0, o1) = A^T (m0..m3) */
#define WINO_AT(o0, o1, m0, m1, m2, m3, ADD, SUB) ((o0) = ADD(ADD(m0, m1), m2), (o1) = SUB(SUB(m1, m2), m3))
/* (o0..o3) = A (g0, g1) */
#define WINO_A(o0, o1, o2, o3, g0, g1, ADD, SUB, NEG) ((o0) = (g0), (o1) = ADD(g0, g1), (o2) = SUB(g0, g1), (o3) = NEG(g1))
/* (o0..o3) = B (v0..v3) */
#define WINO_B(o0, o1, o2, o3, v0, v1, v2, v3, ADD, SUB, NEG) \
    ((o0) = (v0), (o1) = ADD(SUB(v1, v2), v3), (o2) = ADD(SUB(v1, v0), v2), (o3) = NEG(v3))

#define WINO_SADD(a, b) ((a) + (b))
#define WINO_SSUB(a, b) ((a) - (b))
#define WINO_SNEG(a) (-(a))

/* One channel of each kernel of cnn_kernels (wino_in, wino_out, wino_out_grad, wino_in_grad): the scalar
 * reference, and the tail of the SIMD kernels. */
static inline void cnn_wino_in_lane(float *v, size_t vs, const float *const rows[4], int c, int ch) {
    float t[4][4];
    for (int q = 0; q < 4; q++) {
        float d0 = rows[0][q * c + ch], d1 = rows[1][q * c + ch], d2 = rows[2][q * c + ch], d3 = rows[3][q * c + ch];
        WINO_BT(t[0][q], t[1][q], t[2][q], t[3][q], d0, d1, d2, d3, WINO_SADD, WINO_SSUB);
    }
    for (int r = 0; r < 4; r++)
        WINO_BT(v[(size_t)(4 * r) * vs + ch], v[(size_t)(4 * r + 1) * vs + ch], v[(size_t)(4 * r + 2) * vs + ch],
                v[(size_t)(4 * r + 3) * vs + ch], t[r][0], t[r][1], t[r][2], t[r][3], WINO_SADD, WINO_SSUB);
}

static inline void cnn_wino_out_lane(float *const rows[2], const float *m, size_t ms, const float *b, int c, int ch) {
    float s[2][4];
    for (int q = 0; q < 4; q++)
        WINO_AT(s[0][q], s[1][q], m[(size_t)q * ms + ch], m[(size_t)(4 + q) * ms + ch], m[(size_t)(8 + q) * ms + ch],
                m[(size_t)(12 + q) * ms + ch], WINO_SADD, WINO_SSUB);
    for (int r = 0; r < 2; r++) {
        float y0, y1;
        WINO_AT(y0, y1, s[r][0], s[r][1], s[r][2], s[r][3], WINO_SADD, WINO_SSUB);
        rows[r][ch] = y0 + b[ch];
        rows[r][c + ch] = y1 + b[ch];
    }
}

static inline void cnn_wino_out_grad_lane(float *dm, size_t ms, const float *const rows[2], int c, int ch) {
    float t[4][2];
    for (int q = 0; q < 2; q++)
        WINO_A(t[0][q], t[1][q], t[2][q], t[3][q], rows[0][q * c + ch], rows[1][q * c + ch], WINO_SADD, WINO_SSUB,
               WINO_SNEG);
    for (int r = 0; r < 4; r++)
        WINO_A(dm[(size_t)(4 * r) * ms + ch], dm[(size_t)(4 * r + 1) * ms + ch], dm[(size_t)(4 * r + 2) * ms + ch],
               dm[(size_t)(4 * r + 3) * ms + ch], t[r][0], t[r][1], WINO_SADD, WINO_SSUB, WINO_SNEG);
}

static inline void cnn_wino_in_grad_lane(float *const rows[4], const float *dv, size_t vs, int c, int ch) {
    float t[4][4];
    for (int q = 0; q < 4; q++)
        WINO_B(t[0][q], t[1][q], t[2][q], t[3][q], dv[(size_t)q * vs + ch], dv[(size_t)(4 + q) * vs + ch],
               dv[(size_t)(8 + q) * vs + ch], dv[(size_t)(12 + q) * vs + ch], WINO_SADD, WINO_SSUB, WINO_SNEG);
    for (int r = 0; r < 4; r++) {
        float o0, o1, o2, o3;
        WINO_B(o0, o1, o2, o3, t[r][0], t[r][1], t[r][2], t[r][3], WINO_SADD, WINO_SSUB, WINO_SNEG);
        rows[r][ch] += o0;
        rows[r][c + ch] += o1;
        rows[r][2 * c + ch] += o2;
        rows[r][3 * c + ch] += o3;
    }
}

/* ---- F(4x4, 3x3): 4x4 output tiles from 6x6 input patches (points 0, 1, -1, 2, -2, infinity) ----
 *     B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 *     G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *     A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 * 36 multiplies per output tile and channel pair instead of 144 (16 per 2x2 tile, 64 per 4x4, in F(2x2)).
 * The macros take arrays (o out, i in) of element type T; MULK(x, k) multiplies by the constant k. */
/* o[0..5] = B^T i[0..5] */
#define WINO4_BT(T, o, i, ADD, SUB, MULK)                                          \
    do {                                                                            \
        T s31_ = SUB((i)[3], (i)[1]), s42_ = SUB((i)[4], (i)[2]);                   \
        (o)[0] = ADD(SUB(MULK((i)[0], 4.0f), MULK((i)[2], 5.0f)), (i)[4]);          \
        (o)[1] = SUB(ADD((i)[3], (i)[4]), MULK(ADD((i)[1], (i)[2]), 4.0f));         \
        (o)[2] = ADD(SUB((i)[4], (i)[3]), MULK(SUB((i)[1], (i)[2]), 4.0f));         \
        (o)[3] = ADD(s42_, MULK(s31_, 2.0f));                                       \
        (o)[4] = SUB(s42_, MULK(s31_, 2.0f));                                       \
        (o)[5] = ADD(SUB(MULK((i)[1], 4.0f), MULK((i)[3], 5.0f)), (i)[5]);          \
    } while (0)
/* o[0..3] = A^T i[0..5] */
#define WINO4_AT(T, o, i, ADD, SUB, MULK)                                          \
    do {                                                                            \
        T p12_ = ADD((i)[1], (i)[2]), m12_ = SUB((i)[1], (i)[2]);                   \
        T p34_ = ADD((i)[3], (i)[4]), m34_ = SUB((i)[3], (i)[4]);                   \
        (o)[0] = ADD(ADD((i)[0], p12_), p34_);                                      \
        (o)[1] = ADD(m12_, MULK(m34_, 2.0f));                                       \
        (o)[2] = ADD(p12_, MULK(p34_, 4.0f));                                       \
        (o)[3] = ADD(ADD(m12_, MULK(m34_, 8.0f)), (i)[5]);                          \
    } while (0)
/* o[0..5] = A i[0..3] */
#define WINO4_A(T, o, i, ADD, SUB, MULK)                                           \
    do {                                                                            \
        T e_ = ADD((i)[0], (i)[2]), f_ = ADD((i)[1], (i)[3]);                       \
        T e2_ = ADD((i)[0], MULK((i)[2], 4.0f));                                    \
        T f2_ = ADD(MULK((i)[1], 2.0f), MULK((i)[3], 8.0f));                        \
        (o)[0] = (i)[0];                                                            \
        (o)[1] = ADD(e_, f_);                                                       \
        (o)[2] = SUB(e_, f_);                                                       \
        (o)[3] = ADD(e2_, f2_);                                                     \
        (o)[4] = SUB(e2_, f2_);                                                     \
        (o)[5] = (i)[3];                                                            \
    } while (0)
/* o[0..5] = B i[0..5] */
#define WINO4_B(T, o, i, ADD, SUB, MULK)                                                           \
    do {                                                                                            \
        T p12_ = ADD((i)[1], (i)[2]), p34_ = ADD((i)[3], (i)[4]);                                   \
        (o)[0] = MULK((i)[0], 4.0f);                                                                \
        (o)[1] = ADD(MULK(ADD(SUB((i)[2], (i)[1]), (i)[5]), 4.0f), MULK(SUB((i)[4], (i)[3]), 2.0f)); \
        (o)[2] = SUB(SUB(MULK((i)[0], -5.0f), MULK(p12_, 4.0f)), p34_);                             \
        (o)[3] = ADD(SUB((i)[1], (i)[2]), SUB(MULK(SUB((i)[3], (i)[4]), 2.0f), MULK((i)[5], 5.0f))); \
        (o)[4] = ADD(ADD((i)[0], p12_), p34_);                                                      \
        (o)[5] = (i)[5];                                                                            \
    } while (0)

#define WINO_SMULK(a, k) ((a) * (k))

/* One channel of the F(4x4, 3x3) kernels (wino4_in, wino4_out, wino4_out_grad, wino4_in_grad). */
static inline void cnn_wino4_in_lane(float *v, size_t vs, const float *const rows[6], int c, int ch) {
    float t[6][6], col[6], o[6];
    for (int q = 0; q < 6; q++) {
        for (int r = 0; r < 6; r++) col[r] = rows[r][q * c + ch];
        WINO4_BT(float, o, col, WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int r = 0; r < 6; r++) t[r][q] = o[r];
    }
    for (int r = 0; r < 6; r++) {
        WINO4_BT(float, o, t[r], WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int q = 0; q < 6; q++) v[(size_t)(6 * r + q) * vs + ch] = o[q];
    }
}

static inline void cnn_wino4_out_lane(float *const rows[4], const float *m, size_t ms, const float *b, int c, int ch) {
    float s[4][6], col[6], o[4];
    for (int q = 0; q < 6; q++) {
        for (int r = 0; r < 6; r++) col[r] = m[(size_t)(6 * r + q) * ms + ch];
        WINO4_AT(float, o, col, WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int r = 0; r < 4; r++) s[r][q] = o[r];
    }
    for (int r = 0; r < 4; r++) {
        WINO4_AT(float, o, s[r], WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int q = 0; q < 4; q++) rows[r][q * c + ch] = o[q] + b[ch];
    }
}

static inline void cnn_wino4_out_grad_lane(float *dm, size_t ms, const float *const rows[4], int c, int ch) {
    float t[6][4], col[4], o[6];
    for (int q = 0; q < 4; q++) {
        for (int r = 0; r < 4; r++) col[r] = rows[r][q * c + ch];
        WINO4_A(float, o, col, WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int r = 0; r < 6; r++) t[r][q] = o[r];
    }
    for (int r = 0; r < 6; r++) {
        WINO4_A(float, o, t[r], WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int q = 0; q < 6; q++) dm[(size_t)(6 * r + q) * ms + ch] = o[q];
    }
}

static inline void cnn_wino4_in_grad_lane(float *const rows[6], const float *dv, size_t vs, int c, int ch) {
    float t[6][6], col[6], o[6];
    for (int q = 0; q < 6; q++) {
        for (int r = 0; r < 6; r++) col[r] = dv[(size_t)(6 * r + q) * vs + ch];
        WINO4_B(float, o, col, WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int r = 0; r < 6; r++) t[r][q] = o[r];
    }
    for (int r = 0; r < 6; r++) {
        WINO4_B(float, o, t[r], WINO_SADD, WINO_SSUB, WINO_SMULK);
        for (int q = 0; q < 6; q++) rows[r][q * c + ch] += o[q];
    }
}

#endif /* CNN_WINOGRAD_H */
