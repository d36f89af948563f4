/* weights.c - the model <-> safetensors mapping: PyTorch names and layouts, the spec in __metadata__.
 *
 * Inside the model, conv weights are (OC, KH, KW, IC) and dense weights (out, in) with inputs in (H, W, C)
 * order (NHWC). The file holds PyTorch layouts: conv (OC, IC, KH, KW), dense (out, in) with inputs in (C, H, W)
 * order. This file is the only place that converts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define FORMAT_NAME "cnn-wasm"
#define FORMAT_VERSION "1"

/* PyTorch-layout shape of layer l's weight; returns ndim. */
static int weight_shape(const cnn_layer *l, int64_t shape[4]) {
    if (l->kind == L_CONV) {
        shape[0] = l->oc, shape[1] = l->ic, shape[2] = l->k, shape[3] = l->k;
        return 4;
    }
    shape[0] = l->oc, shape[1] = l->ic;
    return 2;
}

/* Index in our layout of element i of the PyTorch-layout weight. */
static size_t ours_from_torch(const cnn_layer *l, size_t i) {
    if (l->kind == L_CONV) {
        size_t k = (size_t)l->k, ic = (size_t)l->ic;
        size_t kx = i % k, ky = (i / k) % k, c = (i / (k * k)) % ic, o = i / (k * k * ic);
        return ((o * k + ky) * k + kx) * ic + c;
    }
    size_t in = (size_t)l->ic, fh = (size_t)l->fh, fw = (size_t)l->fw, fc = (size_t)l->fc;
    size_t o = i / in, j = i % in; /* j = (c * fh + h) * fw + w in the file */
    size_t x = j % fw, y = (j / fw) % fh, c = j / (fw * fh);
    return o * in + (y * fw + x) * fc + c;
}

int cnn_model_save(const cnn_model *m, uint8_t **out, size_t *len) {
    if (!m || !out || !len) return cnn_fail(CNN_E_INVALID, "save: NULL argument");
    *out = NULL, *len = 0;
    cnn_st_tensor tensors[2 * CNN_MAX_LAYERS];
    int nt = 0;
    float *buf = malloc((m->nparams ? m->nparams : 1) * sizeof(float));
    if (!buf) return cnn_fail(CNN_E_NOMEM, "save: out of memory");
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        if (!l->w_count) continue;
        cnn_st_tensor *w = &tensors[nt++], *b = &tensors[nt++];
        memset(w, 0, sizeof *w);
        memset(b, 0, sizeof *b);
        snprintf(w->name, sizeof w->name, "%s.weight", l->name);
        snprintf(b->name, sizeof b->name, "%s.bias", l->name);
        w->ndim = weight_shape(l, w->shape);
        w->count = l->w_count;
        b->ndim = 1, b->shape[0] = (int64_t)l->b_count, b->count = l->b_count;
        float *wd = buf + l->w_off;
        for (size_t j = 0; j < l->w_count; j++) wd[j] = m->params[l->w_off + ours_from_torch(l, j)];
        memcpy(buf + l->b_off, m->params + l->b_off, l->b_count * sizeof(float));
        w->data = wd;
        b->data = buf + l->b_off;
    }
    const char *keys[] = {"format", "format_version", "spec"};
    const char *values[] = {FORMAT_NAME, FORMAT_VERSION, m->spec};
    int st = cnn_st_write(out, len, tensors, nt, keys, values, 3);
    free(buf);
    return st;
}

static const cnn_st_tensor *find_checked(const cnn_st_file *f, const cnn_layer *l, const char *suffix, int ndim,
                                         const int64_t *shape, int strict, int *st) {
    char name[CNN_ST_MAX_NAME];
    snprintf(name, sizeof name, "%s.%s", l->name, suffix);
    const cnn_st_tensor *t = cnn_st_find(f, name);
    *st = CNN_OK;
    if (!t) {
        if (strict) *st = cnn_fail(CNN_E_FORMAT, "load_weights: the file has no tensor '%s' (the model needs it)", name);
        return NULL;
    }
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        if (strict) {
            char want[96] = "", got[96] = "";
            for (int d = 0; d < ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), d ? ", %lld" : "%lld", (long long)shape[d]);
            for (int d = 0; d < t->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), d ? ", %lld" : "%lld", (long long)t->shape[d]);
            *st = cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' has shape (%s), the model expects (%s)", name, got, want);
        }
        return NULL;
    }
    return t;
}

