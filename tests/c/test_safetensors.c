/* test_safetensors.c - the safetensors container and its JSON parser: round trips, hand-written files,
 * every malformed case the parser must reject, truncations and random byte flips (run under ASan).
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -Ic_src tests/c/test_safetensors.c \
 *       c_src/safetensors.c c_src/json.c c_src/util.c -lm -o /tmp/test_st && /tmp/test_st */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "json.h"

/* ---- helpers ---- */

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* A file from a header string: u64 LE length (of header + pad spaces), the header, pad spaces, then dlen data
 * bytes. The buffer has exactly the file's size so that ASan sees any over-read. Caller frees. */
static uint8_t *make_file(const char *header, size_t pad, size_t dlen, size_t *len) {
    size_t h = strlen(header) + pad;
    *len = 8 + h + dlen;
    uint8_t *b = malloc(*len);
    if (!b) return NULL;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, strlen(header));
    memset(b + 8 + strlen(header), ' ', pad);
    for (size_t i = 0; i < dlen; i++) b[8 + h + i] = (uint8_t)(i * 7 + 1);
    return b;
}

static void set_tensor(cnn_st_tensor *t, const char *name, int ndim, const int64_t *shape, const void *data) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->count *= (size_t)shape[d];
    }
    t->data = data;
}

static int file_is_zeroed(const cnn_st_file *f) {
    return f->tensors == NULL && f->count == 0 && f->meta_keys == NULL && f->meta_values == NULL &&
           f->meta_count == 0;
}

/* Parses header + dlen data bytes and expects CNN_E_FORMAT with a message containing word. */
static void expect_bad_at(const char *header, size_t dlen, const char *word, int line) {
    size_t len;
    uint8_t *b = make_file(header, 0, dlen, &len);
    cnn_st_file f;
    int st = cnn_st_parse(&f, b, len);
    CHECK(st == CNN_E_FORMAT, "line %d: status %d for header %s (expected CNN_E_FORMAT)", line, st, header);
    CHECK(cnn_last_error()[0] != '\0', "line %d: empty error message", line);
    CHECK(strstr(cnn_last_error(), word) != NULL, "line %d: message '%s' lacks '%s'", line, cnn_last_error(),
          word);
    CHECK(strncmp(cnn_last_error(), "safetensors: ", 13) == 0, "line %d: message '%s' does not name the function",
          line, cnn_last_error());
    CHECK(file_is_zeroed(&f), "line %d: out not zeroed after failure", line);
    cnn_st_file_free(&f);
    free(b);
}
#define EXPECT_BAD(header, dlen, word) expect_bad_at(header, dlen, word, __LINE__)

static void expect_ok_at(const char *header, size_t dlen, int count, int line) {
    size_t len;
    uint8_t *b = make_file(header, 0, dlen, &len);
    cnn_st_file f;
    int st = cnn_st_parse(&f, b, len);
    CHECK(st == CNN_OK, "line %d: status %d (%s) for header %s", line, st, cnn_last_error(), header);
    CHECK(f.count == count, "line %d: %d tensors (expected %d)", line, f.count, count);
    cnn_st_file_free(&f);
    free(b);
}
#define EXPECT_OK(header, dlen, count) expect_ok_at(header, dlen, count, __LINE__)

#define T_A "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
#define T_A_AT8 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}"
#define T_B "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}"

/* A valid file with metadata and several tensors, for truncation and flip tests. Caller frees. */
static uint8_t *sample_file(size_t *len) {
    static const float w[6] = {1.0f, -2.0f, 0.5f, 3.25f, -0.0f, 1e-3f};
    static const float b[2] = {0.125f, -8.0f};
    static const float s[1] = {42.0f};
    const int64_t sw[2] = {2, 3}, sb[1] = {2};
    cnn_st_tensor t[4];
    const char *keys[2] = {"format", "spec"}, *vals[2] = {"cnn-wasm", "conv2d 8 3x3 relu\nmaxpool 2\n\"dense\" 10"};
    uint8_t *out = NULL;
    set_tensor(&t[0], "conv1.weight", 2, sw, w);
    set_tensor(&t[1], "conv1.bias", 1, sb, b);
    set_tensor(&t[2], "scale", 0, NULL, s);
    const int64_t se[2] = {0, 4};
    set_tensor(&t[3], "empty", 2, se, NULL);
    int st = cnn_st_write(&out, len, t, 4, keys, vals, 2);
    CHECK(st == CNN_OK, "sample_file: write failed: %s", cnn_last_error());
    /* Copy into an exact-size buffer (the writer's buffer already is, but make it explicit). */
    uint8_t *copy = malloc(*len);
    if (copy) memcpy(copy, out, *len);
    cnn_free(out);
    return copy;
}

/* ---- round trips ---- */

