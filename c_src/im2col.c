/* im2col.c - the layout moves that turn a convolution into a GEMM (NHWC, any stride, zero padding).
 * Both work on a range of output rows, where output row r is (image, oy, ox) = (r / (oh * ow), ...), so a
 * convolution can be unrolled a bounded number of rows at a time whatever the image size. */
#include <string.h>

#include "kernels.h"

void cnn_im2col(float *col, const float *x, size_t row0, int rows, int h, int w, int c, int k, int stride, int pad,
                int oh, int ow) {
    size_t row_len = (size_t)k * k * c, per_image = (size_t)oh * ow;
    for (int r = 0; r < rows; r++) {
        size_t row = row0 + (size_t)r;
        size_t img = row / per_image;
        int oy = (int)(row % per_image) / ow, ox = (int)(row % per_image) % ow;
        int y0 = oy * stride - pad, x0 = ox * stride - pad; /* the window's top-left input pixel */
        const float *xi = x + img * h * w * c;
        float *dst = col + (size_t)r * row_len;
        int kx0 = x0 < 0 ? -x0 : 0;                       /* the kx range whose ix lies inside the image */
        int kx1 = x0 + k > w ? w - x0 : k;
        for (int ky = 0; ky < k; ky++) {
            int iy = y0 + ky;
            float *d = dst + (size_t)ky * k * c;
            if (iy < 0 || iy >= h || kx0 >= kx1) {
                memset(d, 0, (size_t)k * c * sizeof(float));
                continue;
            }
            if (kx0 > 0) memset(d, 0, (size_t)kx0 * c * sizeof(float));
            memcpy(d + (size_t)kx0 * c, xi + ((size_t)iy * w + (x0 + kx0)) * c,
                   (size_t)(kx1 - kx0) * c * sizeof(float));
            if (kx1 < k) memset(d + (size_t)kx1 * c, 0, (size_t)(k - kx1) * c * sizeof(float));
        }
    }
}

void cnn_col2im_add(float *dx, const float *dcol, size_t row0, int rows, int h, int w, int c, int k, int stride,
                    int pad, int oh, int ow) {
    size_t row_len = (size_t)k * k * c, per_image = (size_t)oh * ow;
    for (int r = 0; r < rows; r++) {
        size_t row = row0 + (size_t)r;
        size_t img = row / per_image;
        int oy = (int)(row % per_image) / ow, ox = (int)(row % per_image) % ow;
        int y0 = oy * stride - pad, x0 = ox * stride - pad;
        float *xi = dx + img * h * w * c;
        const float *src = dcol + (size_t)r * row_len;
        for (int ky = 0; ky < k; ky++) {
            int iy = y0 + ky;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < k; kx++) {
                int ix = x0 + kx;
                if (ix < 0 || ix >= w) continue;
                float *d = xi + ((size_t)iy * w + ix) * c;
                const float *s = src + ((size_t)ky * k + kx) * c;
                for (int ch = 0; ch < c; ch++) d[ch] += s[ch];
            }
        }
    }
}

void cnn_conv1ch_taps(float *taps, const float *x, size_t row, int h, int w, int k, int stride, int pad, int oh,
                      int ow) {
    size_t per_image = (size_t)oh * ow;
    int oy = (int)(row % per_image) / ow, ox = (int)(row % per_image) % ow;
    int y0 = oy * stride - pad, x0 = ox * stride - pad;
    const float *xi = x + (row / per_image) * h * w;
    if (y0 >= 0 && x0 >= 0 && y0 + k <= h && x0 + k <= w) { /* inside the image: no padding to test for */
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) taps[ky * k + kx] = xi[(size_t)(y0 + ky) * w + x0 + kx];
        return;
    }
    for (int ky = 0; ky < k; ky++) {
        int iy = y0 + ky;
        for (int kx = 0; kx < k; kx++) {
            int ix = x0 + kx;
            taps[ky * k + kx] = iy >= 0 && iy < h && ix >= 0 && ix < w ? xi[(size_t)iy * w + ix] : 0.0f;
        }
    }
}
