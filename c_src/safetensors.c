/* safetensors.c - reading and writing the safetensors container (https://github.com/huggingface/safetensors).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data buffer. The JSON object maps
 * tensor names to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (offsets into the data buffer)
 * plus an optional "__metadata__": {string: string}.
 *
 * Parsing follows the reference implementation's rules and a few stricter ones, all reported as CNN_E_FORMAT:
 *  - N <= CNN_MAX_HEADER_BYTES (1 MiB; the reference allows 100 MB, which costs ~1 GB of JSON tokens) and
 *    N <= len - 8; the header starts with '{' and is one JSON object, followed only by
 *    whitespace (the reference pads with spaces);
 *  - tensor names are unique, 1..CNN_ST_MAX_NAME-1 bytes, without NUL; every tensor has exactly the fields
 *    dtype, shape and data_offsets; dtype F32 or I64 (what PyTorch writes for a batch-norm's
 *    num_batches_tracked), nothing else; at most CNN_ST_MAX_DIMS dims ([] is a scalar);
 *  - end - begin == element size (4 or 8) * product(shape), and the tensors, sorted by offsets, tile the data
 *    buffer exactly
 *    (no overlap, no hole, nothing after the last one);
 *  - __metadata__ is an object of unique string keys with string values (no NUL).
 * All size arithmetic is overflow-checked, so a hostile file cannot cause an out-of-bounds read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

/* Tensor data is copied as raw bytes in host order, which must be the file's little-endian order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define ST_METADATA "__metadata__"

/* ==================================================================================================== */
/* Shared helpers                                                                                       */
/* ==================================================================================================== */

size_t cnn_st_dtype_size(int dtype) { return dtype == CNN_ST_I64 ? 8 : 4; }

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts a copy of names (n) and returns the first name that occurs twice, or NULL. *nomem is set if the
 * scratch array cannot be allocated. O(n log n) so that a header with a million names stays fast. */
static const char *find_duplicate(const char *const *names, size_t n, int *nomem) {
    const char *dup = NULL;
    const char **sorted;
    *nomem = 0;
    if (n < 2) return NULL;
    sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        *nomem = 1;
        return NULL;
    }
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str_ptr);
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) dup = sorted[i];
    free(sorted);
    return dup;
}

/* ==================================================================================================== */
/* Reading                                                                                              */
/* ==================================================================================================== */

typedef struct {
    uint64_t begin, end;
    int index; /* into out->tensors; breaks ties so the order (and so the message) is deterministic */
} st_span;

