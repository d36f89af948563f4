/* spec.c - the architecture spec: presets, parsing into layers, validation and the canonical text.
 * What a layer statement means is up to its kind's descriptor (layers.h); this file handles the text (comments,
 * separators, characters), the statements that are not layers (input, residual, skip, end, softmax), implicit
 * flattens and activation shorthands, names, residual blocks and the checks on the network as a whole. */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct {
    const char *name, *spec;
} preset;

static const preset presets[] = {
    {"keras", "conv2d 32 3x3 relu; maxpool 2; conv2d 64 3x3 relu; maxpool 2; flatten; dense 128 relu; dropout 0.5; "
              "dense 10"},
    {"pytorch", "conv2d 32 3x3 relu; conv2d 64 3x3 relu; maxpool 2; dropout 0.25; flatten; dense 128 relu; "
                "dropout 0.5; dense 10"},
    {"mlp", "flatten; dense 128 relu; dense 10"},
    /* a small residual network: a stem at 28x28, residual blocks at 14x14 (32 channels) and 7x7 (64 channels,
     * entered by a stride-2 block with a 1x1 projection on its skip), global average pooling */
    {"resnet", "conv2d 32 3x3 same; batchnorm; relu; maxpool 2\n"
               "residual; conv2d 32 3x3 same; batchnorm; relu; conv2d 32 3x3 same; batchnorm; end relu\n"
               "residual; conv2d 64 3x3 same stride 2; batchnorm; relu; conv2d 64 3x3 same; batchnorm\n"
               "skip; conv2d 64 1x1 stride 2; batchnorm; end relu\n"
               "residual; conv2d 64 3x3 same; batchnorm; relu; conv2d 64 3x3 same; batchnorm; end relu\n"
               "globalavgpool; dense 10"},
};

const char *cnn_preset_spec(const char *name) {
    for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(name, presets[i].name) == 0) return presets[i].spec;
    return NULL;
}

int cnn_preset_count(void) { return (int)(sizeof presets / sizeof presets[0]); }

const char *cnn_preset_name(int i) { return i >= 0 && i < cnn_preset_count() ? presets[i].name : NULL; }

#define MAX_WORDS 8
#define MAX_STATEMENT 256
#define MAX_STATEMENTS 512

/* The value the next layer reads: which layer produces it and its shape. */
typedef struct {
    int src;        /* producing layer, -1 for the input */
    int h, w, c;
    int flat;       /* flat features (after flatten, dense or global pooling) */
    int fh, fw, fc; /* the (H, W, C) order of those features ((1, 1, N) after a dense) */
} value;

typedef struct {
    int open, in_skip;
    int stmt;             /* the statement that opened it */
    char text[64];
    value input, branch;  /* the block's input; the branch's output once 'skip' is reached */
    int first, skip_first; /* layer counts when the branch and the skip started */
} block;

typedef struct {
    cnn_model *m;
    value v;
    int started;    /* a layer or block has been given (input must come first) */
    int seen_input;
    int mark;       /* MARK_* for the next layer added */
    block blk;
    cnn_stmt st;    /* the statement being parsed, for messages */
} builder;

static int too_many(const builder *b) { return cnn_spec_fail(&b->st, "too many layers (at most %d)", CNN_MAX_LAYERS); }

static void layer_name(const cnn_model *m, const cnn_layer_desc *d, char *name, size_t cap) {
    if (!d->prefix) {
        snprintf(name, cap, "%s", d->name);
        return;
    }
    int same = 0; /* the ordinal among layers with the same name prefix: conv1, conv2, ...; pool1, ... */
    for (int i = 0; i < m->nlayers; i++) {
        const char *q = cnn_layer_desc_of(m->layers[i].kind)->prefix;
        same += q && strcmp(q, d->prefix) == 0;
    }
    snprintf(name, cap, "%s%d", d->prefix, same + 1);
}

/* Appends a layer of the given kind reading the current value, with the hyper-parameters of proto (may be
 * NULL); infers its shape and makes its output the current value. */