static void test_roundtrip_bit_exact(void) {
    /* Special values as bit patterns: quiet and signalling NaN payloads, -0, denormals, infinities. */
    const uint32_t bits[12] = {0x7fc00000u, 0x7fa12345u, 0xffc00001u, 0x80000000u, 0x00000000u, 0x00000001u,
                               0x807fffffu, 0x7f800000u, 0xff800000u, 0x7f7fffffu, 0x3f800000u, 0xc0490fdbu};
    float w[12], bias[3] = {0.1f, -0.2f, 0.3f}, scalar = -7.5f;
    for (int i = 0; i < 12; i++) w[i] = u2f(bits[i]);
    const int64_t sw[4] = {3, 1, 2, 2}, sb[1] = {3}, se[3] = {2, 0, 5};
    cnn_st_tensor t[4];
    set_tensor(&t[0], "conv1.weight", 4, sw, w);
    set_tensor(&t[1], "conv1.bias", 1, sb, bias);
    set_tensor(&t[2], "temperature", 0, NULL, &scalar);
    set_tensor(&t[3], "zero.sized", 3, se, NULL);
    const char *keys[3] = {"format", "format_version", "spec"};
    const char *vals[3] = {"cnn-wasm", "1", "input 28x28x1\nconv2d 8 3x3 relu\nmaxpool 2\ndense 10"};
    uint8_t *buf = NULL;
    size_t len = 0;
    int st = cnn_st_write(&buf, &len, t, 4, keys, vals, 3);
    CHECK(st == CNN_OK, "write: %s", cnn_last_error());
    if (st != CNN_OK) return;

    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    CHECK(n % 8 == 0, "header length %llu is not a multiple of 8", (unsigned long long)n);
    CHECK(len == 8 + n + (12 + 3 + 1) * 4, "file length %zu (expected %llu)", len,
          (unsigned long long)(8 + n + 64));

    cnn_st_file f;
    st = cnn_st_parse(&f, buf, len);
    CHECK(st == CNN_OK, "parse: %s", cnn_last_error());
    CHECK(f.count == 4, "count %d", f.count);
    if (st == CNN_OK && f.count == 4) {
        /* Order is preserved, and so are names and shapes. */
        for (int i = 0; i < 4; i++) {
            CHECK(strcmp(f.tensors[i].name, t[i].name) == 0, "tensor %d name '%s' (expected '%s')", i,
                  f.tensors[i].name, t[i].name);
            CHECK(f.tensors[i].ndim == t[i].ndim, "tensor %d ndim %d", i, f.tensors[i].ndim);
            CHECK(f.tensors[i].count == t[i].count, "tensor %d count %zu", i, f.tensors[i].count);
            for (int d = 0; d < t[i].ndim; d++)
                CHECK(f.tensors[i].shape[d] == t[i].shape[d], "tensor %d dim %d = %lld", i, d,
                      (long long)f.tensors[i].shape[d]);
        }
        const cnn_st_tensor *pw = cnn_st_find(&f, "conv1.weight");
        CHECK(pw != NULL, "conv1.weight not found");
        for (int i = 0; pw && i < 12; i++) {
            float v;
            memcpy(&v, (const uint8_t *)pw->data + 4 * i, 4);
            CHECK(f2u(v) == bits[i], "weight %d bits 0x%08x (expected 0x%08x)", i, f2u(v), bits[i]);
        }
        const cnn_st_tensor *pb = cnn_st_find(&f, "conv1.bias");
        CHECK(pb && memcmp(pb->data, bias, sizeof bias) == 0, "bias differs");
        const cnn_st_tensor *ps = cnn_st_find(&f, "temperature");
        CHECK(ps && ps->ndim == 0 && ps->count == 1 && memcmp(ps->data, &scalar, 4) == 0, "scalar differs");
        CHECK(cnn_st_find(&f, "missing") == NULL, "found a missing tensor");
        CHECK(f.meta_count == 3, "meta_count %d", f.meta_count);
        for (int i = 0; i < 3; i++) {
            const char *v = cnn_st_meta(&f, keys[i]);
            CHECK(v && strcmp(v, vals[i]) == 0, "metadata '%s' = '%s' (expected '%s')", keys[i], v ? v : "(null)",
                  vals[i]);
        }
        CHECK(cnn_st_meta(&f, "nope") == NULL, "found a missing metadata key");
    }
    cnn_st_file_free(&f);
    CHECK(file_is_zeroed(&f), "free did not zero the struct");
    cnn_free(buf);
}

/* I64 tensors are written with their dtype and 8 bytes an element, and read back bit for bit beside F32 ones. */
static void test_roundtrip_i64(void) {
    const int64_t counts[3] = {0, 937, -(INT64_C(1) << 62)};
    const float w[2] = {1.5f, -2.0f};
    const int64_t s3[1] = {3}, s2[1] = {2};
    cnn_st_tensor t[3];
    set_tensor(&t[0], "bn1.weight", 1, s2, w);
    set_tensor(&t[1], "bn1.num_batches_tracked", 0, NULL, &counts[1]);
    t[1].dtype = CNN_ST_I64;
    set_tensor(&t[2], "three", 1, s3, counts);
    t[2].dtype = CNN_ST_I64;
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(cnn_st_write(&buf, &len, t, 3, NULL, NULL, 0) == CNN_OK, "write: %s", cnn_last_error());
    CHECK(buf && strstr((const char *)buf + 8, "\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"),
          "the header names the dtype I64 and a scalar shape");
    cnn_st_file f;
    CHECK(buf && cnn_st_parse(&f, buf, len) == CNN_OK, "parse: %s", cnn_last_error());
    if (buf && f.count == 3) {
        const cnn_st_tensor *n = cnn_st_find(&f, "bn1.num_batches_tracked"), *v = cnn_st_find(&f, "three"),
                            *x = cnn_st_find(&f, "bn1.weight");
        int64_t got[3];
        CHECK(n && n->dtype == CNN_ST_I64 && n->ndim == 0 && n->count == 1, "scalar I64 read back");
        if (n) memcpy(got, n->data, 8);
        CHECK(n && got[0] == 937, "scalar value %lld", n ? (long long)got[0] : 0LL);
        if (v) memcpy(got, v->data, 24);
        CHECK(v && v->dtype == CNN_ST_I64 && memcmp(got, counts, 24) == 0, "I64 vector read back");
        CHECK(x && x->dtype == CNN_ST_F32 && memcmp(x->data, w, 8) == 0, "F32 tensor beside them");
        cnn_st_file_free(&f);
    }
    cnn_free(buf);
}