static int cmp_span(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Copies a decoded string token into a fresh NUL-terminated allocation; rejects embedded NUL bytes because
 * the C side could not see past them. what names the string in messages. */
static int dup_string(char **out, const char *hdr, const cnn_json_token *t, const char *what) {
    size_t n = cnn_json_string_decode(NULL, 0, hdr, t), cap;
    if (cnn_add_size(&cap, n, 1) != 0) return cnn_fail(CNN_E_FORMAT, "safetensors: %s is too long", what);
    *out = malloc(cap);
    if (!*out) return cnn_fail(CNN_E_NOMEM, "safetensors: out of memory copying %s (%zu bytes)", what, cap);
    cnn_json_string_decode(*out, cap, hdr, t);
    if (strlen(*out) != n)
        return cnn_fail(CNN_E_FORMAT, "safetensors: %s '%s' contains a NUL character (\\u0000)", what, *out);
    return CNN_OK;
}

/* Reads "__metadata__": {string: string}. v is the object token; out->meta_* are sized for v->size. */
static int read_metadata(cnn_st_file *out, const cnn_json_doc *doc, const char *hdr, uint32_t v) {
    const cnn_json_token *obj = &doc->tokens[v];
    if (obj->type != CNN_JSON_OBJECT)
        return cnn_fail(CNN_E_FORMAT, "safetensors: __metadata__ is not an object (expected {string: string})");
    uint32_t k = v + 1;
    for (uint32_t i = 0; i < obj->size; i++) {
        const cnn_json_token *key = &doc->tokens[k], *val = &doc->tokens[k + 1];
        int st = dup_string(&out->meta_keys[i], hdr, key, "metadata key");
        out->meta_count = (int)i + 1; /* entry i is owned now (NULL or allocated): freed on any failure */
        if (st != CNN_OK) return st;
        if (val->type != CNN_JSON_STRING)
            return cnn_fail(CNN_E_FORMAT, "safetensors: metadata value of '%s' is not a string (expected a string)",
                            out->meta_keys[i]);
        if ((st = dup_string(&out->meta_values[i], hdr, val, "metadata value")) != CNN_OK) return st;
        k = val->next;
    }
    return CNN_OK;
}

/* Reads one tensor entry {"dtype", "shape", "data_offsets"} at token v into t and *span. dlen is the size of
 * the data buffer. Checks everything that concerns this tensor alone. */
static int read_tensor(cnn_st_tensor *t, st_span *span, const cnn_json_doc *doc, const char *hdr, uint32_t v,
                       size_t dlen) {
    const cnn_json_token *obj = &doc->tokens[v];
    const cnn_json_token *dtype = NULL, *shape = NULL, *offsets = NULL;
    const char *name = t->name;
    if (obj->type != CNN_JSON_OBJECT)
        return cnn_fail(CNN_E_FORMAT, "safetensors: entry of tensor '%s' is not an object (expected "
                                      "{\"dtype\", \"shape\", \"data_offsets\"})", name);
    uint32_t k = v + 1;
    for (uint32_t i = 0; i < obj->size; i++) {
        const cnn_json_token *key = &doc->tokens[k];
        const cnn_json_token **slot;
        if (cnn_json_string_eq(hdr, key, "dtype")) slot = &dtype;
        else if (cnn_json_string_eq(hdr, key, "shape")) slot = &shape;
        else if (cnn_json_string_eq(hdr, key, "data_offsets")) slot = &offsets;
        else {
            char field[32];
            size_t n = cnn_json_string_decode(field, sizeof field, hdr, key);
            return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' has unknown field '%s%s' (expected dtype, shape, "
                                          "data_offsets)", name, field, n >= sizeof field ? "..." : "");
        }
        if (*slot) {
            char field[32];
            cnn_json_string_decode(field, sizeof field, hdr, key);
            return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' has a duplicate field '%s'", name, field);
        }
        *slot = &doc->tokens[k + 1];
        k = doc->tokens[k + 1].next;
    }
    if (!dtype || !shape || !offsets)
        return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' is missing field '%s' (expected dtype, shape, "
                                      "data_offsets)", name, !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    /* dtype */
    if (dtype->type != CNN_JSON_STRING)
        return cnn_fail(CNN_E_FORMAT, "safetensors: dtype of tensor '%s' is not a string (expected \"F32\")", name);
    if (cnn_json_string_eq(hdr, dtype, "F32")) {
        t->dtype = CNN_ST_F32;
    } else if (cnn_json_string_eq(hdr, dtype, "I64")) {
        t->dtype = CNN_ST_I64;
    } else {
        char dt[24];
        size_t n = cnn_json_string_decode(dt, sizeof dt, hdr, dtype);
        return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' has dtype %s%s, only F32 and I64 are supported", name,
                        dt, n >= sizeof dt ? "..." : "");
    }

    /* shape: element count with overflow checks; the byte count must fit size_t as well */
    if (shape->type != CNN_JSON_ARRAY)
        return cnn_fail(CNN_E_FORMAT, "safetensors: shape of tensor '%s' is not an array (expected [d0, d1, ..])",
                        name);
    if (shape->size > CNN_ST_MAX_DIMS)
        return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' has %u dims (expected at most %d)", name,
                        (unsigned)shape->size, CNN_ST_MAX_DIMS);
    size_t count = 1, nbytes;
    for (uint32_t d = 0; d < shape->size; d++) {
        /* Elements checked so far are single INT tokens, so element d is token shape + 1 + d. */
        const cnn_json_token *dim = shape + 1 + d;
        if (dim->type != CNN_JSON_INT)
            return cnn_fail(CNN_E_FORMAT, "safetensors: shape of tensor '%s' has a non-integer at index %u "
                                          "(expected non-negative integers)", name, (unsigned)d);
        if (dim->value > (uint64_t)INT64_MAX || dim->value > (uint64_t)SIZE_MAX ||
            cnn_mul_size(&count, count, (size_t)dim->value) != 0)
            return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' dim %u = %llu makes the shape too large "
                                          "(element count overflows)", name, (unsigned)d,
                            (unsigned long long)dim->value);
        t->shape[d] = (int64_t)dim->value;
    }
    if (cnn_mul_size(&nbytes, count, cnn_st_dtype_size(t->dtype)) != 0)
        return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' with %zu elements is too large (byte count "
                                      "overflows)", name, count);
    t->ndim = (int)shape->size;
    t->count = count;

    /* data_offsets: [begin, end] inside the data buffer, exactly the tensor's size */
    if (offsets->type != CNN_JSON_ARRAY || offsets->size != 2 || offsets[1].type != CNN_JSON_INT ||
        offsets[2].type != CNN_JSON_INT) /* offsets[2] exists once offsets[1] is a single INT token */
        return cnn_fail(CNN_E_FORMAT, "safetensors: data_offsets of tensor '%s' is not two integers (expected "
                                      "[begin, end])", name);
    uint64_t begin = offsets[1].value, end = offsets[2].value;
    if (begin > end)
        return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' has data_offsets [%llu, %llu] with begin > end",
                        name, (unsigned long long)begin, (unsigned long long)end);
    if (end > (uint64_t)dlen)
        return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' data_offsets end %llu exceeds the data buffer "
                                      "(expected <= %zu)", name, (unsigned long long)end, dlen);
    if (end - begin != (uint64_t)nbytes)
        return cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' data_offsets [%llu, %llu] span %llu bytes but "
                                      "its %s shape needs %zu", name, (unsigned long long)begin,
                        (unsigned long long)end, (unsigned long long)(end - begin),
                        t->dtype == CNN_ST_I64 ? "I64" : "F32", nbytes);
    span->begin = begin;
    span->end = end;
    return CNN_OK;
}

