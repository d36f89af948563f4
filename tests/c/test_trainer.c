/* test_trainer.c - the trainer's two halves (compute gradients, apply a step), data-parallel shards, replay of
 * a second data set in every epoch and per-layer learning rates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "optim.h"

#define SPEC "input 6x6x1; conv2d 3 3x3 relu; maxpool 2; dense 8 tanh; dense 4"

/* n images of 6x6 with a pattern per label, so there is something to learn. */
static cnn_dataset *make_data(int n, uint32_t seed) {
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    uint8_t *img = malloc((size_t)n * 36), *lab = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        lab[i] = (uint8_t)(i % 4);
        for (int j = 0; j < 36; j++) img[i * 36 + j] = (uint8_t)((j % 4 == lab[i] ? 180 : 20) + cnn_rng_below(&r, 60));
    }
    cnn_dataset *ds = NULL;
    cnn_dataset_from_arrays(&ds, img, lab, n, 6, 6, 1, 4);
    free(img);
    free(lab);
    return ds;
}

static cnn_train_params params(int batch) {
    cnn_train_params p = cnn_train_default_params();
    p.batch = batch, p.lr = 0.01f;
    return p;
}

static int same_params(const cnn_model *a, const cnn_model *b) {
    return a->nparams == b->nparams && memcmp(a->params, b->params, a->nparams * sizeof(float)) == 0;
}

/* compute_gradients + apply_step is exactly what trainer_run does */
static void test_split_equals_run(void) {
    cnn_dataset *ds = make_data(50, 1);
    cnn_model *a = NULL, *b = NULL;
    cnn_model_create(&a, SPEC, 5, 16);
    cnn_model_create(&b, SPEC, 5, 16);
    cnn_train_params p = params(16);
    cnn_trainer *ta = NULL, *tb = NULL;
    CHECK(cnn_trainer_create(&ta, a, ds, 0, 50, &p) == CNN_OK, "%s", cnn_last_error());
    CHECK(cnn_trainer_create(&tb, b, ds, 0, 50, &p) == CNN_OK, "%s", cnn_last_error());
    cnn_step_stats s, g;
    int epochs_seen = 0;
    for (int i = 0; i < 10; i++) {
        CHECK(cnn_trainer_run(ta, 1, &s) == CNN_OK, "run: %s", cnn_last_error());
        CHECK(cnn_trainer_compute_gradients(tb, &g) == CNN_OK, "compute: %s", cnn_last_error());
        CHECK(cnn_trainer_apply_step(tb, &s) == CNN_OK, "apply: %s", cnn_last_error());
        epochs_seen = s.epoch;
    }
    CHECK(epochs_seen == 2, "10 steps of 16 over 50 images (4 steps per epoch): %d epochs", epochs_seen);
    CHECK(same_params(a, b), "split and fused training give bit-identical weights");
    CHECK(cnn_trainer_apply_step(tb, &s) == CNN_E_INVALID, "apply without compute is refused");
    cnn_trainer_free(ta);
    cnn_trainer_free(tb);
    cnn_model_free(a);
    cnn_model_free(b);
    cnn_dataset_free(ds);
}

/* One data-parallel step of R replicas: every replica computes its shard, the arenas are summed in rank order
 * and written back, every replica applies. */
static int parallel_step(cnn_model **m, cnn_trainer **t, int R, float *sum, double *loss) {
    cnn_step_stats g, s;
    size_t n = m[0]->nparams;
    double l = 0;
    int images = 0;
    for (int r = 0; r < R; r++) {
        int st = cnn_trainer_compute_gradients(t[r], &g);
        if (st) return st;
        l += (double)g.loss * g.images;
        images += g.images;
    }
    memset(sum, 0, n * sizeof(float));
    for (int r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++) sum[i] += cnn_model_grads(m[r])[i];
    for (int r = 0; r < R; r++) {
        memcpy(cnn_model_grads(m[r]), sum, n * sizeof(float));
        int st = cnn_trainer_apply_step(t[r], &s);
        if (st) return st;
        if (s.images != images) return -1;
    }
    *loss = l / images;
    return 0;
}

