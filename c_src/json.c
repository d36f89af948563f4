/* json.c - a small, strict JSON parser for the safetensors header (see json.h for what it accepts). */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void set_err(char *err, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void set_err(char *err, size_t cap, const char *fmt, ...) {
    if (!err || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Describes the byte at p for a message: "'x'", "byte 0x07" or "end of input". buf holds >= 16 bytes. */
static const char *describe(char *buf, const uint8_t *s, size_t len, size_t p) {
    if (p >= len) return "end of input";
    if (s[p] == '\'')
        snprintf(buf, 16, "\"'\"");
    else if (s[p] >= 0x21 && s[p] <= 0x7e)
        snprintf(buf, 16, "'%c'", s[p]);
    else
        snprintf(buf, 16, "byte 0x%02x", s[p]);
    return buf;
}

static size_t skip_ws(const uint8_t *s, size_t len, size_t p) {
    while (p < len && (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r')) p++;
    return p;
}

/* Length (1..4) of the valid UTF-8 sequence at s[0..n), or 0. Follows RFC 3629 table 3-7: no overlongs,
 * no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const uint8_t *s, size_t n) {
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;
    size_t need;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (n < need + 1) return 0;
    if (s[1] < lo || s[1] > hi) return 0; /* the second byte carries the range restrictions */
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return need + 1;
}

int cnn_json_utf8_valid(const uint8_t *s, size_t n) {
    size_t p = 0;
    while (p < n) {
        size_t k = utf8_seq(s + p, n - p);
        if (k == 0) return 0;
        p += k;
    }
    return 1;
}

static int hex4(const uint8_t *s, size_t len, size_t p, uint32_t *out) {
    uint32_t v = 0;
    if (p > len || len - p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        uint8_t c = s[p + (size_t)i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Validates the string whose opening quote is at *pp; on success *pp is the index of the closing quote. */
static int scan_string(const uint8_t *s, size_t len, size_t *pp, char *err, size_t err_cap) {
    size_t open = *pp, p = open + 1;
    for (;;) {
        if (p >= len) {
            set_err(err, err_cap, "unterminated string starting at byte %zu (expected '\"')", open);
            return CNN_E_FORMAT;
        }
        uint8_t c = s[p];
        if (c == '"') break;
        if (c < 0x20) {
            set_err(err, err_cap, "control byte 0x%02x inside a string at byte %zu (expected it escaped)", c, p);
            return CNN_E_FORMAT;
        }
        if (c == '\\') {
            uint8_t e = p + 1 < len ? s[p + 1] : 0;
            uint32_t cp, lo;
            switch (e) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': p += 2; break;
            case 'u':
                if (hex4(s, len, p + 2, &cp) != 0) {
                    set_err(err, err_cap, "bad \\u escape at byte %zu (expected 4 hex digits)", p);
                    return CNN_E_FORMAT;
                }
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    set_err(err, err_cap, "unpaired low surrogate \\u%04x at byte %zu", (unsigned)cp, p);
                    return CNN_E_FORMAT;
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    /* A high surrogate must be followed at once by an escaped low surrogate. */
                    if (p + 7 >= len || s[p + 6] != '\\' || s[p + 7] != 'u' || hex4(s, len, p + 8, &lo) != 0 ||
                        lo < 0xdc00 || lo > 0xdfff) {
                        set_err(err, err_cap, "unpaired high surrogate \\u%04x at byte %zu", (unsigned)cp, p);
                        return CNN_E_FORMAT;
                    }
                    p += 6;
                }
                p += 6;
                break;
            default: {
                char buf[16];
                set_err(err, err_cap, "invalid escape at byte %zu: %s after '\\' (expected one of \"\\/bfnrtu)", p,
                        describe(buf, s, len, p + 1));
                return CNN_E_FORMAT;
            }
            }
        } else if (c >= 0x80) {
            size_t k = utf8_seq(s + p, len - p);
            if (k == 0) {
                set_err(err, err_cap, "invalid UTF-8 byte 0x%02x in a string at byte %zu", c, p);
                return CNN_E_FORMAT;
            }
            p += k;
        } else {
            p++;
        }
    }
    *pp = p;
    return CNN_OK;
}

/* Appends a token; its index is doc->count - 1. Growth doubles; the count stays below 2^32 because every
 * token starts at a distinct byte of an input shorter than 4 GiB. */
static int push(cnn_json_doc *doc, cnn_json_type type, size_t start) {
    if (doc->count == doc->cap) {
        uint32_t cap = doc->cap ? doc->cap * 2 : 16;
        size_t bytes;
        if (doc->cap > UINT32_MAX / 2 || cnn_mul_size(&bytes, cap, sizeof(cnn_json_token)) != 0) return CNN_E_NOMEM;
        cnn_json_token *t = realloc(doc->tokens, bytes);
        if (!t) return CNN_E_NOMEM;
        doc->tokens = t;
        doc->cap = cap;
    }
    cnn_json_token *t = &doc->tokens[doc->count];
    memset(t, 0, sizeof *t);
    t->type = (uint32_t)type;
    t->start = (uint32_t)start;
    t->end = (uint32_t)start;
    t->next = doc->count + 1;
    doc->count++;
    return CNN_OK;
}

/* Parses an object key and its ':' at *pp (after '{' or ','). */
static int parse_key(cnn_json_doc *doc, const uint8_t *s, size_t len, size_t *pp, char *err, size_t err_cap) {
    char buf[16];
    size_t p = skip_ws(s, len, *pp);
    if (p >= len || s[p] != '"') {
        set_err(err, err_cap, "unexpected %s at byte %zu (expected a string key)", describe(buf, s, len, p), p);
        return CNN_E_FORMAT;
    }
    size_t q = p;
    int st = scan_string(s, len, &q, err, err_cap);
    if (st != CNN_OK) return st;
    if ((st = push(doc, CNN_JSON_STRING, p + 1)) != CNN_OK) return st;
    doc->tokens[doc->count - 1].end = (uint32_t)q;
    p = skip_ws(s, len, q + 1);
    if (p >= len || s[p] != ':') {
        set_err(err, err_cap, "unexpected %s at byte %zu (expected ':' after a key)", describe(buf, s, len, p), p);
        return CNN_E_FORMAT;
    }
    *pp = p + 1;
    return CNN_OK;
}

static int parse_int(cnn_json_doc *doc, const uint8_t *s, size_t len, size_t *pp, char *err, size_t err_cap) {
    size_t p = *pp, start = p;
    uint64_t v = 0;
    if (s[p] == '0' && p + 1 < len && s[p + 1] >= '0' && s[p + 1] <= '9') {
        set_err(err, err_cap, "number with a leading zero at byte %zu", start);
        return CNN_E_FORMAT;
    }
    while (p < len && s[p] >= '0' && s[p] <= '9') {
        uint64_t d = (uint64_t)(s[p] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            set_err(err, err_cap, "number at byte %zu is too large (expected < 2^64)", start);
            return CNN_E_FORMAT;
        }
        v = v * 10 + d;
        p++;
    }
    if (p < len && (s[p] == '.' || s[p] == 'e' || s[p] == 'E')) {
        set_err(err, err_cap, "number at byte %zu has a fraction or exponent (expected an integer)", start);
        return CNN_E_FORMAT;
    }
    int st = push(doc, CNN_JSON_INT, start);
    if (st != CNN_OK) return st;
    doc->tokens[doc->count - 1].value = v;
    doc->tokens[doc->count - 1].end = (uint32_t)p;
    *pp = p;
    return CNN_OK;
}

int cnn_json_parse(cnn_json_doc *doc, const char *src, size_t len, size_t *end, char *err, size_t err_cap) {
    const uint8_t *s = (const uint8_t *)src;
    uint32_t stack[CNN_JSON_MAX_DEPTH]; /* token indices of the open containers */
    int depth = 0, st = CNN_OK;
    size_t p = 0;
    char buf[16];

    memset(doc, 0, sizeof *doc);
    if (err && err_cap) err[0] = '\0';
    if (len >= UINT32_MAX) {
        set_err(err, err_cap, "input of %zu bytes is too large (expected < 4 GiB)", len);
        return CNN_E_FORMAT;
    }
    for (;;) {
        /* A value is expected at p. */
        p = skip_ws(s, len, p);
        uint8_t c = p < len ? s[p] : 0;
        if (c == '{' || c == '[') {
            if (depth == CNN_JSON_MAX_DEPTH) {
                set_err(err, err_cap, "nesting deeper than %d at byte %zu", CNN_JSON_MAX_DEPTH, p);
                st = CNN_E_FORMAT;
                goto fail;
            }
            if ((st = push(doc, c == '{' ? CNN_JSON_OBJECT : CNN_JSON_ARRAY, p)) != CNN_OK) goto fail;
            stack[depth++] = doc->count - 1;
            p = skip_ws(s, len, p + 1);
            if (p < len && s[p] == (c == '{' ? '}' : ']')) { /* empty container: a complete value */
                cnn_json_token *t = &doc->tokens[stack[--depth]];
                t->end = (uint32_t)(p + 1);
                t->next = doc->count;
                p++;
            } else {
                if (c == '{' && (st = parse_key(doc, s, len, &p, err, err_cap)) != CNN_OK) goto fail;
                continue; /* the first member's value or element */
            }
        } else if (c == '"') {
            size_t q = p;
            if ((st = scan_string(s, len, &q, err, err_cap)) != CNN_OK) goto fail;
            if ((st = push(doc, CNN_JSON_STRING, p + 1)) != CNN_OK) goto fail;
            doc->tokens[doc->count - 1].end = (uint32_t)q;
            p = q + 1;
        } else if (c >= '0' && c <= '9') {
            if ((st = parse_int(doc, s, len, &p, err, err_cap)) != CNN_OK) goto fail;
        } else {
            if (c == '-')
                set_err(err, err_cap, "negative number at byte %zu (expected a non-negative integer)", p);
            else if (c == 't' || c == 'f' || c == 'n')
                set_err(err, err_cap, "true, false and null are not supported (at byte %zu)", p);
            else
                set_err(err, err_cap, "unexpected %s at byte %zu (expected a value)", describe(buf, s, len, p), p);
            st = CNN_E_FORMAT;
            goto fail;
        }
        /* A value is complete: close finished containers until one expects another member. */
        for (;;) {
            if (depth == 0) {
                if (end) *end = p;
                return CNN_OK;
            }
            cnn_json_token *top = &doc->tokens[stack[depth - 1]];
            char close = top->type == CNN_JSON_OBJECT ? '}' : ']';
            top->size++;
            p = skip_ws(s, len, p);
            if (p < len && s[p] == ',') {
                p++;
                if (top->type == CNN_JSON_OBJECT && (st = parse_key(doc, s, len, &p, err, err_cap)) != CNN_OK)
                    goto fail;
                break;
            }
            if (p < len && s[p] == close) {
                top->end = (uint32_t)(p + 1);
                top->next = doc->count;
                depth--;
                p++;
                continue;
            }
            set_err(err, err_cap, "unexpected %s at byte %zu (expected ',' or '%c')", describe(buf, s, len, p), p,
                    close);
            st = CNN_E_FORMAT;
            goto fail;
        }
    }
fail:
    cnn_json_free(doc);
    return st;
}

void cnn_json_free(cnn_json_doc *doc) {
    if (!doc) return;
    free(doc->tokens);
    memset(doc, 0, sizeof *doc);
}

/* Decodes one character of a validated string body at *pp into out (1..4 bytes); returns the byte count. */
static size_t decode_next(const uint8_t *s, size_t *pp, uint8_t out[4]) {
    size_t p = *pp;
    uint32_t cp = 0;
    if (s[p] != '\\') {
        out[0] = s[p];
        *pp = p + 1;
        return 1; /* raw bytes (including UTF-8 continuation bytes) are copied one at a time */
    }
    switch (s[p + 1]) {
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u': {
        uint32_t lo = 0;
        hex4(s, (size_t)-1, p + 2, &cp); /* validated by scan_string */
        p += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            hex4(s, (size_t)-1, p + 2, &lo);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
        }
        *pp = p;
        if (cp < 0x80) {
            out[0] = (uint8_t)cp;
            return 1;
        }
        if (cp < 0x800) {
            out[0] = (uint8_t)(0xc0 | (cp >> 6));
            out[1] = (uint8_t)(0x80 | (cp & 0x3f));
            return 2;
        }
        if (cp < 0x10000) {
            out[0] = (uint8_t)(0xe0 | (cp >> 12));
            out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            out[2] = (uint8_t)(0x80 | (cp & 0x3f));
            return 3;
        }
        out[0] = (uint8_t)(0xf0 | (cp >> 18));
        out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (uint8_t)(0x80 | (cp & 0x3f));
        return 4;
    }
    default: out[0] = s[p + 1]; break; /* '"', '\\' and '/' stand for themselves */
    }
    *pp = p + 2;
    return 1;
}

size_t cnn_json_string_decode(char *dst, size_t cap, const char *src, const cnn_json_token *t) {
    const uint8_t *s = (const uint8_t *)src;
    size_t p = t->start, n = 0;
    uint8_t ch[4];
    while (p < t->end) {
        size_t k = decode_next(s, &p, ch);
        for (size_t i = 0; i < k; i++, n++)
            if (n + 1 < cap) dst[n] = (char)ch[i];
    }
    if (cap > 0) dst[n < cap ? n : cap - 1] = '\0';
    return n;
}

int cnn_json_string_eq(const char *src, const cnn_json_token *t, const char *str) {
    const uint8_t *s = (const uint8_t *)src;
    size_t p = t->start, n = 0;
    uint8_t ch[4];
    while (p < t->end) {
        size_t k = decode_next(s, &p, ch);
        for (size_t i = 0; i < k; i++, n++)
            if (str[n] == '\0' || (uint8_t)str[n] != ch[i]) return 0;
    }
    return str[n] == '\0';
}
