/* spec.c - the architecture spec: presets, parsing into layers, validation and the canonical text.
 * What a statement means is up to its layer kind's descriptor (layers.h); this file handles the text, the
 * statements that are not layers (input, softmax), implicit flattens and activation shorthands, names and the
 * checks on the network as a whole. */
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
};

const char *cnn_preset_spec(const char *name) {
    for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(name, presets[i].name) == 0) return presets[i].spec;
    return NULL;
}

#define MAX_WORDS 8
#define MAX_STATEMENT 256
#define MAX_STATEMENTS 512

typedef struct {
    cnn_model *m;
    int h, w, c;    /* current shape */
    int flat;       /* the current value is flat features (after flatten or dense) */
    int fh, fw, fc; /* the (H, W, C) order of those features ((1, 1, N) after a dense) */
    int cur;        /* the layer producing the current value, -1 for the input */
    int seen_input; /* an input statement was given */
    cnn_stmt st;    /* the statement being parsed, for messages */
} builder;

static int too_many(const builder *b) { return cnn_spec_fail(&b->st, "too many layers (at most %d)", CNN_MAX_LAYERS); }

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
    if (d->prefix) {
        int same = 0; /* the ordinal among layers with the same name prefix: conv1, conv2, ...; pool1, ... */
        for (int i = 0; i < m->nlayers; i++) {
            const char *q = cnn_layer_desc_of(m->layers[i].kind)->prefix;
            same += q && strcmp(q, d->prefix) == 0;
        }
        snprintf(l->name, sizeof l->name, "%s%d", d->prefix, same + 1);
    } else {
        snprintf(l->name, sizeof l->name, "%s", d->name);
    }
    l->src = b->cur;
    l->ih = b->h, l->iw = b->w, l->ic = b->c;
    l->oh = b->h, l->ow = b->w, l->oc = d->infer ? l->oc : b->c;
    l->fh = b->fh, l->fw = b->fw, l->fc = b->fc;
    if (d->infer) {
        int st = d->infer(l, &b->st);
        if (st) return st;
    }
    m->nlayers++;
    if ((d->flags & LF_FLAT_OUTPUT) && !(d->flags & LF_ALIAS)) b->fh = 1, b->fw = 1, b->fc = l->oc;
    else if (d->flags & LF_ALIAS) b->fh = b->h, b->fw = b->w, b->fc = b->c;
    b->flat |= (d->flags & LF_FLAT_OUTPUT) != 0;
    b->h = l->oh, b->w = l->ow, b->c = l->oc;
    b->cur = m->nlayers - 1;
    return CNN_OK;
}

static int parse_input(builder *b, char **words, int nw) {
    cnn_model *m = b->m;
    int dims[3] = {0, 0, 1};
    if (m->nlayers > 0 || b->seen_input) return cnn_spec_fail(&b->st, "input must come first, once");
    if (nw != 2) return cnn_spec_fail(&b->st, "expected 'input HxW' or 'input HxWxC'");
    int n = cnn_parse_dims(words[1], dims, 3);
    if (n < 2 || dims[0] > CNN_MAX_SIDE || dims[1] > CNN_MAX_SIDE || dims[2] > CNN_MAX_CHANNELS)
        return cnn_spec_fail(&b->st, "input shape '%s' is not HxW or HxWxC with sides 1..%d and 1..%d channels",
                             words[1], CNN_MAX_SIDE, CNN_MAX_CHANNELS);
    b->h = m->in_h = dims[0], b->w = m->in_w = dims[1], b->c = m->in_c = dims[2];
    b->seen_input = 1;
    return CNN_OK;
}

static int parse_statement(builder *b, char **words, int nw, int is_last) {
    const char *word = words[0];
    if (!strcmp(word, "input")) return parse_input(b, words, nw);
    if (!strcmp(word, "softmax")) {
        if (!is_last) return cnn_spec_fail(&b->st, "softmax must be the last layer");
        return CNN_OK; /* always appended */
    }
    int kind = cnn_layer_kind_by_word(word);
    if (kind < 0) {
        char kinds[256];
        cnn_layer_keywords(kinds, sizeof kinds, 0, ", ");
        return cnn_spec_fail(&b->st, "unknown layer '%s' (expected input, %s or softmax)", word, kinds);
    }
    const cnn_layer_desc *d = cnn_layer_desc_of(kind);
    if ((d->flags & LF_SPATIAL) && b->flat)
        return cnn_spec_fail(&b->st, "%s cannot follow flatten or dense (its input has no spatial shape)", d->noun);
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
    if ((d->flags & LF_ALIAS) && b->flat) return CNN_OK; /* flatten of flat features: nothing to do */
    if ((d->flags & LF_FLAT_INPUT) && !b->flat) {
        int st = add_layer(b, L_FLATTEN, NULL);
        if (st) return st;
    }
    int st = add_layer(b, kind, &proto);
    if (st == CNN_OK && act) st = add_layer(b, cnn_layer_kind_by_word(act), NULL);
    return st;
}

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
        cnn_layer_desc_of(l->kind)->text(l, line, sizeof line);
        if (append_line(&buf, &len, &cap, line)) goto nomem;
    }
    m->spec = buf;
    return CNN_OK;
