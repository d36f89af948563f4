/* gemm.c - the packed, cache-blocked GEMM driver.
 *
 * Goto-style blocking: for each NC-wide block of B's columns and KC-deep slice of k, B's block is packed into
 * NR-wide panels (k-major), then for each MC-tall block of A's rows A is packed into MR-tall panels, and the
 * micro-kernel computes one MR x NR tile of C from one A panel and one B panel. Packing reads A and B through
 * (row, column) strides, so one driver serves A.B, A.B^T and A^T.B. Panels past the matrix edge are zero-padded:
 * the micro-kernel always runs the full tile and only stores the valid part. The micro-kernels live in their
 * variants' files (kernels_scalar.c, kernels_wasmsimd.c, relaxed/). */
#include <string.h>

#include "kernels.h"

#define MR CNN_GEMM_MR
#define NR CNN_GEMM_NR

#ifdef __wasm_simd128__
#include <wasm_simd128.h>

/* o[t] <- lane t of x0, x1, x2, x3 (a 4x4 transpose) */
static inline void transpose4(v128_t o[4], v128_t x0, v128_t x1, v128_t x2, v128_t x3) {
    v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
    o[0] = wasm_i64x2_shuffle(t0, t2, 0, 2), o[1] = wasm_i64x2_shuffle(t0, t2, 1, 3);
    o[2] = wasm_i64x2_shuffle(t1, t3, 0, 2), o[3] = wasm_i64x2_shuffle(t1, t3, 1, 3);
}

/* One full MR = 4 row panel of A, 4 values at a time: the panel's rows contiguous (a_rs == 1) copied as they are,
 * or rows contiguous in k (a_cs == 1) through 4x4 transposes. Returns the k done (the caller finishes the rest). */
static int pack_a_panel_simd(float *ap, const float *a, int a_rs, int a_cs, int kc) {
    int p = 0;
    if (a_rs == 1) {
        for (; p < kc; p++) wasm_v128_store(ap + (size_t)p * MR, wasm_v128_load(a + (size_t)p * a_cs));
    } else if (a_cs == 1) {
        const float *r0 = a, *r1 = a + a_rs, *r2 = a + 2 * (size_t)a_rs, *r3 = a + 3 * (size_t)a_rs;
        for (; p + 4 <= kc; p += 4) {
            v128_t o[4];
            transpose4(o, wasm_v128_load(r0 + p), wasm_v128_load(r1 + p), wasm_v128_load(r2 + p), wasm_v128_load(r3 + p));
            for (int t = 0; t < 4; t++) wasm_v128_store(ap + (size_t)(p + t) * MR, o[t]);
        }
    }
    return p;
}

/* One full NR = 8 column panel of B with columns contiguous in k (b_rs == 1), 4 k at a time through two 4x4
 * transposes. Returns the k done. */
static int pack_b_panel_simd(float *bp, const float *b, int b_cs, int kc) {
    int p = 0;
    for (; p + 4 <= kc; p += 4)
        for (int half = 0; half < 2; half++) {
            const float *col = b + (size_t)(4 * half) * b_cs + p;
            v128_t o[4];
            transpose4(o, wasm_v128_load(col), wasm_v128_load(col + b_cs), wasm_v128_load(col + 2 * (size_t)b_cs),
                       wasm_v128_load(col + 3 * (size_t)b_cs));
            for (int t = 0; t < 4; t++) wasm_v128_store(bp + (size_t)(p + t) * NR + 4 * half, o[t]);
        }
    return p;
}
#endif

/* ap (ceil(mc / MR) panels of (kc, MR)) <- A(i0 .. i0 + mc, p0 .. p0 + kc) */
static void pack_a(float *ap, const float *a, int a_rs, int a_cs, int mc, int kc) {
    for (int i = 0; i < mc; i += MR) {
        int rows = mc - i < MR ? mc - i : MR, p = 0;
#ifdef __wasm_simd128__
        if (rows == MR) p = pack_a_panel_simd(ap, a + (size_t)i * a_rs, a_rs, a_cs, kc);
        ap += (size_t)p * MR;
#endif
        for (; p < kc; p++) {
            const float *src = a + (size_t)i * a_rs + (size_t)p * a_cs;
            int r = 0;
            for (; r < rows; r++) ap[r] = src[(size_t)r * a_rs];
            for (; r < MR; r++) ap[r] = 0.0f;
            ap += MR;
        }
    }
}

/* bp (ceil(nc / NR) panels of (kc, NR)) <- B(p0 .. p0 + kc, j0 .. j0 + nc) */
static void pack_b(float *bp, const float *b, int b_rs, int b_cs, int kc, int nc) {
    for (int j = 0; j < nc; j += NR) {
        int cols = nc - j < NR ? nc - j : NR, p = 0;
#ifdef __wasm_simd128__
        if (cols == NR && b_rs == 1 && b_cs != 1) p = pack_b_panel_simd(bp, b + (size_t)j * b_cs, b_cs, kc);
        bp += (size_t)p * NR;
#endif
        for (; p < kc; p++) {
            const float *src = b + (size_t)p * b_rs + (size_t)j * b_cs;
            int q = 0;
            if (b_cs == 1 && cols == NR) {
                memcpy(bp, src, NR * sizeof(float));
            } else {
                for (; q < cols; q++) bp[q] = src[(size_t)q * b_cs];
                for (; q < NR; q++) bp[q] = 0.0f;
            }
            bp += NR;
        }
    }
}

void cnn_gemm_packed(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs, int b_cs,
                     int m, int n, int k, int accumulate, float *work, cnn_gemm_ukernel ukernel) {
    float *apack = work;                                         /* (MC, KC) */
    float *bpack = work + (size_t)CNN_GEMM_MC * CNN_GEMM_KC;     /* (KC, NC) */
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* empty sum: C = 0, or unchanged when accumulating */
        if (!accumulate)
            for (int i = 0; i < m; i++) memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    for (int jc = 0; jc < n; jc += CNN_GEMM_NC) {
        int nc = n - jc < CNN_GEMM_NC ? n - jc : CNN_GEMM_NC;
        for (int pc = 0; pc < k; pc += CNN_GEMM_KC) {
            int kc = k - pc < CNN_GEMM_KC ? k - pc : CNN_GEMM_KC;
            int acc = accumulate || pc > 0; /* later k-slices add to what earlier ones stored */
            pack_b(bpack, b + (size_t)pc * b_rs + (size_t)jc * b_cs, b_rs, b_cs, kc, nc);
            for (int ic = 0; ic < m; ic += CNN_GEMM_MC) {
                int mc = m - ic < CNN_GEMM_MC ? m - ic : CNN_GEMM_MC;
                pack_a(apack, a + (size_t)ic * a_rs + (size_t)pc * a_cs, a_rs, a_cs, mc, kc);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *bpanel = bpack + (size_t)jr * kc;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        ukernel(c + (size_t)(ic + ir) * ldc + jc + jr, ldc, apack + (size_t)ir * kc, bpanel, kc,
                                mr, nr, acc);
                    }
                }
            }
        }
    }
}
