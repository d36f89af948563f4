/* model.c - model creation (arena layout, initialisation), the forward and backward passes over the layer
 * graph, prediction and introspection. The math of each layer lives with its descriptor (layers_*.c).
 *
 * Memory: one arena per kind (parameters, gradients, activations, activation gradients), sized at creation for
 * max_batch images; layers hold offsets into them. Each layer's output gets a block of its own, except that a
 * flatten shares its input's block, and an elementwise layer (LF_IN_PLACE) works in its input's block when
 * nothing else needs that block's values: its producer is a layer that owns its block and does not read its
 * own output in backward, and no other layer reads it (a residual block's input also feeds its skip). The
 * activation gradients use the same offsets; backward accumulates into them after zeroing them once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"

static const cnn_layer_desc *desc(const cnn_layer *l) { return cnn_layer_desc_of(l->kind); }

/* How many layer inputs read the output of layer j. */
static int consumers(const cnn_model *m, int j) {
    int n = 0;
    for (int i = j + 1; i < m->nlayers; i++) n += (m->layers[i].src == j) + (m->layers[i].src2 == j);
    return n;
}

/* Whether layer i may write its output over its input (see the top of the file). */
static int may_work_in_place(const cnn_model *m, int i) {
    const cnn_layer *l = &m->layers[i];
    if (!(desc(l)->flags & LF_IN_PLACE) || l->src < 0) return 0;
    const cnn_layer *p = &m->layers[l->src];
    return !(desc(p)->flags & (LF_NEEDS_OUTPUT | LF_ALIAS)) && !p->in_place && consumers(m, l->src) == 1;
}

/* Assigns activation offsets (in floats, each block is max_batch * size) and returns the total, or 0 on
 * overflow. */
static size_t layout_activations(cnn_model *m) {
    /* 64-bit arithmetic: on wasm32 size_t would wrap before the limit check */
    uint64_t B = (uint64_t)m->max_batch, off = 0;
    off = B * (uint64_t)m->in_h * m->in_w * m->in_c; /* the input block */
    for (int i = 0; i < m->nlayers && off <= CNN_MAX_ACT_FLOATS; i++) {
        cnn_layer *l = &m->layers[i];
        const cnn_layer_desc *d = desc(l);
        l->in_off = l->src < 0 ? 0 : m->layers[l->src].out_off;
        l->in2_off = l->src2 == CNN_NO_LAYER ? 0 : l->src2 < 0 ? 0 : m->layers[l->src2].out_off;
        l->in_size = (size_t)l->ih * l->iw * l->ic;
        l->out_size = (size_t)l->oh * l->ow * l->oc;
        if (d->scratch) {
            off = (off + 3) & ~(uint64_t)3; /* 16-byte aligned: batch norm keeps doubles there */
            l->scratch_off = (size_t)off;
            off += d->scratch(l, m->max_batch);
        }
        l->in_place = !(d->flags & LF_ALIAS) && may_work_in_place(m, i);
        if ((d->flags & LF_ALIAS) || l->in_place) {
            l->out_off = l->in_off;
        } else {
            l->out_off = (size_t)off;
            off += B * l->out_size;
        }
    }
    if (off > CNN_MAX_ACT_FLOATS) return 0;
    m->act_per_image = (size_t)(off / B);
    return (size_t)off;
}

/* Backward fusion, after the layout: a maxpool whose input block feeds nothing else writes its input gradient
 * (the block is not zeroed first), and when that input is an in-place ReLU's output, the pool also applies the
 * ReLU's mask (the gradient passes where the window's max is > 0) and the ReLU's own backward pass is skipped. */
static void plan_backward(cnn_model *m) {
    for (int i = 0; i < m->nlayers; i++) {
        cnn_layer *l = &m->layers[i];
        if (l->kind != L_MAXPOOL || l->src < 0 || consumers(m, l->src) != 1) continue;
        cnn_layer *below = &m->layers[l->src];
        if (desc(below)->flags & LF_ALIAS) continue;
        l->bwd_write = 1;
        if (below->kind == L_RELU && below->in_place) l->bwd_relu = 1, below->bwd_skip = 1;
    }
}