nomem:
    free(buf);
    return cnn_fail(CNN_E_NOMEM, "spec: out of memory");
}

int cnn_spec_build(cnn_model *m, const char *spec_or_preset) {
    if (!spec_or_preset) return cnn_fail(CNN_E_INVALID, "spec: no spec given");
    const char *preset = cnn_preset_spec(spec_or_preset);
    const char *text = preset ? preset : spec_or_preset;
    size_t tlen = strlen(text);
    if (tlen > CNN_MAX_SPEC_CHARS)
        return cnn_fail(CNN_E_FORMAT, "spec: %zu characters (expected at most %d)", tlen, CNN_MAX_SPEC_CHARS);
    char *copy = malloc(tlen + 1);
    if (!copy) return cnn_fail(CNN_E_NOMEM, "spec: out of memory");
    /* Lower-case; comments run to the end of the line; ';' and newlines both end a statement. */
    int in_comment = 0;
    for (size_t i = 0; i < tlen; i++) {
        char ch = text[i];
        if (ch == '#') in_comment = 1;
        if (ch == '\n' || ch == '\r') in_comment = 0, ch = ';';
        copy[i] = in_comment ? ' ' : (char)tolower((unsigned char)ch);
    }
    copy[tlen] = 0;
    builder b = {.m = m, .h = 28, .w = 28, .c = 1, .cur = -1};
    m->nlayers = 0;
    m->in_h = 28, m->in_w = 28, m->in_c = 1;
    int st = CNN_OK;
    /* Find statements; the last non-empty one may be 'softmax'. */
    char *stmts[MAX_STATEMENTS];
    int nst = 0;
    for (char *p = copy, *save = NULL, *s = strtok_r(p, ";", &save); s; s = strtok_r(NULL, ";", &save)) {
        char *q = s;
        while (isspace((unsigned char)*q)) q++;
        if (!*q) continue;
        if (nst == MAX_STATEMENTS) {
            st = cnn_fail(CNN_E_FORMAT, "spec: too many statements (at most %d)", MAX_STATEMENTS);
            goto done;
        }
        stmts[nst++] = q;
    }
    for (int i = 0; i < nst && st == CNN_OK; i++) {
        char original[MAX_STATEMENT];
        snprintf(original, sizeof original, "%s", stmts[i]);
        size_t ol = strlen(original);
        while (ol > 0 && isspace((unsigned char)original[ol - 1])) original[--ol] = 0;
        char *words[MAX_WORDS];
        int nw = 0;
        char *save = NULL;
        for (char *w = strtok_r(stmts[i], " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
            if (nw == MAX_WORDS) { nw++; break; }
            words[nw++] = w;
        }
        b.st.index = i + 1;
        b.st.text = original;
        if (nw == 0) continue; /* only separators */
        if (nw > MAX_WORDS) st = cnn_spec_fail(&b.st, "too many words (at most %d)", MAX_WORDS);
        else st = parse_statement(&b, words, nw, i == nst - 1);
    }
    if (st) goto done;
    int last_param = -1;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].p_count) last_param = i;
    if (last_param < 0 || m->layers[m->nlayers - 1].kind != L_DENSE) {
        st = cnn_fail(CNN_E_FORMAT, "spec: the network must end with a dense layer whose size is the class count%s",
                      m->nlayers ? "" : " (the spec is empty)");
        goto done;
    }
    m->classes = m->layers[m->nlayers - 1].oc;
    if (m->classes < 2 || m->classes > CNN_MAX_CLASSES) {
        st = cnn_fail(CNN_E_FORMAT, "spec: the last dense layer has %d units (expected 2..%d classes)", m->classes,
                      CNN_MAX_CLASSES);
        goto done;
    }
    uint64_t total = 0;
    for (int i = 0; i < m->nlayers; i++) {
        cnn_layer *l = &m->layers[i];
        total += l->p_count;
        l->relu_follows = i + 1 < m->nlayers && m->layers[i + 1].kind == L_RELU;
    }
    if (total > CNN_MAX_PARAMS) {
        st = cnn_fail(CNN_E_FORMAT, "spec: %llu parameters (expected at most %d)", (unsigned long long)total, CNN_MAX_PARAMS);
        goto done;
    }
    b.st.index = nst + 1, b.st.text = "softmax";
    if ((st = add_layer(&b, L_SOFTMAX, NULL))) goto done;
    st = canonical_text(m);
done:
    free(copy);
    return st;
}
