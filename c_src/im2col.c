/* im2col.c - the layout moves that turn a convolution into a GEMM (NHWC, stride 1, zero padding). */
#include <string.h>

#include "kernels.h"

/* col (n * oh * ow, k * k * c) <- x (n, h, w, c) */
void cnn_im2col(float *col, const float *x, int n, int h, int w, int c, int k, int pad, int oh, int ow) {
    size_t row_len = (size_t)k * k * c;
    for (int img = 0; img < n; img++) {
        const float *xi = x + (size_t)img * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float *dst = col + (((size_t)img * oh + oy) * ow + ox) * row_len;
                for (int ky = 0; ky < k; ky++) {
                    int iy = oy + ky - pad;
                    int kx0 = 0, kx1 = k; /* the kx range whose ix lies inside the image */
                    if (ox - pad < 0) kx0 = pad - ox;
                    if (ox - pad + k > w) kx1 = w - ox + pad;
                    float *d = dst + (size_t)ky * k * c;
                    if (iy < 0 || iy >= h || kx0 >= kx1) {
                        memset(d, 0, (size_t)k * c * sizeof(float));
                        continue;
                    }
                    if (kx0 > 0) memset(d, 0, (size_t)kx0 * c * sizeof(float));
                    memcpy(d + (size_t)kx0 * c, xi + ((size_t)iy * w + (ox - pad + kx0)) * c,
                           (size_t)(kx1 - kx0) * c * sizeof(float));
                    if (kx1 < k) memset(d + (size_t)kx1 * c, 0, (size_t)(k - kx1) * c * sizeof(float));
                }
            }
        }
    }
}

/* dx (n, h, w, c) = scatter-add of dcol (n * oh * ow, k * k * c) */
void cnn_col2im(float *dx, const float *dcol, int n, int h, int w, int c, int k, int pad, int oh, int ow) {
    size_t row_len = (size_t)k * k * c;
    memset(dx, 0, (size_t)n * h * w * c * sizeof(float));
    for (int img = 0; img < n; img++) {
        float *xi = dx + (size_t)img * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                const float *src = dcol + (((size_t)img * oh + oy) * ow + ox) * row_len;
                for (int ky = 0; ky < k; ky++) {
                    int iy = oy + ky - pad;
                    if (iy < 0 || iy >= h) continue;
                    for (int kx = 0; kx < k; kx++) {
                        int ix = ox + kx - pad;
                        if (ix < 0 || ix >= w) continue;
                        float *d = xi + ((size_t)iy * w + ix) * c;
                        const float *s = src + ((size_t)ky * k + kx) * c;
                        for (int ch = 0; ch < c; ch++) d[ch] += s[ch];
                    }
                }
            }
        }
    }
}
