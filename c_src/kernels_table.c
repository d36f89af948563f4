/* kernels_table.c - the kernel variants of this build and the one selected (the fastest, at start-up).
 * The table is fixed at build time except for variants whose code arrives from outside the module
 * (wasmrelaxed, added by the binding through cnn_kernels_register). */
#include <string.h>

#include "internal.h"
#include "kernels.h"

#define MAX_VARIANTS 4

const cnn_kernels *cnn_kernel_variants[MAX_VARIANTS + 1] = {
    &cnn_kernels_scalar,
#ifdef __wasm_simd128__
    &cnn_kernels_wasmsimd,
#endif
    NULL,
};

/* NULL until the first cnn_kern(): then the last entry of the table, the fastest variant compiled in. */
static const cnn_kernels *selected = NULL;

const cnn_kernels *cnn_kern(void) {
    if (!selected) {
        int n = 0;
        while (cnn_kernel_variants[n]) n++;
        selected = cnn_kernel_variants[n - 1];
    }
    return selected;
}

void cnn_kernels_register(const cnn_kernels *k) {
    int n = 0;
    while (cnn_kernel_variants[n] && cnn_kernel_variants[n] != k && strcmp(cnn_kernel_variants[n]->name, k->name)) n++;
    if (n < MAX_VARIANTS) cnn_kernel_variants[n] = k; /* appended, or replacing the variant of the same name */
}

int cnn_kernels_select(const char *name) {
    char names[64] = "";
    for (int i = 0; name && cnn_kernel_variants[i]; i++)
        if (strcmp(cnn_kernel_variants[i]->name, name) == 0) {
            selected = cnn_kernel_variants[i];
            return CNN_OK;
        }
    for (int i = 0; cnn_kernel_variants[i]; i++) {
        if (i) strncat(names, cnn_kernel_variants[i + 1] ? ", " : " or ", sizeof names - strlen(names) - 1);
        strncat(names, cnn_kernel_variants[i]->name, sizeof names - strlen(names) - 1);
    }
    return cnn_fail(CNN_E_INVALID, "kernels_select: no kernel variant '%s' in this module (expected %s)",
                    name ? name : "(null)", names);
}

const char *cnn_kernels_name(int i) {
    for (int n = 0; cnn_kernel_variants[n]; n++)
        if (n == i) return cnn_kernel_variants[n]->name;
    return NULL;
}

const char *cnn_kernels_selected(void) { return cnn_kern()->name; }
