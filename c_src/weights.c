/* weights.c - the model's named tensors: PyTorch names and layouts, weight files (safetensors, the spec in
 * __metadata__) and reading one tensor by name.
 *
 * Each layer kind's descriptor lists its tensors (names, PyTorch shapes, what they hold) and maps their
 * elements to our layout (layers.h); this file writes and reads them, in layer order and each layer's tensors
 * in descriptor order: parameters (F32) from the parameter arena, buffers (F32, batch norm's running
 * statistics) from the buffer arena, and batch counters (I64 scalars) from the layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define FORMAT_NAME "cnn-wasm"
#define FORMAT_VERSION "1"

#define MAX_TENSORS (CNN_MAX_LAYERS * CNN_MAX_LAYER_TENSORS)

static const cnn_layer_desc *desc(const cnn_layer *l) { return cnn_layer_desc_of(l->kind); }

/* The index in our layout, within tensor t of l, of element i of the PyTorch-layout tensor. */
static size_t ours(const cnn_layer *l, int t, size_t i) {
    return desc(l)->ours_from_torch ? desc(l)->ours_from_torch(l, t, i) : i;
}

/* The F32 values of tensor info of l within arenas params and buffers (our layout). */
static float *f32_of(const cnn_layer *l, const cnn_tensor_info *info, float *params, float *buffers) {
    return info->role == T_BUFFER ? buffers + l->b_off + info->offset : params + l->p_off + info->offset;
}

int cnn_model_save(const cnn_model *m, uint8_t **out, size_t *len) {
    if (!m || !out || !len) return cnn_fail(CNN_E_INVALID, "save: NULL argument");
    *out = NULL, *len = 0;
    int st = cnn_model_require_memory(m, "save");
    if (st) return st;
    cnn_st_tensor *tensors = calloc(MAX_TENSORS, sizeof *tensors);
    int64_t *counts = calloc(MAX_TENSORS, sizeof *counts);
    /* the parameters and buffers in PyTorch layouts */
    float *tp = malloc((m->nparams ? m->nparams : 1) * sizeof(float)), *tb = malloc((m->nbuffers ? m->nbuffers : 1) * sizeof(float));
    if (!tensors || !counts || !tp || !tb) {
        free(tensors), free(counts), free(tp), free(tb);
        return cnn_fail(CNN_E_NOMEM, "save: out of memory");
    }
    int nt = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        for (int t = 0; t < desc(l)->ntensors; t++) {
            cnn_tensor_info info;
            desc(l)->tensor(l, t, &info);
            cnn_st_tensor *o = &tensors[nt];
            snprintf(o->name, sizeof o->name, "%s.%s", l->name, info.suffix);
            o->ndim = info.ndim;
            memcpy(o->shape, info.shape, sizeof info.shape);
            o->count = info.count;
            if (info.role == T_COUNT) {
                o->dtype = CNN_ST_I64;
                counts[nt] = l->batches;
                o->data = &counts[nt];
            } else {
                const float *src = f32_of(l, &info, m->params, m->buffers);
                float *torch = f32_of(l, &info, tp, tb);
                for (size_t j = 0; j < info.count; j++) torch[j] = src[ours(l, t, j)];
                o->data = torch;
            }
            nt++;
        }
    }
    const char *keys[] = {"format", "format_version", "spec"};
    const char *values[] = {FORMAT_NAME, FORMAT_VERSION, m->spec};
    st = cnn_st_write(out, len, tensors, nt, keys, values, 3);
    free(tp), free(tb), free(counts), free(tensors);
    return st;
}

static void shape_list(char *buf, size_t cap, const int64_t *shape, int ndim) {
    buf[0] = 0;
    for (int d = 0; d < ndim; d++) snprintf(buf + strlen(buf), cap - strlen(buf), d ? ", %lld" : "%lld", (long long)shape[d]);
}

/* The file's tensor of this name if its dtype and shape are the model's; NULL otherwise (an error when strict). */
static const cnn_st_tensor *find_checked(const cnn_st_file *f, const char *name, const cnn_tensor_info *want,
                                         int strict, int *st) {
    const cnn_st_tensor *t = cnn_st_find(f, name);
    *st = CNN_OK;
    if (!t) {
        if (strict) *st = cnn_fail(CNN_E_FORMAT, "load_weights: the file has no tensor '%s' (the model needs it)", name);
        return NULL;
    }
    int dtype = want->role == T_COUNT ? CNN_ST_I64 : CNN_ST_F32;
    if (t->dtype != dtype) {
        if (strict)
            *st = cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' is %s, the model expects %s", name,
                           t->dtype == CNN_ST_I64 ? "I64" : "F32", dtype == CNN_ST_I64 ? "I64 (a count)" : "F32");
        return NULL;
    }
    int same = t->ndim == want->ndim;
    for (int d = 0; same && d < want->ndim; d++) same = t->shape[d] == want->shape[d];
    if (!same) {
        if (strict) {
            char w[96], got[96];
            shape_list(w, sizeof w, want->shape, want->ndim);
            shape_list(got, sizeof got, t->shape, t->ndim);
            *st = cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' has shape (%s), the model expects (%s)", name, got, w);
        }
        return NULL;
    }
    return t;
}

