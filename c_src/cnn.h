/*
 * cnn.h - the public interface of the CNN core.
 *
 * A small C11 library to build, train, evaluate and run convolutional networks for images such as MNIST
 * digits. It compiles to WebAssembly (SIMD and scalar variants) and with the host compiler.
 *
 * Conventions
 *  - Tensors are float32, batch-major, in NHWC layout: (N, H, W, C). A grayscale 28x28 image is (28, 28, 1).
 *    Weight files use PyTorch layouts; the conversion happens only when reading and writing them.
 *  - Every function that can fail returns a cnn_status. On failure cnn_last_error() returns a message naming
 *    the function, the offending value and what was expected. No function calls exit() or abort() on input.
 *  - Handles are opaque. Every *_free function accepts NULL. Memory returned through an out-pointer of type
 *    uint8_t ** is released with cnn_free().
 *  - A module instance is single-threaded: use one instance per thread (per Web Worker).
 */
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#define CNN_API EMSCRIPTEN_KEEPALIVE
#else
#define CNN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==================================================================================================== */
/* Status and errors                                                                                    */
/* ==================================================================================================== */

/* Return codes. Values only grow at the end. */
typedef enum {
    CNN_OK = 0,
    CNN_E_INVALID = 1,  /* an argument is out of range (batch 0, negative learning rate, bad shape) */
    CNN_E_FORMAT = 2,   /* a file or spec is malformed (IDX, safetensors, architecture text) */
    CNN_E_NOMEM = 3,    /* an allocation failed */
    CNN_E_DIVERGED = 4, /* training produced a non-finite loss or gradient; the step was not applied */
    CNN_E_EMPTY = 5     /* nothing to work on (an empty drawing, an empty data set) */
} cnn_status;

/* The message of the last failure in this module instance. Never NULL; "" before any failure. */
CNN_API const char *cnn_last_error(void);

/* A short constant name for a status ("ok", "invalid argument", ...). */
CNN_API const char *cnn_status_string(int status);

/* Allocation helpers for callers that must pass buffers in (the JS side). cnn_free(NULL) is a no-op. */
CNN_API void *cnn_alloc(size_t bytes);
CNN_API void cnn_free(void *p);

/* ==================================================================================================== */
/* Limits                                                                                               */
/* ==================================================================================================== */

/* The limits the core enforces on untrusted input, by name: "side", "channels", "classes", "images", "batch",
 * "layers", "params", "spec_chars", "drawing_side", "header_bytes" (safetensors JSON header), "file_bytes" (the
 * largest file a binding should read whole: IDX after decompression, weights, images). Bindings check sizes
 * against these before copying anything in, so that every reader refuses the same inputs.
 * @return the limit, or -1 for an unknown name. */
CNN_API int cnn_limit(const char *name);
/* The name of limit i (0-based), or NULL past the last one. */
CNN_API const char *cnn_limit_name(int i);

/* ==================================================================================================== */
/* Kernels                                                                                              */
/* ==================================================================================================== */

/* The kernel variants of this module: "scalar" always, "wasmsimd" in the SIMD build, and "wasmrelaxed" (the
 * wasmsimd kernels with a fused multiply-add GEMM) once added with cnn_kernels_add_wasmrelaxed. The fastest
 * compiled-in one is selected at start-up. Selecting is global to the module instance.
 * @return CNN_OK, or CNN_E_INVALID for a name not in this module. */
CNN_API int cnn_kernels_select(const char *name);
/* SIMD build only: adds the "wasmrelaxed" variant, whose GEMM micro-kernel (MR x NR = 4 x 8, the contract of
 * cnn_gemm_ukernel in kernels.h) is a function of another module placed in this module's function table by the
 * binding (cnn.mjs); ukernel is its table slot. Does not select it. @return CNN_OK, CNN_E_INVALID for NULL. */
CNN_API int cnn_kernels_add_wasmrelaxed(void (*ukernel)(float *c, int ldc, const float *ap, const float *bp, int kc,
                                                        int mr, int nr, int accumulate));
/* The name of variant i (0-based) of this module, or NULL past the last one. */
CNN_API const char *cnn_kernels_name(int i);
/* The name of the selected variant. */
CNN_API const char *cnn_kernels_selected(void);

