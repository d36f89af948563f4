/* test_optim.c - optimizer steps and learning-rate schedules against values worked out by hand. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "optim.h"

/* A model with one dense layer: weight (1, 1) and bias (1). Sets both to 1 and both gradients to g. */
static cnn_model *tiny(void) {
    cnn_model *m = NULL;
    if (cnn_model_create(&m, "input 1x1x1; dense 2", 1, 1) != CNN_OK) return NULL;
    return m;
}

static void set_all(cnn_model *m, float w, float g) {
    for (size_t i = 0; i < m->nparams; i++) m->params[i] = w, m->grads[i] = g;
}

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) <= 1e-6)

static void test_sgd(void) {
    cnn_model *m = tiny();
    CHECK(m != NULL, "create: %s", cnn_last_error());
    if (!m) return;
    float s1[4] = {0}, s2[4] = {0};
    cnn_train_params p = cnn_train_default_params();
    p.optimizer = CNN_OPT_SGD, p.lr = 0.1f, p.momentum = 0.9f;
    /* step 1: v = g = 0.5, w = 1 - 0.1 * 0.5 = 0.95; step 2 with g = 0.25: v = 0.9 * 0.5 + 0.25 = 0.7,
     * w = 0.95 - 0.1 * 0.7 = 0.88 */
    set_all(m, 1.0f, 0.5f);
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 1, NULL);
    CHECK(NEAR(m->params[0], 0.95), "sgd momentum step 1: w = %.8g, expected 0.95", m->params[0]);
    for (size_t i = 0; i < m->nparams; i++) m->grads[i] = 0.25f;
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 2, NULL);
    CHECK(NEAR(m->params[0], 0.88), "sgd momentum step 2: w = %.8g, expected 0.88", m->params[0]);

    /* Nesterov: step 1: v = 0.5, step = g + 0.9 v = 0.95, w = 0.905; step 2: v = 0.7, step = 0.25 + 0.63 = 0.88,
     * w = 0.905 - 0.088 = 0.817 */
    memset(s1, 0, sizeof s1);
    p.nesterov = 1;
    set_all(m, 1.0f, 0.5f);
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 1, NULL);
    CHECK(NEAR(m->params[0], 0.905), "nesterov step 1: w = %.8g, expected 0.905", m->params[0]);
    for (size_t i = 0; i < m->nparams; i++) m->grads[i] = 0.25f;
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 2, NULL);
    CHECK(NEAR(m->params[0], 0.817), "nesterov step 2: w = %.8g, expected 0.817", m->params[0]);

    /* L2 decay 0.1 without momentum: weight w = 1 - 0.1 * (0.5 + 0.1 * 1) = 0.94; the bias is not decayed:
     * b = 1 - 0.1 * 0.5 = 0.95 */
    memset(s1, 0, sizeof s1);
    p.nesterov = 0, p.momentum = 0.0f, p.weight_decay = 0.1f;
    set_all(m, 1.0f, 0.5f);
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 1, NULL);
    CHECK(NEAR(m->params[m->layers[1].p_off], 0.94), "sgd L2: w = %.8g, expected 0.94", m->params[m->layers[1].p_off]);
    CHECK(NEAR(m->params[m->layers[1].p_off + 2], 0.95), "sgd L2: bias = %.8g, expected 0.95 (no decay)",
          m->params[m->layers[1].p_off + 2]);
    cnn_model_free(m);
}

static void test_adam(void) {
    cnn_model *m = tiny();
    if (!m) return;
    float s1[4] = {0}, s2[4] = {0};
    cnn_train_params p = cnn_train_default_params();
    p.lr = 0.01f;
    /* step 1, g = 0.5: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25, w = 1 - 0.01 * 0.5 / (0.5 + 1e-8) = 0.99 */
    set_all(m, 1.0f, 0.5f);
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 1, NULL);
    CHECK(NEAR(m->params[0], 0.99), "adam step 1: w = %.8g, expected 0.99", m->params[0]);
    /* step 2, g = 0.25: m = 0.07, v = 0.00031225, m^ = 0.07 / 0.19, v^ = 0.00031225 / 0.001999,
     * w = 0.99 - 0.01 * 0.368421 / 0.395225 = 0.9806782 */
    for (size_t i = 0; i < m->nparams; i++) m->grads[i] = 0.25f;
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 2, NULL);
    CHECK(NEAR(m->params[0], 0.9806782), "adam step 2: w = %.8g, expected 0.9806782", m->params[0]);

    /* AdamW: w = 1 * (1 - 0.01 * 0.1) - 0.01 * 0.5 / 0.5 = 0.989; the bias is not decayed: 0.99 */
    memset(s1, 0, sizeof s1), memset(s2, 0, sizeof s2);
    p.weight_decay = 0.1f, p.decoupled_decay = 1;
    set_all(m, 1.0f, 0.5f);
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 1, NULL);
    CHECK(NEAR(m->params[m->layers[1].p_off], 0.989), "adamw: w = %.8g, expected 0.989", m->params[m->layers[1].p_off]);
    CHECK(NEAR(m->params[m->layers[1].p_off + 2], 0.99), "adamw: bias = %.8g, expected 0.99", m->params[m->layers[1].p_off + 2]);

    /* a frozen layer is skipped */
    memset(s1, 0, sizeof s1), memset(s2, 0, sizeof s2);
    set_all(m, 1.0f, 0.5f);
    CHECK(cnn_model_set_frozen(m, "fc1", 1) == CNN_OK, "freeze fc1: %s", cnn_last_error());
    cnn_optimizer_step(m, s1, s2, &p, p.lr, 1, NULL);
    CHECK(m->params[0] == 1.0f && m->params[m->nparams - 1] == 1.0f, "frozen layer changed: %g", m->params[0]);
    CHECK(cnn_model_set_frozen(m, "conv9", 1) == CNN_E_INVALID && strstr(cnn_last_error(), "conv9"),
          "freezing an unknown layer must fail naming it: %s", cnn_last_error());
    cnn_model_free(m);
}