int cnn_model_load_weights(cnn_model *m, const uint8_t *bytes, size_t len, int strict, int *loaded) {
    if (loaded) *loaded = 0;
    if (!m || !bytes) return cnn_fail(CNN_E_INVALID, "load_weights: NULL argument");
    cnn_st_file f;
    int st = cnn_st_parse(&f, bytes, len);
    if (st) return st;
    float *next = malloc((m->nparams ? m->nparams : 1) * sizeof(float));
    if (!next) {
        cnn_st_file_free(&f);
        return cnn_fail(CNN_E_NOMEM, "load_weights: out of memory");
    }
    memcpy(next, m->params, m->nparams * sizeof(float)); /* on failure the model keeps its weights */
    int used = 0;
    for (int i = 0; i < m->nlayers && st == CNN_OK; i++) {
        const cnn_layer *l = &m->layers[i];
        if (!l->w_count) continue;
        int64_t wshape[4], bshape[1] = {(int64_t)l->b_count};
        int wnd = weight_shape(l, wshape);
        const cnn_st_tensor *w = find_checked(&f, l, "weight", wnd, wshape, strict, &st);
        if (st) break;
        const cnn_st_tensor *b = find_checked(&f, l, "bias", 1, bshape, strict, &st);
        if (st) break;
        float v;
        for (size_t j = 0; w && j < l->w_count; j++) {
            memcpy(&v, w->data + j, sizeof v); /* file data may be unaligned */
            if (!isfinite(v)) {
                st = cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' element %zu is %s (expected a finite number)",
                              w->name, j, isnan(v) ? "NaN" : "infinite");
                break;
            }
            next[l->w_off + ours_from_torch(l, j)] = v;
        }
        for (size_t j = 0; st == CNN_OK && b && j < l->b_count; j++) {
            memcpy(&v, b->data + j, sizeof v);
            if (!isfinite(v)) {
                st = cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' element %zu is %s (expected a finite number)",
                              b->name, j, isnan(v) ? "NaN" : "infinite");
                break;
            }
            next[l->b_off + j] = v;
        }
        used += (w != NULL) + (b != NULL);
    }
    if (st == CNN_OK && strict && used != f.count) {
        for (int i = 0; i < f.count; i++) {
            const char *name = f.tensors[i].name;
            int known = 0;
            for (int j = 0; j < m->nlayers && !known; j++) {
                size_t n = strlen(m->layers[j].name);
                known = m->layers[j].w_count && strncmp(name, m->layers[j].name, n) == 0 &&
                        (strcmp(name + n, ".weight") == 0 || strcmp(name + n, ".bias") == 0);
            }
            if (!known) {
                st = cnn_fail(CNN_E_FORMAT, "load_weights: the file has a tensor '%s' that the model does not have", name);
                break;
            }
        }
    }
    if (st == CNN_OK && !strict && used == 0)
        st = cnn_fail(CNN_E_FORMAT, "load_weights: no tensor in the file matches a layer of the model by name and shape");
    if (st == CNN_OK) {
        memcpy(m->params, next, m->nparams * sizeof(float));
        if (loaded) *loaded = used;
    }
    free(next);
    cnn_st_file_free(&f);
    return st;
}

int cnn_model_load(cnn_model **out, const uint8_t *bytes, size_t len, int max_batch) {
    if (!out) return cnn_fail(CNN_E_INVALID, "load: out is NULL");
    *out = NULL;
    cnn_st_file f;
    int st = cnn_st_parse(&f, bytes, len);
    if (st) return st;
    const char *format = cnn_st_meta(&f, "format"), *version = cnn_st_meta(&f, "format_version");
    const char *spec = cnn_st_meta(&f, "spec");
    if (format && strcmp(format, FORMAT_NAME) != 0)
        st = cnn_fail(CNN_E_FORMAT, "load: the file's format is '%.40s' (expected '%s')", format, FORMAT_NAME);
    else if (version && strcmp(version, FORMAT_VERSION) != 0)
        st = cnn_fail(CNN_E_FORMAT, "load: format version '%.20s' is not supported (expected %s)", version, FORMAT_VERSION);
    else if (!spec)
        st = cnn_fail(CNN_E_FORMAT, "load: the file has no 'spec' in __metadata__, so it does not say its architecture; "
                      "create the model from its spec and load the weights into it");
    cnn_model *m = NULL;
    if (st == CNN_OK) {
        st = cnn_model_create(&m, spec, 0, max_batch);
        if (st) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", cnn_last_error());
            st = cnn_fail(st, "load: the architecture in the file is invalid: %s", msg);
        }
    }
    cnn_st_file_free(&f);
    if (st == CNN_OK) st = cnn_model_load_weights(m, bytes, len, 1, NULL);
    if (st) {
        cnn_model_free(m);
        return st;
    }
    *out = m;
    return CNN_OK;
}