/* ==================================================================================================== */
/* Data sets                                                                                            */
/* ==================================================================================================== */

typedef struct cnn_dataset cnn_dataset;

/* Builds a data set from the bytes of two IDX files (uncompressed): images with 3 dims (N, H, W) or 4 dims
 * (N, H, W, C), and labels with 1 dim (N), both of type unsigned byte (0x08). The bytes are validated (magic,
 * dims, sizes, matching counts) and copied; the caller keeps ownership of its buffers.
 * The class count is max(label) + 1, at least 2.
 * @param out  receives the new data set, or NULL on failure. Free with cnn_dataset_free. */
CNN_API int cnn_dataset_from_idx(cnn_dataset **out, const uint8_t *images, size_t images_len,
                                 const uint8_t *labels, size_t labels_len);

/* Builds a data set from raw arrays: images (n, h, w, c) uint8, labels (n) with values < classes. Copies. */
CNN_API int cnn_dataset_from_arrays(cnn_dataset **out, const uint8_t *images, const uint8_t *labels, int n,
                                    int h, int w, int c, int classes);

CNN_API void cnn_dataset_free(cnn_dataset *ds);
CNN_API int cnn_dataset_count(const cnn_dataset *ds);
CNN_API int cnn_dataset_height(const cnn_dataset *ds);
CNN_API int cnn_dataset_width(const cnn_dataset *ds);
CNN_API int cnn_dataset_channels(const cnn_dataset *ds);
CNN_API int cnn_dataset_classes(const cnn_dataset *ds);
/* Borrowed pointers, valid until cnn_dataset_free: images (N, H, W, C) uint8 and labels (N). */
CNN_API const uint8_t *cnn_dataset_images(const cnn_dataset *ds);
CNN_API const uint8_t *cnn_dataset_labels(const cnn_dataset *ds);

/* ==================================================================================================== */
/* Architecture spec                                                                                    */
/* ==================================================================================================== */

typedef struct cnn_model cnn_model; /* a network: its layers and, once created, its weights and buffers */

/* The spec is text: one layer per line or separated by ';', words separated by spaces or tabs, '#' starts a
 * comment (which may hold any UTF-8 text). Case does not matter; a UTF-8 byte order mark at the start is
 * skipped. Outside comments the text is plain ASCII: another character (a no-break space, a '×') is refused
 * with a message naming it, and so is a NUL byte.
 *   input HxWxC                        input shape (default 28x28x1); only as the first statement
 *   conv2d F KxK [valid|same] [stride S] [ACT]
 *                                      F filters, square kernel K; 'same' pads (K - 1) / 2 per side (the output
 *                                      keeps the input's size at stride 1); stride 1..8 (default 1)
 *   maxpool 2 | avgpool 2              2x2 window, stride 2 (odd sizes are floored, as in PyTorch)
 *   globalavgpool                      the mean of each channel over the image: (H, W, C) -> C features
 *   dense N [ACT]                      fully connected, N outputs
 *   batchnorm                          batch normalisation per channel (or per feature after dense), eps 1e-5,
 *                                      momentum 0.1 as PyTorch's BatchNorm2d / BatchNorm1d
 *   relu | sigmoid | tanh | gelu       activation (ACT above is shorthand for this on the next line)
 *   leakyrelu [SLOPE]                  x > 0 ? x : SLOPE * x, 0 <= SLOPE < 1 (default 0.01)
 *   dropout P                          0 <= P < 1, active only in training
 *   flatten                            (H, W, C) -> features; implicit before the first dense
 *   residual ... [skip ...] end [ACT]  a residual block: the layers after 'residual' (the branch) and those
 *                                      after 'skip' (the shortcut; none: the identity) both read the block's
 *                                      input, and their outputs are added; they must have the same shape (a
 *                                      stride-2 branch needs a projection such as 'skip; conv2d 64 1x1 stride 2').
 *                                      Blocks do not nest.
 *   softmax                            optional last layer; the output is always softmax + cross-entropy
 * The last layer (before the optional softmax) must be a dense layer without activation: its size is the class
 * count (2..256). Sizes: sides up to 1024, up to 16 input channels, kernels up to 15x15, at most 64 layers, at
 * most 4e9 floating-point operations per image (the resnet preset needs 2.1e7).
 * Layers are named by kind and order of appearance: conv1, conv2, ..., fc1, ..., bn1, ..., pool1, ... */

