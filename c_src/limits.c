/* limits.c - the one table of limits on untrusted input, for bindings that check sizes before calling in. */
#include <string.h>

#include "model.h"

static const struct {
    const char *name;
    int value;
} limits[] = {
    {"side", CNN_MAX_SIDE},                 /* image height and width (data sets, model input) */
    {"channels", CNN_MAX_CHANNELS},         /* image channels */
    {"classes", CNN_MAX_CLASSES},           /* class count */
    {"images", CNN_MAX_IMAGES},             /* images in a data set */
    {"batch", CNN_MAX_BATCH},               /* max_batch of a model */
    {"layers", CNN_MAX_LAYERS},             /* layers in a spec */
    {"params", CNN_MAX_PARAMS},             /* parameters of a model */
    {"spec_chars", CNN_MAX_SPEC_CHARS},     /* bytes of spec text */
    {"drawing_side", CNN_MAX_DRAWING_SIDE}, /* width and height of a drawing to preprocess */
    {"header_bytes", CNN_MAX_HEADER_BYTES}, /* safetensors JSON header */
    {"file_bytes", CNN_MAX_FILE_BYTES},     /* any file read whole: IDX (decompressed), weights, images */
};

int cnn_limit(const char *name) {
    for (size_t i = 0; name && i < sizeof limits / sizeof limits[0]; i++)
        if (strcmp(limits[i].name, name) == 0) return limits[i].value;
    return -1;
}

const char *cnn_limit_name(int i) {
    return i >= 0 && (size_t)i < sizeof limits / sizeof limits[0] ? limits[i].name : NULL;
}
