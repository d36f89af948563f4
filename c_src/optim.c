/* optim.c - hyper-parameters, learning-rate schedules and the optimizer step (one loop over the arenas). */
#include <math.h>
#include <string.h>

#include "model.h"
#include "optim.h"

cnn_train_params cnn_train_default_params(void) {
    cnn_train_params p;
    memset(&p, 0, sizeof p);
    p.optimizer = CNN_OPT_ADAM;
    p.lr = 1e-3f;
    p.momentum = 0.9f;
    p.beta1 = 0.9f;
    p.beta2 = 0.999f;
    p.eps = 1e-8f;
    p.schedule = CNN_SCHED_CONSTANT;
    p.step_size = 1000;
    p.gamma = 0.5f;
    p.total_steps = 1000;
    p.batch = 32;
    p.aug_shift = 2.0f;
    p.aug_rotate = 10.0f;
    p.aug_scale = 0.1f;
    return p;
}

void cnn_train_params_init(cnn_train_params *p) {
    if (p) *p = cnn_train_default_params();
}

int cnn_train_params_size(void) { return (int)sizeof(cnn_train_params); }
int cnn_step_stats_size(void) { return (int)sizeof(cnn_step_stats); }

static int in_range(float v, float lo, float hi) { return isfinite(v) && v >= lo && v <= hi; }

#define REQUIRE(cond, ...)                                                                                  \
    do {                                                                                                    \
        if (!(cond)) return cnn_fail(CNN_E_INVALID, __VA_ARGS__);                                           \
    } while (0)

int cnn_train_params_check(const cnn_train_params *p, const cnn_model *m) {
    REQUIRE(p, "train_params: NULL");
    REQUIRE(p->optimizer == CNN_OPT_SGD || p->optimizer == CNN_OPT_ADAM,
            "train_params: optimizer %d (expected 0 = sgd or 1 = adam)", p->optimizer);
    REQUIRE(in_range(p->lr, 0, 10) && p->lr > 0, "train_params: learning rate %g (expected > 0 and <= 10)", (double)p->lr);
    REQUIRE(in_range(p->momentum, 0, 1) && p->momentum < 1, "train_params: momentum %g (expected 0 <= m < 1)",
            (double)p->momentum);
    REQUIRE(p->nesterov == 0 || p->nesterov == 1, "train_params: nesterov %d (expected 0 or 1)", p->nesterov);
    REQUIRE(in_range(p->beta1, 0, 1) && p->beta1 < 1, "train_params: beta1 %g (expected 0 <= b < 1)", (double)p->beta1);
    REQUIRE(in_range(p->beta2, 0, 1) && p->beta2 < 1, "train_params: beta2 %g (expected 0 <= b < 1)", (double)p->beta2);
    REQUIRE(in_range(p->eps, 0, 1) && p->eps > 0, "train_params: eps %g (expected 0 < eps <= 1)", (double)p->eps);
    REQUIRE(in_range(p->weight_decay, 0, 1), "train_params: weight decay %g (expected 0..1)", (double)p->weight_decay);
    REQUIRE(!p->decoupled_decay || p->lr * p->weight_decay < 1.0f,
            "train_params: decoupled weight decay %g times learning rate %g must be below 1 (it scales weights by "
            "1 - lr * decay each step)", (double)p->weight_decay, (double)p->lr);
    REQUIRE(p->decoupled_decay == 0 || p->decoupled_decay == 1, "train_params: decoupled_decay %d (expected 0 or 1)",
            p->decoupled_decay);
    REQUIRE(p->schedule >= CNN_SCHED_CONSTANT && p->schedule <= CNN_SCHED_COSINE,
            "train_params: schedule %d (expected 0 constant, 1 step, 2 exponential, 3 cosine)", p->schedule);
    REQUIRE(p->warmup_steps >= 0 && p->warmup_steps <= 100000000, "train_params: warmup steps %d (expected 0..1e8)",
            p->warmup_steps);
    REQUIRE(p->step_size >= 1, "train_params: step size %d (expected >= 1)", p->step_size);
    REQUIRE(in_range(p->gamma, 0, 1) && p->gamma > 0, "train_params: gamma %g (expected 0 < gamma <= 1)", (double)p->gamma);
    REQUIRE(p->total_steps >= 1, "train_params: total steps %d (expected >= 1)", p->total_steps);
    REQUIRE(in_range(p->min_lr, 0, p->lr), "train_params: min lr %g (expected 0..lr)", (double)p->min_lr);
    int max_batch = m ? m->max_batch : CNN_MAX_BATCH;
    REQUIRE(p->batch >= 1 && p->batch <= max_batch, "train_params: batch size %d (expected 1..%d)", p->batch, max_batch);
    REQUIRE(p->augment == 0 || p->augment == 1, "train_params: augment %d (expected 0 or 1)", p->augment);
    REQUIRE(in_range(p->aug_shift, 0, 8), "train_params: augmentation shift %g (expected 0..8 pixels)", (double)p->aug_shift);
    REQUIRE(in_range(p->aug_rotate, 0, 45), "train_params: augmentation rotation %g (expected 0..45 degrees)",
            (double)p->aug_rotate);
    REQUIRE(in_range(p->aug_scale, 0, 0.5f), "train_params: augmentation scale %g (expected 0..0.5)", (double)p->aug_scale);
    return CNN_OK;
}

