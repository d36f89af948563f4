/* json.h - a small, strict JSON parser, just enough for the safetensors header.
 *
 * Accepts objects, arrays, strings (all escapes, \uXXXX with surrogate pairs; raw bytes must be valid UTF-8)
 * and non-negative integers below 2^64. Rejects true/false/null, negative numbers, fractions, exponents,
 * leading zeros, trailing commas, nesting deeper than CNN_JSON_MAX_DEPTH and inputs of 4 GiB or more.
 * The parse is iterative (no recursion) and never reads outside [src, src + len).
 *
 * The result is a flat token array in document order (a DOM without pointers): a container is followed by
 * its children; an object's children alternate key (STRING), value. tokens[i].next skips a whole subtree. */
#ifndef CNN_JSON_H
#define CNN_JSON_H

#include <stddef.h>
#include <stdint.h>

#define CNN_JSON_MAX_DEPTH 32

typedef enum { CNN_JSON_OBJECT = 1, CNN_JSON_ARRAY = 2, CNN_JSON_STRING = 3, CNN_JSON_INT = 4 } cnn_json_type;

typedef struct {
    uint64_t value; /* INT: the number */
    uint32_t type;  /* cnn_json_type */
    uint32_t start; /* byte offset in src: STRING the first byte after the quote, others the first byte */
    uint32_t end;   /* one past the last byte: STRING the closing quote, containers one past the bracket */
    uint32_t size;  /* OBJECT: member count; ARRAY: element count; others 0 */
    uint32_t next;  /* index of the first token after this value and all its children */
} cnn_json_token;

typedef struct {
    cnn_json_token *tokens; /* (count), owned; release with cnn_json_free */
    uint32_t count;
    uint32_t cap;
} cnn_json_doc;

/* Parses one JSON value starting at src[0] (leading whitespace allowed). *end receives the offset just past
 * the value; the caller decides what may follow. err (optional, err_cap bytes) receives a description of a
 * syntax error with its byte offset.
 * @return CNN_OK, CNN_E_FORMAT (syntax) or CNN_E_NOMEM. On failure doc is empty (nothing to free). */
int cnn_json_parse(cnn_json_doc *doc, const char *src, size_t len, size_t *end, char *err, size_t err_cap);
void cnn_json_free(cnn_json_doc *doc); /* accepts NULL and a zeroed doc */

/* Decodes a STRING token of a successfully parsed src (escapes resolved, UTF-8 out) into dst: at most cap - 1
 * bytes and a terminating NUL (dst may be NULL when cap is 0). Returns the full decoded length, which may
 * exceed cap - 1 (then the output is truncated) and may contain NUL bytes (from \u0000). */
size_t cnn_json_string_decode(char *dst, size_t cap, const char *src, const cnn_json_token *t);

/* 1 when the decoded STRING token equals the NUL-terminated s, else 0. */
int cnn_json_string_eq(const char *src, const cnn_json_token *t, const char *s);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF), else 0. */
int cnn_json_utf8_valid(const uint8_t *s, size_t n);

#endif /* CNN_JSON_H */
