/* preprocess.c - the MNIST recipe: a grayscale drawing of any size -> a centred (28, 28) model input.
 *
 * Steps (as MNIST was made): ink bounding box -> exact area-average scale so the longer side is 20 px (aspect
 * kept) -> place in 28x28 so that the intensity-weighted centre of mass lands on pixel (14, 14).
 *
 * Decisions
 *  - Ink threshold: ink (after inversion) below PP_INK_MIN = 16 (~6%) counts as background everywhere (bounding
 *    box, averaging, centre of mass). It keeps faint anti-aliasing dust and a slightly grey background from
 *    stretching the box or pulling the centre of mass; it does not make a shaded photo of paper work (that needs
 *    real thresholding upstream). On MNIST digits themselves it trims only faint edge pixels.
 *  - Scaling is an exact box filter done in integers: in units of 1/ow of a source pixel every overlap between a
 *    source pixel and a target pixel's footprint is an integer, so each output is sum / (255 * w0 * h0) with one
 *    rounding. Consequences: the result depends only on the cropped ink (bit-exact translation invariance), and
 *    a drawing upscaled k times by pixel replication gives bit-identical output.
 *  - Centring uses the centre of mass rounded to whole pixels, as MNIST did (its test set has centres of mass in
 *    [13.5, 14.5] in pixel-index coordinates, mean 14.0). A whole-pixel shift adds no blur the network never saw
 *    in training; sub-pixel bilinear shifting would. Pixels pushed outside the 28x28 field are dropped.
 *  - No heap: the scaled box is at most 20x20 floats on the stack, so this never returns CNN_E_NOMEM.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

#define PP_SIZE 28      /* output side */
#define PP_BOX 20       /* longer side of the ink box after scaling */
#define PP_CENTER 14.0  /* target centre of mass, pixel-index coordinates (pixel i has its centre at i) */
#define PP_INK_MIN 16   /* ink below this (0..255 scale, after inversion) is background */

/* Ink of one pixel on the 0..255 scale: bright = ink; thresholded. */
static inline int pp_ink(uint8_t v, int invert) {
    int ink = invert ? 255 - (int)v : (int)v;
    return ink >= PP_INK_MIN ? ink : 0;
}

/* Exact area average of the crop (h0, w0) at (y0, x0) of gray (h, w) down (or up) to dst (oh, ow), values in [0, 1].
 * Target column tx covers source columns [tx * w0 / ow, (tx + 1) * w0 / ow); measured in units of 1/ow source px,
 * source column c spans [c * ow, (c + 1) * ow) and target tx spans [tx * w0, (tx + 1) * w0), so overlaps are
 * integers. Same for rows with oh. The weights of one target pixel sum to w0 * h0. */
static void pp_box_scale(float *dst /* (oh, ow) */, const uint8_t *gray /* (h, w) */, int w, int x0, int y0, int w0,
                         int h0, int ow, int oh, int invert) {
    for (int ty = 0; ty < oh; ty++) {
        int64_t acc[PP_BOX] = {0};
        int ya = ty * h0, yb = (ty + 1) * h0;                 /* footprint in units of 1/oh */
        int r_lo = ya / oh, r_hi = (yb + oh - 1) / oh;       /* source rows touching it: [r_lo, r_hi) */
        for (int r = r_lo; r < r_hi; r++) {
            int lo = r * oh > ya ? r * oh : ya, hi = (r + 1) * oh < yb ? (r + 1) * oh : yb;
            int64_t wy = hi - lo;
            const uint8_t *row = gray + (size_t)(y0 + r) * (size_t)w + (size_t)x0;
            for (int tx = 0; tx < ow; tx++) {
                int xa = tx * w0, xb = (tx + 1) * w0;
                int c_lo = xa / ow, c_hi = (xb + ow - 1) / ow;
                int64_t s = 0; /* <= 255 * w0 */
                for (int c = c_lo; c < c_hi; c++) {
                    int l = c * ow > xa ? c * ow : xa, h = (c + 1) * ow < xb ? (c + 1) * ow : xb;
                    s += (int64_t)(h - l) * pp_ink(row[c], invert);
                }
                acc[tx] += wy * s; /* total <= 255 * w0 * h0 < 2^33 */
            }
        }
        double denom = 255.0 * (double)w0 * (double)h0;
        for (int tx = 0; tx < ow; tx++) dst[ty * ow + tx] = (float)((double)acc[tx] / denom);
    }
}

