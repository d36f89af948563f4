/* test_layers.c - the table of layer kinds: every kind has a complete descriptor, keywords are unique and
 * found again, tensors tile each layer's parameters and their PyTorch-to-ours index maps are permutations,
 * and canonical texts read back as the same network. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layers.h"
#include "model.h"

/* Together these use every kind that can be written in a spec. */
static const char *specs[] = {
    "keras",
    "pytorch",
    "mlp",
    "input 9x7x3; conv 4 3x3 same tanh; avgpool 2; conv2d 5 1x1 sigmoid; flatten; dropout 0.2; linear 6 relu; dense 2",
    "resnet",
    ("input 12x10x2; conv2d 6 3x3 same stride 2 leakyrelu; bn; residual; conv2d 6 3x3 same gelu; end; leakyrelu 0.2\n"
     "residual; conv2d 8 3x3 stride 2 same; batchnorm; skip; conv2d 8 1x1 stride 2; end; gap; batchnorm; dense 3"),
    "input 5x4x3; flatten; batchnorm; residual; dense 7 relu; dense 60; skip; dense 60; end; dense 2",
};

static void test_descriptors(void) {
    for (int k = 0; k < L_COUNT; k++) {
        const cnn_layer_desc *d = cnn_layer_desc_of((cnn_layer_kind)k);
        CHECK(d != NULL, "kind %d has no descriptor", k);
        if (!d) continue;
        CHECK(d->name && d->noun && d->forward && d->backward && d->text && d->flops,
              "kind %d (%s): name, noun, forward, backward, text and flops are required", k, d->name ? d->name : "?");
        CHECK(d->ntensors >= 0 && d->ntensors <= CNN_MAX_LAYER_TENSORS, "%s: %d tensors (at most %d)", d->name,
              d->ntensors, CNN_MAX_LAYER_TENSORS);
        CHECK(!d->ntensors || (d->tensor && d->init && d->infer), "%s has tensors: tensor, init and infer are required",
              d->name);
        CHECK(!((d->flags & LF_IN_PLACE) && (d->flags & LF_ALIAS)), "%s: in place and alias exclude each other", d->name);
        if (!(d->flags & LF_INTERNAL)) {
            CHECK(cnn_layer_kind_by_word(d->name) == k, "keyword '%s' finds kind %d, expected %d", d->name,
                  cnn_layer_kind_by_word(d->name), k);
            if (d->alias) CHECK(cnn_layer_kind_by_word(d->alias) == k, "alias '%s' does not find %s", d->alias, d->name);
        } else {
            CHECK(cnn_layer_kind_by_word(d->name) < 0, "internal kind '%s' must not be a keyword", d->name);
        }
        for (int j = 0; j < k; j++) {
            const cnn_layer_desc *e = cnn_layer_desc_of((cnn_layer_kind)j);
            CHECK(strcmp(d->name, e->name) != 0, "kinds %d and %d are both named '%s'", j, k, d->name);
            CHECK(!d->alias || strcmp(d->alias, e->name) != 0, "alias '%s' of %s is the name of kind %d", d->alias,
                  d->name, j);
        }
    }
    char list[256];
    cnn_layer_keywords(list, sizeof list, LF_ACTIVATION, NULL);
    CHECK(strcmp(list, "relu, sigmoid, tanh, leakyrelu or gelu") == 0, "activation keywords: '%s'", list);
}

static void test_tensors_and_text(void) {
    int seen[L_COUNT] = {0};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        cnn_model *m = NULL, *again = NULL;
        CHECK(cnn_model_create(&m, specs[s], 1, 2) == CNN_OK, "create '%s': %s", specs[s], cnn_last_error());
        if (!m) continue;
        size_t total = 0;
        for (int i = 0; i < m->nlayers; i++) {
            const cnn_layer *l = &m->layers[i];
            const cnn_layer_desc *d = cnn_layer_desc_of(l->kind);
            seen[l->kind] = 1;
            CHECK(l->src < i && (l->src2 == CNN_NO_LAYER || l->src2 < i), "layer %s reads a layer that does not "
                  "come before it (%d, %d)", l->name, l->src, l->src2);
            CHECK((l->src2 != CNN_NO_LAYER) == (l->kind == L_ADD), "layer %s: only an add has two inputs", l->name);
            size_t off[3] = {0, 0, 0};
            for (int t = 0; t < d->ntensors; t++) {
                cnn_tensor_info info;
                d->tensor(l, t, &info);
                size_t count = 1;
                for (int k = 0; k < info.ndim; k++) count *= (size_t)info.shape[k];
                CHECK(count == info.count, "%s.%s: shape holds %zu elements, count says %zu", l->name, info.suffix, count,
                      info.count);
                CHECK(info.role != T_COUNT || (info.ndim == 0 && info.count == 1), "%s.%s: a counter is a scalar",
                      l->name, info.suffix);
                CHECK(info.role == T_COUNT || info.offset == off[info.role], "%s.%s starts at %zu, expected %zu "
                      "(tensors tile the parameters and the buffers)", l->name, info.suffix, info.offset, off[info.role]);
                off[info.role] += info.count;
                unsigned char *hit = calloc(info.count, 1);
                size_t bad = 0;
                for (size_t j = 0; j < info.count; j++) {
                    size_t o = d->ours_from_torch ? d->ours_from_torch(l, t, j) : j;
                    if (o >= info.count || hit[o]++) bad++;
                }
                CHECK(bad == 0, "%s.%s: the index map is not a permutation (%zu collisions)", l->name, info.suffix, bad);
                free(hit);
            }
            CHECK(off[T_PARAM] == l->p_count && off[T_BUFFER] == l->b_count, "%s: tensors hold %zu parameters and "
                  "%zu buffer values, the layer %zu and %zu", l->name, off[T_PARAM], off[T_BUFFER], l->p_count,
                  l->b_count);
            total += l->p_count;
        }
        CHECK(total == m->nparams, "'%s': layers hold %zu parameters, the model %zu", specs[s], total, m->nparams);
        CHECK(cnn_model_create(&again, cnn_model_spec(m), 1, 2) == CNN_OK, "canonical text of '%s' refused: %s",
              specs[s], cnn_last_error());
        if (again) {
            CHECK(strcmp(cnn_model_spec(again), cnn_model_spec(m)) == 0, "canonical text of '%s' changes when read back",
                  specs[s]);
            CHECK(again->nlayers == m->nlayers && again->nparams == m->nparams, "'%s' reads back as another network",
                  specs[s]);
        }
        cnn_model_free(again);
        cnn_model_free(m);
    }
    for (int k = 0; k < L_COUNT; k++) CHECK(seen[k], "no test spec uses %s", cnn_layer_desc_of((cnn_layer_kind)k)->name);
}