/* The spec of a preset: "keras", "pytorch", "mlp" or "resnet". Returns NULL for an unknown name. */
CNN_API const char *cnn_preset_spec(const char *name);
/* The presets, for listing them: cnn_preset_name(0 .. cnn_preset_count() - 1); NULL out of range. */
CNN_API int cnn_preset_count(void);
CNN_API const char *cnn_preset_name(int i);

/* The layer kinds, for listing them (a page's layer editor): cnn_layer_kind_name(0 .. cnn_layer_kind_count() -
 * 1) is the kind's spec keyword and the name cnn_model_layer_kind() gives; cnn_layer_kind_role() is 0 for a
 * layer statement, 1 for an activation (also usable as the ACT word above), 2 for a kind the parser adds
 * itself (add, the end of a residual block; softmax). Out of range: NULL and -1. */
CNN_API int cnn_layer_kind_count(void);
CNN_API const char *cnn_layer_kind_name(int kind);
CNN_API int cnn_layer_kind_role(int kind);

/* Checks a spec of len bytes (or a preset name; no terminating NUL needed) without reserving any memory for
 * weights or activations: *out receives a model handle that answers the introspection calls below
 * (cnn_model_spec, cnn_model_classes, cnn_model_param_count, cnn_model_flops_per_image, cnn_model_layer_*,
 * cnn_model_tensor_count/name/shape); the others refuse it with CNN_E_INVALID. Free it with cnn_model_free.
 * @return CNN_OK, or CNN_E_FORMAT with a message naming the layer by its position and text. */
CNN_API int cnn_spec_check(cnn_model **out, const char *text, size_t len);

/* ==================================================================================================== */
/* Models                                                                                               */
/* ==================================================================================================== */

/* Creates a model from a spec (or a preset name), initialised from a seeded generator: He-uniform for layers
 * followed by ReLU or leaky ReLU (also through a batchnorm), Glorot-uniform otherwise, zero biases; batch
 * norm starts with weight 1, bias 0, running mean 0 and variance 1. Buffers are reserved for batches of up to
 * max_batch images (1..4096); larger predictions and evaluations are processed in chunks.
 * @param out receives the model or NULL. Free with cnn_model_free. */
CNN_API int cnn_model_create(cnn_model **out, const char *spec_or_preset, uint32_t seed, int max_batch);
/* The same for a spec of len bytes (no terminating NUL needed; a NUL inside is refused). */
CNN_API int cnn_model_create_n(cnn_model **out, const char *spec, size_t len, uint32_t seed, int max_batch);
CNN_API void cnn_model_free(cnn_model *m);

/* Canonical text of the model's spec (one layer per line); borrowed, valid while the model lives. */
CNN_API const char *cnn_model_spec(const cnn_model *m);
CNN_API int cnn_model_input_height(const cnn_model *m);
CNN_API int cnn_model_input_width(const cnn_model *m);
CNN_API int cnn_model_input_channels(const cnn_model *m);
CNN_API int cnn_model_classes(const cnn_model *m);
CNN_API int cnn_model_max_batch(const cnn_model *m);
CNN_API int cnn_model_param_count(const cnn_model *m); /* trained parameters (not batch norm's running statistics) */
/* Floating-point operations of one image's forward pass (a multiply-add counts 2). */
CNN_API double cnn_model_flops_per_image(const cnn_model *m);

