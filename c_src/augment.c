/* augment.c - random affine warps of training images (shift, rotation, scale about the centre), bilinear.
 *
 * Forward map (pixel-index coordinates, centre c = ((w - 1) / 2, (h - 1) / 2), y down):
 *     p_out = c + t + s * R(a) * (p_in - c),   R(a) = [cos a, -sin a; sin a, cos a]
 * so a positive dx moves the content right, a positive dy down, and a positive angle turns it clockwise as
 * displayed (y grows downwards). Each output pixel is sampled at the inverse image of its centre,
 *     p_in = c + R(-a) * (p_out - c - t) / s,
 * by bilinear interpolation with zero outside the image.
 * Random draws: always four calls to cnn_rng_uniform, in this order, so that the generator's stream does not
 * depend on the maxima: dx, dy (uniform in [-max_shift, max_shift]), angle (uniform in [-max_deg, max_deg]
 * degrees), scale (uniform in [1 - max_scale, 1 + max_scale]).
 * When the drawn transform is the identity (all maxima 0) the output is exactly in / 255.
 */
#include <math.h>

#include "internal.h"

/* Uniform in [-m, m] from one draw; exactly 0 when m == 0. */
static float aug_sym(cnn_rng *r, float m) { return (2.0f * cnn_rng_uniform(r) - 1.0f) * m; }

void cnn_augment_image(float *out /* (h, w, c) */, const uint8_t *in /* (h, w, c) */, int h, int w, int c,
                       float max_shift, float max_deg, float max_scale, cnn_rng *r) {
    if (!out || !in || !r || h < 1 || w < 1 || c < 1) return; /* internal: callers validate shapes */
    size_t n = (size_t)h * (size_t)w * (size_t)c;

    float dx = aug_sym(r, max_shift);
    float dy = aug_sym(r, max_shift);
    float deg = aug_sym(r, max_deg);
    float s = 1.0f + aug_sym(r, max_scale);

    if (dx == 0.0f && dy == 0.0f && deg == 0.0f && s == 1.0f) {
        for (size_t i = 0; i < n; i++) out[i] = (float)in[i] / 255.0f;
        return;
    }

    const float rad = deg * 0.017453292519943295f; /* pi / 180 */
    const float ca = cosf(rad), sa = sinf(rad);
    const float inv_s = 1.0f / s; /* s <= 0 (max_scale >= 1) gives inf/NaN coordinates: sampled as outside */
    const float cx = 0.5f * (float)(w - 1), cy = 0.5f * (float)(h - 1);

    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float ux = (float)x - cx - dx, uy = (float)y - cy - dy;
            float sx = (ca * ux + sa * uy) * inv_s + cx;
            float sy = (-sa * ux + ca * uy) * inv_s + cy;
            float *o = out + ((size_t)y * (size_t)w + (size_t)x) * (size_t)c;
            /* Outside (-1, w) x (-1, h) no neighbour is inside; the negated test also catches NaN. */
            if (!(sx > -1.0f && sx < (float)w && sy > -1.0f && sy < (float)h)) {
                for (int ch = 0; ch < c; ch++) o[ch] = 0.0f;
                continue;
            }
            float fx0 = floorf(sx), fy0 = floorf(sy);
            int x0 = (int)fx0, y0 = (int)fy0;
            float fx = sx - fx0, fy = sy - fy0;
            float wgt[4] = {(1.0f - fx) * (1.0f - fy), fx * (1.0f - fy), (1.0f - fx) * fy, fx * fy};
            int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
            for (int ch = 0; ch < c; ch++) o[ch] = 0.0f;
            for (int q = 0; q < 4; q++) {
                if (xs[q] < 0 || xs[q] >= w || ys[q] < 0 || ys[q] >= h || wgt[q] == 0.0f) continue;
                const uint8_t *p = in + ((size_t)ys[q] * (size_t)w + (size_t)xs[q]) * (size_t)c;
                for (int ch = 0; ch < c; ch++) o[ch] += wgt[q] * (float)p[ch];
            }
            for (int ch = 0; ch < c; ch++) o[ch] /= 255.0f; /* as the identity path: whole-pixel shifts are exact */
        }
    }
}