static void run_parallel(int R, int steps, uint32_t seed, int augment, cnn_model **out, double *last_loss) {
    cnn_dataset *ds = make_data(90, 2);
    cnn_model *m[4] = {0};
    cnn_trainer *t[4] = {0};
    cnn_train_params p = params(20);
    p.augment = augment;
    float *sum = NULL;
    for (int r = 0; r < R; r++) {
        cnn_model_create(&m[r], SPEC, seed, 20);
        CHECK(cnn_trainer_create(&t[r], m[r], ds, 0, 90, &p) == CNN_OK, "%s", cnn_last_error());
        CHECK(cnn_trainer_set_shard(t[r], r, R) == CNN_OK, "%s", cnn_last_error());
    }
    sum = malloc(m[0]->nparams * sizeof(float));
    for (int i = 0; i < steps; i++) CHECK(parallel_step(m, t, R, sum, last_loss) == 0, "step %d: %s", i, cnn_last_error());
    for (int r = 1; r < R; r++) CHECK(same_params(m[0], m[r]), "replica %d has the weights of replica 0", r);
    *out = m[0];
    for (int r = 0; r < R; r++) {
        cnn_trainer_free(t[r]);
        if (r) cnn_model_free(m[r]);
    }
    free(sum);
    cnn_dataset_free(ds);
}

static void test_data_parallel(void) {
    cnn_model *one, *two, *two_again, *three, *aug_a, *aug_b;
    double l1, l2, l2b, l3, la, lb;
    run_parallel(1, 30, 7, 0, &one, &l1);
    run_parallel(2, 30, 7, 0, &two, &l2);
    run_parallel(2, 30, 7, 0, &two_again, &l2b);
    run_parallel(3, 30, 7, 0, &three, &l3);
    CHECK(same_params(two, two_again), "same seed and R: bit-identical weights");
    /* without dropout or augmentation, shards only change the rounding of the gradient sum */
    double worst = 0;
    for (size_t i = 0; i < one->nparams; i++) {
        double d = fabs((double)one->params[i] - two->params[i]);
        if (d > worst) worst = d;
    }
    CHECK(worst < 1e-3 && worst > 0, "2 replicas vs 1: largest weight difference %g after 30 steps", worst);
    CHECK(fabs(l1 - l2) < 0.05 && fabs(l1 - l3) < 0.05, "last losses %g (1), %g (2), %g (3)", l1, l2, l3);
    /* with augmentation every replica draws its own stream; still deterministic */
    run_parallel(2, 10, 7, 1, &aug_a, &la);
    run_parallel(2, 10, 7, 1, &aug_b, &lb);
    CHECK(same_params(aug_a, aug_b) && la == lb, "augmented data-parallel training is deterministic");
    cnn_model *m[2];
    cnn_trainer *t = NULL;
    cnn_model_create(&m[0], SPEC, 1, 4);
    cnn_dataset *ds = make_data(3, 3);
    cnn_train_params p = params(4);
    cnn_trainer_create(&t, m[0], ds, 0, 3, &p);
    CHECK(cnn_trainer_set_shard(t, 2, 2) == CNN_E_INVALID, "rank 2 of 2 is refused");
    CHECK(cnn_trainer_set_shard(t, 0, 4) == CNN_OK, "a shard of a 3-image batch may be empty");
    cnn_step_stats g;
    CHECK(cnn_trainer_compute_gradients(t, &g) == CNN_OK && g.images == 0, "empty shard: %d images", g.images);
    int zero = 1;
    for (size_t i = 0; i < m[0]->nparams; i++) zero &= m[0]->grads[i] == 0.0f;
    CHECK(zero, "an empty shard contributes zero gradients");
    CHECK(cnn_trainer_run(t, 1, &g) == CNN_E_INVALID, "trainer_run refuses a shard");
    cnn_trainer_free(t);
    cnn_dataset_free(ds);
    cnn_model_free(m[0]);
    cnn_model_free(one), cnn_model_free(two), cnn_model_free(two_again), cnn_model_free(three);
    cnn_model_free(aug_a), cnn_model_free(aug_b);
}

/* Replay: with the weights held fixed (learning-rate multiplier 0) each image's loss is a fingerprint of the
 * image, so the losses of an epoch's batches of 1 say which images it visited. */