/* Layers, in order (activations, pooling, dropout and flatten are layers too). */
CNN_API int cnn_model_layer_count(const cnn_model *m);
/* A layer's kind ("conv2d", "dense", "maxpool", ...) and name ("conv1", "fc2", "relu3", ...); borrowed. */
CNN_API const char *cnn_model_layer_kind(const cnn_model *m, int layer);
CNN_API const char *cnn_model_layer_name(const cnn_model *m, int layer);
/* Output shape of a layer (H, W, C); dense outputs are (1, 1, N). Returns -1 for a bad index. */
CNN_API int cnn_model_layer_out_height(const cnn_model *m, int layer);
CNN_API int cnn_model_layer_out_width(const cnn_model *m, int layer);
CNN_API int cnn_model_layer_out_channels(const cnn_model *m, int layer);
CNN_API int cnn_model_layer_param_count(const cnn_model *m, int layer);
CNN_API double cnn_model_layer_flops(const cnn_model *m, int layer);
/* The layer whose output is input k (0, or 1 for the second input of the "add" that ends a residual block) of
 * a layer: -1 for the model's input, -2 when there is no such input or layer. Layers only read earlier ones. */
CNN_API int cnn_model_layer_input(const cnn_model *m, int layer, int k);

/* Profiling, for benchmarks: with profiling on, every layer's forward pass, backward pass and optimizer update
 * add their wall time (ms) to the layer's counters; off, it costs one test per layer. on = 1 zeroes the counters
 * and starts; 0 stops (the counters stay readable). @return CNN_OK, or CNN_E_INVALID for on not 0 or 1. */
CNN_API int cnn_model_set_profiling(cnn_model *m, int on);
/* The ms accumulated by layer in phase 0 (forward), 1 (backward) or 2 (update); -1 for a bad layer or phase. */
CNN_API double cnn_model_profile_ms(const cnn_model *m, int layer, int phase);

/* Reseeds the model's generator (shuffling, dropout and augmentation of the next trainer), e.g. for a model
 * loaded from a file, whose generator starts from seed 0. The weights are not changed. */
CNN_API void cnn_model_reseed(cnn_model *m, uint32_t seed);
/* A number drawn from the model's generator: a seed for replicas of this model that depends only on its seed
 * and history (data-parallel training reseeds every replica with it). */
CNN_API uint32_t cnn_model_draw_seed(cnn_model *m);
/* Draws a parameter layer's weights afresh from the model's generator, as at creation (biases 0; a batch norm's
 * running statistics back to mean 0, variance 1). */
CNN_API int cnn_model_reinit_layer(cnn_model *m, const char *layer_name);

/* Freezes (frozen = 1) or unfreezes a parameter layer by name: a frozen layer's weights and biases are not
 * changed by training (its gradients are still propagated to earlier layers). A frozen batch norm layer keeps
 * its running statistics too (it still normalises with the batch's statistics in training). */
CNN_API int cnn_model_set_frozen(cnn_model *m, const char *layer_name, int frozen);
CNN_API int cnn_model_is_frozen(const cnn_model *m, const char *layer_name);

/* Pointer to all parameters, laid out layer by layer (weight then bias; conv weights (OC, KH, KW, IC), dense
 * weights (out, in) with inputs in (H, W, C) order). Borrowed; for inspection and tests. */
CNN_API float *cnn_model_params(cnn_model *m);

/* The model's tensors by name, as weight files hold them: "conv1.weight", "conv1.bias", ..., "bn1.weight",
 * "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked", in the order files list them.
 * cnn_model_tensor_name writes the name of tensor index (0 .. cnn_model_tensor_count() - 1) into name (cap
 * bytes). cnn_model_tensor_shape gives its PyTorch-layout shape: *ndim (0..4) and shape[0 .. 4) (unused dims
 * are 1). */
CNN_API int cnn_model_tensor_count(const cnn_model *m);
CNN_API int cnn_model_tensor_name(const cnn_model *m, int index, char *name, int cap);
CNN_API int cnn_model_tensor_shape(const cnn_model *m, const char *name, int *ndim, int *shape);
/* Copies a tensor in PyTorch layout into out (exactly its element count): its values (gradient = 0), or
 * (gradient = 1, trained parameters only) its gradient from the last training step, the mean over that step's
 * batch (zero for a frozen layer; what was computed even when the step then diverged). A batch counter is
 * given as a float. */
CNN_API int cnn_model_tensor_read(const cnn_model *m, const char *name, int gradient, float *out, int count);

/* Class probabilities for n images in [0, 1]:  probs (n, classes) <- x (n, H, W, C). Inference mode
 * (dropout off). n may exceed max_batch. CNN_E_INVALID for a non-finite pixel or non-finite outputs. */