static void test_roundtrip_escapes(void) {
    /* Quotes, backslashes, control bytes, DEL, multi-byte UTF-8 (2, 3 and 4 bytes) in keys, values and a name. */
    const char *keys[3] = {"plain", "we\"ird\\key", "ctl\x01\x1f"};
    const char *vals[3] = {"", "tab\there\nnl \"q\" \\ / \x7f", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \b\f\r"};
    float v = 1.5f;
    const int64_t s1[1] = {1};
    cnn_st_tensor t;
    set_tensor(&t, "na\"me\\\xc3\xa9\n", 1, s1, &v);
    uint8_t *buf = NULL;
    size_t len;
    int st = cnn_st_write(&buf, &len, &t, 1, keys, vals, 3);
    CHECK(st == CNN_OK, "write: %s", cnn_last_error());
    if (st != CNN_OK) return;
    /* The escapes are the ones serde_json writes. */
    const char *hdr = (const char *)buf + 8;
    size_t n = (size_t)buf[0] | (size_t)buf[1] << 8;
    char *h = malloc(n + 1);
    memcpy(h, hdr, n);
    h[n] = '\0';
    CHECK(strstr(h, "\"we\\\"ird\\\\key\":") != NULL, "key escape missing in %s", h);
    CHECK(strstr(h, "\"ctl\\u0001\\u001f\"") != NULL, "\\u escapes missing in %s", h);
    CHECK(strstr(h, "\"tab\\there\\nnl \\\"q\\\" \\\\ / \x7f\"") != NULL, "value escapes wrong in %s", h);
    CHECK(strstr(h, "\\b\\f\\r\"") != NULL, "\\b\\f\\r missing in %s", h);
    free(h);

    cnn_st_file f;
    st = cnn_st_parse(&f, buf, len);
    CHECK(st == CNN_OK, "parse: %s", cnn_last_error());
    for (int i = 0; st == CNN_OK && i < 3; i++) {
        const char *got = cnn_st_meta(&f, keys[i]);
        CHECK(got && strcmp(got, vals[i]) == 0, "metadata %d = '%s'", i, got ? got : "(null)");
    }
    CHECK(st == CNN_OK && cnn_st_find(&f, t.name) != NULL, "escaped tensor name not found");
    cnn_st_file_free(&f);
    cnn_free(buf);
}

static void test_header_padding(void) {
    /* Names of every length mod 8 give every header length mod 8; all must pad to a multiple of 8 with
     * spaces right after the closing brace. */
    for (int nl = 1; nl <= 17; nl++) {
        char name[32];
        memset(name, 'x', (size_t)nl);
        name[nl] = '\0';
        float v[2] = {1.0f, 2.0f};
        const int64_t s[1] = {2};
        cnn_st_tensor t;
        set_tensor(&t, name, 1, s, v);
        uint8_t *buf = NULL;
        size_t len;
        int st = cnn_st_write(&buf, &len, &t, 1, NULL, NULL, 0);
        CHECK(st == CNN_OK, "write: %s", cnn_last_error());
        if (st != CNN_OK) continue;
        size_t n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
        CHECK(n % 8 == 0, "name length %d: header length %zu", nl, n);
        size_t last = n;
        while (last > 0 && buf[8 + last - 1] == ' ') last--;
        CHECK(last > 0 && buf[8 + last - 1] == '}', "name length %d: header does not end with '}' + spaces", nl);
        CHECK(n - last < 8, "name length %d: %zu padding bytes", nl, n - last);
        CHECK(len == 8 + n + 8, "name length %d: file length %zu", nl, len);
        cnn_free(buf);
    }
    /* No tensors and no metadata: "{}" and 6 spaces. */
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(cnn_st_write(&buf, &len, NULL, 0, NULL, NULL, 0) == CNN_OK, "empty write: %s", cnn_last_error());
    CHECK(len == 16 && buf && buf[0] == 8 && memcmp(buf + 8, "{}      ", 8) == 0, "empty file wrong (len %zu)", len);
    cnn_st_file f;
    CHECK(buf && cnn_st_parse(&f, buf, len) == CNN_OK && f.count == 0 && f.meta_count == 0, "empty parse: %s",
          cnn_last_error());
    cnn_st_file_free(&f);
    cnn_free(buf);
}

/* ---- known bytes ---- */

static void test_known_file(void) {
    /* Exactly what the reference writes for {"a": float32 [1.0, -2.5]}: compact JSON, 2 spaces of padding. */
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    CHECK(strlen(json) == 54, "test header length %zu", strlen(json));
    uint8_t expected[8 + 56 + 8];
    memset(expected, 0, sizeof expected);
    expected[0] = 56; /* header length, little-endian u64 */
    memcpy(expected + 8, json, 54);
    expected[8 + 54] = ' ';
    expected[8 + 55] = ' ';
    const uint8_t data[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0}; /* 1.0f, -2.5f little-endian */
    memcpy(expected + 64, data, 8);

    cnn_st_file f;
    int st = cnn_st_parse(&f, expected, sizeof expected);
    CHECK(st == CNN_OK, "parse known file: %s", cnn_last_error());
    if (st == CNN_OK) {
        CHECK(f.count == 1 && strcmp(f.tensors[0].name, "a") == 0, "name");
        CHECK(f.tensors[0].ndim == 1 && f.tensors[0].shape[0] == 2 && f.tensors[0].count == 2, "shape");
        CHECK((const uint8_t *)f.tensors[0].data == expected + 64, "data pointer not into the buffer");
        float v[2];
        memcpy(v, f.tensors[0].data, 8);
        CHECK(v[0] == 1.0f && v[1] == -2.5f, "values %g %g", v[0], v[1]);
        CHECK(f.meta_count == 0 && cnn_st_meta(&f, "format") == NULL, "unexpected metadata");
    }
    cnn_st_file_free(&f);

    /* The writer produces the same bytes. */
    const float vals[2] = {1.0f, -2.5f};
    const int64_t s[1] = {2};
    cnn_st_tensor t;
    set_tensor(&t, "a", 1, s, vals);
    uint8_t *buf = NULL;
    size_t len = 0;
    st = cnn_st_write(&buf, &len, &t, 1, NULL, NULL, 0);
    CHECK(st == CNN_OK && len == sizeof expected && memcmp(buf, expected, len) == 0,
          "writer output differs from the known bytes (len %zu)", len);
    cnn_free(buf);

    /* With metadata: "__metadata__" comes first. */
    const char *mjson =
        "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    const char *k[1] = {"format"}, *v[1] = {"pt"};
    st = cnn_st_write(&buf, &len, &t, 1, k, v, 1);
    CHECK(st == CNN_OK && len >= 8 + strlen(mjson) && memcmp(buf + 8, mjson, strlen(mjson)) == 0,
          "metadata header differs");
    cnn_free(buf);
}

static void test_hand_written_variants(void) {
    /* Escapes in metadata written by another tool: \uXXXX, a surrogate pair, \/ and whitespace everywhere. */
    const char *h = "{ \"__metadata__\" : { \"spec\" : \"conv2d 8 3x3\\nrelu\", \"q\":\"\\\"\\u00e9\\ud83d\\ude00\\/\" } ,"
                    "\n\t\"w\":{\"data_offsets\":[0,8],\"shape\":[2,1],\"dtype\":\"F32\"}}\n";
    size_t len;
    uint8_t *b = make_file(h, 0, 8, &len);
    cnn_st_file f;
    int st = cnn_st_parse(&f, b, len);
    CHECK(st == CNN_OK, "parse: %s", cnn_last_error());
    if (st == CNN_OK) {
        const char *spec = cnn_st_meta(&f, "spec"), *q = cnn_st_meta(&f, "q");
        CHECK(spec && strcmp(spec, "conv2d 8 3x3\nrelu") == 0, "spec '%s'", spec ? spec : "(null)");
        CHECK(q && strcmp(q, "\"\xc3\xa9\xf0\x9f\x98\x80/") == 0, "q '%s'", q ? q : "(null)");
        const cnn_st_tensor *w = cnn_st_find(&f, "w");
        CHECK(w && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 1 && w->count == 2, "w shape");
    }
    cnn_st_file_free(&f);
    free(b);

    /* Valid corner cases. */
    EXPECT_OK("{}", 0, 0);
    EXPECT_OK("{\"__metadata__\":{}}", 0, 0);
    EXPECT_OK("{" T_B "," T_A "}", 8, 2); /* listed out of offset order */
    EXPECT_OK("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 1); /* scalar */
    EXPECT_OK("{\"z\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[4,4]}," T_A "}", 4, 2); /* zero-size */
    EXPECT_OK("{\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
              "\"y\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, 2);
    EXPECT_OK("{" T_A "}   \t\r\n  ", 4, 1); /* trailing whitespace */
    EXPECT_OK("{\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 1);
    /* I64, as PyTorch writes a batch-norm's num_batches_tracked: a scalar of 8 bytes, beside F32 tensors */
    EXPECT_OK("{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]}," T_A "}", 12, 2);
    EXPECT_OK("{\"n\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16, 1);

    /* Longest allowed name: CNN_ST_MAX_NAME - 1 bytes. */
    char hdr[512], name[CNN_ST_MAX_NAME + 8];
    memset(name, 'n', CNN_ST_MAX_NAME - 1);
    name[CNN_ST_MAX_NAME - 1] = '\0';
    snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    EXPECT_OK(hdr, 4, 1);
    /* A huge dim beside a zero dim is a valid (empty) shape, as long as each dim fits size_t (32 bits in wasm). */
    EXPECT_OK("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,4294967295],\"data_offsets\":[0,0]}}", 0, 1);
#if SIZE_MAX > UINT32_MAX
    EXPECT_OK("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,9223372036854775807],\"data_offsets\":[0,0]}}", 0, 1);
#endif
}

/* ---- malformed files ---- */

static void test_bad_sizes(void) {
    uint8_t small[8] = {0};
    cnn_st_file f;
    for (size_t n = 0; n < 10; n++) {
        uint8_t *b = calloc(n ? n : 1, 1);
        memcpy(b, small, n < 8 ? n : 8);
        if (n > 8) b[8] = '{';
        int st = cnn_st_parse(&f, b, n);
        CHECK(st == CNN_E_FORMAT && strstr(cnn_last_error(), "too short"), "len %zu: %d '%s'", n, st,
              cnn_last_error());
        free(b);
    }
    /* Header length beyond the file. */
    size_t len;
    uint8_t *b = make_file("{}", 6, 0, &len);
    b[0] = 15;
    CHECK(cnn_st_parse(&f, b, len) == CNN_E_FORMAT && strstr(cnn_last_error(), "exceeds the file size"),
          "long header: '%s'", cnn_last_error());
    /* Over the 1 MiB limit (refused before any JSON is read), and a huge u64. */
    b[0] = 0x01;
    b[1] = 0xe1;
    b[2] = 0xf5;
    b[3] = 0x05; /* 100000001 */
    CHECK(cnn_st_parse(&f, b, len) == CNN_E_FORMAT && strstr(cnn_last_error(), "limit") &&
              strstr(cnn_last_error(), "100000001"),
          "limit: '%s'", cnn_last_error());
    memset(b, 0xff, 8);
    CHECK(cnn_st_parse(&f, b, len) == CNN_E_FORMAT && strstr(cnn_last_error(), "limit"), "u64 max: '%s'",
          cnn_last_error());
    /* Not a safetensors file at all: no '{' after the length, whatever the length says. */
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    b[8] = 0; /* a PNG's IHDR length */
    CHECK(cnn_st_parse(&f, b, len) == CNN_E_FORMAT && strstr(cnn_last_error(), "not a .safetensors file"),
          "PNG signature: '%s'", cnn_last_error());
    b[8] = '{';
    /* Header length 0. */
    memset(b, 0, 8);
    CHECK(cnn_st_parse(&f, b, len) == CNN_E_FORMAT && strstr(cnn_last_error(), "empty"), "empty: '%s'",
          cnn_last_error());
    free(b);
    /* Arguments. */
    CHECK(cnn_st_parse(NULL, small, 8) == CNN_E_INVALID, "NULL out accepted");
    CHECK(cnn_st_parse(&f, NULL, 8) == CNN_E_INVALID, "NULL bytes accepted");
}

static void test_bad_structure(void) {
    EXPECT_BAD("[1,2]", 0, "'{'");
    EXPECT_BAD("\"x\"", 0, "'{'");
    EXPECT_BAD(" {}", 0, "'{'");
    EXPECT_BAD("{\"a\":", 0, "JSON");
    EXPECT_BAD("{\"a\":{}", 0, "JSON");
    EXPECT_BAD("{" T_A ",}", 4, "JSON");
    EXPECT_BAD("{" T_A "}x", 4, "after the JSON object");
    EXPECT_BAD("{" T_A "} {}", 4, "after the JSON object");
    {
        /* A NUL byte in the padding. */
        size_t len;
        uint8_t *b = make_file("{" T_A "}", 1, 4, &len);
        b[len - 5] = 0;
        cnn_st_file f;
        CHECK(cnn_st_parse(&f, b, len) == CNN_E_FORMAT && strstr(cnn_last_error(), "0x00"), "NUL padding: '%s'",
              cnn_last_error());
        free(b);
    }
    EXPECT_BAD("{\"a\":true}", 0, "not supported");
    EXPECT_BAD("{\"a\":null}", 0, "not supported");
    EXPECT_BAD("{\"a\":1}", 0, "not an object");
    EXPECT_BAD("{\"a\":[]}", 0, "not an object");
    EXPECT_BAD("{\"a\":\"x\"}", 0, "not an object");
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}\"b\":1}", 4, "JSON");
    EXPECT_BAD("{'a':1}", 0, "string key");
    EXPECT_BAD("{\"a\" 1}", 0, "':'");
    EXPECT_BAD("{\"a\x01\":1}", 0, "control");
    EXPECT_BAD("{\"a\\x\":1}", 0, "escape");
    EXPECT_BAD("{\"a\\u12\":1}", 0, "hex");
    EXPECT_BAD("{\"\\ud800\":1}", 0, "surrogate");
    EXPECT_BAD("{\"\\udc00\":1}", 0, "surrogate");
    EXPECT_BAD("{\"\\ud800\\u0041\":1}", 0, "surrogate");
    EXPECT_BAD("{\"\xc3\":1}", 0, "UTF-8");
    EXPECT_BAD("{\"\xc0\x80\":1}", 0, "UTF-8"); /* overlong NUL */
    EXPECT_BAD("{\"\xed\xa0\x80\":1}", 0, "UTF-8"); /* encoded surrogate */
    EXPECT_BAD("{\"a\xff\":1}", 0, "UTF-8");
    EXPECT_BAD("{\"unterminated}", 0, "unterminated");
    /* Nesting beyond the parser's bound fails cleanly. */
    char deep[128];
    size_t p = 0;
    p += (size_t)snprintf(deep, sizeof deep, "{\"a\":");
    for (int i = 0; i < 40; i++) deep[p++] = '[';
    deep[p] = '\0';
    EXPECT_BAD(deep, 0, "nesting");
}

static void test_bad_names(void) {
    EXPECT_BAD("{" T_A "," "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate tensor");
    EXPECT_BAD("{" T_A "," "\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate");
    EXPECT_BAD("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "empty");
    EXPECT_BAD("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "NUL");
    char hdr[512], name[CNN_ST_MAX_NAME + 8];
    memset(name, 'n', CNN_ST_MAX_NAME);
    name[CNN_ST_MAX_NAME] = '\0';
    snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    EXPECT_BAD(hdr, 4, "long");
}

static void test_bad_fields(void) {
    EXPECT_BAD("{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
               "tensor 'x' has dtype F16, only F32 and I64 are supported");
    EXPECT_BAD("{\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype I32");
    EXPECT_BAD("{\"x\":{\"dtype\":\"i64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "dtype i64");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "dtype F64");
    /* an I64 element is 8 bytes: 4 is too few, 16 too many */
    EXPECT_BAD("{\"x\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "its I64 shape needs 8");
    EXPECT_BAD("{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16, "needs 8");
    EXPECT_BAD("{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "dtype BF16");
    EXPECT_BAD("{\"x\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype f32");
    EXPECT_BAD("{\"x\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype");
    EXPECT_BAD("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing field 'dtype'");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing field 'shape'");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing field 'data_offsets'");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4, "unknown field 'extra'");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "duplicate field");
    EXPECT_BAD("{\"x\":{}}", 0, "missing");
}

static void test_bad_shapes(void) {
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "9 dims");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "fraction");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1e2],\"data_offsets\":[0,4]}}", 4, "exponent");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "leading zero");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "non-integer");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4, "non-integer");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "not an array");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", 4, "too large");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,4]}}", 4, "too large");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
               "overflow");
    /* The element count fits but the byte count does not. */
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4, "overflow");
}