static void test_replay(void) {
    cnn_model *m = NULL;
    cnn_model_create(&m, "input 1x1x1; dense 2", 3, 1);
    cnn_layer *fc = &m->layers[1];
    m->params[fc->p_off] = 0.0f, m->params[fc->p_off + 1] = 3.0f; /* logit 1 = 3 x + 0.5, logit 0 = 0 */
    m->params[fc->p_off + 2] = 0.0f, m->params[fc->p_off + 3] = 0.5f; /* bias after the (2, 1) weight */
    uint8_t pix_a[10], lab_a[10], pix_b[60], lab_b[60];
    for (int i = 0; i < 10; i++) pix_a[i] = 0, lab_a[i] = 0;          /* primary: all the same image */
    for (int i = 0; i < 60; i++) pix_b[i] = (uint8_t)(4 * i + 3), lab_b[i] = 1; /* replay: all different */
    cnn_dataset *a = NULL, *b = NULL;
    cnn_dataset_from_arrays(&a, pix_a, lab_a, 10, 1, 1, 1, 2);
    cnn_dataset_from_arrays(&b, pix_b, lab_b, 60, 1, 1, 1, 2);
    cnn_train_params p = params(1);
    p.optimizer = CNN_OPT_SGD, p.momentum = 0;
    cnn_trainer *t = NULL;
    CHECK(cnn_trainer_create(&t, m, a, 0, 10, &p) == CNN_OK, "%s", cnn_last_error());
    CHECK(cnn_trainer_add_replay(t, b, 0, 60, 61) == CNN_E_INVALID, "more replay images than the set has");
    CHECK(cnn_trainer_add_replay(t, b, 0, 60, 25) == CNN_OK, "%s", cnn_last_error());
    CHECK(cnn_trainer_set_lr_mult(t, "fc1", 0.0f) == CNN_OK, "%s", cnn_last_error());
    CHECK(cnn_trainer_set_lr_mult(t, "fc9", 0.5f) == CNN_E_INVALID, "an unknown layer is refused");
    CHECK(cnn_trainer_steps_per_epoch(t) == 35, "steps per epoch %d, expected 10 + 25", cnn_trainer_steps_per_epoch(t));
    float seen[2][35];
    for (int e = 0; e < 2; e++) {
        int primary = 0, replay = 0;
        for (int s = 0; s < 35; s++) {
            cnn_step_stats st;
            CHECK(cnn_trainer_run(t, 1, &st) == CNN_OK, "%s", cnn_last_error());
            if (st.loss > 0.6f) primary++; /* label 0 with logit 1 = 0.5: loss 0.974 */
            else seen[e][replay++] = st.loss;
        }
        CHECK(primary == 10 && replay == 25, "epoch %d: %d primary and %d replay images", e, primary, replay);
        int distinct = 1;
        for (int i = 0; i < replay; i++)
            for (int j = 0; j < i; j++) distinct &= seen[e][i] != seen[e][j];
        CHECK(distinct, "epoch %d: replay images are drawn without replacement", e);
    }
    int differ = 0;
    for (int i = 0; i < 25; i++) {
        int found = 0;
        for (int j = 0; j < 25; j++) found |= seen[0][i] == seen[1][j];
        differ += !found;
    }
    CHECK(differ > 0, "each epoch draws its own replay images");
    CHECK(m->params[fc->p_off + 1] == 3.0f, "a multiplier of 0 keeps the layer fixed");
    cnn_trainer_free(t);
    cnn_dataset_free(a);
    cnn_dataset_free(b);
    cnn_model_free(m);
}

/* lr multipliers scale the step: SGD without momentum, w -= lr * mult * g */
static void test_lr_mult(void) {
    cnn_model *m = NULL;
    cnn_model_create(&m, "input 1x1x1; dense 2 relu; dense 2", 1, 1);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] = 1.0f, m->grads[i] = 0.5f;
    float s1[16] = {0}, s2[16] = {0}, mult[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    cnn_train_params p = params(1);
    p.optimizer = CNN_OPT_SGD, p.momentum = 0, p.lr = 0.1f;
    int fc1 = -1, fc2 = -1;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].p_count) {
            if (fc1 < 0) fc1 = i;
            else fc2 = i;
        }
    mult[fc1] = 0.1f, mult[fc2] = 2.0f;
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 1, mult);
    size_t fc2_bias = m->layers[fc2].p_off + 4; /* after its (2, 2) weight */
    CHECK(fabsf(m->params[m->layers[fc1].p_off] - (1.0f - 0.1f * 0.1f * 0.5f)) < 1e-7, "fc1 x0.1: %.8g",
          m->params[m->layers[fc1].p_off]);
    CHECK(fabsf(m->params[fc2_bias] - (1.0f - 0.1f * 2.0f * 0.5f)) < 1e-7, "fc2 x2: %.8g", m->params[fc2_bias]);
    cnn_model_free(m);
}

int main(void) {
    RUN(test_split_equals_run);
    RUN(test_data_parallel);
    RUN(test_replay);
    RUN(test_lr_mult);
    return check_summary();
}
