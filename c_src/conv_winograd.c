/* conv_winograd.c - 3x3, stride-1 convolutions by Winograd F(2x2, 3x3), forward and backward (winograd.h).
 *
 * The output is cut into 2x2 tiles, each computed from a 4x4 input patch: per tile and channel pair 16
 * multiplies instead of 36. Tiles are handled a chunk at a time (bounded workspace): the chunk's patches are
 * transformed into V (16, tiles, ic), the weights into U (16, ic, oc), then 16 GEMMs M[xi] = V[xi] . U[xi] and
 * the output transform (+ bias). Backward differentiates the same computation: the output gradient transformed
 * into dM (16, tiles, oc), then dU[xi] += dM[xi]^T . V[xi] (weights) and dV[xi] = dM[xi] . U[xi]^T (input), each
 * transformed back. The GEMMs are the kernel variant's; tiles past the output's edge read zero padding and get a
 * zero gradient. */
#include <string.h>

#include "kernels.h"
#include "layers.h"
#include "model.h"

#define XI 16 /* positions of a 4x4 tile */

int cnn_winograd_applies(const cnn_layer *l) {
    return l->k == 3 && l->stride == 1 && l->ic >= CNN_WINO_MIN_CHANNELS;
}

/* Tiles of a chunk: the workspace of V and M within CNN_WINO_CHUNK_FLOATS, and no more than the batch has. */
static int chunk_tiles(const cnn_layer *l, size_t tiles) {
    size_t t = CNN_WINO_CHUNK_FLOATS / ((size_t)XI * (l->ic + l->oc));
    if (t < 4) t = 4;
    return (int)(t < tiles ? t : tiles);
}

static size_t tiles_of(const cnn_layer *l, int n) { return (size_t)n * ((l->oh + 1) / 2) * ((l->ow + 1) / 2); }

/* ws->col: V, U and a patch; ws->dcol: M (dM), dU and an output tile */
size_t cnn_winograd_workspace(const cnn_layer *l, int max_batch) {
    size_t t = (size_t)chunk_tiles(l, tiles_of(l, max_batch)), wino = (size_t)XI * l->ic * l->oc;
    size_t col = XI * t * l->ic + wino + XI * (size_t)l->ic, dcol = XI * t * l->oc + wino + 4 * (size_t)l->oc;
    return col > dcol ? col : dcol;
}

/* u (16, ic, oc) <- G g G^T for every filter g of w (oc, 3, 3, ic) */
static void weights_forward(float *u, const float *w, int ic, int oc) {
    for (int o = 0; o < oc; o++)
        for (int c = 0; c < ic; c++) {
            float g[3][3], t[4][3];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) g[ky][kx] = w[(((size_t)o * 3 + ky) * 3 + kx) * ic + c];
            for (int q = 0; q < 3; q++) { /* G g */
                t[0][q] = g[0][q];
                t[1][q] = 0.5f * (g[0][q] + g[1][q] + g[2][q]);
                t[2][q] = 0.5f * (g[0][q] - g[1][q] + g[2][q]);
                t[3][q] = g[2][q];
            }
            for (int r = 0; r < 4; r++) { /* (G g) G^T */
                float *dst = u + (size_t)(4 * r) * ic * oc + (size_t)c * oc + o, row[4];
                row[0] = t[r][0];
                row[1] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
                row[2] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
                row[3] = t[r][2];
                for (int q = 0; q < 4; q++) dst[(size_t)q * ic * oc] = row[q];
            }
        }
}

/* dw (oc, 3, 3, ic) += G^T du G for du (16, oc, ic): the adjoint of weights_forward */
static void weights_backward(float *dw, const float *du, int ic, int oc) {
    for (int o = 0; o < oc; o++)
        for (int c = 0; c < ic; c++) {
            float d[4][4], t[3][4];
            for (int xi = 0; xi < XI; xi++) d[xi / 4][xi % 4] = du[(size_t)xi * oc * ic + (size_t)o * ic + c];
            for (int q = 0; q < 4; q++) { /* G^T d */
                t[0][q] = d[0][q] + 0.5f * (d[1][q] + d[2][q]);
                t[1][q] = 0.5f * (d[1][q] - d[2][q]);
                t[2][q] = 0.5f * (d[1][q] + d[2][q]) + d[3][q];
            }
            for (int ky = 0; ky < 3; ky++) { /* (G^T d) G */
                float *dst = dw + ((size_t)o * 3 + ky) * 3 * ic + c;
                dst[0] += t[ky][0] + 0.5f * (t[ky][1] + t[ky][2]);
                dst[ic] += 0.5f * (t[ky][1] - t[ky][2]);
                dst[2 * (size_t)ic] += 0.5f * (t[ky][1] + t[ky][2]) + t[ky][3];
            }
        }
}