static void test_schedules(void) {
    cnn_train_params p = cnn_train_default_params();
    p.lr = 0.1f;
    CHECK(NEAR(cnn_schedule_lr(&p, 12345), 0.1), "constant");
    p.schedule = CNN_SCHED_STEP, p.step_size = 10, p.gamma = 0.5f;
    CHECK(NEAR(cnn_schedule_lr(&p, 9), 0.1) && NEAR(cnn_schedule_lr(&p, 10), 0.05) && NEAR(cnn_schedule_lr(&p, 25), 0.025),
          "step: %g %g %g, expected 0.1 0.05 0.025", cnn_schedule_lr(&p, 9), cnn_schedule_lr(&p, 10), cnn_schedule_lr(&p, 25));
    p.schedule = CNN_SCHED_EXPONENTIAL, p.gamma = 0.9f;
    CHECK(NEAR(cnn_schedule_lr(&p, 2), 0.081), "exponential: lr(2) = %g, expected 0.1 * 0.9^2 = 0.081", cnn_schedule_lr(&p, 2));
    p.schedule = CNN_SCHED_COSINE, p.total_steps = 100, p.min_lr = 0.01f;
    CHECK(NEAR(cnn_schedule_lr(&p, 0), 0.1) && NEAR(cnn_schedule_lr(&p, 50), 0.055) && NEAR(cnn_schedule_lr(&p, 100), 0.01) &&
          NEAR(cnn_schedule_lr(&p, 200), 0.01), "cosine: %g %g %g, expected 0.1 0.055 0.01", cnn_schedule_lr(&p, 0),
          cnn_schedule_lr(&p, 50), cnn_schedule_lr(&p, 100));
    /* linear warm-up over 5 steps: (t + 1) / 5 * lr, then the schedule starts from its own step 0 */
    p.warmup_steps = 5, p.total_steps = 10, p.min_lr = 0.0f;
    CHECK(NEAR(cnn_schedule_lr(&p, 0), 0.02) && NEAR(cnn_schedule_lr(&p, 4), 0.1) && NEAR(cnn_schedule_lr(&p, 5), 0.1) &&
          NEAR(cnn_schedule_lr(&p, 10), 0.05), "warm-up + cosine: %g %g %g %g, expected 0.02 0.1 0.1 0.05",
          cnn_schedule_lr(&p, 0), cnn_schedule_lr(&p, 4), cnn_schedule_lr(&p, 5), cnn_schedule_lr(&p, 10));
}

static void test_param_checks(void) {
    cnn_train_params p = cnn_train_default_params();
    CHECK(cnn_train_params_check(&p, NULL) == CNN_OK, "defaults must be valid: %s", cnn_last_error());
    p.lr = -0.1f;
    CHECK(cnn_train_params_check(&p, NULL) == CNN_E_INVALID && strstr(cnn_last_error(), "learning rate -0.1"),
          "negative lr: %s", cnn_last_error());
    p = cnn_train_default_params(), p.lr = NAN;
    CHECK(cnn_train_params_check(&p, NULL) == CNN_E_INVALID, "NaN lr accepted");
    p = cnn_train_default_params(), p.batch = 0;
    CHECK(cnn_train_params_check(&p, NULL) == CNN_E_INVALID && strstr(cnn_last_error(), "batch size 0"),
          "batch 0: %s", cnn_last_error());
    p = cnn_train_default_params(), p.momentum = 1.0f;
    CHECK(cnn_train_params_check(&p, NULL) == CNN_E_INVALID && strstr(cnn_last_error(), "momentum"), "momentum 1: %s",
          cnn_last_error());
    p = cnn_train_default_params(), p.gamma = 0.0f;
    CHECK(cnn_train_params_check(&p, NULL) == CNN_E_INVALID && strstr(cnn_last_error(), "gamma"), "gamma 0: %s",
          cnn_last_error());
    p = cnn_train_default_params(), p.aug_rotate = 400.0f;
    CHECK(cnn_train_params_check(&p, NULL) == CNN_E_INVALID && strstr(cnn_last_error(), "rotation"), "rotation: %s",
          cnn_last_error());
}

int main(void) {
    RUN(test_sgd);
    RUN(test_adam);
    RUN(test_schedules);
    RUN(test_param_checks);
    return check_summary();
}
