/* weights.c - the model <-> safetensors mapping: PyTorch names and layouts, the spec in __metadata__.
 *
 * Each layer kind's descriptor lists its tensors (names, PyTorch shapes) and maps their elements to our
 * layout (layers.h); this file writes and reads them, in layer order and each layer's tensors in descriptor
 * order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define FORMAT_NAME "cnn-wasm"
#define FORMAT_VERSION "1"

#define MAX_TENSORS (CNN_MAX_LAYERS * CNN_MAX_LAYER_TENSORS)

static const cnn_layer_desc *desc(const cnn_layer *l) { return cnn_layer_desc_of(l->kind); }

int cnn_model_save(const cnn_model *m, uint8_t **out, size_t *len) {
    if (!m || !out || !len) return cnn_fail(CNN_E_INVALID, "save: NULL argument");
    *out = NULL, *len = 0;
    cnn_st_tensor *tensors = calloc(MAX_TENSORS, sizeof *tensors);
    float *buf = malloc((m->nparams ? m->nparams : 1) * sizeof(float)); /* parameters in PyTorch layouts */
    if (!tensors || !buf) {
        free(tensors), free(buf);
        return cnn_fail(CNN_E_NOMEM, "save: out of memory");
    }
    int nt = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        for (int t = 0; t < desc(l)->ntensors; t++) {
            cnn_tensor_info info;
            desc(l)->tensor(l, t, &info);
            cnn_st_tensor *o = &tensors[nt++];
            snprintf(o->name, sizeof o->name, "%s.%s", l->name, info.suffix);
            o->ndim = info.ndim;
            memcpy(o->shape, info.shape, sizeof info.shape);
            o->count = info.count;
            const float *ours = m->params + l->p_off + info.offset;
            float *torch = buf + l->p_off + info.offset;
            for (size_t j = 0; j < info.count; j++)
                torch[j] = ours[desc(l)->ours_from_torch ? desc(l)->ours_from_torch(l, t, j) : j];
            o->data = torch;
        }
    }
    const char *keys[] = {"format", "format_version", "spec"};
    const char *values[] = {FORMAT_NAME, FORMAT_VERSION, m->spec};
    int st = cnn_st_write(out, len, tensors, nt, keys, values, 3);
    free(buf);
    free(tensors);
    return st;
}

/* The file's tensor "<layer>.<suffix>" if its shape is the model's; NULL otherwise (an error when strict). */
static const cnn_st_tensor *find_checked(const cnn_st_file *f, const char *name, const cnn_tensor_info *want,
                                         int strict, int *st) {
    const cnn_st_tensor *t = cnn_st_find(f, name);
    *st = CNN_OK;
    if (!t) {
        if (strict) *st = cnn_fail(CNN_E_FORMAT, "load_weights: the file has no tensor '%s' (the model needs it)", name);
        return NULL;
    }
    int same = t->ndim == want->ndim;
    for (int d = 0; same && d < want->ndim; d++) same = t->shape[d] == want->shape[d];
    if (!same) {
        if (strict) {
            char w[96] = "", got[96] = "";
            for (int d = 0; d < want->ndim; d++) snprintf(w + strlen(w), sizeof w - strlen(w), d ? ", %lld" : "%lld", (long long)want->shape[d]);
            for (int d = 0; d < t->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), d ? ", %lld" : "%lld", (long long)t->shape[d]);
            *st = cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' has shape (%s), the model expects (%s)", name, got, w);
        }
        return NULL;
    }
    return t;
}

/* Whether the model has a tensor of this name. */
static int model_has_tensor(const cnn_model *m, const char *name) {
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        size_t n = strlen(l->name);
        if (strncmp(name, l->name, n) != 0 || name[n] != '.') continue;
        for (int t = 0; t < desc(l)->ntensors; t++) {
            cnn_tensor_info info;
            desc(l)->tensor(l, t, &info);
            if (strcmp(name + n + 1, info.suffix) == 0) return 1;
        }
    }
    return 0;
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
        if (listed(except, l->name)) continue;
        for (int t = 0; t < desc(l)->ntensors && st == CNN_OK; t++) {
            cnn_tensor_info info;
            char name[CNN_ST_MAX_NAME];
            desc(l)->tensor(l, t, &info);
            snprintf(name, sizeof name, "%s.%s", l->name, info.suffix);
            const cnn_st_tensor *ft = find_checked(&f, name, &info, strict, &st);
            if (!ft) continue;
            float *ours = next + l->p_off + info.offset;
            float v;
            for (size_t j = 0; j < info.count; j++) {
                memcpy(&v, ft->data + j, sizeof v); /* file data may be unaligned */
                if (!isfinite(v)) {
                    st = cnn_fail(CNN_E_FORMAT, "load_weights: tensor '%s' element %zu is %s (expected a finite number)",
                                  name, j, isnan(v) ? "NaN" : "infinite");
                    break;
                }
                ours[desc(l)->ours_from_torch ? desc(l)->ours_from_torch(l, t, j) : j] = v;
            }
            used++;
        }
    }
    if (st == CNN_OK && strict && used != f.count) {
        for (int i = 0; i < f.count; i++) {
            const char *dot = strrchr(f.tensors[i].name, '.');
            char layer[CNN_ST_MAX_NAME];
            snprintf(layer, sizeof layer, "%.*s", dot ? (int)(dot - f.tensors[i].name) : 0, f.tensors[i].name);
            if (!model_has_tensor(m, f.tensors[i].name) && !listed(except, layer)) {
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
        if (loaded) *loaded = used;
    }
    free(next);
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