void cnn_model_free(cnn_model *m) {
    if (!m) return;
    free(m->spec);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->acts);
    free(m->dacts);
    free(m->ws.col);
    free(m->ws.dcol);
    free(m->ws.gemm);
    free(m);
}

/* Parses the spec into a model without memory: layers, shapes, parameter counts, cost. */
static int model_plan(cnn_model **out, const char *text, size_t len) {
    cnn_model *m = calloc(1, sizeof *m);
    if (!m) return cnn_fail(CNN_E_NOMEM, "model_create: out of memory");
    int st = cnn_spec_build(m, text, len);
    if (st) {
        cnn_model_free(m);
        return st;
    }
    size_t np = 0, nb = 0;
    for (int i = 0; i < m->nlayers; i++) {
        cnn_layer *l = &m->layers[i];
        l->p_off = np, np += l->p_count;
        l->b_off = nb, nb += l->b_count;
    }
    m->nparams = np;
    m->nbuffers = nb;
    *out = m;
    return CNN_OK;
}

int cnn_spec_check(cnn_model **out, const char *text, size_t len) {
    if (!out) return cnn_fail(CNN_E_INVALID, "spec_check: out is NULL");
    *out = NULL;
    if (!text && len) return cnn_fail(CNN_E_INVALID, "spec_check: text is NULL");
    return model_plan(out, text ? text : "", len);
}

int cnn_model_require_memory(const cnn_model *m, const char *fn) {
    if (!m) return cnn_fail(CNN_E_INVALID, "%s: the model is NULL", fn);
    if (!m->params)
        return cnn_fail(CNN_E_INVALID, "%s: this model was only checked (cnn_spec_check), it has no weights or "
                        "buffers; create it with cnn_model_create", fn);
    return CNN_OK;
}

int cnn_model_create_n(cnn_model **out, const char *spec, size_t len, uint32_t seed, int max_batch) {
    if (!out) return cnn_fail(CNN_E_INVALID, "model_create: out is NULL");
    *out = NULL;
    if (!spec) return cnn_fail(CNN_E_INVALID, "spec: no spec given");
    if (max_batch < 1 || max_batch > CNN_MAX_BATCH)
        return cnn_fail(CNN_E_INVALID, "model_create: max_batch %d (expected 1..%d)", max_batch, CNN_MAX_BATCH);
    cnn_model *m = NULL;
    int st = model_plan(&m, spec, len);
    if (st) return st;
    m->max_batch = max_batch;
    cnn_rng_seed(&m->rng, seed);
    size_t col = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        size_t need = desc(l)->workspace ? desc(l)->workspace(l, max_batch) : 0;
        if (need > col) col = need;
    }
    m->act_floats = layout_activations(m);
    if (!m->act_floats) {
        st = cnn_fail(CNN_E_INVALID, "model_create: activations for max_batch %d need more than %zu floats "
                      "(lower max_batch or use a smaller network)", max_batch, (size_t)CNN_MAX_ACT_FLOATS);
        goto fail;
    }
    plan_backward(m);
    size_t np = m->nparams, nb = m->nbuffers;
    m->params = malloc((np ? np : 1) * sizeof(float));
    m->grads = calloc(np ? np : 1, sizeof(float));
    m->buffers = calloc(nb ? nb : 1, sizeof(float));
    m->acts = calloc(m->act_floats, sizeof(float));
    m->dacts = calloc(m->act_floats, sizeof(float));
    m->ws.col_floats = col;
    m->ws.col = malloc((col ? col : 1) * sizeof(float));
    m->ws.dcol = malloc((col ? col : 1) * sizeof(float));
    m->ws.gemm = malloc(CNN_GEMM_WORK_FLOATS * sizeof(float));
    if (!m->params || !m->grads || !m->buffers || !m->acts || !m->dacts || !m->ws.col || !m->ws.dcol || !m->ws.gemm) {
        st = cnn_fail(CNN_E_NOMEM, "model_create: out of memory for %zu parameters and %zu activation floats "
                      "(max_batch %d)", np, m->act_floats, max_batch);
        goto fail;
    }
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        if (desc(l)->init) desc(l)->init(l, m->params + l->p_off, m->buffers + l->b_off, &m->rng);
    }
    *out = m;
    return CNN_OK;
