/* spec.c - the architecture spec: presets, parsing, validation and the canonical text. */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

const char *cnn_preset_spec(const char *name) {
    if (!name) return NULL;
    if (strcmp(name, "keras") == 0)
        return "conv2d 32 3x3 relu; maxpool 2; conv2d 64 3x3 relu; maxpool 2; flatten; dense 128 relu; "
               "dropout 0.5; dense 10";
    if (strcmp(name, "pytorch") == 0)
        return "conv2d 32 3x3 relu; conv2d 64 3x3 relu; maxpool 2; dropout 0.25; flatten; dense 128 relu; "
               "dropout 0.5; dense 10";
    if (strcmp(name, "mlp") == 0) return "flatten; dense 128 relu; dense 10";
    return NULL;
}

#define MAX_WORDS 8
#define MAX_STATEMENT 256

typedef struct {
    cnn_model *m;
    int h, w, c;  /* current shape */
    int flat;     /* after flatten or dense */
    int fh, fw, fc; /* the spatial shape the current flat features came from ((1, 1, N) after a dense) */
    int counts[L_SOFTMAX + 1];
    int pools;
    int seen_input;       /* an input statement was given */
    int statement;        /* 1-based index of the statement being parsed, for messages */
    const char *text;     /* its text, for messages */
} builder;

static int bad(const builder *b, const char *fmt, const char *detail) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, detail);
    return cnn_fail(CNN_E_FORMAT, "spec: layer %d ('%.60s'): %s", b->statement, b->text, msg);
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    if (!*s || !isdigit((unsigned char)*s)) return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* Parses "AxBxC" (up to max parts, each 1..4096) into out; returns the number of parts, or -1. */
static int parse_dims(const char *s, int *out, int max) {
    int n = 0;
    char part[16];
    while (*s) {
        size_t len = strcspn(s, "x");
        if (n == max || len == 0 || len >= sizeof part) return -1;
        memcpy(part, s, len);
        part[len] = 0;
        if (parse_int(part, 1, 4096, &out[n++])) return -1;
        s += len;
        if (*s == 'x' && !*++s) return -1; /* a trailing 'x' */
    }
    return n;
}