static int add_layer(builder *b, cnn_layer_kind kind, const cnn_layer *proto) {
    cnn_model *m = b->m;
    const cnn_layer_desc *d = cnn_layer_desc_of(kind);
    if (m->nlayers >= CNN_MAX_LAYERS) return too_many(b);
    cnn_layer *l = &m->layers[m->nlayers];
    if (proto) *l = *proto;
    else memset(l, 0, sizeof *l);
    l->kind = kind;
    layer_name(m, d, l->name, sizeof l->name);
    l->src = b->v.src, l->src2 = CNN_NO_LAYER;
    l->mark = b->mark, l->stmt = b->st.index;
    l->ih = b->v.h, l->iw = b->v.w, l->ic = b->v.c;
    l->oh = b->v.h, l->ow = b->v.w, l->oc = d->infer ? l->oc : b->v.c;
    if (b->v.flat) l->fh = b->v.fh, l->fw = b->v.fw, l->fc = b->v.fc;
    else l->fh = 1, l->fw = 1, l->fc = b->v.c; /* per-channel: no reordering */
    if (d->infer) {
        int st = d->infer(l, &b->st);
        if (st) return st;
    }
    m->nlayers++;
    b->mark = MARK_NONE;
    if (d->flags & LF_ALIAS) b->v.fh = b->v.h, b->v.fw = b->v.w, b->v.fc = b->v.c;
    else if (d->flags & LF_FLAT_OUTPUT) b->v.fh = 1, b->v.fw = 1, b->v.fc = l->oc;
    b->v.flat |= (d->flags & LF_FLAT_OUTPUT) != 0;
    b->v.h = l->oh, b->v.w = l->ow, b->v.c = l->oc;
    b->v.src = m->nlayers - 1;
    return CNN_OK;
}

/* The activation named by word (a shorthand on conv2d, dense or end), with its default arguments. */
static int add_activation(builder *b, const char *word) {
    cnn_layer_kind kind = (cnn_layer_kind)cnn_layer_kind_by_word(word);
    cnn_layer proto;
    memset(&proto, 0, sizeof proto);
    const char *none = NULL;
    if (cnn_layer_desc_of(kind)->parse) cnn_layer_desc_of(kind)->parse(&proto, NULL, 0, &none, &b->st);
    return add_layer(b, kind, &proto);
}

static int parse_input(builder *b, char **words, int nw) {
    cnn_model *m = b->m;
    int dims[3] = {0, 0, 1};
    if (b->started || b->seen_input) return cnn_spec_fail(&b->st, "input must come first, once");
    if (nw != 2) return cnn_spec_fail(&b->st, "expected 'input HxW' or 'input HxWxC'");
    int n = cnn_parse_dims(words[1], dims, 3);
    if (n < 2 || dims[0] > CNN_MAX_SIDE || dims[1] > CNN_MAX_SIDE || dims[2] > CNN_MAX_CHANNELS)
        return cnn_spec_fail(&b->st, "input shape '%s' is not HxW or HxWxC with sides 1..%d and 1..%d channels",
                             words[1], CNN_MAX_SIDE, CNN_MAX_CHANNELS);
    b->v.h = m->in_h = dims[0], b->v.w = m->in_w = dims[1], b->v.c = m->in_c = dims[2];
    b->seen_input = 1;
    return CNN_OK;
}

/* Flat features whose (H, W, C) order is PyTorch's (C, H, W) order too: one channel, or one pixel. */
static int plain_order(const value *v) { return v->fc == 1 || (v->fh == 1 && v->fw == 1); }

/* "28x28x32", or "64 features" for flat ones. */
static void shape_text(char *buf, size_t cap, const value *v) {
    if (v->flat && !plain_order(v))
        snprintf(buf, cap, "%d features flattened from %dx%dx%d", v->c, v->fh, v->fw, v->fc);
    else if (v->flat) snprintf(buf, cap, "%d feature%s", v->c, v->c == 1 ? "" : "s");
    else snprintf(buf, cap, "%dx%dx%d", v->h, v->w, v->c);
}

/* Whether two values can be added: the same shape, and flat features in the same order. */
static int same_shape(const value *a, const value *b) {
    return a->h == b->h && a->w == b->w && a->c == b->c && a->flat == b->flat &&
           (!a->flat || (plain_order(a) && plain_order(b)) || (a->fh == b->fh && a->fw == b->fw && a->fc == b->fc));
}

static int parse_residual(builder *b, int nw) {
    block *k = &b->blk;
    if (nw != 1) return cnn_spec_fail(&b->st, "'residual' takes no arguments (its layers follow, up to 'end')");
    if (k->open)
        return cnn_spec_fail(&b->st, "residual blocks cannot be nested (close the block opened at layer %d with "
                             "'end' first)", k->stmt);
    memset(k, 0, sizeof *k);
    k->open = 1, k->stmt = b->st.index;
    snprintf(k->text, sizeof k->text, "%s", b->st.text);
    k->input = b->v;
    k->first = b->m->nlayers;
    b->mark = MARK_RESIDUAL;
    b->started = 1;
    return CNN_OK;
}