/* The layer and tensor index of the model's tensor of this name, or NULL. */
static const cnn_layer *find_tensor(const cnn_model *m, const char *name, int *t_out, cnn_tensor_info *info) {
    for (int i = 0; m && name && i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        size_t n = strlen(l->name);
        if (strncmp(name, l->name, n) != 0 || name[n] != '.') continue;
        for (int t = 0; t < desc(l)->ntensors; t++) {
            desc(l)->tensor(l, t, info);
            if (strcmp(name + n + 1, info->suffix) == 0) {
                *t_out = t;
                return l;
            }
        }
    }
    return NULL;
}

/* Copies one file tensor into next (params), nextb (buffers) or *count, checking every value. */
static int load_tensor(const cnn_layer *l, int t, const cnn_tensor_info *info, const cnn_st_tensor *ft,
                       float *next, float *nextb, int64_t *count) {
    if (info->role == T_COUNT) {
        int64_t v;
        memcpy(&v, ft->data, sizeof v);
        if (v < 0)
            return cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' is %lld (expected a count >= 0)", ft->name,
                            (long long)v);
        *count = v;
        return CNN_OK;
    }
    float *dst = f32_of(l, info, next, nextb), v;
    for (size_t j = 0; j < info->count; j++) {
        memcpy(&v, (const uint8_t *)ft->data + 4 * j, sizeof v); /* file data may be unaligned */
        if (!isfinite(v))
            return cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' element %zu is %s (expected a finite number)",
                            ft->name, j, isnan(v) ? "NaN" : "infinite");
        if (info->nonneg && v < 0)
            return cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' element %zu is %g (expected a variance >= 0)",
                            ft->name, j, (double)v);
        dst[ours(l, t, j)] = v;
    }
    return CNN_OK;
}

/* Whether layer name is one of the comma-separated names in list (NULL: none). */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* Loads the tensors of a weight file; the layers in `except` are skipped: not required, not loaded, and their
 * tensors in the file are not "unknown". */
static int load_tensors(cnn_model *m, const uint8_t *bytes, size_t len, int strict, const char *except, int *loaded) {
    if (loaded) *loaded = 0;
    if (!m || !bytes) return cnn_fail(CNN_E_INVALID, "load_weights: NULL argument");
    int st = cnn_model_require_memory(m, "load_weights");
    if (st) return st;
    cnn_st_file f;
    if ((st = cnn_st_parse(&f, bytes, len))) return st;
    /* on failure the model keeps everything: load into copies */
    float *next = malloc((m->nparams ? m->nparams : 1) * sizeof(float));
    float *nextb = malloc((m->nbuffers ? m->nbuffers : 1) * sizeof(float));
    int64_t counts[CNN_MAX_LAYERS];
    if (!next || !nextb) {
        free(next), free(nextb);
        cnn_st_file_free(&f);
        return cnn_fail(CNN_E_NOMEM, "load_weights: out of memory");
    }
    memcpy(next, m->params, m->nparams * sizeof(float));
    memcpy(nextb, m->buffers, m->nbuffers * sizeof(float));
    for (int i = 0; i < m->nlayers; i++) counts[i] = m->layers[i].batches;
    int used = 0;
    for (int i = 0; i < m->nlayers && st == CNN_OK; i++) {
        const cnn_layer *l = &m->layers[i];
        if (listed(except, l->name)) continue;
        for (int t = 0; t < desc(l)->ntensors && st == CNN_OK; t++) {
            cnn_tensor_info info;
            char name[CNN_ST_MAX_NAME];
            desc(l)->tensor(l, t, &info);
            snprintf(name, sizeof name, "%s.%s", l->name, info.suffix);
            const cnn_st_tensor *ft = find_checked(&f, name, &info, strict, &st);
            if (!ft) continue;
            st = load_tensor(l, t, &info, ft, next, nextb, &counts[i]);
            used++;
        }
    }
    if (st == CNN_OK && strict && used != f.count) {
        for (int i = 0; i < f.count; i++) {
            int t;
            cnn_tensor_info info;
            const char *dot = strrchr(f.tensors[i].name, '.');
            char layer[CNN_ST_MAX_NAME];
            snprintf(layer, sizeof layer, "%.*s", dot ? (int)(dot - f.tensors[i].name) : 0, f.tensors[i].name);
            if (!find_tensor(m, f.tensors[i].name, &t, &info) && !listed(except, layer)) {
                st = cnn_fail(CNN_E_FORMAT, "load_weights: the file has a tensor '%s' that the model does not have",
                              f.tensors[i].name);
                break;
            }
        }
    }
    if (st == CNN_OK && !strict && used == 0)
        st = cnn_fail(CNN_E_FORMAT, "load_weights: no tensor in the file matches a layer of the model by name and shape");
    if (st == CNN_OK) {
        memcpy(m->params, next, m->nparams * sizeof(float));
        memcpy(m->buffers, nextb, m->nbuffers * sizeof(float));
        for (int i = 0; i < m->nlayers; i++) m->layers[i].batches = counts[i];
        if (loaded) *loaded = used;
    }
    free(next);
    free(nextb);
    cnn_st_file_free(&f);
    return st;
}

