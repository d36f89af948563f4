/* train.c - the training loop (seeded shuffle, batches, divergence guard) and evaluation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "optim.h"

struct cnn_trainer {
    cnn_model *m;
    const cnn_dataset *ds;
    int first, count;
    cnn_train_params p;
    int *order;      /* (count) indices into ds, reshuffled each epoch */
    int pos;         /* next position in order */
    int epoch;       /* epochs completed */
    int t;           /* optimizer steps done */
    float *s1, *s2;  /* (nparams) optimizer state */
    float *backup;   /* (3, nparams) parameters and optimizer state before the step, restored if it diverges */
    uint8_t *labels; /* (batch) */
};

void cnn_trainer_free(cnn_trainer *t) {
    if (!t) return;
    free(t->order);
    free(t->s1);
    free(t->s2);
    free(t->backup);
    free(t->labels);
    free(t);
}

static void shuffle(int *a, int n, cnn_rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)cnn_rng_below(r, (uint32_t)i + 1);
        int tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
    }
}

static int check_data(const char *fn, const cnn_model *m, const cnn_dataset *ds, int first, int count) {
    if (!m || !ds) return cnn_fail(CNN_E_INVALID, "%s: model or data set is NULL", fn);
    int st = cnn_model_require_memory(m, fn);
    if (st) return st;
    if (ds->h != m->in_h || ds->w != m->in_w || ds->c != m->in_c)
        return cnn_fail(CNN_E_INVALID, "%s: data set images are %dx%dx%d but the model takes %dx%dx%d", fn, ds->h,
                        ds->w, ds->c, m->in_h, m->in_w, m->in_c);
    if (ds->classes > m->classes)
        return cnn_fail(CNN_E_INVALID, "%s: data set has %d classes but the model outputs %d", fn, ds->classes,
                        m->classes);
    if (count < 1) return cnn_fail(CNN_E_EMPTY, "%s: no images to use (count %d)", fn, count);
    if (first < 0 || first > ds->n - count)
        return cnn_fail(CNN_E_INVALID, "%s: images [%d, %d) are outside the data set's %d", fn, first, first + count,
                        ds->n);
    return CNN_OK;
}

int cnn_trainer_create(cnn_trainer **out, cnn_model *m, const cnn_dataset *ds, int first, int count,
                       const cnn_train_params *p) {
    if (!out) return cnn_fail(CNN_E_INVALID, "trainer_create: out is NULL");
    *out = NULL;
    int st = check_data("trainer_create", m, ds, first, count);
    if (st) return st;
    if ((st = cnn_train_params_check(p, m))) return st;
    int trainable = 0;
    for (int i = 0; i < m->nlayers; i++) trainable |= m->layers[i].p_count && !m->layers[i].frozen;
    if (!trainable) return cnn_fail(CNN_E_INVALID, "trainer_create: every layer is frozen, nothing would train");
    cnn_trainer *t = calloc(1, sizeof *t);
    if (!t) return cnn_fail(CNN_E_NOMEM, "trainer_create: out of memory");
    t->m = m, t->ds = ds, t->first = first, t->count = count, t->p = *p;
    t->order = malloc((size_t)count * sizeof(int));
    t->s1 = calloc(m->nparams, sizeof(float));
    t->s2 = calloc(m->nparams, sizeof(float));
    t->labels = malloc((size_t)p->batch);
    t->backup = malloc(3 * m->nparams * sizeof(float));
    if (!t->order || !t->s1 || !t->s2 || !t->labels || !t->backup) {
        cnn_trainer_free(t);
        return cnn_fail(CNN_E_NOMEM, "trainer_create: out of memory for %d images and %zu parameters", count, m->nparams);
    }
    for (int i = 0; i < count; i++) t->order[i] = first + i;
    shuffle(t->order, count, &m->rng);
    *out = t;
    return CNN_OK;
}

int cnn_trainer_steps_per_epoch(const cnn_trainer *t) { return t ? (t->count + t->p.batch - 1) / t->p.batch : 0; }

/* x (n) <- pixels (n) scaled from 0..255 to [0, 1] */
static void to_unit(float *x, const uint8_t *pixels, size_t n) {
    for (size_t j = 0; j < n; j++) x[j] = pixels[j] * (1.0f / 255.0f);
}