/* Specs given with a length: a NUL inside is refused (a C string would silently end there), a UTF-8 byte order
 * mark is skipped, and checking reserves no memory for weights or activations. */
static void test_spec_text(void) {
    static const char nul[] = "dense 10\0 dense 5", bom[] = "\xEF\xBB\xBF" "dense 10";
    cnn_model *m = NULL;
    CHECK(cnn_spec_check(&m, nul, sizeof nul - 1) == CNN_E_FORMAT && !m &&
          strstr(cnn_last_error(), "NUL character at byte 8"), "NUL: %s", cnn_last_error());
    CHECK(cnn_model_create_n(&m, nul, sizeof nul - 1, 1, 1) == CNN_E_FORMAT && !m, "create_n with a NUL accepted");
    CHECK(cnn_spec_check(&m, bom, sizeof bom - 1) == CNN_OK && m && cnn_model_classes(m) == 10, "BOM: %s",
          cnn_last_error());
    CHECK(m && !m->params && !m->acts && cnn_model_param_count(m) == 7850, "a checked spec has no memory");
    float probs[10], x[784] = {0};
    CHECK(m && cnn_model_predict(m, probs, x, 1) == CNN_E_INVALID && strstr(cnn_last_error(), "only checked"),
          "predict on a checked spec: %s", cnn_last_error());
    cnn_model_free(m);
    CHECK(cnn_model_create_n(&m, "dense 10", 8, 1, 1) == CNN_OK && m, "create_n: %s", cnn_last_error());
    cnn_model_free(m);
}

/* One training step's batch-norm update, with and without a prediction between its two halves (the page
 * predicts while a data-parallel step waits for the other replicas): the same running statistics. */
static void test_batchnorm_between_halves(void) {
    enum { N = 16 };
    uint8_t images[N * 36], labels[N];
    for (int i = 0; i < N * 36; i++) images[i] = (uint8_t)((i * 97 + 13) % 251);
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)(i % 3);
    cnn_dataset *ds = NULL;
    CHECK(cnn_dataset_from_arrays(&ds, images, labels, N, 6, 6, 1, 3) == CNN_OK, "%s", cnn_last_error());
    float running[2][2 * 4];
    for (int run = 0; run < 2 && ds; run++) {
        cnn_model *m = NULL;
        cnn_trainer *t = NULL;
        cnn_train_params p = cnn_train_default_params();
        p.batch = 8;
        CHECK(cnn_model_create(&m, "input 6x6x1; conv2d 4 3x3 same; batchnorm; relu; dense 3", 1, 8) == CNN_OK, "%s",
              cnn_last_error());
        CHECK(m && cnn_trainer_create(&t, m, ds, 0, N, &p) == CNN_OK, "%s", cnn_last_error());
        cnn_step_stats st;
        CHECK(t && cnn_trainer_compute_gradients(t, &st) == CNN_OK, "%s", cnn_last_error());
        if (run == 1) {
            float x[36], probs[3];
            for (int i = 0; i < 36; i++) x[i] = (float)i / 36.0f;
            CHECK(cnn_model_predict(m, probs, x, 1) == CNN_OK, "%s", cnn_last_error());
        }
        CHECK(t && cnn_trainer_apply_step(t, &st) == CNN_OK, "%s", cnn_last_error());
        CHECK(cnn_model_tensor_read(m, "bn1.running_mean", 0, running[run], 4) == CNN_OK &&
              cnn_model_tensor_read(m, "bn1.running_var", 0, running[run] + 4, 4) == CNN_OK, "%s", cnn_last_error());
        float count = 0;
        cnn_model_tensor_read(m, "bn1.num_batches_tracked", 0, &count, 1);
        CHECK(count == 1.0f, "one batch tracked, got %g", count);
        cnn_trainer_free(t);
        cnn_model_free(m);
    }
    CHECK(memcmp(running[0], running[1], sizeof running[0]) == 0, "a prediction between compute_gradients and "
          "apply_step changed the running statistics (mean %g vs %g)", running[0][0], running[1][0]);
    CHECK(running[0][0] != 0.0f && running[0][4] != 1.0f, "the running statistics moved");
    cnn_dataset_free(ds);
}

int main(void) {
    RUN(test_batchnorm_between_halves);
    RUN(test_spec_text);
    RUN(test_descriptors);
    RUN(test_tensors_and_text);
    return check_summary();
}