int cnn_model_load_weights(cnn_model *m, const uint8_t *bytes, size_t len, int strict, int *loaded) {
    return load_tensors(m, bytes, len, strict, NULL, loaded);
}

int cnn_model_load_weights_except(cnn_model *m, const uint8_t *bytes, size_t len, const char *except, int *loaded) {
    if (!except) return cnn_fail(CNN_E_INVALID, "load_weights: NULL list of layers");
    for (const char *p = except; *p;) {
        size_t n = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < m->nlayers && !found; i++)
            found = m->layers[i].p_count && strlen(m->layers[i].name) == n && strncmp(m->layers[i].name, p, n) == 0;
        if (!found)
            return cnn_fail(CNN_E_INVALID, "load_weights: no layer with parameters named '%.*s' to leave out", (int)n, p);
        p += n + (p[n] == ',');
    }
    return load_tensors(m, bytes, len, 1, except, loaded);
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

/* ---- one tensor by name ---- */

int cnn_model_tensor_count(const cnn_model *m) {
    int n = 0;
    for (int i = 0; m && i < m->nlayers; i++) n += desc(&m->layers[i])->ntensors;
    return n;
}

int cnn_model_tensor_name(const cnn_model *m, int index, char *name, int cap) {
    if (!m || !name || cap < 1) return cnn_fail(CNN_E_INVALID, "tensor_name: NULL argument");
    for (int i = 0, k = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        for (int t = 0; t < desc(l)->ntensors; t++, k++) {
            if (k != index) continue;
            cnn_tensor_info info;
            desc(l)->tensor(l, t, &info);
            if (snprintf(name, (size_t)cap, "%s.%s", l->name, info.suffix) >= cap)
                return cnn_fail(CNN_E_INVALID, "tensor_name: %d bytes are too few for '%s.%s'", cap, l->name,
                                info.suffix);
            return CNN_OK;
        }
    }
    return cnn_fail(CNN_E_INVALID, "tensor_name: index %d (expected 0..%d)", index, cnn_model_tensor_count(m) - 1);
}

int cnn_model_tensor_shape(const cnn_model *m, const char *name, int *ndim, int *shape) {
    int t;
    cnn_tensor_info info;
    if (!m || !name || !ndim || !shape) return cnn_fail(CNN_E_INVALID, "tensor_shape: NULL argument");
    if (!find_tensor(m, name, &t, &info))
        return cnn_fail(CNN_E_INVALID, "tensor_shape: the model has no tensor '%s'", name);
    *ndim = info.ndim;
    for (int d = 0; d < 4; d++) shape[d] = d < info.ndim ? (int)info.shape[d] : 1;
    return CNN_OK;
}

int cnn_model_tensor_read(const cnn_model *m, const char *name, int gradient, float *out, int count) {
    int t;
    cnn_tensor_info info;
    if (!m || !name || !out) return cnn_fail(CNN_E_INVALID, "tensor_read: NULL argument");
    int st = cnn_model_require_memory(m, "tensor_read");
    if (st) return st;
    const cnn_layer *l = find_tensor(m, name, &t, &info);
    if (!l) return cnn_fail(CNN_E_INVALID, "tensor_read: the model has no tensor '%s'", name);
    if (count < 0 || (size_t)count != info.count)
        return cnn_fail(CNN_E_INVALID, "tensor_read: '%s' has %zu element%s, not %d", name, info.count,
                        info.count == 1 ? "" : "s", count);
    if (gradient && info.role != T_PARAM)
        return cnn_fail(CNN_E_INVALID, "tensor_read: '%s' is not trained, so it has no gradient", name);
    if (info.role == T_COUNT) {
        out[0] = (float)l->batches;
        return CNN_OK;
    }
    const float *src = f32_of(l, &info, gradient ? m->grads : m->params, m->buffers);
    for (size_t j = 0; j < info.count; j++) out[j] = src[ours(l, t, j)];
    return CNN_OK;
}