static int parse_skip(builder *b, int nw) {
    block *k = &b->blk;
    if (nw != 1) return cnn_spec_fail(&b->st, "'skip' takes no arguments (the skip's layers follow, up to 'end')");
    if (!k->open) return cnn_spec_fail(&b->st, "'skip' outside a residual block (it goes between 'residual' and 'end')");
    if (k->in_skip) return cnn_spec_fail(&b->st, "the residual block opened at layer %d already has a skip", k->stmt);
    if (b->m->nlayers == k->first)
        return cnn_spec_fail(&b->st, "the residual block opened at layer %d has no layers before 'skip'", k->stmt);
    k->in_skip = 1;
    k->branch = b->v;
    k->skip_first = b->m->nlayers;
    b->v = k->input;
    b->mark = MARK_SKIP;
    return CNN_OK;
}

/* The 1x1 projection that would map the block's input to the branch's shape, as a spec line, or "". */
static void suggest_projection(char *buf, size_t cap, const value *in, const value *out) {
    buf[0] = 0;
    if (in->flat || out->flat) {
        if (out->flat) snprintf(buf, cap, "dense %d", out->c);
        return;
    }
    for (int s = 1; s <= CNN_MAX_STRIDE; s++)
        if ((in->h - 1) / s + 1 == out->h && (in->w - 1) / s + 1 == out->w) {
            if (s == 1) snprintf(buf, cap, "conv2d %d 1x1", out->c);
            else snprintf(buf, cap, "conv2d %d 1x1 stride %d", out->c, s);
            return;
        }
}

static int parse_end(builder *b, char **words, int nw) {
    block *k = &b->blk;
    char bs[64], ss[64], proj[48], acts[96];
    if (!k->open) return cnn_spec_fail(&b->st, "'end' without a 'residual' block before it");
    cnn_layer_keywords(acts, sizeof acts, LF_ACTIVATION, "|");
    int act = nw == 2 ? cnn_layer_kind_by_word(words[1]) : -1;
    if (nw > 2 || (nw == 2 && (act < 0 || !(cnn_layer_desc_of(act)->flags & LF_ACTIVATION))))
        return cnn_spec_fail(&b->st, "expected 'end' or 'end ACTIVATION' (%s)", acts);
    if (!k->in_skip && b->m->nlayers == k->first)
        return cnn_spec_fail(&b->st, "the residual block opened at layer %d has no layers", k->stmt);
    if (k->in_skip && b->m->nlayers == k->skip_first)
        return cnn_spec_fail(&b->st, "'skip' must be followed by layers (leave 'skip' out for an identity shortcut)");
    value branch = k->in_skip ? k->branch : b->v, skip = k->in_skip ? b->v : k->input;
    if (!same_shape(&branch, &skip)) {
        shape_text(bs, sizeof bs, &branch);
        shape_text(ss, sizeof ss, &skip);
        if (k->in_skip)
            return cnn_spec_fail(&b->st, "the residual block opened at layer %d adds its branch (%s) to its skip (%s): "
                                 "they must have the same shape", k->stmt, bs, ss);
        suggest_projection(proj, sizeof proj, &k->input, &branch);
        if (proj[0])
            return cnn_spec_fail(&b->st, "the residual block opened at layer %d gives %s but its input is %s: add a "
                                 "projection on the skip, e.g. 'skip' then '%s' before 'end'", k->stmt, bs, ss, proj);
        return cnn_spec_fail(&b->st, "the residual block opened at layer %d gives %s but its input is %s: make its "
                             "layers keep the shape, or add layers after 'skip' that give %s", k->stmt, bs, ss, bs);
    }
    b->v = branch;
    int st = add_layer(b, L_ADD, NULL);
    if (st) return st;
    b->m->layers[b->m->nlayers - 1].src2 = skip.src;
    k->open = 0;
    return act >= 0 ? add_activation(b, words[1]) : CNN_OK;
}