/* Fills the model's input block with images order[pos .. pos + n) scaled to [0, 1] (augmented if asked). */
static void load_batch(cnn_trainer *t, int n) {
    cnn_model *m = t->m;
    const cnn_dataset *ds = t->ds;
    size_t size = (size_t)ds->h * ds->w * ds->c;
    float *x = cnn_model_input(m);
    for (int b = 0; b < n; b++) {
        int idx = t->order[t->pos + b];
        const uint8_t *img = ds->images + (size_t)idx * size;
        if (t->p.augment)
            cnn_augment_image(x + b * size, img, ds->h, ds->w, ds->c, t->p.aug_shift, t->p.aug_rotate, t->p.aug_scale,
                              &m->rng);
        else
            to_unit(x + b * size, img, size);
        t->labels[b] = ds->labels[idx];
    }
}

static int all_finite(const float *a, size_t n) {
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++) acc += a[i] * 0.0f; /* inf * 0 and NaN * 0 are NaN */
    return acc == 0.0f;
}

/* Copies parameters and optimizer state to (restore = 0) or from (restore = 1) the backup. */
static void snapshot(cnn_trainer *t, int restore) {
    size_t n = t->m->nparams, bytes = n * sizeof(float);
    float *live[3] = {t->m->params, t->s1, t->s2};
    for (int i = 0; i < 3; i++) {
        if (restore) memcpy(live[i], t->backup + i * n, bytes);
        else memcpy(t->backup + i * n, live[i], bytes);
    }
}

/* One optimizer step on the next batch; adds its loss sum and correct count. Returns CNN_OK or
 * CNN_E_DIVERGED, in which case nothing was changed but the generator and the batch position. */
static int train_step(cnn_trainer *t, int n, double *loss_sum, int *correct) {
    cnn_model *m = t->m;
    load_batch(t, n);
    memset(m->grads, 0, m->nparams * sizeof(float));
    cnn_model_forward(m, n, 1);
    const float *probs = cnn_model_probs(m);
    double batch_loss = 0.0;
    int batch_correct = 0;
    for (int b = 0; b < n; b++) {
        const float *pb = probs + (size_t)b * m->classes;
        int best = 0;
        for (int j = 1; j < m->classes; j++)
            if (pb[j] > pb[best]) best = j;
        batch_correct += best == t->labels[b];
        batch_loss += cnn_xent(pb, t->labels[b]);
    }
    float lr = cnn_schedule_lr(&t->p, t->t);
    if (!isfinite(batch_loss) || !all_finite(probs, (size_t)n * m->classes))
        return cnn_fail(CNN_E_DIVERGED, "trainer_run: the loss became non-finite (NaN or infinite) at step %d "
                        "(learning rate %g); the step was not applied, try a lower learning rate", t->t + 1, (double)lr);
    cnn_model_backward(m, n, t->labels);
    if (!all_finite(m->grads, m->nparams))
        return cnn_fail(CNN_E_DIVERGED, "trainer_run: gradients overflowed at step %d (learning rate %g); the step "
                        "was not applied, try a lower learning rate", t->t + 1, (double)lr);
    snapshot(t, 0);
    cnn_optimizer_step(m, t->s1, t->s2, &t->p, lr, t->t + 1);
    if (!all_finite(m->params, m->nparams)) {
        snapshot(t, 1);
        return cnn_fail(CNN_E_DIVERGED, "trainer_run: weights overflowed at step %d (learning rate %g); the step "
                        "was undone, try a lower learning rate", t->t + 1, (double)lr);
    }
    /* Batch norm's running statistics follow the batches of applied steps only (kept apart from the
     * optimizer, so a data-parallel step can decide whose statistics count). */
    if (cnn_model_update_running_stats(m)) {
        snapshot(t, 1);
        return cnn_fail(CNN_E_DIVERGED, "trainer_run: batch statistics overflowed at step %d (learning rate %g); "
                        "the step was undone, try a lower learning rate", t->t + 1, (double)lr);
    }
    t->t++;
    *loss_sum += batch_loss;
    *correct += batch_correct;
    return CNN_OK;
}

