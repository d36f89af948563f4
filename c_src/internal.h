/* internal.h - declarations shared by the core's source files; not part of the public interface. */
#ifndef CNN_INTERNAL_H
#define CNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"

/* ---- Limits on untrusted input, checked before any allocation that depends on it (see cnn_limit) ---- */
#define CNN_MAX_DRAWING_SIDE 4096          /* preprocessing: drawing width and height */
#define CNN_MAX_HEADER_BYTES (1024 * 1024) /* safetensors: JSON header (ours are a few KB) */
#define CNN_MAX_FILE_BYTES (512 * 1024 * 1024) /* any file a binding reads: IDX (decompressed), weights, images */
#define CNN_MAX_SPEC_CHARS 65536           /* architecture spec text */

/* Records a failure message (printf format) as the module's last error and returns status. */
int cnn_fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Overflow-checked size arithmetic: return 0 and store the result, or return -1 on overflow. */
int cnn_mul_size(size_t *out, size_t a, size_t b);
int cnn_add_size(size_t *out, size_t a, size_t b);

/* ---- Seeded random numbers (xoshiro128**, seeded by splitmix64); owned by a model, never global. ---- */
typedef struct {
    uint32_t s[4];
} cnn_rng;
void cnn_rng_seed(cnn_rng *r, uint64_t seed);
uint32_t cnn_rng_u32(cnn_rng *r);
float cnn_rng_uniform(cnn_rng *r); /* [0, 1) with 24 random bits */
uint32_t cnn_rng_below(cnn_rng *r, uint32_t n); /* uniform in [0, n), n >= 1, unbiased */

/* A clock in milliseconds (emscripten_get_now in wasm, timespec_get natively), for profiling. */
double cnn_now_ms(void);

/* ---- IDX files (idx.c) ---- */
typedef struct {
    int ndims;            /* 1..4 */
    uint32_t dims[4];     /* dims[0] is the item count */
    const uint8_t *data;  /* points into the parsed buffer: product(dims) bytes */
} cnn_idx_array;
/* Parses an unsigned-byte IDX file held in memory. what names the file in messages ("images", "labels").
 * Validates the magic (0x00 0x00 0x08 ndims), ndims in [min_dims, max_dims], dims > 0 and that the data size
 * equals the product of the dims (a truncated or oversized file is an error). */
int cnn_idx_parse(cnn_idx_array *out, const uint8_t *bytes, size_t len, int min_dims, int max_dims,
                  const char *what);

/* ---- safetensors container (safetensors.c, json.c): names, shapes and F32 or I64 data; no model knowledge ---- */
#define CNN_ST_MAX_DIMS 8
#define CNN_ST_MAX_NAME 128
typedef enum { CNN_ST_F32 = 0, CNN_ST_I64 = 1 } cnn_st_dtype; /* little-endian float32, int64 */
typedef struct {
    char name[CNN_ST_MAX_NAME];
    int dtype;         /* cnn_st_dtype */
    int ndim;
    int64_t shape[CNN_ST_MAX_DIMS];
    const void *data;  /* reading: points into the file bytes, may be unaligned (use memcpy); writing: source */
    size_t count;      /* product of shape */
} cnn_st_tensor;
/* Bytes per element of a dtype (4 or 8). */
size_t cnn_st_dtype_size(int dtype);
typedef struct {
    cnn_st_tensor *tensors;
    int count;
    char **meta_keys; /* __metadata__ entries, count meta_count; strings owned by the file struct */
    char **meta_values;
    int meta_count;
} cnn_st_file;
/* Parses and fully validates a safetensors buffer (see safetensors.c for the rules). Only F32 and I64
 * tensors are accepted. On success out owns its arrays (free with cnn_st_file_free); tensor data point into bytes. */
int cnn_st_parse(cnn_st_file *out, const uint8_t *bytes, size_t len);
void cnn_st_file_free(cnn_st_file *f);
const char *cnn_st_meta(const cnn_st_file *f, const char *key);           /* NULL if absent */
const cnn_st_tensor *cnn_st_find(const cnn_st_file *f, const char *name); /* NULL if absent */
/* Writes tensors (in the given order, data contiguous little-endian, each in its dtype) and string metadata pairs.
 * out is allocated with malloc (release with cnn_free / free). */
int cnn_st_write(uint8_t **out, size_t *len, const cnn_st_tensor *tensors, int count, const char *const *meta_keys,
                 const char *const *meta_values, int meta_count);

/* ---- Image warps (augment.c) ---- */
/* Random affine augmentation of one image: shift up to max_shift px, rotation up to max_deg degrees, scale by
 * a factor in [1 - max_scale, 1 + max_scale], about the image centre, bilinear sampling, zero outside.
 * out (h, w, c) float <- in (h, w, c) uint8 scaled by 1/255. Randomness from r. */
void cnn_augment_image(float *out, const uint8_t *in, int h, int w, int c, float max_shift, float max_deg,
                       float max_scale, cnn_rng *r);

#endif /* CNN_INTERNAL_H */
