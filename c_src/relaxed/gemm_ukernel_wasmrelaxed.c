/* gemm_ukernel_wasmrelaxed.c - the GEMM micro-kernel with relaxed-SIMD fused multiply-add (f32x4.relaxed_madd).
 *
 * Built apart from the core into its own small module (build.sh: clang-19 -mrelaxed-simd, linked by wasm-ld
 * with --import-memory and no libc), because emcc 3.1.6's clang and binaryen cannot emit or parse the final
 * relaxed-SIMD opcodes. cnn.mjs instantiates it with the core's memory and puts its one export into the core's
 * function table (cnn_kernels_add_wasmrelaxed), so the core's GEMM driver calls it wasm to wasm.
 *
 * Rules for this file: a leaf function only (no calls, no libc), no locals in linear memory (no stack: the
 * module has no stack of its own in the shared memory), no static data (a data segment would overwrite the
 * core's memory when instantiated). build.sh checks the linked module's imports, exports and sections.
 *
 * Contract: that of cnn_gemm_ukernel in kernels.h, same packing (MR = 4, NR = 8):
 * c (mr, nr) [+]= sum over p < kc of ap[p * 4 + i] * bp[p * 8 + j]. relaxed_madd(a, b, c) is a * b + c, fused
 * (one rounding) or not, as the engine and CPU choose; on one engine and CPU it is always the same. */
#include <wasm_simd128.h>

#define MR 4
#define NR 8

/* dst[0 .. count) (+)= the first count lanes of v, count in 0..4, lane by lane (no spill to memory). */
static inline void store_part(float *dst, v128_t v, int count, int accumulate) {
    if (count >= 4) {
        wasm_v128_store(dst, accumulate ? wasm_f32x4_add(wasm_v128_load(dst), v) : v);
        return;
    }
    if (count > 0) dst[0] = accumulate ? dst[0] + wasm_f32x4_extract_lane(v, 0) : wasm_f32x4_extract_lane(v, 0);
    if (count > 1) dst[1] = accumulate ? dst[1] + wasm_f32x4_extract_lane(v, 1) : wasm_f32x4_extract_lane(v, 1);
    if (count > 2) dst[2] = accumulate ? dst[2] + wasm_f32x4_extract_lane(v, 2) : wasm_f32x4_extract_lane(v, 2);
}

/* One row of the tile: nr columns of (lo, hi) into row. */
static inline void store_row(float *row, v128_t lo, v128_t hi, int nr, int accumulate) {
    store_part(row, lo, nr, accumulate);
    if (nr > 4) store_part(row + 4, hi, nr - 4, accumulate);
}

/* 4 x 8 tile in 8 vector accumulators: per k, two B vectors, four broadcast A values, eight fused madds. */
__attribute__((export_name("cnn_gemm_ukernel__wasmrelaxed")))
void cnn_gemm_ukernel__wasmrelaxed(float *c, int ldc, const float *ap, const float *bp, int kc, int mr, int nr,
                                   int accumulate) {
    v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
    v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (int p = 0; p < kc; p++) {
        v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
        v128_t a0 = wasm_v128_load32_splat(ap), a1 = wasm_v128_load32_splat(ap + 1);
        v128_t a2 = wasm_v128_load32_splat(ap + 2), a3 = wasm_v128_load32_splat(ap + 3);
        c00 = wasm_f32x4_relaxed_madd(a0, b0, c00);
        c01 = wasm_f32x4_relaxed_madd(a0, b1, c01);
        c10 = wasm_f32x4_relaxed_madd(a1, b0, c10);
        c11 = wasm_f32x4_relaxed_madd(a1, b1, c11);
        c20 = wasm_f32x4_relaxed_madd(a2, b0, c20);
        c21 = wasm_f32x4_relaxed_madd(a2, b1, c21);
        c30 = wasm_f32x4_relaxed_madd(a3, b0, c30);
        c31 = wasm_f32x4_relaxed_madd(a3, b1, c31);
        ap += MR;
        bp += NR;
    }
    store_row(c, c00, c01, nr, accumulate);
    if (mr > 1) store_row(c + ldc, c10, c11, nr, accumulate);
    if (mr > 2) store_row(c + 2 * ldc, c20, c21, nr, accumulate);
    if (mr > 3) store_row(c + 3 * ldc, c30, c31, nr, accumulate);
}