fail:
    cnn_model_free(m);
    return st;
}

int cnn_model_create(cnn_model **out, const char *spec_or_preset, uint32_t seed, int max_batch) {
    if (out) *out = NULL;
    if (!spec_or_preset) return cnn_fail(CNN_E_INVALID, "spec: no spec given");
    return cnn_model_create_n(out, spec_or_preset, strlen(spec_or_preset), seed, max_batch);
}

float *cnn_model_input(cnn_model *m) { return m->acts; }

const float *cnn_model_probs(const cnn_model *m) { return m->acts + m->layers[m->nlayers - 1].out_off; }

float cnn_xent(const float *p, int y) {
    float py = p[y];
    return -logf(py > 1e-30f ? py : 1e-30f);
}

void cnn_model_forward(cnn_model *m, int n, int training) {
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        cnn_pass p = {.n = n, .training = training, .x = m->acts + l->in_off, .x2 = m->acts + l->in2_off,
                      .y = m->acts + l->out_off, .w = m->params + l->p_off, .buf = m->buffers + l->b_off,
                      .scratch = m->acts + l->scratch_off, .ws = &m->ws, .rng = &m->rng};
        double t0 = m->profiling ? cnn_now_ms() : 0.0;
        desc(l)->forward(l, &p);
        if (m->profiling) m->profile_ms[i][0] += cnn_now_ms() - t0;
    }
    m->last_batch = n;
}

/* The lowest layer whose parameters train; backward stops there. -1 when everything is frozen. */
static int lowest_trainable(const cnn_model *m) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].p_count && !m->layers[i].frozen) return i;
    return -1;
}

/* Whether a layer of top .. stop writes the gradient block at offset off (bwd_write: it is its input's only
 * contributor). */
static int written_block(const cnn_model *m, size_t off, int top, int stop) {
    for (int j = stop < 0 ? 0 : stop; j <= top; j++) {
        const cnn_layer *l = &m->layers[j];
        if (l->bwd_write && l->src >= stop && l->in_off == off) return 1;
    }
    return 0;
}

/* Zeroes the activation gradients of the first n images of every block that layers top .. stop add to (their
 * outputs, and the inputs they pass a gradient to), except the blocks a layer writes whole (bwd_write). A block
 * shared by in-place layers is zeroed once per layer, which is harmless. */
static void zero_gradients(cnn_model *m, int n, int top, int stop) {
    for (int i = stop < 0 ? 0 : stop; i <= top; i++) {
        const cnn_layer *l = &m->layers[i];
        size_t offs[3] = {l->out_off, l->in_off, l->in2_off}, sizes[3] = {l->out_size, l->in_size, l->in_size};
        int used[3] = {1, l->src >= stop, l->src2 != CNN_NO_LAYER && l->src2 >= stop};
        for (int k = 0; k < 3; k++)
            if (used[k] && !written_block(m, offs[k], top, stop))
                memset(m->dacts + offs[k], 0, (size_t)n * sizes[k] * sizeof(float));
    }
}

/* Backward through layers top .. stop (top first) for n images of the last forward pass. The gradient of the
 * input of layer i is computed when some layer at or above stop produced that input (src >= stop), so
 * stop = -1 reaches the model's input. param_grads: accumulate the gradients of unfrozen parameters.
 * seed_class >= 0 (one image): the gradient of layer top's output starts as the one-hot of that class. */
