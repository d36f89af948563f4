/* idx.c - the IDX file format (MNIST): validation of untrusted bytes, and data sets built from them. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "model.h"

int cnn_idx_parse(cnn_idx_array *out, const uint8_t *bytes, size_t len, int min_dims, int max_dims,
                  const char *what) {
    memset(out, 0, sizeof *out);
    if (!bytes) return cnn_fail(CNN_E_INVALID, "load_idx: %s: no data", what);
    if (len < 4) return cnn_fail(CNN_E_FORMAT, "load_idx: %s: file is %zu bytes, too short for an IDX header", what, len);
    if (bytes[0] != 0 || bytes[1] != 0)
        return cnn_fail(CNN_E_FORMAT, "load_idx: %s: bad magic %02x %02x (expected 00 00: not an IDX file%s)", what,
                        bytes[0], bytes[1], bytes[0] == 0x1f && bytes[1] == 0x8b ? ", it is gzip-compressed" : "");
    if (bytes[2] != 0x08)
        return cnn_fail(CNN_E_FORMAT, "load_idx: %s: data type 0x%02x is not supported (expected 0x08, unsigned byte)",
                        what, bytes[2]);
    int ndims = bytes[3];
    if (ndims < min_dims || ndims > max_dims)
        return cnn_fail(CNN_E_FORMAT, "load_idx: %s: %d dimensions (expected %d to %d)", what, ndims, min_dims, max_dims);
    size_t header = 4 + 4 * (size_t)ndims;
    if (len < header)
        return cnn_fail(CNN_E_FORMAT, "load_idx: %s: file is %zu bytes, truncated inside its %zu-byte header", what, len,
                        header);
    uint64_t total = 1; /* 64-bit: the product of four 32-bit dims is checked before it can wrap */
    for (int d = 0; d < ndims; d++) {
        const uint8_t *p = bytes + 4 + 4 * d;
        uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (v == 0) return cnn_fail(CNN_E_FORMAT, "load_idx: %s: dimension %d is 0 (expected >= 1)", what, d);
        out->dims[d] = v;
        if (total > ((uint64_t)1 << 62) / v)
            return cnn_fail(CNN_E_FORMAT, "load_idx: %s: dimensions are absurdly large (not an IDX file?)", what);
        total *= v;
    }
    if ((uint64_t)(len - header) != total)
        return cnn_fail(CNN_E_FORMAT, "load_idx: %s: %s: data is %zu bytes, dimensions say %llu", what,
                        (uint64_t)(len - header) < total ? "file is truncated" : "file has trailing bytes", len - header,
                        (unsigned long long)total);
    out->ndims = ndims;
    out->data = bytes + header;
    return CNN_OK;
}

int cnn_dataset_from_arrays(cnn_dataset **out, const uint8_t *images, const uint8_t *labels, int n, int h, int w,
                            int c, int classes) {
    if (!out) return cnn_fail(CNN_E_INVALID, "dataset_from_arrays: out is NULL");
    *out = NULL;
    if (!images || !labels) return cnn_fail(CNN_E_INVALID, "dataset_from_arrays: images or labels is NULL");
    if (n < 1) return cnn_fail(CNN_E_EMPTY, "dataset_from_arrays: %d images (expected >= 1)", n);
    if (h < 1 || w < 1 || c < 1 || h > CNN_MAX_SIDE || w > CNN_MAX_SIDE || c > CNN_MAX_CHANNELS)
        return cnn_fail(CNN_E_INVALID, "dataset_from_arrays: image shape %dx%dx%d (expected sides 1..%d, channels 1..%d)",
                        h, w, c, CNN_MAX_SIDE, CNN_MAX_CHANNELS);
    if (classes < 2 || classes > CNN_MAX_CLASSES)
        return cnn_fail(CNN_E_INVALID, "dataset_from_arrays: %d classes (expected 2..%d)", classes, CNN_MAX_CLASSES);
    for (int i = 0; i < n; i++)
        if (labels[i] >= classes)
            return cnn_fail(CNN_E_INVALID, "dataset_from_arrays: label %d of image %d is not below the class count %d",
                            labels[i], i, classes);
    size_t image_bytes, all;
    if (cnn_mul_size(&image_bytes, (size_t)h * w, (size_t)c) || cnn_mul_size(&all, image_bytes, (size_t)n))
        return cnn_fail(CNN_E_INVALID, "dataset_from_arrays: size overflows");
    cnn_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) goto nomem;
    ds->images = malloc(all);
    ds->labels = malloc((size_t)n);
    if (!ds->images || !ds->labels) goto nomem;
    memcpy(ds->images, images, all);
    memcpy(ds->labels, labels, (size_t)n);
    ds->n = n, ds->h = h, ds->w = w, ds->c = c, ds->classes = classes;
    *out = ds;
    return CNN_OK;