static void test_bad_offsets(void) {
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, "two integers");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "two integers");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4, "two integers");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[[0],4]}}", 4, "two integers");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":0}}}", 4, "two integers");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "negative");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "begin > end");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "exceeds the data buffer");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 4,
               "exceeds the data buffer");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8");
    EXPECT_BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,8]}}", 8, "needs 4");
    /* Overlap, hole, trailing bytes, missing bytes. */
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps");
    EXPECT_BAD("{" T_A "," T_A_AT8 "}", 12, "hole");
    EXPECT_BAD("{" T_A "}", 8, "trailing");
    EXPECT_BAD("{}", 4, "trailing");
    EXPECT_BAD("{" T_A "," "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlaps");
}

static void test_bad_metadata(void) {
    EXPECT_BAD("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    EXPECT_BAD("{\"__metadata__\":{\"k\":{}}}", 0, "not a string");
    EXPECT_BAD("{\"__metadata__\":{\"k\":[\"v\"]}}", 0, "not a string");
    EXPECT_BAD("{\"__metadata__\":\"x\"}", 0, "not an object");
    EXPECT_BAD("{\"__metadata__\":[]}", 0, "not an object");
    EXPECT_BAD("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate");
    EXPECT_BAD("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate metadata key 'k'");
    EXPECT_BAD("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "NUL");
    EXPECT_BAD("{\"__metadata__\":{\"k\\u0000\":\"v\"}}", 0, "NUL");
    EXPECT_BAD("{\"__metadata__\":{\"a\":\"v\",\"b\":2,\"c\":\"w\"}}", 0, "'b'");
}

/* ---- robustness ---- */

static void test_truncations_fail(void) {
    size_t len;
    uint8_t *full = sample_file(&len);
    if (!full) return;
    cnn_st_file f;
    CHECK(cnn_st_parse(&f, full, len) == CNN_OK, "sample does not parse: %s", cnn_last_error());
    cnn_st_file_free(&f);
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *b = malloc(n ? n : 1); /* exact size: ASan reports any read past n */
        memcpy(b, full, n);
        int st = cnn_st_parse(&f, b, n);
        if (st != CNN_E_FORMAT || cnn_last_error()[0] == '\0' || !file_is_zeroed(&f)) bad++;
        cnn_st_file_free(&f);
        free(b);
    }
    CHECK(bad == 0, "%d of %zu truncations did not fail cleanly", bad, len);
    free(full);
}

/* Checks that a parsed file only points inside [b, b + len) and reads every value (ASan checks the reads). */
static int parsed_file_sane(const cnn_st_file *f, const uint8_t *b, size_t len) {
    for (int i = 0; i < f->count; i++) {
        const cnn_st_tensor *t = &f->tensors[i];
        const uint8_t *p = (const uint8_t *)t->data;
        if (memchr(t->name, '\0', sizeof t->name) == NULL || t->name[0] == '\0') return 0;
        if (t->ndim < 0 || t->ndim > CNN_ST_MAX_DIMS) return 0;
        if (p < b || p > b + len || t->count > (size_t)(b + len - p) / 4) return 0;
        float sum = 0.0f;
        for (size_t j = 0; j < t->count; j++) {
            float v;
            memcpy(&v, p + 4 * j, 4);
            sum += v;
        }
        (void)sum;
    }
    for (int i = 0; i < f->meta_count; i++)
        if (!f->meta_keys[i] || !f->meta_values[i]) return 0;
    return 1;
}

static void test_random_flips(void) {
    size_t len;
    uint8_t *full = sample_file(&len);
    if (!full) return;
    cnn_rng r;
    cnn_rng_seed(&r, 20240601);
    size_t hlen = (size_t)full[0] | (size_t)full[1] << 8;
    int ok = 0, failed = 0, insane = 0, other = 0;
    /* Interesting replacement bytes for a JSON header, besides random ones. */
    const char special[] = "{}[],:\"\\0123456789 -eE.u";
    for (int iter = 0; iter < 30000; iter++) {
        uint8_t *b = malloc(len);
        memcpy(b, full, len);
        int flips = 1 + (int)cnn_rng_below(&r, 4);
        for (int k = 0; k < flips; k++) {
            /* Mostly the header, where the parsing happens; sometimes the length or the data. */
            uint32_t where = cnn_rng_below(&r, 10);
            size_t pos = where < 8 ? 8 + cnn_rng_below(&r, (uint32_t)hlen)
                         : where == 8 ? cnn_rng_below(&r, 8)
                                      : cnn_rng_below(&r, (uint32_t)len);
            b[pos] = cnn_rng_below(&r, 2) ? (uint8_t)cnn_rng_u32(&r)
                                          : (uint8_t)special[cnn_rng_below(&r, (uint32_t)(sizeof special - 1))];
        }
        cnn_st_file f;
        int st = cnn_st_parse(&f, b, len);
        if (st == CNN_OK) {
            ok++;
            if (!parsed_file_sane(&f, b, len)) insane++;
        } else if (st == CNN_E_FORMAT && cnn_last_error()[0] != '\0' && file_is_zeroed(&f)) {
            failed++;
        } else {
            other++;
        }
        cnn_st_file_free(&f);
        free(b);
    }
    CHECK(other == 0, "%d flips gave a status other than OK/FORMAT or a dirty failure", other);
    CHECK(insane == 0, "%d accepted files point outside the buffer", insane);
    CHECK(failed > 1000 && ok > 100, "flip test exercised too little: %d ok, %d failed", ok, failed);
    free(full);
}

/* ---- writer input validation ---- */

static void expect_write_invalid_at(const cnn_st_tensor *t, int count, const char *const *k, const char *const *v,
                                    int mc, const char *word, int line) {
    uint8_t *buf = (uint8_t *)&buf; /* any non-NULL value: the writer must reset it */
    size_t len = 99;
    int st = cnn_st_write(&buf, &len, t, count, k, v, mc);
    CHECK(st == CNN_E_INVALID, "line %d: status %d (expected CNN_E_INVALID)", line, st);
    CHECK(buf == NULL && len == 0, "line %d: outputs not reset", line);
    CHECK(strstr(cnn_last_error(), word) != NULL && strncmp(cnn_last_error(), "cnn_st_write: ", 14) == 0,
          "line %d: message '%s' lacks '%s'", line, cnn_last_error(), word);
    if (st == CNN_OK) cnn_free(buf);
}
#define EXPECT_WRITE_INVALID(t, c, k, v, mc, word) expect_write_invalid_at(t, c, k, v, mc, word, __LINE__)

static void test_write_invalid(void) {
    float d[4] = {1, 2, 3, 4};
    const int64_t s2[2] = {2, 2}, sneg[1] = {-1}, s4[1] = {4};
    cnn_st_tensor t[2];
    set_tensor(&t[0], "a", 2, s2, d);
    set_tensor(&t[1], "b", 1, s4, d);
    const char *k[2] = {"x", "y"}, *v[2] = {"1", "2"};

    EXPECT_WRITE_INVALID(t, -1, NULL, NULL, 0, "count -1");
    EXPECT_WRITE_INVALID(NULL, 1, NULL, NULL, 0, "NULL");
    EXPECT_WRITE_INVALID(t, 2, NULL, NULL, 1, "meta_count");
    EXPECT_WRITE_INVALID(t, 2, k, v, -1, "meta_count -1");

    cnn_st_tensor bad[2];
    memcpy(bad, t, sizeof t);
    snprintf(bad[1].name, sizeof bad[1].name, "a");
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "duplicate tensor name 'a'");
    memcpy(bad, t, sizeof t);
    bad[0].name[0] = '\0';
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "empty name");
    memcpy(bad, t, sizeof t);
    memset(bad[0].name, 'x', sizeof bad[0].name);
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "not terminated");
    memcpy(bad, t, sizeof t);
    snprintf(bad[0].name, sizeof bad[0].name, "__metadata__");
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "reserved");
    memcpy(bad, t, sizeof t);
    snprintf(bad[0].name, sizeof bad[0].name, "bad\xff");
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "UTF-8");
    memcpy(bad, t, sizeof t);
    bad[0].ndim = CNN_ST_MAX_DIMS + 1;
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "ndim 9");
    memcpy(bad, t, sizeof t);
    bad[0].ndim = -1;
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "ndim -1");
    set_tensor(&bad[0], "a", 1, sneg, d);
    EXPECT_WRITE_INVALID(bad, 1, NULL, NULL, 0, "dim 0 is -1");
    memcpy(bad, t, sizeof t);
    bad[0].count = 5;
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "does not match");
    memcpy(bad, t, sizeof t);
    bad[0].data = NULL;
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "data is NULL");
    memcpy(bad, t, sizeof t);
    bad[1].dtype = 7;
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "dtype 7");
    memcpy(bad, t, sizeof t);
    bad[0].ndim = 3;
    bad[0].shape[0] = bad[0].shape[1] = bad[0].shape[2] = INT64_C(1) << 40;
    EXPECT_WRITE_INVALID(bad, 2, NULL, NULL, 0, "overflow");

    const char *kd[2] = {"x", "x"}, *kn[2] = {"x", NULL}, *ku[2] = {"x", "\xc3"};
    EXPECT_WRITE_INVALID(t, 2, kd, v, 2, "duplicate metadata key 'x'");
    EXPECT_WRITE_INVALID(t, 2, kn, v, 2, "NULL key or value");
    EXPECT_WRITE_INVALID(t, 2, ku, v, 2, "UTF-8");
    EXPECT_WRITE_INVALID(t, 2, k, ku, 2, "UTF-8");

    size_t len;
    CHECK(cnn_st_write(NULL, &len, t, 2, NULL, NULL, 0) == CNN_E_INVALID, "NULL out accepted");

    /* A valid write after all that still works, and zero-size tensors may have NULL data. */
    const int64_t s0[1] = {0};
    set_tensor(&bad[0], "empty", 1, s0, NULL);
    uint8_t *buf = NULL;
    CHECK(cnn_st_write(&buf, &len, bad, 1, k, v, 2) == CNN_OK, "valid write failed: %s", cnn_last_error());
    cnn_free(buf);
}