static int parse_statement(builder *b, char **words, int nw, int is_last) {
    const char *word = words[0];
    if (!strcmp(word, "input")) return parse_input(b, words, nw);
    if (!strcmp(word, "residual")) return parse_residual(b, nw);
    if (!strcmp(word, "skip")) return parse_skip(b, nw);
    if (!strcmp(word, "end")) return parse_end(b, words, nw);
    if (!strcmp(word, "softmax")) {
        if (!is_last) return cnn_spec_fail(&b->st, "softmax must be the last layer");
        return CNN_OK; /* always appended */
    }
    int kind = cnn_layer_kind_by_word(word);
    if (kind < 0) {
        char kinds[256];
        cnn_layer_keywords(kinds, sizeof kinds, 0, ", ");
        return cnn_spec_fail(&b->st, "unknown layer '%s' (expected input, %s, residual, skip, end or softmax)", word,
                             kinds);
    }
    const cnn_layer_desc *d = cnn_layer_desc_of(kind);
    b->started = 1;
    if ((d->flags & LF_SPATIAL) && b->v.flat)
        return cnn_spec_fail(&b->st, "%s cannot follow flatten, dense or global pooling (its input has no spatial "
                             "shape)", d->noun);
    cnn_layer proto;
    memset(&proto, 0, sizeof proto);
    proto.kind = kind;
    const char *act = NULL;
    if (d->parse) {
        int st = d->parse(&proto, words + 1, nw - 1, &act, &b->st);
        if (st) return st;
    } else if (nw != 1) {
        return cnn_spec_fail(&b->st, "'%s' takes no arguments", word);
    }
    if ((d->flags & LF_ALIAS) && b->v.flat) return CNN_OK; /* flatten of flat features: nothing to do */
    if ((d->flags & LF_FLAT_INPUT) && !b->v.flat) {
        int st = add_layer(b, L_FLATTEN, NULL);
        if (st) return st;
    }
    int st = add_layer(b, kind, &proto);
    if (st == CNN_OK && act) st = add_activation(b, act);
    return st;
}

/* ---- characters ---- */

static const struct {
    unsigned cp;
    const char *name, *hint;
} odd_chars[] = {
    {0x0B, "vertical tab", "use a space or a tab"}, {0x0C, "form feed", "use a space or a tab"},
    {0x7F, "delete", NULL}, {0x85, "next line", "use a newline"}, {0xA0, "no-break space", "use a plain space"},
    {0xAD, "soft hyphen", "delete it"}, {0xD7, "multiplication sign", "use the letter x, as in 3x3"},
    {0x1680, "ogham space mark", "use a plain space"}, {0x2000, "en quad", "use a plain space"},
    {0x2001, "em quad", "use a plain space"}, {0x2002, "en space", "use a plain space"}, {0x2003, "em space", "use a plain space"},
    {0x2004, "three-per-em space", "use a plain space"}, {0x2005, "four-per-em space", "use a plain space"},
    {0x2006, "six-per-em space", "use a plain space"}, {0x2007, "figure space", "use a plain space"},
    {0x2008, "punctuation space", "use a plain space"}, {0x2009, "thin space", "use a plain space"},
    {0x200A, "hair space", "use a plain space"}, {0x200B, "zero width space", "delete it"},
    {0x2013, "en dash", NULL}, {0x2014, "em dash", NULL}, {0x2028, "line separator", "use a newline"},
    {0x2029, "paragraph separator", "use a newline"}, {0x202F, "narrow no-break space", "use a plain space"},
    {0x205F, "medium mathematical space", "use a plain space"}, {0x2212, "minus sign", NULL},
    {0x3000, "ideographic space", "use a plain space"}, {0xFEFF, "zero width no-break space", "delete it"},
};

