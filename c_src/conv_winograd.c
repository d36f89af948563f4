/* conv_winograd.c - 3x3, stride-1 convolutions by Winograd F(2x2, 3x3) or F(4x4, 3x3), forward and backward
 * (winograd.h).
 *
 * The output is cut into m x m tiles (m = 2 or 4), each computed from an a x a input patch (a = m + 2): per tile
 * and channel pair a * a multiplies instead of 9 * m * m (16 instead of 36, 36 instead of 144). Tiles are handled
 * a chunk at a time (bounded workspace): the chunk's patches are transformed into V (a * a, tiles, ic), the
 * weights into U (a * a, oc, ic), then a * a GEMMs M[xi] = V[xi] . U[xi]^T and the output transform (+ bias).
 * Backward differentiates the same computation: the output gradient transformed into dM (a * a, tiles, oc), then
 * dU[xi] += dM[xi]^T . V[xi] (weights) and dV[xi] = dM[xi] . U[xi] (input), each transformed back. The GEMMs
 * are the kernel variant's; tiles past the output's edge read zero padding and get a zero gradient. */
#include <string.h>

#include "kernels.h"
#include "layers.h"
#include "model.h"

#define MAX_A 6 /* the largest patch side */

int cnn_winograd_applies(const cnn_layer *l) {
    return l->k == 3 && l->stride == 1 && l->ic >= CNN_WINO_MIN_CHANNELS;
}

/* Tiles of an image with m x m output tiles. */
static size_t tiles_per_image(const cnn_layer *l, int m) {
    return (size_t)((l->oh + m - 1) / m) * (size_t)((l->ow + m - 1) / m);
}

/* The tile side with fewer multiplies per image (a * a per tile); F(2x2) on a tie, its transforms are cheaper. */
int cnn_winograd_tile(const cnn_layer *l) {
    return tiles_per_image(l, 4) * 36 < tiles_per_image(l, 2) * 16 ? 4 : 2;
}

/* One tile size's geometry and kernels. */
typedef struct {
    int m, a, xi; /* output tile side, input patch side (m + 2), positions a * a */
    const float (*g)[3]; /* the weight transform G, a x 3 */
    void (*in)(float *v, size_t vs, const float *const *rows, int c);
    void (*out)(float *const *rows, const float *mm, size_t ms, const float *b, int c);
    void (*out_grad)(float *dm, size_t ms, const float *const *rows, int c);
    void (*in_grad)(float *const *rows, const float *dv, size_t vs, int c);
} plan;