int cnn_preprocess_digit(float *out /* (28, 28) */, const uint8_t *gray /* (h, w) */, int w, int h, int invert) {
    if (!out) return cnn_fail(CNN_E_INVALID, "preprocess_digit: out is NULL (expected a (28, 28) float buffer)");
    if (!gray) return cnn_fail(CNN_E_INVALID, "preprocess_digit: gray is NULL (expected an (h, w) uint8 image)");
    if (w < 1 || w > CNN_MAX_DRAWING_SIDE)
        return cnn_fail(CNN_E_INVALID, "preprocess_digit: width %d out of range (expected 1..%d)", w, CNN_MAX_DRAWING_SIDE);
    if (h < 1 || h > CNN_MAX_DRAWING_SIDE)
        return cnn_fail(CNN_E_INVALID, "preprocess_digit: height %d out of range (expected 1..%d)", h, CNN_MAX_DRAWING_SIDE);
    if (invert != 0 && invert != 1)
        return cnn_fail(CNN_E_INVALID, "preprocess_digit: invert %d (expected 0 or 1)", invert);

    /* Bounding box of the ink: [x0, x1] x [y0, y1]. */
    int x0 = w, x1 = -1, y0 = h, y1 = -1;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = gray + (size_t)y * (size_t)w;
        int first = -1, last = -1;
        for (int x = 0; x < w; x++) {
            if (pp_ink(row[x], invert)) {
                if (first < 0) first = x;
                last = x;
            }
        }
        if (first < 0) continue;
        if (y0 > y) y0 = y;
        y1 = y;
        if (x0 > first) x0 = first;
        if (x1 < last) x1 = last;
    }
    memset(out, 0, sizeof(float) * PP_SIZE * PP_SIZE);
    if (y1 < 0) return cnn_fail(CNN_E_EMPTY, "preprocess_digit: the drawing is empty (no ink)");

    /* Target size: the longer side becomes PP_BOX, the shorter rounds (half up) to at least 1 px. */
    int w0 = x1 - x0 + 1, h0 = y1 - y0 + 1;
    int ow, oh;
    if (w0 >= h0) {
        ow = PP_BOX;
        oh = (2 * PP_BOX * h0 + w0) / (2 * w0);
    } else {
        oh = PP_BOX;
        ow = (2 * PP_BOX * w0 + h0) / (2 * h0);
    }
    if (ow < 1) ow = 1;
    if (oh < 1) oh = 1;

    float box[PP_BOX * PP_BOX]; /* (oh, ow) */
    pp_box_scale(box, gray, w, x0, y0, w0, h0, ow, oh, invert);

    /* Centre of mass of the scaled box (pixel-index coordinates), then a whole-pixel placement. */
    double m = 0, mx = 0, my = 0;
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            double v = box[y * ow + x];
            m += v;
            mx += v * x;
            my += v * y;
        }
    }
    /* m > 0: every ink pixel lies in some target footprint with a positive weight. */
    int ox = (int)lround(PP_CENTER - mx / m), oy = (int)lround(PP_CENTER - my / m);
    for (int y = 0; y < oh; y++) {
        int Y = oy + y;
        if (Y < 0 || Y >= PP_SIZE) continue;
        for (int x = 0; x < ow; x++) {
            int X = ox + x;
            if (X < 0 || X >= PP_SIZE) continue;
            out[Y * PP_SIZE + X] = box[y * ow + x];
        }
    }
    return CNN_OK;
}