CNN_API int cnn_model_predict(cnn_model *m, float *probs, const float *x, int n);

/* Copies the output of a layer for the last image of the last forward pass (predict, evaluate or a training
 * step): out (H, W, C) of that layer. For showing what the network computes (feature maps). An activation or
 * dropout works in the buffer of the layer before it when nothing else needs that layer's output (after a conv,
 * dense or avgpool layer, for example): that layer then shows the values after the activation. */
CNN_API int cnn_model_layer_output(const cnn_model *m, float *out, int layer);

/* Saliency: grad (H, W, C) <- the gradient of the logit of class_index (the class's score before the softmax)
 * with respect to the pixels of image x (H, W, C), in inference mode (dropout off, batch norm's running
 * statistics). Parameter gradients are left as they were. Afterwards the last forward pass is this image's. */
CNN_API int cnn_model_input_gradient(cnn_model *m, float *grad, const float *x, int class_index);

/* ==================================================================================================== */
/* Weight files (safetensors)                                                                           */
/* ==================================================================================================== */

/* Serialises the model: F32 tensors "<layer>.weight" / "<layer>.bias" in PyTorch layouts (conv (out, in, kh,
 * kw); dense (out, in) with inputs flattened in (C, H, W) order); for batch norm also the F32 buffers
 * "<layer>.running_mean", "<layer>.running_var" and the I64 scalar "<layer>.num_batches_tracked", as PyTorch's
 * state_dict holds them; and __metadata__ {"format": "cnn-wasm", "format_version": "1", "spec": <canonical
 * spec>}.
 * @param out receives a buffer allocated by the library (free with cnn_free); @param len its length. */
CNN_API int cnn_model_save(const cnn_model *m, uint8_t **out, size_t *len);

/* Creates a model from a weight file alone (spec from __metadata__). Fully validated.
 * @param out receives the model or NULL. */
CNN_API int cnn_model_load(cnn_model **out, const uint8_t *bytes, size_t len, int max_batch);

/* Loads the tensors of a weight file into an existing model, for fine-tuning. strict = 1: the file must have
 * exactly the model's tensors with the same shapes. strict = 0: tensors whose name and shape match are loaded,
 * others are ignored; *loaded (optional) receives how many tensors were loaded. On failure the model is
 * unchanged. */
CNN_API int cnn_model_load_weights(cnn_model *m, const uint8_t *bytes, size_t len, int strict, int *loaded);
/* Like cnn_model_load_weights with strict = 1, except for the parameter layers named in `except` (comma-
 * separated, e.g. "fc2"): their tensors are neither needed nor loaded, whatever their shape in the file. For a
 * new head: a pre-trained body with a re-initialised last layer, of another class count if need be. */
CNN_API int cnn_model_load_weights_except(cnn_model *m, const uint8_t *bytes, size_t len, const char *except,
                                          int *loaded);

/* ==================================================================================================== */
/* Training                                                                                             */
/* ==================================================================================================== */

typedef enum { CNN_OPT_SGD = 0, CNN_OPT_ADAM = 1 } cnn_optimizer_kind;
typedef enum {
    CNN_SCHED_CONSTANT = 0,
    CNN_SCHED_STEP = 1,        /* lr * gamma^floor(t / step_size) */
    CNN_SCHED_EXPONENTIAL = 2, /* lr * gamma^t */
    CNN_SCHED_COSINE = 3       /* min_lr + (lr - min_lr) * (1 + cos(pi * t / total_steps)) / 2 */
} cnn_schedule_kind;

/* Hyper-parameters of a training run. Steps are optimizer steps (batches). Warm-up is linear from lr/
 * warmup_steps to lr over the first warmup_steps steps; the schedule's t counts from the end of warm-up. */