/* Decodes the UTF-8 sequence at s; returns its length (0 when invalid) and the code point. */
static int utf8_decode(const unsigned char *s, unsigned *cp) {
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n) return 0;
    unsigned v = n == 1 ? s[0] : s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the terminating NUL */
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const unsigned lowest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < lowest[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

/* Refuses the first character of a statement that is not printable ASCII or a tab (comments are gone by now),
 * naming it. */
static int check_characters(const builder *b, const unsigned char *s) {
    for (; *s; s++) {
        if (*s == '\t' || (*s >= 0x20 && *s < 0x7F)) continue;
        unsigned cp = *s;
        if (*s >= 0x80 && !utf8_decode(s, &cp))
            return cnn_spec_fail(&b->st, "the byte 0x%02X is not valid UTF-8 text", *s);
        for (size_t i = 0; i < sizeof odd_chars / sizeof odd_chars[0]; i++)
            if (odd_chars[i].cp == cp) {
                if (odd_chars[i].hint)
                    return cnn_spec_fail(&b->st, "the character U+%04X (%s) is not allowed here: %s",
                                         cp, odd_chars[i].name, odd_chars[i].hint);
                return cnn_spec_fail(&b->st, "the character U+%04X (%s) is not allowed outside comments (a spec "
                                     "is plain ASCII)", cp, odd_chars[i].name);
            }
        if (cp < 0x20)
            return cnn_spec_fail(&b->st, "the control character U+%04X is not allowed (use spaces, tabs, newlines "
                                 "or ';')", cp);
        return cnn_spec_fail(&b->st, "the character U+%04X is not allowed outside comments (a spec is plain ASCII)",
                             cp);
    }
    return CNN_OK;
}

/* ---- the canonical text ---- */

static int append_line(char **buf, size_t *len, size_t *cap, const char *line) {
    size_t n = strlen(line);
    if (*len + n + 2 > *cap) {
        size_t nc = (*cap + n + 2) * 2;
        char *p = realloc(*buf, nc);
        if (!p) return -1;
        *buf = p, *cap = nc;
    }
    memcpy(*buf + *len, line, n);
    *len += n;
    (*buf)[(*len)++] = '\n';
    (*buf)[*len] = 0;
    return 0;
}

static int canonical_text(cnn_model *m) {
    char line[96];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    snprintf(line, sizeof line, "input %dx%dx%d", m->in_h, m->in_w, m->in_c);
    if (append_line(&buf, &len, &cap, line)) goto nomem;
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        if (l->mark == MARK_RESIDUAL && append_line(&buf, &len, &cap, "residual")) goto nomem;
        if (l->mark == MARK_SKIP && append_line(&buf, &len, &cap, "skip")) goto nomem;
        cnn_layer_desc_of(l->kind)->text(l, line, sizeof line);
        if (append_line(&buf, &len, &cap, line)) goto nomem;
    }
    m->spec = buf;
    return CNN_OK;
nomem:
    free(buf);
    return cnn_fail(CNN_E_NOMEM, "spec: out of memory");
}

/* ---- the network as a whole ---- */

/* Initialisation: He for a layer whose output goes (through batch normalisation) into a ReLU. */
static int relu_follows(const cnn_model *m, int i) {
    for (int j = i + 1; j < m->nlayers; j++) {
        if (m->layers[j].src != i) continue;
        const cnn_layer_desc *d = cnn_layer_desc_of(m->layers[j].kind);
        if (d->flags & LF_NORM) return relu_follows(m, j);
        return m->layers[j].kind == L_RELU || m->layers[j].kind == L_LEAKYRELU;
    }
    return 0;
}

/* Checks the finished layer list: the output layer, the class count, the parameters and the cost. */
static int check_network(cnn_model *m, char (*texts)[MAX_STATEMENT]) {
    const cnn_layer *last = m->nlayers ? &m->layers[m->nlayers - 1] : NULL;
    if (!last) return cnn_fail(CNN_E_FORMAT, "spec: the network must end with a dense layer whose size is the class "
                               "count (the spec is empty)");
    cnn_stmt at = {last->stmt, texts[last->stmt - 1]};
    if (last->kind != L_DENSE)
        return cnn_spec_fail(&at, "the network must end with a dense layer whose size is the class count, without an "
                             "activation (its last layer is %s %s)", cnn_layer_desc_of(last->kind)->noun, last->name);
    m->classes = last->oc;
    if (m->classes < 2 || m->classes > CNN_MAX_CLASSES)
        return cnn_spec_fail(&at, "the last dense layer has %d unit%s (expected 2..%d classes)", m->classes,
                             m->classes == 1 ? "" : "s", CNN_MAX_CLASSES);
    uint64_t total = 0;
    double flops = 0, worst = -1;
    int costliest = 0;
    for (int i = 0; i < m->nlayers; i++) {
        cnn_layer *l = &m->layers[i];
        double f = cnn_layer_desc_of(l->kind)->flops(l);
        total += l->p_count;
        flops += f;
        if (f > worst) worst = f, costliest = i;
        l->relu_follows = relu_follows(m, i);
    }
    if (total > CNN_MAX_PARAMS)
        return cnn_fail(CNN_E_FORMAT, "spec: %llu parameters (expected at most %d)", (unsigned long long)total,
                        CNN_MAX_PARAMS);
    if (flops > CNN_MAX_FLOPS) {
        const cnn_layer *l = &m->layers[costliest];
        cnn_stmt where = {l->stmt, texts[l->stmt - 1]};
        return cnn_spec_fail(&where, "this layer needs %.3g floating-point operations per image and the network "
                             "%.3g, more than the limit of %.3g (about a second per image on one core); use fewer "
                             "filters, smaller kernels or a smaller input", worst, flops, (double)CNN_MAX_FLOPS);
    }
    return CNN_OK;
}

