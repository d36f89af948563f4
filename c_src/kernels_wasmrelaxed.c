/* kernels_wasmrelaxed.c - the "wasmrelaxed" variant: the wasmsimd kernels with a fused multiply-add GEMM.
 *
 * Its GEMM micro-kernel (c_src/relaxed/gemm_ukernel_wasmrelaxed.c) lives in a separate small module built
 * with clang-19, since emcc 3.1.6 cannot compile relaxed SIMD. The binding instantiates that module where the
 * engine validates it, with this module's memory, puts its export into this module's function table and hands
 * the table slot to cnn_kernels_add_wasmrelaxed. Until then the variant is not listed. */
#ifdef __wasm_simd128__
#include "internal.h"
#include "kernels.h"

static cnn_gemm_ukernel relaxed_ukernel = NULL;
static cnn_kernels relaxed;

static void gemm__wasmrelaxed(float *c, int ldc, const float *a, int a_rs, int a_cs, const float *b, int b_rs,
                              int b_cs, int m, int n, int k, int accumulate, float *work) {
    cnn_gemm_packed(c, ldc, a, a_rs, a_cs, b, b_rs, b_cs, m, n, k, accumulate, work, relaxed_ukernel);
}

int cnn_kernels_add_wasmrelaxed(cnn_gemm_ukernel ukernel) {
    if (!ukernel) return cnn_fail(CNN_E_INVALID, "kernels_add_wasmrelaxed: no micro-kernel given");
    relaxed_ukernel = ukernel;
    relaxed = cnn_kernels_wasmsimd; /* every other kernel is wasmsimd's: bit-identical to the reference */
    relaxed.name = "wasmrelaxed";
    relaxed.gemm = gemm__wasmrelaxed;
    cnn_kernels_register(&relaxed);
    return CNN_OK;
}
#endif /* __wasm_simd128__ */
