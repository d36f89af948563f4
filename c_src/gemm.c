/* gemm.c - the packed, cache-blocked GEMM driver and its micro-kernels (scalar and wasm SIMD).
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

/* ap (ceil(mc / MR) panels of (kc, MR)) <- A(i0 .. i0 + mc, p0 .. p0 + kc) */
static void pack_a(float *ap, const float *a, int a_rs, int a_cs, int mc, int kc) {
    for (int i = 0; i < mc; i += MR) {
        int rows = mc - i < MR ? mc - i : MR;
        for (int p = 0; p < kc; p++) {
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
        int cols = nc - j < NR ? nc - j : NR;
        for (int p = 0; p < kc; p++) {
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