int cnn_st_parse(cnn_st_file *out, const uint8_t *bytes, size_t len) {
    cnn_json_doc doc = {0};
    st_span *spans = NULL;    /* (tensors) offsets, sorted for the tiling check */
    const char **names = NULL; /* (tensors) for the duplicate check */
    const cnn_json_token *root;
    const char *hdr, *dup;
    const uint8_t *data;
    size_t hlen, dlen, jend = 0, ntensors = 0;
    uint32_t meta_tok = 0, k;
    uint64_t n = 0, pos = 0;
    int st = CNN_OK, nomem = 0;
    char jerr[160];

    if (!out) return cnn_fail(CNN_E_INVALID, "cnn_st_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!bytes && len > 0) return cnn_fail(CNN_E_INVALID, "cnn_st_parse: bytes is NULL with len %zu", len);
    /* A safetensors file starts with an 8-byte length and then '{': say "not a .safetensors file" for anything
     * else (an image, a zip, a PyTorch .pt file) before doing arithmetic with what would be its header length. */
    if (len < 10 || bytes[8] != '{')
        return cnn_fail(CNN_E_FORMAT, "safetensors: not a .safetensors file (%s; expected an 8-byte header length, "
                                      "then a JSON header starting with '{')", len < 10 ? "too short" : "no header");
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
    if (n > CNN_MAX_HEADER_BYTES)
        return cnn_fail(CNN_E_FORMAT, "safetensors: header length %llu exceeds the limit of %d bytes",
                        (unsigned long long)n, CNN_MAX_HEADER_BYTES);
    if (n > (uint64_t)(len - 8))
        return cnn_fail(CNN_E_FORMAT, "safetensors: header length %llu exceeds the file size (expected <= %zu): "
                                      "the file is truncated", (unsigned long long)n, len - 8);
    hdr = (const char *)bytes + 8;
    hlen = (size_t)n;
    dlen = len - 8 - hlen;
    data = bytes + 8 + hlen;
    if (hlen == 0) return cnn_fail(CNN_E_FORMAT, "safetensors: header is empty (expected a JSON object)");
    st = cnn_json_parse(&doc, hdr, hlen, &jend, jerr, sizeof jerr);
    if (st == CNN_E_NOMEM) return cnn_fail(st, "safetensors: out of memory parsing a %zu-byte header", hlen);
    if (st != CNN_OK) return cnn_fail(CNN_E_FORMAT, "safetensors: header is not valid JSON: %s", jerr);
    for (size_t i = jend; i < hlen; i++) {
        uint8_t c = (uint8_t)hdr[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            st = cnn_fail(CNN_E_FORMAT, "safetensors: unexpected byte 0x%02x at header offset %zu after the JSON "
                                        "object (expected only space padding)", c, i);
            goto cleanup;
        }
    }

    /* Pass 1: count tensors and find __metadata__. */
    root = &doc.tokens[0];
    k = 1;
    for (uint32_t i = 0; i < root->size; i++) {
        if (cnn_json_string_eq(hdr, &doc.tokens[k], ST_METADATA)) {
            if (meta_tok) {
                st = cnn_fail(CNN_E_FORMAT, "safetensors: duplicate key '__metadata__' in the header");
                goto cleanup;
            }
            meta_tok = k + 1;
        } else {
            ntensors++;
        }
        k = doc.tokens[k + 1].next;
    }
    /* Counts fit int: every tensor takes more than one header byte and the header is <= 100 MB. */
    out->tensors = calloc(ntensors ? ntensors : 1, sizeof *out->tensors);
    spans = calloc(ntensors ? ntensors : 1, sizeof *spans);
    names = calloc(ntensors ? ntensors : 1, sizeof *names);
    if (!out->tensors || !spans || !names) goto nomem;
    if (meta_tok) {
        uint32_t m = doc.tokens[meta_tok].type == CNN_JSON_OBJECT ? doc.tokens[meta_tok].size : 0;
        out->meta_keys = calloc(m ? m : 1, sizeof *out->meta_keys);
        out->meta_values = calloc(m ? m : 1, sizeof *out->meta_values);
        if (!out->meta_keys || !out->meta_values) goto nomem;
        if ((st = read_metadata(out, &doc, hdr, meta_tok)) != CNN_OK) goto cleanup;
        dup = find_duplicate((const char *const *)out->meta_keys, (size_t)out->meta_count, &nomem);
        if (nomem) goto nomem;
        if (dup) {
            st = cnn_fail(CNN_E_FORMAT, "safetensors: duplicate metadata key '%s'", dup);
            goto cleanup;
        }
    }

    /* Pass 2: tensors in header order. */
    k = 1;
    for (uint32_t i = 0; i < root->size; i++) {
        const cnn_json_token *key = &doc.tokens[k];
        uint32_t v = k + 1;
        k = doc.tokens[v].next;
        if (v == meta_tok) continue;
        cnn_st_tensor *t = &out->tensors[out->count];
        size_t nl = cnn_json_string_decode(t->name, sizeof t->name, hdr, key);
        if (nl == 0) {
            st = cnn_fail(CNN_E_FORMAT, "safetensors: tensor name is empty (expected 1..%d bytes)",
                          CNN_ST_MAX_NAME - 1);
            goto cleanup;
        }
        if (nl >= sizeof t->name) {
            st = cnn_fail(CNN_E_FORMAT, "safetensors: tensor name '%.40s...' is %zu bytes long (expected at most %d)",
                          t->name, nl, CNN_ST_MAX_NAME - 1);
            goto cleanup;
        }
        if (strlen(t->name) != nl) {
            st = cnn_fail(CNN_E_FORMAT, "safetensors: tensor name '%s' contains a NUL character (\\u0000)", t->name);
            goto cleanup;
        }
        if ((st = read_tensor(t, &spans[out->count], &doc, hdr, v, dlen)) != CNN_OK) goto cleanup;
        /* The data pointer may be unaligned: readers memcpy from it. */
        t->data = data + spans[out->count].begin;
        spans[out->count].index = out->count;
        names[out->count] = t->name;
        out->count++;
    }

    dup = find_duplicate(names, (size_t)out->count, &nomem);
    if (nomem) goto nomem;
    if (dup) {
        st = cnn_fail(CNN_E_FORMAT, "safetensors: duplicate tensor name '%s'", dup);
        goto cleanup;
    }

    /* The tensors, in offset order, must tile the data buffer: no overlap, no hole, no trailing bytes. */
    qsort(spans, (size_t)out->count, sizeof *spans, cmp_span);
    for (int i = 0; i < out->count; i++) {
        const st_span *s = &spans[i];
        if (s->begin < pos) {
            st = cnn_fail(CNN_E_FORMAT, "safetensors: tensor '%s' at data_offsets [%llu, %llu] overlaps tensor '%s' "
                                        "(expected to start at %llu)", out->tensors[s->index].name,
                          (unsigned long long)s->begin, (unsigned long long)s->end,
                          out->tensors[spans[i - 1].index].name, (unsigned long long)pos);
            goto cleanup;
        }
        if (s->begin > pos) {
            st = cnn_fail(CNN_E_FORMAT, "safetensors: hole of %llu bytes in the data buffer before tensor '%s' "
                                        "(expected it to start at %llu, not %llu)",
                          (unsigned long long)(s->begin - pos), out->tensors[s->index].name,
                          (unsigned long long)pos, (unsigned long long)s->begin);
            goto cleanup;
        }
        pos = s->end;
    }
    if (pos != (uint64_t)dlen) {
        st = cnn_fail(CNN_E_FORMAT, "safetensors: data buffer has %zu bytes but the tensors cover %llu (expected "
                                    "no trailing or missing bytes)", dlen, (unsigned long long)pos);
        goto cleanup;
    }
    goto cleanup;

nomem:
    st = cnn_fail(CNN_E_NOMEM, "safetensors: out of memory reading a header with %zu tensors", ntensors);
cleanup:
    free(spans);
    free(names);
    cnn_json_free(&doc);
    if (st != CNN_OK) cnn_st_file_free(out);
    return st;
}

void cnn_st_file_free(cnn_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->meta_count; i++) {
        if (f->meta_keys) free(f->meta_keys[i]);
        if (f->meta_values) free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

const char *cnn_st_meta(const cnn_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

const cnn_st_tensor *cnn_st_find(const cnn_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

/* ==================================================================================================== */
/* Writing                                                                                              */
/* ==================================================================================================== */

/* A growing byte buffer whose first allocation failure is sticky, so the header is built without checks at
 * every append and tested once. */
typedef struct {
    char *p;
    size_t len, cap;
    int nomem;
} st_buf;

static void buf_put(st_buf *b, const void *s, size_t n) {
    if (b->nomem) return;
    if (n > b->cap - b->len) {
        size_t need, cap = b->cap ? b->cap : 256;
        if (cnn_add_size(&need, b->len, n) != 0) {
            b->nomem = 1;
            return;
        }
        while (cap < need) cap = cap > (size_t)-1 / 2 ? need : cap * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->nomem = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_str(st_buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_u64(st_buf *b, uint64_t v) {
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    buf_str(b, num);
}

/* A JSON string as serde_json writes it: '"', '\\' and control bytes escaped, other UTF-8 bytes raw. */
static void buf_json_string(st_buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char u[8];
        switch (c) {
        case '"': buf_put(b, "\\\"", 2); break;
        case '\\': buf_put(b, "\\\\", 2); break;
        case '\b': buf_put(b, "\\b", 2); break;
        case '\f': buf_put(b, "\\f", 2); break;
        case '\n': buf_put(b, "\\n", 2); break;
        case '\r': buf_put(b, "\\r", 2); break;
        case '\t': buf_put(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", (unsigned)c);
                buf_put(b, u, 6);
            } else {
                buf_put(b, &c, 1);
            }
        }
    }
    buf_put(b, "\"", 1);
}

/* Checks one tensor to write and returns its byte count in *nbytes. */
static int check_write_tensor(const cnn_st_tensor *t, int i, size_t *nbytes) {
    const char *nul = memchr(t->name, '\0', sizeof t->name);
    size_t count = 1;
    if (!nul)
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: name of tensor %d is not terminated within %d bytes "
                                       "(expected at most %d bytes)", i, CNN_ST_MAX_NAME, CNN_ST_MAX_NAME - 1);
    if (nul == t->name) return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor %d has an empty name", i);
    if (!cnn_json_utf8_valid((const uint8_t *)t->name, (size_t)(nul - t->name)))
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: name of tensor %d is not valid UTF-8", i);
    if (strcmp(t->name, ST_METADATA) == 0)
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor %d uses the reserved name '__metadata__'", i);
    if (t->ndim < 0 || t->ndim > CNN_ST_MAX_DIMS)
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor '%s' has ndim %d (expected 0..%d)", t->name, t->ndim,
                        CNN_ST_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor '%s' dim %d is %lld (expected >= 0)", t->name, d,
                            (long long)t->shape[d]);
        if ((uint64_t)t->shape[d] > (uint64_t)SIZE_MAX || cnn_mul_size(&count, count, (size_t)t->shape[d]) != 0)
            return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor '%s' shape is too large (element count overflows)",
                            t->name);
    }
    if (count != t->count)
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor '%s' count %zu does not match its shape (expected %zu)",
                        t->name, t->count, count);
    if (t->dtype != CNN_ST_F32 && t->dtype != CNN_ST_I64)
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor '%s' has dtype %d (expected F32 or I64)", t->name, t->dtype);
    if (cnn_mul_size(nbytes, count, cnn_st_dtype_size(t->dtype)) != 0)
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor '%s' is too large (%zu elements)", t->name, count);
    if (count > 0 && !t->data)
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: tensor '%s' has %zu elements but data is NULL", t->name,
                        count);
    return CNN_OK;
}