typedef struct {
    int optimizer;          /* cnn_optimizer_kind */
    float lr;               /* > 0 and <= 10 */
    float momentum;         /* SGD, 0 <= m < 1 */
    int nesterov;           /* SGD, 0 or 1 */
    float beta1, beta2;     /* Adam, in [0, 1) */
    float eps;              /* Adam, in (0, 1] */
    float weight_decay;     /* 0..1; applied to weights, not biases */
    int decoupled_decay;    /* 1: AdamW-style decoupled decay (lr * weight_decay < 1); 0: L2 added to the gradient */
    int schedule;           /* cnn_schedule_kind */
    int warmup_steps;       /* >= 0 */
    int step_size;          /* STEP: steps between decays, >= 1 */
    float gamma;            /* STEP, EXPONENTIAL: factor in (0, 1] */
    int total_steps;        /* COSINE: length of the decay, >= 1 */
    float min_lr;           /* COSINE: floor, 0..lr */
    int batch;              /* 1..max_batch of the model */
    int augment;            /* 1: random shifts, rotations and scaling of training images */
    float aug_shift;        /* pixels, max shift, 0..8 (default 2) */
    float aug_rotate;       /* degrees, max rotation, 0..45 (default 10) */
    float aug_scale;        /* max relative scale change, 0..0.5 (default 0.1) */
} cnn_train_params;

/* Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay, constant schedule, batch 32, no augmentation. */
CNN_API cnn_train_params cnn_train_default_params(void);
/* Writes the defaults into *p (for callers that cannot receive a struct by value). */
CNN_API void cnn_train_params_init(cnn_train_params *p);
/* sizeof(cnn_train_params) and sizeof(cnn_step_stats): every field of both is 4 bytes, in declaration order;
 * bindings check these sizes against their own layout. */
CNN_API int cnn_train_params_size(void);
CNN_API int cnn_step_stats_size(void);
/* Checks every field. @return CNN_OK or CNN_E_INVALID with a message naming the field. */
CNN_API int cnn_train_params_check(const cnn_train_params *p, const cnn_model *m);
/* The learning rate at optimizer step t (0-based) under p's warm-up and schedule. */
CNN_API float cnn_schedule_lr(const cnn_train_params *p, int t);

typedef struct cnn_trainer cnn_trainer;

/* Statistics of the steps run by one cnn_trainer_run call (or of one compute_gradients / apply_step). */
typedef struct {
    int steps;        /* steps run */
    int images;       /* images seen */
    float loss;       /* mean cross-entropy over those images (training mode, dropout on) */
    float accuracy;   /* fraction of those images classified right */
    float lr;         /* learning rate of the last step */
    int epoch;        /* epochs completed so far */
    int step_in_epoch;/* steps done in the current epoch */
} cnn_step_stats;

/* Prepares training of m on images [first, first + count) of ds. Keeps references to m and ds (both must
 * outlive the trainer). Each epoch visits every image once in an order shuffled by a stream of its own, seeded
 * from the model's generator (so replicas of one model shuffle alike); dropout and augmentation draw from the
 * model's generator. Creating a trainer resets the optimizer state (moments) and its step counter. */
CNN_API int cnn_trainer_create(cnn_trainer **out, cnn_model *m, const cnn_dataset *ds, int first, int count,
                               const cnn_train_params *p);
CNN_API void cnn_trainer_free(cnn_trainer *t);
/* Steps per epoch: ceil(images per epoch / batch), replay images included. */
CNN_API int cnn_trainer_steps_per_epoch(const cnn_trainer *t);

/* Mixes images [first, first + count) of another data set into every epoch: per_epoch of them (1..count), drawn
 * without replacement and afresh each epoch, shuffled in with the first data set's images. Nothing is copied:
 * ds must outlive the trainer. For fine-tuning on a few images without forgetting the many (replay). Call before
 * the first step; at most 3 such data sets. */
CNN_API int cnn_trainer_add_replay(cnn_trainer *t, const cnn_dataset *ds, int first, int count, int per_epoch);

/* Scales the learning rate of one parameter layer (e.g. 0.1 for pre-trained layers: "discriminative" rates);
 * 0 keeps it fixed like freezing, but still computes its gradients. 0..100, 1 by default. */
CNN_API int cnn_trainer_set_lr_mult(cnn_trainer *t, const char *layer_name, float mult);

/* Runs up to `steps` optimizer steps (stopping early at the end of an epoch) and fills *stats for the steps
 * applied. A step whose loss, gradients or new weights are not finite is not applied (or undone): the model and
 * the optimizer keep their last state and the call returns CNN_E_DIVERGED. Stopping between calls always leaves
 * a consistent model. Only for a trainer that is not a shard (see below). */