static const float G2[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
static const float G4[6][3] = {{1.0f / 4, 0, 0},
                               {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                               {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                               {1.0f / 24, 1.0f / 12, 1.0f / 6},
                               {1.0f / 24, -1.0f / 12, 1.0f / 6},
                               {0, 0, 1}};

static plan plan_for(int m) {
    const cnn_kernels *k = cnn_kern();
    if (m == 4) return (plan){4, 6, 36, G4, k->wino4_in, k->wino4_out, k->wino4_out_grad, k->wino4_in_grad};
    return (plan){2, 4, 16, G2, k->wino_in, k->wino_out, k->wino_out_grad, k->wino_in_grad};
}

/* Tiles of a chunk: the workspace of V and M within CNN_WINO_CHUNK_FLOATS, and no more than the batch has. */
static int chunk_tiles(const cnn_layer *l, const plan *pl, size_t tiles) {
    size_t t = CNN_WINO_CHUNK_FLOATS / ((size_t)pl->xi * (l->ic + l->oc));
    if (t < 4) t = 4;
    return (int)(t < tiles ? t : tiles);
}

/* ws->col: V, U and a patch; ws->dcol: M (dM), dU and an output tile */
size_t cnn_winograd_workspace(const cnn_layer *l, int m, int max_batch) {
    plan pl = plan_for(m);
    size_t xi = (size_t)pl.xi, t = (size_t)chunk_tiles(l, &pl, (size_t)max_batch * tiles_per_image(l, m));
    size_t wino = xi * l->ic * l->oc;
    size_t col = xi * t * l->ic + wino + xi * l->ic, dcol = xi * t * l->oc + wino + (size_t)m * m * l->oc;
    return col > dcol ? col : dcol;
}

#define CBLOCK 64 /* input channels transformed at a time (the weight transforms' stack buffer) */

/* u (a * a, oc, ic) <- G g G^T for every filter g of w (oc, 3, 3, ic): channels innermost, so the loops run over
 * contiguous floats (and vectorise) */
static void weights_forward(float *u, const float *w, int ic, int oc, const plan *pl) {
    int a = pl->a;
    float t[MAX_A][3][CBLOCK];
    for (int o = 0; o < oc; o++)
        for (int c0 = 0; c0 < ic; c0 += CBLOCK) {
            int cn = ic - c0 < CBLOCK ? ic - c0 : CBLOCK;
            const float *g = w + (size_t)o * 9 * ic + c0; /* g[(3 * ky + kx) * ic + c] */
            for (int r = 0; r < a; r++) /* G g */
                for (int kx = 0; kx < 3; kx++) {
                    float g0 = pl->g[r][0], g1 = pl->g[r][1], g2 = pl->g[r][2];
                    const float *w0 = g + (size_t)kx * ic, *w1 = w0 + 3 * (size_t)ic, *w2 = w1 + 3 * (size_t)ic;
                    for (int c = 0; c < cn; c++) t[r][kx][c] = g0 * w0[c] + g1 * w1[c] + g2 * w2[c];
                }
            for (int r = 0; r < a; r++) /* (G g) G^T */
                for (int q = 0; q < a; q++) {
                    float g0 = pl->g[q][0], g1 = pl->g[q][1], g2 = pl->g[q][2];
                    float *dst = u + ((size_t)(a * r + q) * oc + o) * ic + c0;
                    for (int c = 0; c < cn; c++) dst[c] = t[r][0][c] * g0 + t[r][1][c] * g1 + t[r][2][c] * g2;
                }
        }
}

/* dw (oc, 3, 3, ic) += G^T du G for du (a * a, oc, ic): the adjoint of weights_forward */
static void weights_backward(float *dw, const float *du, int ic, int oc, const plan *pl) {
    int a = pl->a;
    float t[3][MAX_A][CBLOCK];
    for (int o = 0; o < oc; o++)
        for (int c0 = 0; c0 < ic; c0 += CBLOCK) {
            int cn = ic - c0 < CBLOCK ? ic - c0 : CBLOCK;
            for (int ky = 0; ky < 3; ky++) /* G^T du */
                for (int q = 0; q < a; q++) {
                    float *tq = t[ky][q];
                    for (int c = 0; c < cn; c++) tq[c] = 0.0f;
                    for (int r = 0; r < a; r++) {
                        float gr = pl->g[r][ky];
                        const float *src = du + ((size_t)(a * r + q) * oc + o) * ic + c0;
                        for (int c = 0; c < cn; c++) tq[c] += gr * src[c];
                    }
                }
            for (int ky = 0; ky < 3; ky++) /* (G^T du) G */
                for (int kx = 0; kx < 3; kx++) {
                    float *dst = dw + (((size_t)o * 3 + ky) * 3 + kx) * ic + c0;
                    for (int q = 0; q < a; q++) {
                        float gq = pl->g[q][kx];
                        for (int c = 0; c < cn; c++) dst[c] += t[ky][q][c] * gq;
                    }
                }
        }
}

/* Where tile t (numbered over the batch, row-major within an image) lies. */
typedef struct {
    size_t img;
    int oy, ox; /* its top-left output pixel */
} tile_pos;

static tile_pos tile_at(const cnn_layer *l, int m, size_t t) {
    size_t per_row = (size_t)(l->ow + m - 1) / m, per_image = tiles_per_image(l, m);
    size_t r = t % per_image;
    return (tile_pos){t / per_image, (int)(r / per_row) * m, (int)(r % per_row) * m};
}

/* Whether the tile's a x a input patch lies inside the image. */
static int patch_inside(const cnn_layer *l, const plan *pl, tile_pos p) {
    int y0 = p.oy - l->pad, x0 = p.ox - l->pad;
    return y0 >= 0 && x0 >= 0 && y0 + pl->a <= l->ih && x0 + pl->a <= l->iw;
}

static float *in_px(float *x, const cnn_layer *l, tile_pos p, int r, int q) {
    return x + ((p.img * l->ih + (size_t)(p.oy - l->pad + r)) * l->iw + (size_t)(p.ox - l->pad + q)) * l->ic;
}

/* rows[a] <- the tile's input patch of x (n, h, w, c): pointers into x inside the image, else a copy in patch
 * (a * a * c floats) with zeros outside it. */
static void patch_rows(const float **rows, float *patch, const float *x, const cnn_layer *l, const plan *pl,
                       tile_pos p) {
    int a = pl->a, c = l->ic;
    if (patch_inside(l, pl, p)) {
        for (int r = 0; r < a; r++) rows[r] = in_px((float *)x, l, p, r, 0);
        return;
    }
    for (int r = 0; r < a; r++) {
        float *d = patch + (size_t)r * a * c;
        rows[r] = d;
        for (int q = 0; q < a; q++) {
            int iy = p.oy - l->pad + r, ix = p.ox - l->pad + q;
            if (iy >= 0 && iy < l->ih && ix >= 0 && ix < l->iw) memcpy(d + q * c, in_px((float *)x, l, p, r, q), c * sizeof(float));
            else memset(d + q * c, 0, c * sizeof(float));
        }
    }
}

/* Valid output rows and columns of the tile (1 to m each). */
static int tile_rows(const cnn_layer *l, int m, tile_pos p) { return l->oh - p.oy < m ? l->oh - p.oy : m; }
static int tile_cols(const cnn_layer *l, int m, tile_pos p) { return l->ow - p.ox < m ? l->ow - p.ox : m; }

static float *out_px(float *y, const cnn_layer *l, tile_pos p, int r, int q) {
    return y + ((p.img * l->oh + (size_t)(p.oy + r)) * l->ow + (size_t)(p.ox + q)) * l->oc;
}

/* V (a * a, nt, ic) <- the input transform of tiles [t0, t0 + nt) */
static void input_transform(float *v, const float *x, const cnn_layer *l, const plan *pl, size_t t0, int nt,
                            int stride, float *patch) {
    for (int i = 0; i < nt; i++) {
        const float *rows[MAX_A];
        patch_rows(rows, patch, x, l, pl, tile_at(l, pl->m, t0 + (size_t)i));
        pl->in(v + (size_t)i * l->ic, (size_t)stride * l->ic, rows, l->ic);
    }
}

void cnn_winograd_forward(float *y, const float *x, const float *w, const float *b, const cnn_layer *l, int m,
                          int n, cnn_workspace *ws) {
    const cnn_kernels *kern = cnn_kern();
    plan pl = plan_for(m);
    int ic = l->ic, oc = l->oc;
    size_t total = (size_t)n * tiles_per_image(l, m);
    int T = chunk_tiles(l, &pl, total);
    float *v = ws->col, *u = v + (size_t)pl.xi * T * ic, *patch = u + (size_t)pl.xi * ic * oc;
    float *mm = ws->dcol, *tile = mm + (size_t)pl.xi * T * oc;
    weights_forward(u, w, ic, oc, &pl);
    for (size_t t0 = 0; t0 < total; t0 += (size_t)T) {
        int nt = total - t0 < (size_t)T ? (int)(total - t0) : T;
        input_transform(v, x, l, &pl, t0, nt, T, patch);
        for (int xi = 0; xi < pl.xi; xi++)
            kern->gemm(mm + (size_t)xi * T * oc, oc, v + (size_t)xi * T * ic, ic, 1, u + (size_t)xi * oc * ic, 1, ic,
                       nt, oc, ic, 0, ws->gemm);
        for (int i = 0; i < nt; i++) {
            tile_pos p = tile_at(l, m, t0 + (size_t)i);
            int tr = tile_rows(l, m, p), tc = tile_cols(l, m, p), edge = tr < m || tc < m;
            float *rows[4];
            for (int r = 0; r < m; r++) rows[r] = edge ? tile + (size_t)r * m * oc : out_px(y, l, p, r, 0);
            pl.out(rows, mm + (size_t)i * oc, (size_t)T * oc, b, oc);
            for (int r = 0; edge && r < tr; r++) /* an edge tile: its valid part */
                memcpy(out_px(y, l, p, r, 0), rows[r], (size_t)tc * oc * sizeof(float));
        }
    }
}

/* dM (a * a, nt, oc) <- A dY A^T for tiles [t0, t0 + nt), zero past the output's edge */
static void output_grad_transform(float *dm, const float *dy, const cnn_layer *l, const plan *pl, size_t t0, int nt,
                                  int stride, float *tile) {
    int m = pl->m, oc = l->oc;
    for (int i = 0; i < nt; i++) {
        tile_pos p = tile_at(l, m, t0 + (size_t)i);
        int tr = tile_rows(l, m, p), tc = tile_cols(l, m, p), edge = tr < m || tc < m;
        const float *rows[4];
        if (edge) memset(tile, 0, (size_t)m * m * oc * sizeof(float));
        for (int r = 0; r < m; r++) {
            const float *src = out_px((float *)dy, l, p, r, 0);
            rows[r] = edge ? tile + (size_t)r * m * oc : src;
            if (edge && r < tr) memcpy(tile + (size_t)r * m * oc, src, (size_t)tc * oc * sizeof(float));
        }
        pl->out_grad(dm + (size_t)i * oc, (size_t)stride * oc, rows, oc);
    }
}

/* dx += B dV B^T for tiles [t0, t0 + nt), the parts inside the image */
static void input_grad_transform(float *dx, const float *dv, const cnn_layer *l, const plan *pl, size_t t0, int nt,
                                 int stride, float *patch) {
    int a = pl->a, ic = l->ic;
    for (int i = 0; i < nt; i++) {
        tile_pos p = tile_at(l, pl->m, t0 + (size_t)i);
        float *rows[MAX_A];
        int inside = patch_inside(l, pl, p);
        if (!inside) memset(patch, 0, (size_t)a * a * ic * sizeof(float));
        for (int r = 0; r < a; r++) rows[r] = inside ? in_px(dx, l, p, r, 0) : patch + (size_t)r * a * ic;
        pl->in_grad(rows, dv + (size_t)i * ic, (size_t)stride * ic, ic);
        for (int r = 0; !inside && r < a; r++)
            for (int q = 0; q < a; q++) {
                int iy = p.oy - l->pad + r, ix = p.ox - l->pad + q;
                if (iy < 0 || iy >= l->ih || ix < 0 || ix >= l->iw) continue;
                float *d = in_px(dx, l, p, r, q);
                const float *s = rows[r] + q * ic;
                for (int c = 0; c < ic; c++) d[c] += s[c];
            }
    }
}

void cnn_winograd_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                           const cnn_layer *l, int m, int n, cnn_workspace *ws) {
    const cnn_kernels *kern = cnn_kern();
    plan pl = plan_for(m);
    int ic = l->ic, oc = l->oc;
    if (dw) kern->bias_grad(db, dy, n * l->oh * l->ow, oc);
    if (!dx && !dw) return;
    size_t total = (size_t)n * tiles_per_image(l, m);
    int T = chunk_tiles(l, &pl, total);
    float *v = ws->col, *u = v + (size_t)pl.xi * T * ic, *patch = u + (size_t)pl.xi * ic * oc;
    float *dm = ws->dcol, *du = dm + (size_t)pl.xi * T * oc, *tile = du + (size_t)pl.xi * ic * oc;
    if (dx) weights_forward(u, w, ic, oc, &pl);
    if (dw) memset(du, 0, (size_t)pl.xi * ic * oc * sizeof(float));
    for (size_t t0 = 0; t0 < total; t0 += (size_t)T) {
        int nt = total - t0 < (size_t)T ? (int)(total - t0) : T;
        output_grad_transform(dm, dy, l, &pl, t0, nt, T, tile);
        if (dw) input_transform(v, x, l, &pl, t0, nt, T, patch);
        for (int xi = 0; xi < pl.xi; xi++) {
            float *vx = v + (size_t)xi * T * ic, *mx = dm + (size_t)xi * T * oc;
            if (dw) kern->gemm(du + (size_t)xi * oc * ic, ic, mx, 1, oc, vx, ic, 1, oc, ic, nt, 1, ws->gemm);
            if (dx) kern->gemm(vx, ic, mx, oc, 1, u + (size_t)xi * oc * ic, ic, 1, nt, ic, oc, 0, ws->gemm);
        }
        if (dx) input_grad_transform(dx, v, l, &pl, t0, nt, T, patch);
    }
    if (dw) weights_backward(dw, du, ic, oc, &pl);
}