int cnn_trainer_run(cnn_trainer *t, int steps, cnn_step_stats *stats) {
    if (!t || !stats) return cnn_fail(CNN_E_INVALID, "trainer_run: NULL argument");
    memset(stats, 0, sizeof *stats);
    if (steps < 1) return cnn_fail(CNN_E_INVALID, "trainer_run: %d steps (expected >= 1)", steps);
    double loss_sum = 0.0;
    int correct = 0, st = CNN_OK;
    for (int s = 0; s < steps; s++) {
        int n = t->count - t->pos < t->p.batch ? t->count - t->pos : t->p.batch;
        if ((st = train_step(t, n, &loss_sum, &correct)) != CNN_OK) break;
        stats->steps++;
        stats->images += n;
        stats->lr = cnn_schedule_lr(&t->p, t->t - 1);
        t->pos += n;
        if (t->pos >= t->count) {
            t->pos = 0;
            t->epoch++;
            shuffle(t->order, t->count, &t->m->rng);
            break;
        }
    }
    /* the statistics cover the steps applied, also when a later one diverged */
    stats->loss = stats->images ? (float)(loss_sum / stats->images) : 0.0f;
    stats->accuracy = stats->images ? (float)correct / (float)stats->images : 0.0f;
    stats->epoch = t->epoch;
    stats->step_in_epoch = (t->pos + t->p.batch - 1) / t->p.batch;
    return st;
}

int cnn_evaluate(cnn_model *m, const cnn_dataset *ds, int first, int count, int32_t *confusion, int32_t *predicted,
                 float *confidence, float *loss, float *accuracy) {
    int st = check_data("evaluate", m, ds, first, count);
    if (st) return st;
    size_t size = (size_t)ds->h * ds->w * ds->c;
    int classes = m->classes;
    if (confusion) memset(confusion, 0, (size_t)classes * classes * sizeof(int32_t));
    double loss_sum = 0.0;
    int correct = 0;
    for (int i0 = 0; i0 < count; i0 += m->max_batch) {
        int n = count - i0 < m->max_batch ? count - i0 : m->max_batch;
        float *x = cnn_model_input(m);
        const uint8_t *img = ds->images + (size_t)(first + i0) * size;
        to_unit(x, img, (size_t)n * size);
        cnn_model_forward(m, n, 0);
        const float *probs = cnn_model_probs(m);
        if (!all_finite(probs, (size_t)n * classes))
            return cnn_fail(CNN_E_INVALID, "evaluate: the network's outputs are not finite numbers (are its weights "
                            "extremely large?)");
        for (int b = 0; b < n; b++) {
            const float *pb = probs + (size_t)b * classes;
            int y = ds->labels[first + i0 + b], best = 0;
            for (int j = 1; j < classes; j++)
                if (pb[j] > pb[best]) best = j;
            correct += best == y;
            loss_sum += cnn_xent(pb, y);
            if (confusion) confusion[y * classes + best]++;
            if (predicted) predicted[i0 + b] = best;
            if (confidence) confidence[i0 + b] = pb[best];
        }
    }
    if (loss) *loss = (float)(loss_sum / count);
    if (accuracy) *accuracy = (float)correct / (float)count;
    return CNN_OK;
}

int cnn_metrics_from_confusion(float *precision, float *recall, float *f1, const int32_t *confusion, int classes,
                               float *macro_precision, float *macro_recall, float *macro_f1) {
    if (!precision || !recall || !f1 || !confusion) return cnn_fail(CNN_E_INVALID, "metrics: NULL argument");
    if (classes < 1 || classes > CNN_MAX_CLASSES)
        return cnn_fail(CNN_E_INVALID, "metrics: %d classes (expected 1..%d)", classes, CNN_MAX_CLASSES);
    double sp = 0, sr = 0, sf = 0;
    int seen = 0; /* macro averages over classes present in the labels or the predictions (as scikit-learn) */
    for (int c = 0; c < classes; c++) {
        double tp = confusion[c * classes + c], row = 0, col = 0;
        for (int j = 0; j < classes; j++) {
            if (confusion[c * classes + j] < 0 || confusion[j * classes + c] < 0)
                return cnn_fail(CNN_E_INVALID, "metrics: negative count in the confusion matrix");
            row += confusion[c * classes + j];
            col += confusion[j * classes + c];
        }
        precision[c] = col > 0 ? (float)(tp / col) : 0.0f;
        recall[c] = row > 0 ? (float)(tp / row) : 0.0f;
        f1[c] = precision[c] + recall[c] > 0 ? 2.0f * precision[c] * recall[c] / (precision[c] + recall[c]) : 0.0f;
        if (row > 0 || col > 0) {
            seen++;
            sp += precision[c], sr += recall[c], sf += f1[c];
        }
    }
    if (macro_precision) *macro_precision = seen ? (float)(sp / seen) : 0.0f;
    if (macro_recall) *macro_recall = seen ? (float)(sr / seen) : 0.0f;
    if (macro_f1) *macro_f1 = seen ? (float)(sf / seen) : 0.0f;
    return CNN_OK;
}