CNN_API int cnn_trainer_run(cnn_trainer *t, int steps, cnn_step_stats *stats);

/* ---- Data-parallel training: R replicas, each a model created alike (same spec, seed, weights) with its own
 * trainer on the same data and parameters. Per step, every replica computes the gradients of its shard of the
 * same batch; the gradient arenas are summed (in rank order, so the result does not depend on timing) and the
 * sum written into every replica's arena; every replica applies the same step. Same seed and R: same weights. */

/* Makes this trainer compute shard rank of ranks (0 <= rank < ranks <= 256) of every batch: images
 * [n * rank / ranks, n * (rank + 1) / ranks) of a batch of n. With ranks > 1 the replica's dropout and
 * augmentation stream is reseeded from (the model's generator, rank). Call before the first step. */
CNN_API int cnn_trainer_set_shard(cnn_trainer *t, int rank, int ranks);
/* Forward and backward of this replica's shard of the next batch: overwrites the model's gradient arena with
 * the gradient of the batch's mean loss restricted to the shard (shard size / batch size times the shard's mean
 * gradient; the replicas' arenas sum to the whole batch's gradient). Changes no weight. *stats: images, loss and
 * accuracy of the shard, lr of the step. CNN_E_DIVERGED for a non-finite loss (then apply_step must not run). */
CNN_API int cnn_trainer_compute_gradients(cnn_trainer *t, cnn_step_stats *stats);
/* The gradient arena: cnn_model_param_count(m) floats, same layout as cnn_model_params. Borrowed. */
CNN_API float *cnn_model_grads(cnn_model *m);
/* Adds another replica's gradients g (cnn_model_param_count(m) floats) into the arena, element by element. */
CNN_API int cnn_model_add_grads(cnn_model *m, const float *g);
/* One optimizer step (divergence guard as in cnn_trainer_run) with the gradients now in the arena, then moves
 * to the next batch. *stats: steps 1, images of the whole batch, lr, epoch, step_in_epoch. */
CNN_API int cnn_trainer_apply_step(cnn_trainer *t, cnn_step_stats *stats);

/* ==================================================================================================== */
/* Evaluation and metrics                                                                               */
/* ==================================================================================================== */

/* Evaluates m on images [first, first + count) of ds in inference mode.
 * @param confusion  optional (classes, classes) int32, row = true label, column = prediction; overwritten.
 * @param predicted  optional (count) int32: predicted class per image.
 * @param confidence optional (count) float: probability of the predicted class.
 * @param loss, accuracy  optional: mean cross-entropy and fraction correct.
 * The data set's class count must not exceed the model's. */
CNN_API int cnn_evaluate(cnn_model *m, const cnn_dataset *ds, int first, int count, int32_t *confusion,
                         int32_t *predicted, float *confidence, float *loss, float *accuracy);

/* Per-class precision, recall and F1 from a confusion matrix (classes, classes); each output (classes).
 * A class never predicted has precision 0; never present, recall 0. Macro averages are returned through
 * the optional out-pointers. */
CNN_API int cnn_metrics_from_confusion(float *precision, float *recall, float *f1, const int32_t *confusion,
                                       int classes, float *macro_precision, float *macro_recall,
                                       float *macro_f1);

/* ==================================================================================================== */
/* Preprocessing (the MNIST recipe)                                                                     */
/* ==================================================================================================== */

/* Turns a grayscale drawing into a model input the way MNIST digits were made: bounding box of the ink,
 * area-average scale so that the longer side is 20 px (aspect kept), paste into 28x28, shift so the
 * intensity-weighted centre of mass is at (14, 14), values in [0, 1], white ink on black.
 * @param out   (28, 28) floats
 * @param gray  (h, w) uint8 intensities; ink is bright unless invert = 1 (dark ink on a light background)
 * @return CNN_E_EMPTY when there is no ink. */
CNN_API int cnn_preprocess_digit(float *out, const uint8_t *gray, int w, int h, int invert);

#ifdef __cplusplus
}
#endif
#endif /* CNN_H */