static void test_many_tensors(void) {
    /* Enough tensors that quadratic duplicate checks would show; every name distinct, then one duplicate. */
    enum { N = 3000 };
    cnn_st_tensor *t = calloc(N, sizeof *t);
    float *vals = malloc(N * sizeof *vals);
    if (!t || !vals) {
        CHECK(0, "allocation failed");
        free(t);
        free(vals);
        return;
    }
    const int64_t s1[1] = {1};
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%d.weight", i);
        vals[i] = (float)i * 0.5f;
        set_tensor(&t[i], name, 1, s1, &vals[i]);
    }
    uint8_t *buf = NULL;
    size_t len;
    int st = cnn_st_write(&buf, &len, t, N, NULL, NULL, 0);
    CHECK(st == CNN_OK, "write: %s", cnn_last_error());
    cnn_st_file f;
    st = buf ? cnn_st_parse(&f, buf, len) : -1;
    CHECK(st == CNN_OK && f.count == N, "parse: %s", cnn_last_error());
    if (st == CNN_OK) {
        const cnn_st_tensor *x = cnn_st_find(&f, "layer2999.weight");
        float v = 0;
        if (x) memcpy(&v, x->data, 4);
        CHECK(x && v == 1499.5f, "last tensor value %g", v);
    }
    cnn_st_file_free(&f);
    cnn_free(buf);
    snprintf(t[N - 1].name, sizeof t[N - 1].name, "layer17.weight");
    buf = NULL;
    CHECK(cnn_st_write(&buf, &len, t, N, NULL, NULL, 0) == CNN_E_INVALID && buf == NULL,
          "duplicate among many not found");
    free(t);
    free(vals);
}