static void backward_layers(cnn_model *m, int n, int training, const uint8_t *labels, int top, int stop,
                            int param_grads, int seed_class) {
    zero_gradients(m, n, top, stop);
    if (seed_class >= 0) m->dacts[m->layers[top].out_off + (size_t)seed_class] = 1.0f;
    for (int i = top; i >= 0 && i >= stop; i--) {
        const cnn_layer *l = &m->layers[i];
        cnn_pass p = {.n = n, .training = training, .x = m->acts + l->in_off, .x2 = m->acts + l->in2_off,
                      .y = m->acts + l->out_off, .dy = m->dacts + l->out_off,
                      .dx = l->src >= stop ? m->dacts + l->in_off : NULL, .w = m->params + l->p_off,
                      .buf = m->buffers + l->b_off, .scratch = m->acts + l->scratch_off, .ws = &m->ws,
                      .rng = &m->rng, .labels = labels};
        if (l->src2 != CNN_NO_LAYER && l->src2 >= stop) p.dx2 = m->dacts + l->in2_off;
        if (param_grads && l->p_count && !l->frozen) p.dw = m->grads + l->p_off;
        if (!(p.dx || p.dx2 || p.dw) || l->bwd_skip) continue;
        double t0 = m->profiling ? cnn_now_ms() : 0.0;
        desc(l)->backward(l, &p);
        if (m->profiling) m->profile_ms[i][1] += cnn_now_ms() - t0;
    }
}

void cnn_model_backward(cnn_model *m, int n, const uint8_t *labels) {
    int stop = lowest_trainable(m);
    if (stop < 0) return;
    backward_layers(m, n, 1, labels, m->nlayers - 1, stop, 1, -1);
}

int cnn_model_update_running_stats(cnn_model *m, int apply) {
    for (int pass = 0; pass <= apply; pass++) /* check every layer before changing any */
        for (int i = 0; i < m->nlayers; i++) {
            cnn_layer *l = &m->layers[i];
            if (!desc(l)->update_stats || l->frozen) continue;
            if (desc(l)->update_stats(l, m->buffers + l->b_off, m->acts + l->scratch_off, pass)) return -1;
        }
    return 0;
}

int cnn_model_input_gradient(cnn_model *m, float *grad, const float *x, int class_index) {
    if (!m || !grad || !x) return cnn_fail(CNN_E_INVALID, "input_gradient: NULL argument");
    int st = cnn_model_require_memory(m, "input_gradient");
    if (st) return st;
    if (class_index < 0 || class_index >= m->classes)
        return cnn_fail(CNN_E_INVALID, "input_gradient: class %d (expected 0..%d)", class_index, m->classes - 1);
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    for (size_t j = 0; j < in_size; j++)
        if (!isfinite(x[j])) return cnn_fail(CNN_E_INVALID, "input_gradient: pixel %zu is not a finite number", j);
    memcpy(m->acts, x, in_size * sizeof(float));
    cnn_model_forward(m, 1, 0);
    /* From d(logit of the class) = 1, back to the input, in inference mode and without touching the parameter
     * gradients (those of the last training step stay readable). */
    backward_layers(m, 1, 0, NULL, m->nlayers - 2, -1, 0, class_index);
    memcpy(grad, m->dacts, in_size * sizeof(float));
    return CNN_OK;
}

int cnn_model_predict(cnn_model *m, float *probs, const float *x, int n) {
    if (!m || !probs || !x) return cnn_fail(CNN_E_INVALID, "predict: NULL argument");
    int st = cnn_model_require_memory(m, "predict");
    if (st) return st;
    if (n < 1) return cnn_fail(CNN_E_INVALID, "predict: %d images (expected >= 1)", n);
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    for (int i0 = 0; i0 < n; i0 += m->max_batch) {
        int ni = n - i0 < m->max_batch ? n - i0 : m->max_batch;
        const float *src = x + (size_t)i0 * in_size;
        for (size_t j = 0; j < (size_t)ni * in_size; j++)
            if (!isfinite(src[j]))
                return cnn_fail(CNN_E_INVALID, "predict: pixel %zu of image %d is not a finite number",
                                j % in_size, i0 + (int)(j / in_size));
        memcpy(m->acts, src, (size_t)ni * in_size * sizeof(float));
        cnn_model_forward(m, ni, 0);
        const float *p = cnn_model_probs(m);
        for (size_t j = 0; j < (size_t)ni * m->classes; j++)
            if (!isfinite(p[j]))
                return cnn_fail(CNN_E_INVALID, "predict: the network's outputs for image %d are not finite numbers "
                                "(are its inputs or weights extremely large?)", i0 + (int)(j / m->classes));
        memcpy(probs + (size_t)i0 * m->classes, p, (size_t)ni * m->classes * sizeof(float));
    }
    return CNN_OK;
}