static cnn_layer *add_layer(builder *b, cnn_layer_kind kind) {
    static const char *prefix[] = {"conv", "fc", "pool", "pool", "relu", "sigmoid", "tanh", "dropout", "flatten", "softmax"};
    cnn_model *m = b->m;
    if (m->nlayers >= CNN_MAX_LAYERS) return NULL;
    cnn_layer *l = &m->layers[m->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    int idx = (kind == L_MAXPOOL || kind == L_AVGPOOL) ? ++b->pools : ++b->counts[kind];
    if (kind == L_SOFTMAX)
        snprintf(l->name, sizeof l->name, "softmax");
    else
        snprintf(l->name, sizeof l->name, "%s%d", prefix[kind], idx);
    l->ih = b->h, l->iw = b->w, l->ic = b->c;
    l->oh = b->h, l->ow = b->w, l->oc = b->c;
    return l;
}

static void set_out(builder *b, cnn_layer *l, int h, int w, int c) {
    l->oh = b->h = h;
    l->ow = b->w = w;
    l->oc = b->c = c;
}

static int too_many(builder *b) { return bad(b, "too many layers (at most %s)", "64"); }

static int add_flatten(builder *b) {
    cnn_layer *l = add_layer(b, L_FLATTEN);
    if (!l) return too_many(b);
    b->fh = b->h, b->fw = b->w, b->fc = b->c;
    set_out(b, l, 1, 1, b->h * b->w * b->c);
    b->flat = 1;
    return CNN_OK;
}

static int add_activation(builder *b, const char *word) {
    cnn_layer_kind kind = strcmp(word, "relu") == 0 ? L_RELU : strcmp(word, "sigmoid") == 0 ? L_SIGMOID : L_TANH;
    if (!add_layer(b, kind)) return too_many(b);
    return CNN_OK;
}

static int is_activation(const char *w) { return !strcmp(w, "relu") || !strcmp(w, "sigmoid") || !strcmp(w, "tanh"); }

static int parse_statement(builder *b, char **words, int nw, int is_last) {
    const char *kind = words[0];
    cnn_model *m = b->m;
    if (!strcmp(kind, "input")) {
        int dims[3] = {0, 0, 1};
        if (m->nlayers > 0 || b->seen_input) return bad(b, "%s must come first, once", "input");
        if (nw != 2) return bad(b, "expected 'input HxW' or 'input HxWxC'%s", "");
        int n = parse_dims(words[1], dims, 3);
        if (n < 2 || dims[0] > CNN_MAX_SIDE || dims[1] > CNN_MAX_SIDE || dims[2] > CNN_MAX_CHANNELS)
            return bad(b, "input shape '%s' is not HxW or HxWxC with sides 1..1024 and 1..16 channels", words[1]);
        b->h = m->in_h = dims[0], b->w = m->in_w = dims[1], b->c = m->in_c = dims[2];
        b->seen_input = 1;
        return CNN_OK;
    }
    if (!strcmp(kind, "conv2d") || !strcmp(kind, "conv")) {
        int f, k, k2, same = 0;
        const char *act = NULL;
        if (b->flat) return bad(b, "a convolution cannot follow %s (its input has no spatial shape)", "flatten or dense");
        if (nw < 3) return bad(b, "expected 'conv2d FILTERS KxK [valid|same] [relu|sigmoid|tanh]'%s", "");
        if (parse_int(words[1], 1, 1024, &f)) return bad(b, "filter count '%s' is not an integer in 1..1024", words[1]);
        int kd[2] = {0, 0};
        int n = parse_dims(words[2], kd, 2);
        if (n < 1) return bad(b, "kernel size '%s' is not KxK with K in 1..15", words[2]);
        k = kd[0], k2 = n == 2 ? kd[1] : kd[0];
        if (k != k2) return bad(b, "kernel '%s' is not square (only KxK kernels are supported)", words[2]);
        if (k > 15) return bad(b, "kernel size '%s' is out of range (1x1 to 15x15)", words[2]);
        for (int i = 3; i < nw; i++) {
            if (!strcmp(words[i], "same")) same = 1;
            else if (!strcmp(words[i], "valid")) same = 0;
            else if (is_activation(words[i]) && !act) act = words[i];
            else return bad(b, "unknown option '%s' (expected valid, same, relu, sigmoid or tanh)", words[i]);
        }
        if (same && k % 2 == 0) return bad(b, "'same' padding needs an odd kernel, got %s", words[2]);
        if (!same && (k > b->h || k > b->w)) {
            char detail[64];
            snprintf(detail, sizeof detail, "%dx%d is larger than its %dx%d input", k, k, b->h, b->w);
            return bad(b, "kernel %s", detail);
        }
        cnn_layer *l = add_layer(b, L_CONV);
        if (!l) return too_many(b);
        l->k = k;
        l->pad = same ? (k - 1) / 2 : 0;
        set_out(b, l, same ? b->h : b->h - k + 1, same ? b->w : b->w - k + 1, f);
        l->w_count = (size_t)f * k * k * l->ic;
        l->b_count = (size_t)f;
        return act ? add_activation(b, act) : CNN_OK;
    }
    if (!strcmp(kind, "maxpool") || !strcmp(kind, "avgpool")) {
        if (b->flat) return bad(b, "pooling cannot follow %s", "flatten or dense");
        if (nw > 2 || (nw == 2 && strcmp(words[1], "2") && strcmp(words[1], "2x2")))
            return bad(b, "only 2x2 pooling with stride 2 is supported (write '%s 2')", kind);
        if (b->h < 2 || b->w < 2) {
            char detail[32];
            snprintf(detail, sizeof detail, "%dx%d", b->h, b->w);
            return bad(b, "input %s is too small to pool 2x2", detail);
        }
        cnn_layer *l = add_layer(b, kind[0] == 'm' ? L_MAXPOOL : L_AVGPOOL);
        if (!l) return too_many(b);
        set_out(b, l, b->h / 2, b->w / 2, b->c);
        return CNN_OK;
    }
    if (!strcmp(kind, "dense") || !strcmp(kind, "linear")) {
        int units;
        if (nw < 2 || nw > 3) return bad(b, "expected 'dense UNITS [relu|sigmoid|tanh]'%s", "");
        if (parse_int(words[1], 1, 65536, &units)) return bad(b, "unit count '%s' is not an integer in 1..65536", words[1]);
        if (nw == 3 && !is_activation(words[2]))
            return bad(b, "unknown option '%s' (expected relu, sigmoid or tanh)", words[2]);
        if (!b->flat) {
            int st = add_flatten(b);
            if (st) return st;
        }
        cnn_layer *l = add_layer(b, L_DENSE);
        if (!l) return too_many(b);
        l->fh = b->fh, l->fw = b->fw, l->fc = b->fc;
        set_out(b, l, 1, 1, units);
        l->w_count = (size_t)units * l->ic;
        l->b_count = (size_t)units;
        if ((double)units * l->ic > CNN_MAX_PARAMS) return bad(b, "too many weights (at most %s)", "67108864");
        b->flat = 1;
        b->fh = 1, b->fw = 1, b->fc = units;
        return nw == 3 ? add_activation(b, words[2]) : CNN_OK;
    }
    if (is_activation(kind)) {
        if (nw != 1) return bad(b, "'%s' takes no arguments", kind);
        return add_activation(b, kind);
    }
    if (!strcmp(kind, "dropout")) {
        char *end;
        if (nw != 2) return bad(b, "expected 'dropout P' with 0 <= P < 1%s", "");
        double p = strtod(words[1], &end);
        /* checked as the float it is stored as: 0.99999999 would round to 1 */
        if (*end || !(p >= 0 && (float)p < 1.0f)) return bad(b, "dropout probability '%s' is not in [0, 1)", words[1]);
        cnn_layer *l = add_layer(b, L_DROPOUT);
        if (!l) return too_many(b);
        l->p = (float)p;
        return CNN_OK;
    }
    if (!strcmp(kind, "flatten")) {
        if (nw != 1) return bad(b, "'%s' takes no arguments", kind);
        return b->flat ? CNN_OK : add_flatten(b);
    }
    if (!strcmp(kind, "softmax")) {
        if (!is_last) return bad(b, "%s must be the last layer", "softmax");
        return CNN_OK; /* always appended */
    }
    return bad(b, "unknown layer '%s' (expected input, conv2d, maxpool, avgpool, dense, relu, sigmoid, tanh, "
                  "dropout, flatten or softmax)", kind);
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
        switch (l->kind) {
        case L_CONV: snprintf(line, sizeof line, "conv2d %d %dx%d %s", l->oc, l->k, l->k, l->pad ? "same" : "valid"); break;
        case L_DENSE: snprintf(line, sizeof line, "dense %d", l->oc); break;
        case L_MAXPOOL: snprintf(line, sizeof line, "maxpool 2"); break;
        case L_AVGPOOL: snprintf(line, sizeof line, "avgpool 2"); break;
        case L_RELU: snprintf(line, sizeof line, "relu"); break;
        case L_SIGMOID: snprintf(line, sizeof line, "sigmoid"); break;
        case L_TANH: snprintf(line, sizeof line, "tanh"); break;
        case L_DROPOUT: /* the shortest text that reads back as the same float */
            for (int prec = 6; prec <= 9; prec++) {
                snprintf(line, sizeof line, "dropout %.*g", prec, (double)l->p);
                if ((float)strtod(line + 8, NULL) == l->p) break;
            }
            break;
        case L_FLATTEN: snprintf(line, sizeof line, "flatten"); break;
        case L_SOFTMAX: snprintf(line, sizeof line, "softmax"); break;
        }
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
    builder b = {.m = m, .h = 28, .w = 28, .c = 1};
    m->nlayers = 0;
    m->in_h = 28, m->in_w = 28, m->in_c = 1;
    int st = CNN_OK;
    /* Find statements; the last non-empty one may be 'softmax'. */
    char *stmts[512];
    int nst = 0;
    for (char *p = copy, *save = NULL, *s = strtok_r(p, ";", &save); s; s = strtok_r(NULL, ";", &save)) {
        char *q = s;
        while (isspace((unsigned char)*q)) q++;
        if (!*q) continue;
        if (nst == 512) { st = cnn_fail(CNN_E_FORMAT, "spec: too many statements (at most 512)"); goto done; }
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
        b.statement = i + 1;
        b.text = original;
        if (nw == 0) continue; /* only separators */
        if (nw > MAX_WORDS) st = bad(&b, "too many words (at most %s)", "8");
        else st = parse_statement(&b, words, nw, i == nst - 1);
    }
    if (st) goto done;
    b.statement = nst, b.text = nst ? "end" : "";
    int last_param = -1;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].w_count) last_param = i;
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
        total += l->w_count + l->b_count;
        l->relu_follows = i + 1 < m->nlayers && m->layers[i + 1].kind == L_RELU;
    }
    if (total > CNN_MAX_PARAMS) {
        st = cnn_fail(CNN_E_FORMAT, "spec: %llu parameters (expected at most %d)", (unsigned long long)total, CNN_MAX_PARAMS);
        goto done;
    }
    b.statement = nst + 1, b.text = "softmax";
    if (!add_layer(&b, L_SOFTMAX)) { st = too_many(&b); goto done; }
    m->layers[m->nlayers - 1].oh = m->layers[m->nlayers - 1].ow = 1;
    st = canonical_text(m);
done:
    free(copy);
    return st;
}
