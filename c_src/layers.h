/* layers.h - layer kinds: one descriptor per kind, and the layer record the model keeps per layer.
 *
 * A descriptor says everything the rest of the core needs to know about a kind: its spec syntax (parse), its
 * output shape (infer), its tensors in PyTorch layout and how their elements map to ours, whether it may work
 * in place, its initialisation, forward, backward, canonical text and cost. Adding a kind is one enum value,
 * one descriptor (next to its math, in layers_*.c) and one line in the table in layers.c.
 *
 * Layout: activations are NHWC, (n, h, w, c) per block; a flat vector of features is (n, 1, 1, features).
 * Backward accumulates (+=) into the gradients of its inputs and of its parameters: the model zeroes them once
 * per step, so one output can feed two consumers (a residual block's input feeds its branch and its skip). A
 * layer working in place gets dx == dy: it turns the gradient of its output into that of its input (its input
 * has no other consumer, see LF_IN_PLACE). */
#ifndef CNN_LAYERS_H
#define CNN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Layer kinds. L_COUNT is the number of kinds: every table indexed by kind has L_COUNT entries (checked). */
typedef enum {
    L_CONV, L_DENSE, L_MAXPOOL, L_AVGPOOL, L_RELU, L_SIGMOID, L_TANH, L_DROPOUT, L_FLATTEN, L_SOFTMAX,
    L_BATCHNORM, L_GLOBALAVGPOOL, L_LEAKYRELU, L_GELU, L_ADD,
    L_COUNT
} cnn_layer_kind;

#define CNN_LAYER_NAME 24
#define CNN_MAX_LAYER_TENSORS 5 /* tensors of one layer in a weight file (ntensors of every descriptor) */
#define CNN_NO_LAYER (-2)       /* src2 of a layer with one input */

/* Marks on a layer for the canonical text of residual blocks: the line written before the layer. */
enum { MARK_NONE = 0, MARK_RESIDUAL = 1, MARK_SKIP = 2 };

/* One layer of a model. Shapes are (H, W, C); flat features are (1, 1, N). */
typedef struct {
    cnn_layer_kind kind;
    char name[CNN_LAYER_NAME]; /* conv1, fc2, relu3, ...: the prefix of its tensors' names in weight files */
    int src;                   /* the layer whose output is the input, -1 for the model input */
    int src2;                  /* add: the layer whose output is the second input (the skip); else CNN_NO_LAYER */
    int mark;                  /* MARK_*: opens a residual block or its skip */
    int stmt;                  /* the spec statement it comes from (1-based), for messages */
    int ih, iw, ic;            /* input shape */
    int oh, ow, oc;            /* output shape */
    /* hyper-parameters (meaning per kind) */
    int k, stride, pad;        /* conv: kernel side, stride, zero padding per side */
    float p;                   /* dropout: probability; leakyrelu: negative slope */
    int fh, fw, fc;            /* dense, batchnorm: the (H, W, C) shape flat input features came from (files
                                * order them C, H, W); (1, 1, C) for spatial input */
    /* memory, assigned when the model is created */
    size_t p_off, p_count;     /* parameters: offset and length in the parameter, gradient and optimizer arenas */
    size_t b_off, b_count;     /* buffers (batch norm's running statistics): offset and length in the buffer arena */
    int64_t batches;           /* batch norm: training batches its running statistics have seen */
    size_t in_off, out_off;    /* activation blocks (offsets into the activation arenas, in floats) */
    size_t in2_off;            /* add: the second input's block */
    size_t in_size, out_size;  /* floats per image of the input and the output */
    size_t scratch_off;        /* the layer's scratch in the activation arena (dropout mask, batch statistics);
                                * a multiple of 4 floats */
    int in_place;              /* the output overwrites the input block */
    /* backward fusion, set when the model is created (model.c, plan_backward) */
    int bwd_write;             /* maxpool: writes dx instead of adding to it, the only gradient its input block
                                * receives (the model does not zero that block) */
    int bwd_relu;              /* maxpool: also does the backward pass of the in-place ReLU below it */
    int bwd_skip;              /* relu: its backward pass is done by the maxpool above it */
    int frozen;                /* parameters are not trained */
    int relu_follows;          /* initialisation: He for layers followed by ReLU, Glorot otherwise */
} cnn_layer;