static void test_free_and_lookup_nulls(void) {
    cnn_st_file f;
    memset(&f, 0, sizeof f);
    cnn_st_file_free(NULL);
    cnn_st_file_free(&f);
    CHECK(file_is_zeroed(&f), "zeroed struct changed by free");
    CHECK(cnn_st_find(NULL, "a") == NULL && cnn_st_find(&f, NULL) == NULL && cnn_st_find(&f, "a") == NULL,
          "find on empty");
    CHECK(cnn_st_meta(NULL, "a") == NULL && cnn_st_meta(&f, NULL) == NULL && cnn_st_meta(&f, "a") == NULL,
          "meta on empty");
}

/* ---- the JSON parser on its own ---- */

static int json_ok(const char *s) {
    cnn_json_doc d;
    size_t end;
    int st = cnn_json_parse(&d, s, strlen(s), &end, NULL, 0);
    cnn_json_free(&d);
    return st == CNN_OK && end == strlen(s);
}

static void test_json_parser(void) {
    const char *s = "{\"a\":[1,[2,3],{}],\"b\\n\":\"x\\ty\",\"c\":18446744073709551615}";
    cnn_json_doc d;
    size_t end = 0;
    char err[128];
    int st = cnn_json_parse(&d, s, strlen(s), &end, err, sizeof err);
    CHECK(st == CNN_OK && end == strlen(s), "parse: %s", err);
    if (st == CNN_OK) {
        /* Tokens: 0 {  1 "a"  2 [  3 1  4 [  5 2  6 3  7 {}  8 "b\n"  9 "x\ty"  10 "c"  11 int */
        CHECK(d.count == 12, "token count %u", (unsigned)d.count);
        CHECK(d.tokens[0].type == CNN_JSON_OBJECT && d.tokens[0].size == 3 && d.tokens[0].next == 12, "root");
        CHECK(d.tokens[2].type == CNN_JSON_ARRAY && d.tokens[2].size == 3 && d.tokens[2].next == 8, "array");
        CHECK(d.tokens[4].size == 2 && d.tokens[4].next == 7, "inner array");
        CHECK(d.tokens[7].type == CNN_JSON_OBJECT && d.tokens[7].size == 0 && d.tokens[7].next == 8, "empty obj");
        CHECK(d.tokens[11].type == CNN_JSON_INT && d.tokens[11].value == UINT64_MAX, "u64 max");
        char buf[8];
        CHECK(cnn_json_string_decode(buf, sizeof buf, s, &d.tokens[8]) == 2 && strcmp(buf, "b\n") == 0, "key");
        CHECK(cnn_json_string_eq(s, &d.tokens[9], "x\ty") && !cnn_json_string_eq(s, &d.tokens[9], "x\t") &&
                  !cnn_json_string_eq(s, &d.tokens[9], "x\tyz"),
              "string_eq");
        /* Truncating decode reports the full length. */
        CHECK(cnn_json_string_decode(buf, 2, s, &d.tokens[9]) == 3 && strcmp(buf, "x") == 0, "truncated decode");
    }
    cnn_json_free(&d);
    cnn_json_free(NULL);

    CHECK(json_ok("0") && json_ok("[]") && json_ok(" [ 0 , 1 ]") && !json_ok("[0] "), "scalars");
    CHECK(!json_ok("18446744073709551616") && !json_ok("00") && !json_ok("-1") && !json_ok("1.0") &&
              !json_ok("[1,]") && !json_ok("{\"a\":1,}") && !json_ok("{,}") && !json_ok("") && !json_ok("[") &&
              !json_ok("{\"a\"}") && !json_ok("{1:2}") && !json_ok("\"\\u00g0\""),
          "invalid JSON accepted");
    /* Depth: CNN_JSON_MAX_DEPTH nested arrays parse, one more fails. */
    char deep[2 * CNN_JSON_MAX_DEPTH + 4];
    for (int extra = 0; extra <= 1; extra++) {
        int n = CNN_JSON_MAX_DEPTH + extra;
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        deep[2 * n] = '\0';
        CHECK(json_ok(deep) == !extra, "depth %d", n);
    }
    /* UTF-8 validation boundaries. */
    CHECK(cnn_json_utf8_valid((const uint8_t *)"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80"
                                                "\xf4\x8f\xbf\xbf", 20), "valid UTF-8 rejected");
    CHECK(!cnn_json_utf8_valid((const uint8_t *)"\xc1\xbf", 2) && !cnn_json_utf8_valid((const uint8_t *)"\xe0\x9f\xbf", 3) &&
              !cnn_json_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4) &&
              !cnn_json_utf8_valid((const uint8_t *)"\xf5\x80\x80\x80", 4) &&
              !cnn_json_utf8_valid((const uint8_t *)"\xe2\x82", 2) && !cnn_json_utf8_valid((const uint8_t *)"\x80", 1),
          "invalid UTF-8 accepted");
}

int main(void) {
    RUN(test_roundtrip_bit_exact);
    RUN(test_roundtrip_i64);
    RUN(test_roundtrip_escapes);
    RUN(test_header_padding);
    RUN(test_known_file);
    RUN(test_hand_written_variants);
    RUN(test_bad_sizes);
    RUN(test_bad_structure);
    RUN(test_bad_names);
    RUN(test_bad_fields);
    RUN(test_bad_shapes);
    RUN(test_bad_offsets);
    RUN(test_bad_metadata);
    RUN(test_truncations_fail);
    RUN(test_random_flips);
    RUN(test_write_invalid);
    RUN(test_many_tensors);
    RUN(test_free_and_lookup_nulls);
    RUN(test_json_parser);
    return check_summary();
}
