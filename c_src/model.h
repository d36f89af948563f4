/* model.h - the model's internal structure, shared by spec.c, model.c, weights.c, optim.c and train.c. */
#ifndef CNN_MODEL_H
#define CNN_MODEL_H

#include "internal.h"
#include "layers.h"

#define CNN_MAX_LAYERS 64
#define CNN_MAX_SIDE 1024
#define CNN_MAX_CHANNELS 16
#define CNN_MAX_CLASSES 256
#define CNN_MAX_IMAGES 10000000
#define CNN_MAX_BATCH 4096
#define CNN_MAX_PARAMS (64 * 1024 * 1024)
#define CNN_MAX_STRIDE 8
/* The most floating-point operations a forward pass may take per image: 4 GFLOP, about a second per image on
 * one core. Sensible networks for 28x28 digits need far less (the resnet preset about 0.021 GFLOP). */
#define CNN_MAX_FLOPS 4e9
/* Convolutions are unrolled (im2col) at most this many output rows, and this many floats, at a time. */
#define CNN_CONV_CHUNK_ROWS 4096
#define CNN_CONV_CHUNK_FLOATS (4 * 1024 * 1024)
/* 3x3 stride-1 convolutions with at least this many input channels run by Winograd F(2x2, 3x3) or F(4x4, 3x3)
 * (conv_winograd.c); its transformed tiles (input and output) take at most this many floats at a time. */
#define CNN_WINO_MIN_CHANNELS 8
#define CNN_WINO_CHUNK_FLOATS (256 * 1024)
/* Each activation arena holds at most this many floats (1 GiB): beyond it, max_batch must be lowered. */
#define CNN_MAX_ACT_FLOATS ((size_t)1 << 28)

struct cnn_dataset {
    int n, h, w, c, classes;
    uint8_t *images; /* (n, h, w, c) */
    uint8_t *labels; /* (n) */
};

struct cnn_model {
    cnn_layer layers[CNN_MAX_LAYERS]; /* in evaluation order; each reads the output of an earlier one */
    int nlayers;
    int in_h, in_w, in_c, classes;
    int max_batch;
    char *spec;          /* canonical spec text */
    double flops;        /* floating-point operations of a forward pass per image */
    cnn_rng rng;         /* all randomness: init, shuffle, dropout, augmentation */
    size_t nparams;
    float *params;       /* (nparams) parameters, layer by layer, each layer's tensors in descriptor order */
    float *grads;        /* (nparams) d params, accumulated by backward */
    size_t nbuffers;
    float *buffers;      /* (nbuffers) batch norm's running statistics, layer by layer */
    size_t act_floats;   /* floats of each activation arena */
    size_t act_per_image;/* act_floats / max_batch */
    float *acts;         /* the input block, then per-layer blocks of (max_batch, size) and layer scratch */
    float *dacts;        /* same layout as acts: gradients of the activations */
    cnn_workspace ws;    /* convolution unrolling and GEMM packing */
    int last_batch;      /* images in the last forward pass (predict, evaluate or a training step) */
    int profiling;       /* 1: every layer's forward, backward and update times accumulate in profile_ms */
    double profile_ms[CNN_MAX_LAYERS][3]; /* (layer, phase): ms in forward, backward, optimizer update */
};

/* Parses and validates a spec of len bytes (or a preset name) into m's layer list, shapes, cost and canonical
 * text; allocates nothing else. On failure m->spec is NULL. (spec.c) */
int cnn_spec_build(cnn_model *m, const char *text, size_t len);

/* Forward pass over n <= max_batch images already in the input block of acts. training: dropout on.
 * Leaves probabilities in the softmax output. (model.c) */
void cnn_model_forward(cnn_model *m, int n, int training);
/* Backward pass for n images with labels, after a training forward pass: zeroes the activation gradients it
 * needs, then accumulates parameter gradients (parameter gradients are zeroed by the caller). It stops at the
 * lowest trainable layer. The mean loss is computed by the caller from the probabilities. (model.c) */
void cnn_model_backward(cnn_model *m, int n, const uint8_t *labels);
/* After a training forward pass: returns -1 when its batch statistics (batch norm) are not finite, else 0; with
 * apply = 1 (once the step is applied) also folds them into the running statistics (not for frozen layers). */
int cnn_model_update_running_stats(cnn_model *m, int apply);
/* CNN_OK, or CNN_E_INVALID naming fn when m is NULL or was only checked (cnn_spec_check: no memory). */
int cnn_model_require_memory(const cnn_model *m, const char *fn);
/* The input block (max_batch, H, W, C) and the probability block (max_batch, classes). */
float *cnn_model_input(cnn_model *m);
const float *cnn_model_probs(const cnn_model *m);
/* Cross-entropy of probabilities p (classes) for label y, clamped away from log(0). */
float cnn_xent(const float *p, int y);

#endif