/* Where tile t (numbered over the batch, row-major within an image) lies. */
typedef struct {
    size_t img;
    int oy, ox; /* its top-left output pixel */
} tile_pos;

static tile_pos tile_at(const cnn_layer *l, size_t t) {
    size_t per_row = (size_t)(l->ow + 1) / 2, per_image = per_row * ((l->oh + 1) / 2);
    size_t r = t % per_image;
    return (tile_pos){t / per_image, (int)(r / per_row) * 2, (int)(r % per_row) * 2};
}

/* rows[4] <- the tile's 4x4 input patch of x (n, h, w, c): pointers into x inside the image, else a copy in
 * patch (16 * c floats) with zeros outside it. */
static void patch_rows(const float *rows[4], float *patch, const float *x, const cnn_layer *l, tile_pos p) {
    int h = l->ih, w = l->iw, c = l->ic, y0 = p.oy - l->pad, x0 = p.ox - l->pad;
    const float *xi = x + p.img * h * w * c;
    if (y0 >= 0 && x0 >= 0 && y0 + 4 <= h && x0 + 4 <= w) {
        for (int r = 0; r < 4; r++) rows[r] = xi + ((size_t)(y0 + r) * w + x0) * c;
        return;
    }
    for (int r = 0; r < 4; r++) {
        float *d = patch + (size_t)r * 4 * c;
        rows[r] = d;
        for (int q = 0; q < 4; q++) {
            int iy = y0 + r, ix = x0 + q;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) memcpy(d + q * c, xi + ((size_t)iy * w + ix) * c, c * sizeof(float));
            else memset(d + q * c, 0, c * sizeof(float));
        }
    }
}

/* Valid output rows and columns of the tile (1 or 2 each). */
static int tile_rows(const cnn_layer *l, tile_pos p) { return l->oh - p.oy < 2 ? 1 : 2; }
static int tile_cols(const cnn_layer *l, tile_pos p) { return l->ow - p.ox < 2 ? 1 : 2; }

static float *out_px(float *y, const cnn_layer *l, tile_pos p, int r, int q) {
    return y + ((p.img * l->oh + (size_t)(p.oy + r)) * l->ow + (size_t)(p.ox + q)) * l->oc;
}

/* V (16, nt, ic) <- the input transform of tiles [t0, t0 + nt) */
static void input_transform(float *v, const float *x, const cnn_layer *l, size_t t0, int nt, int stride, float *patch) {
    const cnn_kernels *kern = cnn_kern();
    for (int i = 0; i < nt; i++) {
        const float *rows[4];
        patch_rows(rows, patch, x, l, tile_at(l, t0 + (size_t)i));
        kern->wino_in(v + (size_t)i * l->ic, (size_t)stride * l->ic, rows, l->ic);
    }
}

void cnn_winograd_forward(float *y, const float *x, const float *w, const float *b, const cnn_layer *l, int n,
                          cnn_workspace *ws) {
    const cnn_kernels *kern = cnn_kern();
    int ic = l->ic, oc = l->oc;
    size_t total = tiles_of(l, n);
    int T = chunk_tiles(l, total);
    float *v = ws->col, *u = v + (size_t)XI * T * ic, *patch = u + (size_t)XI * ic * oc;
    float *m = ws->dcol, *tile = m + (size_t)XI * T * oc;
    weights_forward(u, w, ic, oc);
    for (size_t t0 = 0; t0 < total; t0 += (size_t)T) {
        int nt = total - t0 < (size_t)T ? (int)(total - t0) : T;
        input_transform(v, x, l, t0, nt, T, patch);
        for (int xi = 0; xi < XI; xi++)
            kern->gemm(m + (size_t)xi * T * oc, oc, v + (size_t)xi * T * ic, ic, 1, u + (size_t)xi * ic * oc, oc, 1,
                       nt, oc, ic, 0, ws->gemm);
        for (int i = 0; i < nt; i++) {
            tile_pos p = tile_at(l, t0 + (size_t)i);
            int tr = tile_rows(l, p), tc = tile_cols(l, p);
            float *rows[2] = {tile, tile + 2 * (size_t)oc};
            if (tr == 2 && tc == 2) rows[0] = out_px(y, l, p, 0, 0), rows[1] = out_px(y, l, p, 1, 0);
            kern->wino_out(rows, m + (size_t)i * oc, (size_t)T * oc, b, oc);
            if (tr < 2 || tc < 2) /* an edge tile: its valid part */
                for (int r = 0; r < tr; r++) memcpy(out_px(y, l, p, r, 0), rows[r], (size_t)tc * oc * sizeof(float));
        }
    }
}