nomem:
    cnn_dataset_free(ds);
    return cnn_fail(CNN_E_NOMEM, "dataset_from_arrays: out of memory for %d images of %zu bytes", n, image_bytes);
}

int cnn_dataset_from_idx(cnn_dataset **out, const uint8_t *images, size_t images_len, const uint8_t *labels,
                         size_t labels_len) {
    if (!out) return cnn_fail(CNN_E_INVALID, "load_idx: out is NULL");
    *out = NULL;
    cnn_idx_array im, lb;
    int st = cnn_idx_parse(&im, images, images_len, 3, 4, "images");
    if (st) return st;
    st = cnn_idx_parse(&lb, labels, labels_len, 1, 1, "labels");
    if (st) return st;
    if (im.dims[0] != lb.dims[0])
        return cnn_fail(CNN_E_FORMAT, "load_idx: %u images but %u labels (expected the same count)", im.dims[0], lb.dims[0]);
    if (im.dims[0] > (uint32_t)CNN_MAX_IMAGES)
        return cnn_fail(CNN_E_FORMAT, "load_idx: %u images (expected at most %d)", im.dims[0], CNN_MAX_IMAGES);
    uint32_t c = im.ndims == 4 ? im.dims[3] : 1;
    if (im.dims[1] > CNN_MAX_SIDE || im.dims[2] > CNN_MAX_SIDE || c > CNN_MAX_CHANNELS)
        return cnn_fail(CNN_E_FORMAT, "load_idx: images are %ux%ux%u (expected sides up to %d and up to %d channels)",
                        im.dims[1], im.dims[2], c, CNN_MAX_SIDE, CNN_MAX_CHANNELS);
    int max_label = 0;
    for (uint32_t i = 0; i < lb.dims[0]; i++)
        if (lb.data[i] > max_label) max_label = lb.data[i];
    int classes = max_label + 1 < 2 ? 2 : max_label + 1;
    return cnn_dataset_from_arrays(out, im.data, lb.data, (int)im.dims[0], (int)im.dims[1], (int)im.dims[2], (int)c,
                                   classes);
}

void cnn_dataset_free(cnn_dataset *ds) {
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    free(ds);
}

int cnn_dataset_count(const cnn_dataset *ds) { return ds ? ds->n : 0; }
int cnn_dataset_height(const cnn_dataset *ds) { return ds ? ds->h : 0; }
int cnn_dataset_width(const cnn_dataset *ds) { return ds ? ds->w : 0; }
int cnn_dataset_channels(const cnn_dataset *ds) { return ds ? ds->c : 0; }
int cnn_dataset_classes(const cnn_dataset *ds) { return ds ? ds->classes : 0; }
const uint8_t *cnn_dataset_images(const cnn_dataset *ds) { return ds ? ds->images : NULL; }
const uint8_t *cnn_dataset_labels(const cnn_dataset *ds) { return ds ? ds->labels : NULL; }