float cnn_schedule_lr(const cnn_train_params *p, int t) {
    if (t < 0) t = 0;
    if (p->warmup_steps > 0 && t < p->warmup_steps) return p->lr * (float)(t + 1) / (float)p->warmup_steps;
    double s = (double)(t - p->warmup_steps), lr = p->lr;
    switch (p->schedule) {
    case CNN_SCHED_STEP: return (float)(lr * pow(p->gamma, floor(s / p->step_size)));
    case CNN_SCHED_EXPONENTIAL: return (float)(lr * pow(p->gamma, s));
    case CNN_SCHED_COSINE:
        if (s >= p->total_steps) return p->min_lr;
        return (float)(p->min_lr + (lr - p->min_lr) * (1.0 + cos(3.14159265358979323846 * s / p->total_steps)) / 2.0);
    default: return p->lr;
    }
}

/* Updates one tensor w (n) from its gradient g (n) and optimizer state s1, s2 (n each): four separate arrays
 * (restrict, so the loops vectorise; each element's operations are the same either way). */
static void update_tensor(float *restrict w, const float *restrict g, float *restrict s1, float *restrict s2,
                          size_t n, const cnn_train_params *p, float lr, int t, int decay) {
    float wd = decay ? p->weight_decay : 0.0f;
    float l2 = p->decoupled_decay ? 0.0f : wd;    /* L2: added to the gradient */
    float shrink = p->decoupled_decay ? 1.0f - lr * wd : 1.0f; /* decoupled: w *= 1 - lr * wd first */
    if (p->optimizer == CNN_OPT_SGD) {
        float mom = p->momentum;
        int nesterov = p->nesterov;
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + l2 * w[i];
            float step = gi;
            if (mom > 0.0f) {
                s1[i] = t == 1 ? gi : mom * s1[i] + gi; /* PyTorch: the first step's buffer is the gradient */
                step = nesterov ? gi + mom * s1[i] : s1[i];
            }
            w[i] = w[i] * shrink - lr * step;
        }
    } else {
        float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
        double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
        float step_size = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + l2 * w[i];
            s1[i] = b1 * s1[i] + (1.0f - b1) * gi;
            s2[i] = b2 * s2[i] + (1.0f - b2) * gi * gi;
            float denom = sqrtf(s2[i]) * inv_sqrt_bc2 + eps;
            w[i] = w[i] * shrink - step_size * s1[i] / denom;
        }
    }
}

void cnn_optimizer_step(cnn_model *m, float *s1, float *s2, const cnn_train_params *p, float lr, int t,
                        const float *lr_mult) {
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        const cnn_layer_desc *d = cnn_layer_desc_of(l->kind);
        if (!l->p_count || l->frozen) continue; /* a frozen layer's range is skipped */
        float r = lr * (lr_mult ? lr_mult[i] : 1.0f);
        double t0 = m->profiling ? cnn_now_ms() : 0.0;
        for (int k = 0; k < d->ntensors; k++) {
            cnn_tensor_info info;
            d->tensor(l, k, &info);
            if (info.role != T_PARAM) continue; /* running statistics are not trained */
            size_t o = l->p_off + info.offset;
            update_tensor(m->params + o, m->grads + o, s1 + o, s2 + o, info.count, p, r, t, info.decay);
        }
        if (m->profiling) m->profile_ms[i][2] += cnn_now_ms() - t0;
    }
}