/* Workspace shared by all layers of a model, sized at creation for the largest layer and batch. */
typedef struct {
    float *col, *dcol;   /* convolution unrolling (im2col) and its gradient: col_floats each */
    size_t col_floats;
    float *gemm;         /* CNN_GEMM_WORK_FLOATS */
} cnn_workspace;

/* What a forward or backward call works on. Pointers are into the model's arenas. */
typedef struct {
    int n;                  /* images in the batch */
    int training;           /* training mode: dropout is active, batch norm uses the batch's statistics */
    const float *x;         /* (n, in_size) input */
    const float *x2;        /* add: (n, in_size) the second input */
    float *y;               /* (n, out_size) output */
    const float *dy;        /* backward: (n, out_size) gradient of the output */
    float *dx;              /* backward: (n, in_size) gradient of the input, accumulated (+=); NULL when no
                             * layer below needs it; == dy for a layer working in place */
    float *dx2;             /* add: gradient of the second input, accumulated; NULL when not needed */
    const float *w;         /* the layer's parameters (p_count) */
    float *dw;              /* their gradients, accumulated; NULL when frozen */
    const float *buf;       /* the layer's buffers (b_count): running statistics */
    float *scratch;         /* the layer's scratch */
    cnn_workspace *ws;
    cnn_rng *rng;           /* training forward: dropout masks */
    const uint8_t *labels;  /* softmax backward: (n) class labels */
} cnn_pass;

/* What a tensor of a layer holds. */
typedef enum {
    T_PARAM = 0,  /* trained parameters (F32), in the parameter arena */
    T_BUFFER = 1, /* state kept with the model but not trained (F32), in the buffer arena */
    T_COUNT = 2   /* the layer's batch counter (I64 scalar) */
} cnn_tensor_role;

/* A tensor of a layer as weight files hold it. */
typedef struct {
    const char *suffix; /* the file name is "<layer>.<suffix>" */
    int decay;          /* weight decay applies to it */
    int ndim;
    int64_t shape[4];   /* PyTorch layout */
    size_t count;       /* elements */
    size_t offset;      /* of its first element within the layer's parameters (or buffers) */
    int role;           /* cnn_tensor_role */
    int nonneg;         /* values must be >= 0 (a variance) */
} cnn_tensor_info;

/* A statement of the spec, for messages: "spec: layer <index> ('<text>'): ...". */
typedef struct {
    int index;          /* 1-based among the non-empty statements */
    const char *text;
} cnn_stmt;