void cnn_winograd_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                           const cnn_layer *l, int n, cnn_workspace *ws) {
    const cnn_kernels *kern = cnn_kern();
    int ic = l->ic, oc = l->oc;
    if (dw) kern->bias_grad(db, dy, n * l->oh * l->ow, oc);
    if (!dx && !dw) return;
    size_t total = tiles_of(l, n);
    int T = chunk_tiles(l, total);
    float *v = ws->col, *u = v + (size_t)XI * T * ic, *patch = u + (size_t)XI * ic * oc;
    float *dm = ws->dcol, *du = dm + (size_t)XI * T * oc, *tile = du + (size_t)XI * ic * oc;
    if (dx) weights_forward(u, w, ic, oc);
    if (dw) memset(du, 0, (size_t)XI * ic * oc * sizeof(float));
    for (size_t t0 = 0; t0 < total; t0 += (size_t)T) {
        int nt = total - t0 < (size_t)T ? (int)(total - t0) : T;
        for (int i = 0; i < nt; i++) { /* dM <- A dY A^T, zero past the output's edge */
            tile_pos p = tile_at(l, t0 + (size_t)i);
            int tr = tile_rows(l, p), tc = tile_cols(l, p);
            const float *rows[2] = {tile, tile + 2 * (size_t)oc};
            if (tr == 2 && tc == 2) {
                rows[0] = out_px((float *)dy, l, p, 0, 0), rows[1] = out_px((float *)dy, l, p, 1, 0);
            } else {
                memset(tile, 0, 4 * (size_t)oc * sizeof(float));
                for (int r = 0; r < tr; r++) memcpy(tile + 2 * (size_t)r * oc, out_px((float *)dy, l, p, r, 0), (size_t)tc * oc * sizeof(float));
            }
            kern->wino_out_grad(dm + (size_t)i * oc, (size_t)T * oc, rows, oc);
        }
        if (dw) input_transform(v, x, l, t0, nt, T, patch);
        for (int xi = 0; xi < XI; xi++) {
            float *vx = v + (size_t)xi * T * ic, *mx = dm + (size_t)xi * T * oc;
            if (dw) kern->gemm(du + (size_t)xi * oc * ic, ic, mx, 1, oc, vx, ic, 1, oc, ic, nt, 1, ws->gemm);
            if (dx) kern->gemm(vx, ic, mx, oc, 1, u + (size_t)xi * ic * oc, 1, oc, nt, ic, oc, 0, ws->gemm);
        }
        for (int i = 0; dx && i < nt; i++) { /* dx += B dV B^T, the parts inside the image */
            tile_pos p = tile_at(l, t0 + (size_t)i);
            int h = l->ih, wd = l->iw, y0 = p.oy - l->pad, x0 = p.ox - l->pad;
            float *dxi = dx + p.img * h * wd * ic, *rows[4];
            if (y0 >= 0 && x0 >= 0 && y0 + 4 <= h && x0 + 4 <= wd) {
                for (int r = 0; r < 4; r++) rows[r] = dxi + ((size_t)(y0 + r) * wd + x0) * ic;
                kern->wino_in_grad(rows, v + (size_t)i * ic, (size_t)T * ic, ic);
                continue;
            }
            memset(patch, 0, (size_t)XI * ic * sizeof(float));
            for (int r = 0; r < 4; r++) rows[r] = patch + (size_t)r * 4 * ic;
            kern->wino_in_grad(rows, v + (size_t)i * ic, (size_t)T * ic, ic);
            for (int r = 0; r < 4; r++)
                for (int q = 0; q < 4; q++) {
                    int iy = y0 + r, ix = x0 + q;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                    float *d = dxi + ((size_t)iy * wd + ix) * ic;
                    const float *s = rows[r] + q * ic;
                    for (int c = 0; c < ic; c++) d[c] += s[c];
                }
        }
    }
    if (dw) weights_backward(dw, du, ic, oc);
}
