/* im2col.c - the layout moves that turn a convolution into a GEMM (NHWC, stride 1, zero padding).
 * Both work on a range of output rows, where output row r is (image, oy, ox) = (r / (oh * ow), ...), so a
 * convolution can be unrolled a bounded number of rows at a time whatever the image size. */
#include <string.h>

#include "kernels.h"

void cnn_im2col(float *col, const float *x, size_t row0, int rows, int h, int w, int c, int k, int pad, int oh,
                int ow) {
    size_t row_len = (size_t)k * k * c, per_image = (size_t)oh * ow;
    for (int r = 0; r < rows; r++) {
        size_t row = row0 + (size_t)r;
        size_t img = row / per_image;
        int oy = (int)(row % per_image) / ow, ox = (int)(row % per_image) % ow;
        const float *xi = x + img * h * w * c;
        float *dst = col + (size_t)r * row_len;
        int kx0 = ox - pad < 0 ? pad - ox : 0;            /* the kx range whose ix lies inside the image */
        int kx1 = ox - pad + k > w ? w - ox + pad : k;
        for (int ky = 0; ky < k; ky++) {
            int iy = oy + ky - pad;
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

void cnn_col2im_add(float *dx, const float *dcol, size_t row0, int rows, int h, int w, int c, int k, int pad,
                    int oh, int ow) {
    size_t row_len = (size_t)k * k * c, per_image = (size_t)oh * ow;
    for (int r = 0; r < rows; r++) {
        size_t row = row0 + (size_t)r;
        size_t img = row / per_image;
        int oy = (int)(row % per_image) / ow, ox = (int)(row % per_image) % ow;
        float *xi = dx + img * h * w * c;
        const float *src = dcol + (size_t)r * row_len;
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