/* Records a spec error naming the statement; returns CNN_E_FORMAT. */
int cnn_spec_fail(const cnn_stmt *st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Descriptor flags. */
enum {
    LF_SPATIAL = 1 << 0,      /* needs an (H, W, C) input: not after flatten or dense */
    LF_FLAT_INPUT = 1 << 1,   /* reads flat features: a flatten is inserted before it when needed */
    LF_FLAT_OUTPUT = 1 << 2,  /* its output is flat features */
    LF_ACTIVATION = 1 << 3,   /* an activation: its name may end a conv2d or dense statement */
    LF_IN_PLACE = 1 << 4,     /* elementwise; may overwrite its input when nothing else needs it */
    LF_NEEDS_OUTPUT = 1 << 5, /* backward reads its own output: a later layer must not overwrite it */
    LF_ALIAS = 1 << 6,        /* its output is its input block, renamed (flatten) */
    LF_INTERNAL = 1 << 7,     /* added by the parser, not written as a statement of its own */
    LF_NORM = 1 << 8,         /* normalises with batch statistics: He initialisation looks through it */
};

typedef struct {
    const char *name;   /* spec keyword, canonical text and cnn_model_layer_kind(): "conv2d" */
    const char *alias;  /* another accepted keyword ("conv"), or NULL */
    const char *prefix; /* default layer names: prefix + ordinal among layers of the same prefix */
    const char *noun;   /* for messages: "a convolution" */
    unsigned flags;     /* LF_* */
    /* Reads the words after the keyword into l's hyper-parameters. *act receives a trailing activation word
     * (the shorthand for an activation layer after this one) when the kind allows one. NULL: no arguments. */
    int (*parse)(cnn_layer *l, char **args, int nargs, const char **act, const cnn_stmt *st);
    /* Sets the output shape and p_count from the input shape (ih, iw, ic) and the hyper-parameters; refuses
     * shapes it cannot work on. NULL: the output shape is the input shape. */
    int (*infer)(cnn_layer *l, const cnn_stmt *st);
    int ntensors;
    /* Tensor t (0 .. ntensors - 1) of l. */
    void (*tensor)(const cnn_layer *l, int t, cnn_tensor_info *out);
    /* Index within tensor t, in our layout, of element i of the PyTorch-layout tensor. NULL: the same. */
    size_t (*ours_from_torch)(const cnn_layer *l, int t, size_t i);
    /* Initial parameters w (p_count) drawn from r, and buffers buf (b_count). NULL: none. */
    void (*init)(const cnn_layer *l, float *w, float *buf, cnn_rng *r);
    /* Floats of scratch in the activation arena for a batch of max_batch. NULL: none. */
    size_t (*scratch)(const cnn_layer *l, int max_batch);
    /* Floats of convolution workspace (col and dcol each) for a batch of max_batch. NULL: none. */
    size_t (*workspace)(const cnn_layer *l, int max_batch);
    void (*forward)(const cnn_layer *l, const cnn_pass *p);
    void (*backward)(const cnn_layer *l, const cnn_pass *p);
    /* After a training step: returns -1 when the statistics its training forward pass left in scratch are not
     * finite, else 0, and when apply is 1 folds them into the buffers (running statistics). NULL: none. */
    int (*update_stats)(cnn_layer *l, float *buf, const float *scratch, int apply);
    /* The canonical spec line of l into buf (cap bytes). */
    void (*text)(const cnn_layer *l, char *buf, size_t cap);
    /* Floating-point operations of the forward pass, per image. */
    double (*flops)(const cnn_layer *l);
} cnn_layer_desc;

/* The descriptor of a kind. */
const cnn_layer_desc *cnn_layer_desc_of(cnn_layer_kind kind);
/* The kind whose keyword (name or alias) is word, or -1. Internal kinds are not found. */
int cnn_layer_kind_by_word(const char *word);
/* Writes the keywords of the kinds whose flags include all of `with`, for messages: "a, b or c" when sep is
 * NULL, else joined by sep ("a|b|c"). */
void cnn_layer_keywords(char *buf, size_t cap, unsigned with, const char *sep);

/* ---- helpers shared by the descriptors (layers.c) ---- */
/* Parses a decimal integer in [lo, hi] (digits only); returns 0, or -1. */
int cnn_parse_int(const char *s, int lo, int hi, int *out);
/* Parses "AxBx..." (up to max parts, each 1..4096) into out; returns the number of parts, or -1. */
int cnn_parse_dims(const char *s, int *out, int max);
/* The shortest "%g" text of v that reads back as the same float. */
void cnn_float_text(char *buf, size_t cap, float v);
/* Uniform in [-limit, limit]: He (fan_in, relu) or Glorot (fan_in + fan_out) limits. */
void cnn_init_uniform(float *w, size_t n, float fan_in, float fan_out, int relu, cnn_rng *r);

/* The descriptors, defined next to their math. */
extern const cnn_layer_desc cnn_layer_conv2d, cnn_layer_dense, cnn_layer_maxpool, cnn_layer_avgpool,
    cnn_layer_relu, cnn_layer_sigmoid, cnn_layer_tanh, cnn_layer_dropout, cnn_layer_flatten, cnn_layer_softmax,
    cnn_layer_batchnorm, cnn_layer_globalavgpool, cnn_layer_leakyrelu, cnn_layer_gelu, cnn_layer_add;

/* The input feature at index j of a PyTorch-ordered vector of flat features (C, H, W) is at this index in our
 * (H, W, C) order; identity when (fh, fw) is (1, 1). Dense weights and batch norm over flat features use it. */
size_t cnn_flat_ours_from_torch(size_t j, int fh, int fw, int fc);

/* Winograd convolution (conv_winograd.c): whether it serves layer l, the output tile side it uses for l (2 for
 * F(2x2, 3x3), 4 for F(4x4, 3x3): the one with fewer multiplies), the workspace for tile side m (floats of ws->col
 * and of ws->dcol), and the passes with tile side m, with the contract of the im2col ones in layers_conv.c. */
int cnn_winograd_applies(const cnn_layer *l);
int cnn_winograd_tile(const cnn_layer *l);
size_t cnn_winograd_workspace(const cnn_layer *l, int m, int max_batch);
void cnn_winograd_forward(float *y, const float *x, const float *w, const float *b, const cnn_layer *l, int m,
                          int n, cnn_workspace *ws);
void cnn_winograd_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                           const cnn_layer *l, int m, int n, cnn_workspace *ws);

#endif /* CNN_LAYERS_H */
