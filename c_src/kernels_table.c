/* kernels_table.c - the kernel variants of this build and the one selected (the fastest, at start-up). */
#include <string.h>

#include "internal.h"
#include "kernels.h"

const cnn_kernels *const cnn_kernel_variants[] = {
    &cnn_kernels_scalar,
#ifdef __wasm_simd128__
    &cnn_kernels_wasmsimd,
#endif
    NULL,
};

/* The last entry of the table is the fastest variant compiled in. */
static const cnn_kernels *selected = NULL;

const cnn_kernels *cnn_kern(void) {
    if (!selected) {
        int n = 0;
        while (cnn_kernel_variants[n]) n++;
        selected = cnn_kernel_variants[n - 1];
    }
    return selected;
}

int cnn_kernels_select(const char *name) {
    for (int i = 0; name && cnn_kernel_variants[i]; i++)
        if (strcmp(cnn_kernel_variants[i]->name, name) == 0) {
            selected = cnn_kernel_variants[i];
            return CNN_OK;
        }
    return cnn_fail(CNN_E_INVALID, "kernels_select: no kernel variant '%s' in this build (expected %s)",
                    name ? name : "(null)",
#ifdef __wasm_simd128__
                    "scalar or wasmsimd"
#else
                    "scalar"
#endif
    );
}

const char *cnn_kernels_selected(void) { return cnn_kern()->name; }