/* Splits the text into statements, parses each and checks the whole network. text holds len bytes (no NUL
 * needed); a preset name stands for its spec. */
int cnn_spec_build(cnn_model *m, const char *text, size_t tlen) {
    if (!text) return cnn_fail(CNN_E_INVALID, "spec: no spec given");
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (tlen == strlen(presets[i].name) && memcmp(text, presets[i].name, tlen) == 0) {
            text = presets[i].spec;
            tlen = strlen(text);
        }
    if (tlen > CNN_MAX_SPEC_CHARS)
        return cnn_fail(CNN_E_FORMAT, "spec: %zu characters (expected at most %d)", tlen, CNN_MAX_SPEC_CHARS);
    const char *nul = memchr(text, 0, tlen);
    if (nul)
        return cnn_fail(CNN_E_FORMAT, "spec: the text has a NUL character at byte %zu (a spec is plain text)",
                        (size_t)(nul - text));
    if (tlen >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, tlen -= 3; /* a UTF-8 byte order mark */
    char *copy = malloc(tlen + 1);
    char (*texts)[MAX_STATEMENT] = malloc(MAX_STATEMENTS * sizeof *texts); /* each statement as written */
    if (!copy || !texts) {
        free(copy), free(texts);
        return cnn_fail(CNN_E_NOMEM, "spec: out of memory");
    }
    /* Lower-case; comments run to the end of the line; ';' and newlines both end a statement. */
    int in_comment = 0;
    for (size_t i = 0; i < tlen; i++) {
        char ch = text[i];
        if (ch == '#') in_comment = 1;
        if (ch == '\n' || ch == '\r') in_comment = 0, ch = ';';
        copy[i] = in_comment ? ' ' : (char)tolower((unsigned char)ch);
    }
    copy[tlen] = 0;
    builder b = {.m = m, .v = {.src = -1, .h = 28, .w = 28, .c = 1}};
    m->nlayers = 0;
    m->in_h = 28, m->in_w = 28, m->in_c = 1;
    int st = CNN_OK;
    /* Find statements (those of spaces and tabs only are dropped); the last may be 'softmax'. */
    char *stmts[MAX_STATEMENTS];
    int nst = 0;
    for (char *p = copy, *save = NULL, *s = strtok_r(p, ";", &save); s; s = strtok_r(NULL, ";", &save)) {
        char *q = s + strspn(s, " \t");
        if (!*q) continue;
        if (nst == MAX_STATEMENTS) {
            st = cnn_fail(CNN_E_FORMAT, "spec: too many statements (at most %d)", MAX_STATEMENTS);
            goto done;
        }
        stmts[nst++] = q;
    }
    for (int i = 0; i < nst && st == CNN_OK; i++) {
        char *original = texts[i];
        snprintf(original, MAX_STATEMENT, "%s", stmts[i]);
        size_t ol = strlen(original);
        while (ol > 0 && (original[ol - 1] == ' ' || original[ol - 1] == '\t')) original[--ol] = 0;
        b.st.index = i + 1;
        b.st.text = original;
        if ((st = check_characters(&b, (const unsigned char *)stmts[i]))) break;
        char *words[MAX_WORDS];
        int nw = 0;
        char *save = NULL;
        for (char *w = strtok_r(stmts[i], " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
            if (nw == MAX_WORDS) { nw++; break; }
            words[nw++] = w;
        }
        if (nw == 0) continue; /* only separators */
        if (nw > MAX_WORDS) st = cnn_spec_fail(&b.st, "too many words (at most %d)", MAX_WORDS);
        else st = parse_statement(&b, words, nw, i == nst - 1);
    }
    if (st) goto done;
    if (b.blk.open) {
        cnn_stmt open = {b.blk.stmt, b.blk.text};
        st = cnn_spec_fail(&open, "the residual block is not closed (expected 'end' after its layers)");
        goto done;
    }
    if ((st = check_network(m, texts))) goto done;
    b.st.index = nst + 1, b.st.text = "softmax";
    if ((st = add_layer(&b, L_SOFTMAX, NULL))) goto done;
    m->flops = 0;
    for (int i = 0; i < m->nlayers; i++) m->flops += cnn_layer_desc_of(m->layers[i].kind)->flops(&m->layers[i]);
    st = canonical_text(m);
done:
    free(copy);
    free(texts);
    return st;
}