static const cnn_layer *layer_at(const cnn_model *m, int i) {
    return (m && i >= 0 && i < m->nlayers) ? &m->layers[i] : NULL;
}

int cnn_model_layer_output(const cnn_model *m, float *out, int layer) {
    const cnn_layer *l = layer_at(m, layer);
    if (!l || !out) return cnn_fail(CNN_E_INVALID, "layer_output: layer %d does not exist", layer);
    if (!m->params || m->last_batch < 1) return cnn_fail(CNN_E_EMPTY, "layer_output: nothing has been predicted yet");
    memcpy(out, m->acts + l->out_off + (size_t)(m->last_batch - 1) * l->out_size, l->out_size * sizeof(float));
    return CNN_OK;
}

int cnn_model_set_profiling(cnn_model *m, int on) {
    if (!m) return cnn_fail(CNN_E_INVALID, "set_profiling: NULL model");
    if (on != 0 && on != 1) return cnn_fail(CNN_E_INVALID, "set_profiling: %d (expected 0 or 1)", on);
    if (on) memset(m->profile_ms, 0, sizeof m->profile_ms);
    m->profiling = on;
    return CNN_OK;
}

double cnn_model_profile_ms(const cnn_model *m, int layer, int phase) {
    if (!layer_at(m, layer) || phase < 0 || phase > 2) return -1.0;
    return m->profile_ms[layer][phase];
}

const char *cnn_model_spec(const cnn_model *m) { return m ? m->spec : ""; }
int cnn_model_input_height(const cnn_model *m) { return m ? m->in_h : 0; }
int cnn_model_input_width(const cnn_model *m) { return m ? m->in_w : 0; }
int cnn_model_input_channels(const cnn_model *m) { return m ? m->in_c : 0; }
int cnn_model_classes(const cnn_model *m) { return m ? m->classes : 0; }
int cnn_model_max_batch(const cnn_model *m) { return m ? m->max_batch : 0; }
int cnn_model_param_count(const cnn_model *m) { return m ? (int)m->nparams : 0; }
float *cnn_model_params(cnn_model *m) { return m ? m->params : NULL; }
int cnn_model_layer_count(const cnn_model *m) { return m ? m->nlayers : 0; }
const char *cnn_model_layer_kind(const cnn_model *m, int i) { return layer_at(m, i) ? desc(&m->layers[i])->name : ""; }
const char *cnn_model_layer_name(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].name : ""; }
int cnn_model_layer_out_height(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].oh : -1; }
int cnn_model_layer_out_width(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].ow : -1; }
int cnn_model_layer_out_channels(const cnn_model *m, int i) { return layer_at(m, i) ? m->layers[i].oc : -1; }
int cnn_model_layer_param_count(const cnn_model *m, int i) { return layer_at(m, i) ? (int)m->layers[i].p_count : -1; }
double cnn_model_flops_per_image(const cnn_model *m) { return m ? m->flops : 0.0; }
double cnn_model_layer_flops(const cnn_model *m, int i) {
    return layer_at(m, i) ? desc(&m->layers[i])->flops(&m->layers[i]) : -1.0;
}
int cnn_model_layer_input(const cnn_model *m, int i, int k) {
    const cnn_layer *l = layer_at(m, i);
    if (!l || (k != 0 && k != 1)) return CNN_NO_LAYER;
    return k == 0 ? l->src : l->src2;
}

static cnn_layer *find_param_layer(cnn_model *m, const char *name) {
    for (int i = 0; m && name && i < m->nlayers; i++)
        if (m->layers[i].p_count && strcmp(m->layers[i].name, name) == 0) return &m->layers[i];
    return NULL;
}

int cnn_model_set_frozen(cnn_model *m, const char *name, int frozen) {
    cnn_layer *l = find_param_layer(m, name);
    if (!l) return cnn_fail(CNN_E_INVALID, "freeze: no layer with parameters named '%s'", name ? name : "(null)");
    l->frozen = frozen ? 1 : 0;
    return CNN_OK;
}

int cnn_model_is_frozen(const cnn_model *m, const char *name) {
    cnn_layer *l = find_param_layer((cnn_model *)m, name);
    return l ? l->frozen : 0;
}