int cnn_st_write(uint8_t **out, size_t *len, const cnn_st_tensor *tensors, int count, const char *const *meta_keys,
                 const char *const *meta_values, int meta_count) {
    st_buf h = {0};
    const char **names = NULL; /* (count) for the duplicate check */
    const char *dup;
    uint8_t *file = NULL;
    size_t data_bytes = 0, total, nbytes, off;
    int st = CNN_OK, nomem = 0;

    if (!out || !len) return cnn_fail(CNN_E_INVALID, "cnn_st_write: out and len must not be NULL");
    *out = NULL;
    *len = 0;
    if (count < 0 || (count > 0 && !tensors))
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: count %d with tensors %s (expected count >= 0 and an array)",
                        count, tensors ? "set" : "NULL");
    if (meta_count < 0 || (meta_count > 0 && (!meta_keys || !meta_values)))
        return cnn_fail(CNN_E_INVALID, "cnn_st_write: meta_count %d with keys %s and values %s (expected "
                                       "meta_count >= 0 and both arrays)", meta_count, meta_keys ? "set" : "NULL",
                        meta_values ? "set" : "NULL");
    for (int i = 0; i < meta_count; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return cnn_fail(CNN_E_INVALID, "cnn_st_write: metadata entry %d has a NULL key or value", i);
        /* The parser requires UTF-8, so writing anything else would produce an unreadable file. */
        if (!cnn_json_utf8_valid((const uint8_t *)meta_keys[i], strlen(meta_keys[i])) ||
            !cnn_json_utf8_valid((const uint8_t *)meta_values[i], strlen(meta_values[i])))
            return cnn_fail(CNN_E_INVALID, "cnn_st_write: metadata entry %d is not valid UTF-8", i);
    }
    dup = find_duplicate(meta_keys, (size_t)meta_count, &nomem);
    if (nomem) return cnn_fail(CNN_E_NOMEM, "cnn_st_write: out of memory checking %d metadata keys", meta_count);
    if (dup) return cnn_fail(CNN_E_INVALID, "cnn_st_write: duplicate metadata key '%s'", dup);

    names = malloc((count ? (size_t)count : 1) * sizeof *names);
    if (!names) goto nomem;
    for (int i = 0; i < count; i++) {
        if ((st = check_write_tensor(&tensors[i], i, &nbytes)) != CNN_OK) goto cleanup;
        if (cnn_add_size(&data_bytes, data_bytes, nbytes) != 0) {
            st = cnn_fail(CNN_E_INVALID, "cnn_st_write: total data size overflows at tensor '%s'", tensors[i].name);
            goto cleanup;
        }
        names[i] = tensors[i].name;
    }
    dup = find_duplicate(names, (size_t)count, &nomem);
    if (nomem) goto nomem;
    if (dup) {
        st = cnn_fail(CNN_E_INVALID, "cnn_st_write: duplicate tensor name '%s'", dup);
        goto cleanup;
    }

    /* Header: compact JSON, metadata first, tensors in the given order and contiguous. */
    buf_put(&h, "{", 1);
    if (meta_count > 0) {
        buf_str(&h, "\"" ST_METADATA "\":{");
        for (int i = 0; i < meta_count; i++) {
            if (i > 0) buf_put(&h, ",", 1);
            buf_json_string(&h, meta_keys[i]);
            buf_put(&h, ":", 1);
            buf_json_string(&h, meta_values[i]);
        }
        buf_put(&h, "}", 1);
    }
    off = 0;
    for (int i = 0; i < count; i++) {
        const cnn_st_tensor *t = &tensors[i];
        if (i > 0 || meta_count > 0) buf_put(&h, ",", 1);
        buf_json_string(&h, t->name);
        buf_str(&h, t->dtype == CNN_ST_I64 ? ":{\"dtype\":\"I64\",\"shape\":[" : ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d > 0) buf_put(&h, ",", 1);
            buf_u64(&h, (uint64_t)t->shape[d]);
        }
        buf_str(&h, "],\"data_offsets\":[");
        buf_u64(&h, off);
        buf_put(&h, ",", 1);
        off += t->count * cnn_st_dtype_size(t->dtype); /* cannot overflow: bounded by data_bytes */
        buf_u64(&h, off);
        buf_str(&h, "]}");
    }
    buf_put(&h, "}", 1);
    while (h.len % 8 != 0) buf_put(&h, " ", 1); /* as the reference: keeps the data 8-byte aligned in the file */
    if (h.nomem) goto nomem;
    if (h.len > CNN_MAX_HEADER_BYTES) {
        st = cnn_fail(CNN_E_INVALID, "cnn_st_write: header of %zu bytes exceeds the limit (expected <= %d)", h.len,
                      CNN_MAX_HEADER_BYTES);
        goto cleanup;
    }
    if (cnn_add_size(&total, h.len, 8) != 0 || cnn_add_size(&total, total, data_bytes) != 0) {
        st = cnn_fail(CNN_E_INVALID, "cnn_st_write: file size overflows (%zu data bytes)", data_bytes);
        goto cleanup;
    }

    file = malloc(total);
    if (!file) goto nomem;
    for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    memcpy(file + 8, h.p, h.len);
    off = 8 + h.len;
    for (int i = 0; i < count; i++) {
        nbytes = tensors[i].count * cnn_st_dtype_size(tensors[i].dtype);
        if (nbytes) memcpy(file + off, tensors[i].data, nbytes); /* host and wasm are little-endian */
        off += nbytes;
    }
    *out = file;
    *len = total;
    goto cleanup;

nomem:
    st = cnn_fail(CNN_E_NOMEM, "cnn_st_write: out of memory writing %d tensors (%zu data bytes)", count,
                  data_bytes);
cleanup:
    free(names);
    free(h.p);
    return st;
}
