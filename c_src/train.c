/* train.c - the trainer (one global shuffle per epoch, batches from one or more data sets, data-parallel shards,
 * the optimizer step with its divergence guard) and evaluation.
 *
 * A step is two calls: cnn_trainer_compute_gradients (forward and backward of this replica's shard of the next
 * batch, into the model's gradient arena) and cnn_trainer_apply_step (one optimizer step with whatever gradients
 * are in the arena, then the next batch). Between them, data-parallel training sums the replicas' gradients into
 * every replica's arena, so that all apply the same step and stay identical. cnn_trainer_run does both for one
 * replica. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "optim.h"

#define MAX_SOURCES 4

typedef struct {
    const cnn_dataset *ds;
    int first, count; /* images [first, first + count) of ds */
    int per_epoch;    /* images drawn from it each epoch: all of them for the first source */
    int base;         /* where its images start in the trainer's index space */
} train_source;

struct cnn_trainer {
    cnn_model *m;
    train_source src[MAX_SOURCES];
    int nsrc;
    int epoch_len;   /* images per epoch: the sum of per_epoch */
    cnn_train_params p;
    int *order;      /* (epoch_len) indices into the index space, drawn and shuffled each epoch */
    int *pool;       /* (largest replay count) scratch for drawing replay images without replacement */
    int pos;         /* next position in order */
    int epoch;       /* epochs completed */
    int t;           /* optimizer steps done */
    int rank, ranks; /* this replica computes shard rank of ranks of every batch */
    cnn_rng shuffle; /* epoch order: the same stream in every replica */
    float *s1, *s2;  /* (nparams) optimizer state */
    float *backup;   /* (3, nparams) parameters and optimizer state before the step, restored if it diverges */
    float *lr_mult;  /* (nlayers) learning-rate multiplier per layer, 1 by default */
    uint8_t *labels; /* (batch) of this replica's shard */
    int ready;       /* gradients of the batch at pos are in the model's arena (compute done, apply pending) */
    int forwarded;   /* that compute ran a training forward pass (its shard was not empty) */
};

void cnn_trainer_free(cnn_trainer *t) {
    if (!t) return;
    free(t->order);
    free(t->pool);
    free(t->s1);
    free(t->s2);
    free(t->backup);
    free(t->lr_mult);
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

/* The next epoch's order: every image of the first source, per_epoch images of each replay source drawn without
 * replacement, shuffled together. Uses only the shuffle stream, so every replica draws the same order. */
static void new_epoch_order(cnn_trainer *t) {
    int n = 0;
    for (int i = 0; i < t->src[0].count; i++) t->order[n++] = i;
    for (int s = 1; s < t->nsrc; s++) {
        const train_source *src = &t->src[s];
        for (int i = 0; i < src->count; i++) t->pool[i] = i;
        for (int i = 0; i < src->per_epoch; i++) { /* partial Fisher-Yates: the first per_epoch of a shuffle */
            int j = i + (int)cnn_rng_below(&t->shuffle, (uint32_t)(src->count - i));
            int tmp = t->pool[i];
            t->pool[i] = t->pool[j];
            t->pool[j] = tmp;
            t->order[n++] = src->base + t->pool[i];
        }
    }
    shuffle(t->order, n, &t->shuffle);
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
    t->m = m, t->p = *p, t->ranks = 1;
    t->src[0] = (train_source){.ds = ds, .first = first, .count = count, .per_epoch = count, .base = 0};
    t->nsrc = 1, t->epoch_len = count;
    t->order = malloc((size_t)count * sizeof(int));
    t->s1 = calloc(m->nparams, sizeof(float));
    t->s2 = calloc(m->nparams, sizeof(float));
    t->labels = malloc((size_t)p->batch);
    t->backup = malloc(3 * m->nparams * sizeof(float));
    t->lr_mult = malloc((size_t)m->nlayers * sizeof(float));
    if (!t->order || !t->s1 || !t->s2 || !t->labels || !t->backup || !t->lr_mult) {
        cnn_trainer_free(t);
        return cnn_fail(CNN_E_NOMEM, "trainer_create: out of memory for %d images and %zu parameters", count, m->nparams);
    }
    for (int i = 0; i < m->nlayers; i++) t->lr_mult[i] = 1.0f;
    /* The order has its own stream, seeded from the model's generator: replicas made with the same seed shuffle
     * alike even though their dropout and augmentation streams differ. */
    uint64_t seed = (uint64_t)cnn_rng_u32(&m->rng) << 32;
    cnn_rng_seed(&t->shuffle, seed | cnn_rng_u32(&m->rng));
    new_epoch_order(t);
    *out = t;
    return CNN_OK;
}

int cnn_trainer_add_replay(cnn_trainer *t, const cnn_dataset *ds, int first, int count, int per_epoch) {
    if (!t) return cnn_fail(CNN_E_INVALID, "trainer_add_replay: trainer is NULL");
    int st = check_data("trainer_add_replay", t->m, ds, first, count);
    if (st) return st;
    if (t->t > 0 || t->pos > 0 || t->ready)
        return cnn_fail(CNN_E_INVALID, "trainer_add_replay: training has started (add replay data before the first step)");
    if (t->nsrc == MAX_SOURCES)
        return cnn_fail(CNN_E_INVALID, "trainer_add_replay: at most %d data sets per trainer", MAX_SOURCES);
    if (per_epoch < 1 || per_epoch > count)
        return cnn_fail(CNN_E_INVALID, "trainer_add_replay: %d images per epoch from a set of %d (expected 1..%d)",
                        per_epoch, count, count);
    const train_source *last = &t->src[t->nsrc - 1];
    if (t->epoch_len > INT32_MAX - per_epoch || last->base > INT32_MAX - last->count - count)
        return cnn_fail(CNN_E_INVALID, "trainer_add_replay: too many images in one epoch");
    int *order = realloc(t->order, (size_t)(t->epoch_len + per_epoch) * sizeof(int));
    if (!order) return cnn_fail(CNN_E_NOMEM, "trainer_add_replay: out of memory for %d images", per_epoch);
    t->order = order;
    int pool_len = 0;
    for (int s = 1; s < t->nsrc; s++) pool_len = t->src[s].count > pool_len ? t->src[s].count : pool_len;
    if (count > pool_len) {
        int *pool = realloc(t->pool, (size_t)count * sizeof(int));
        if (!pool) return cnn_fail(CNN_E_NOMEM, "trainer_add_replay: out of memory for %d images", count);
        t->pool = pool;
    }
    t->src[t->nsrc] = (train_source){.ds = ds, .first = first, .count = count, .per_epoch = per_epoch,
                                     .base = last->base + last->count};
    t->nsrc++;
    t->epoch_len += per_epoch;
    new_epoch_order(t); /* the first order again, now with the replay images */
    return CNN_OK;
}

int cnn_trainer_set_shard(cnn_trainer *t, int rank, int ranks) {
    if (!t) return cnn_fail(CNN_E_INVALID, "trainer_set_shard: trainer is NULL");
    if (ranks < 1 || ranks > 256 || rank < 0 || rank >= ranks)
        return cnn_fail(CNN_E_INVALID, "trainer_set_shard: rank %d of %d (expected 0 <= rank < ranks <= 256)", rank, ranks);
    if (t->t > 0 || t->pos > 0 || t->ready)
        return cnn_fail(CNN_E_INVALID, "trainer_set_shard: training has started (choose the shard before the first step)");
    t->rank = rank, t->ranks = ranks;
    if (ranks > 1) {
        /* Dropout and augmentation: a stream of this replica's own, from (the model's seed stream, rank). */
        uint64_t base = (uint64_t)cnn_rng_u32(&t->m->rng) << 32 | cnn_rng_u32(&t->m->rng);
        cnn_rng_seed(&t->m->rng, base ^ (0x9E3779B97F4A7C15ull * (uint64_t)(rank + 1)));
    }
    return CNN_OK;
}

int cnn_trainer_set_lr_mult(cnn_trainer *t, const char *layer_name, float mult) {
    if (!t || !layer_name) return cnn_fail(CNN_E_INVALID, "trainer_set_lr_mult: NULL argument");
    if (!(isfinite(mult) && mult >= 0.0f && mult <= 100.0f))
        return cnn_fail(CNN_E_INVALID, "trainer_set_lr_mult: multiplier %g for '%s' (expected 0..100)", (double)mult,
                        layer_name);
    for (int i = 0; i < t->m->nlayers; i++)
        if (t->m->layers[i].p_count && strcmp(t->m->layers[i].name, layer_name) == 0) {
            t->lr_mult[i] = mult;
            return CNN_OK;
        }
    return cnn_fail(CNN_E_INVALID, "trainer_set_lr_mult: no layer with parameters named '%s'", layer_name);
}

float *cnn_model_grads(cnn_model *m) { return m ? m->grads : NULL; }

int cnn_model_add_grads(cnn_model *m, const float *g) {
    if (!m || !g) return cnn_fail(CNN_E_INVALID, "model_add_grads: NULL argument");
    for (size_t i = 0; i < m->nparams; i++) m->grads[i] += g[i];
    return CNN_OK;
}

void cnn_model_reseed(cnn_model *m, uint32_t seed) {
    if (m) cnn_rng_seed(&m->rng, seed);
}

uint32_t cnn_model_draw_seed(cnn_model *m) { return m ? cnn_rng_u32(&m->rng) : 0; }

int cnn_model_reinit_layer(cnn_model *m, const char *layer_name) {
    if (!m || !layer_name) return cnn_fail(CNN_E_INVALID, "reinit: NULL argument");
    for (int i = 0; i < m->nlayers; i++) {
        const cnn_layer *l = &m->layers[i];
        const cnn_layer_desc *d = cnn_layer_desc_of(l->kind);
        if (l->p_count && d->init && strcmp(l->name, layer_name) == 0) {
            d->init(l, m->params + l->p_off, m->buffers + l->b_off, &m->rng);
            m->layers[i].batches = 0; /* batch norm starts its statistics again */
            return CNN_OK;
        }
    }
    return cnn_fail(CNN_E_INVALID, "reinit: no layer with parameters named '%s'", layer_name);
}

int cnn_trainer_steps_per_epoch(const cnn_trainer *t) {
    return t ? (t->epoch_len + t->p.batch - 1) / t->p.batch : 0;
}

/* x (n) <- pixels (n) scaled from 0..255 to [0, 1] */
static void to_unit(float *x, const uint8_t *pixels, size_t n) {
    for (size_t j = 0; j < n; j++) x[j] = pixels[j] * (1.0f / 255.0f);
}

/* The data set and image index of position idx of the index space. */
static const cnn_dataset *locate(const cnn_trainer *t, int idx, int *image) {
    int s = t->nsrc - 1;
    while (s > 0 && idx < t->src[s].base) s--;
    *image = t->src[s].first + idx - t->src[s].base;
    return t->src[s].ds;
}

/* Fills the model's input block with images order[pos + lo .. pos + hi) scaled to [0, 1] (augmented if asked),
 * and their labels. */
static void load_batch(cnn_trainer *t, int lo, int hi) {
    cnn_model *m = t->m;
    size_t size = (size_t)m->in_h * m->in_w * m->in_c;
    float *x = cnn_model_input(m);
    for (int b = 0; b < hi - lo; b++) {
        int image;
        const cnn_dataset *ds = locate(t, t->order[t->pos + lo + b], &image);
        const uint8_t *img = ds->images + (size_t)image * size;
        if (t->p.augment)
            cnn_augment_image(x + b * size, img, ds->h, ds->w, ds->c, t->p.aug_shift, t->p.aug_rotate, t->p.aug_scale,
                              &m->rng);
        else
            to_unit(x + b * size, img, size);
        t->labels[b] = ds->labels[image];
    }
}

static int all_finite(const float *a, size_t n) {
    /* inf * 0 and NaN * 0 are NaN, and so is any sum they enter: 8 independent sums (they vectorise) */
    float acc[8] = {0}, sum = 0.0f;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * 0.0f;
    for (; i < n; i++) sum += a[i] * 0.0f;
    for (int k = 0; k < 8; k++) sum += acc[k];
    return sum == 0.0f;
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

/* Images in the batch at pos, and this replica's share [lo, hi) of them (contiguous, sizes differ by <= 1). */
static int batch_size(const cnn_trainer *t) {
    return t->epoch_len - t->pos < t->p.batch ? t->epoch_len - t->pos : t->p.batch;
}

int cnn_trainer_compute_gradients(cnn_trainer *t, cnn_step_stats *stats) {
    if (!t || !stats) return cnn_fail(CNN_E_INVALID, "trainer_compute_gradients: NULL argument");
    memset(stats, 0, sizeof *stats);
    cnn_model *m = t->m;
    int n = batch_size(t);
    int lo = (int)((int64_t)n * t->rank / t->ranks), hi = (int)((int64_t)n * (t->rank + 1) / t->ranks);
    int local = hi - lo;
    float lr = cnn_schedule_lr(&t->p, t->t);
    memset(m->grads, 0, m->nparams * sizeof(float));
    t->ready = 0;
    double batch_loss = 0.0;
    int batch_correct = 0;
    if (local > 0) {
        load_batch(t, lo, hi);
        cnn_model_forward(m, local, 1);
        const float *probs = cnn_model_probs(m);
        for (int b = 0; b < local; b++) {
            const float *pb = probs + (size_t)b * m->classes;
            int best = 0;
            for (int j = 1; j < m->classes; j++)
                if (pb[j] > pb[best]) best = j;
            batch_correct += best == t->labels[b];
            batch_loss += cnn_xent(pb, t->labels[b]);
        }
        if (!isfinite(batch_loss) || !all_finite(probs, (size_t)local * m->classes))
            return cnn_fail(CNN_E_DIVERGED, "trainer_run: the loss became non-finite (NaN or infinite) at step %d "
                            "(learning rate %g); the step was not applied, try a lower learning rate", t->t + 1,
                            (double)lr);
        /* Batch statistics that are not finite would poison the running ones: the step is refused here, before
         * any replica applies it. */
        if (cnn_model_update_running_stats(m, 0))
            return cnn_fail(CNN_E_DIVERGED, "trainer_run: batch statistics overflowed at step %d (learning rate %g); "
                            "the step was not applied, try a lower learning rate", t->t + 1, (double)lr);
        cnn_model_backward(m, local, t->labels);
        /* backward gives the gradient of the mean over this shard; the batch's mean weighs it by local / n */
        if (local != n) {
            float w = (float)local / (float)n;
            for (size_t i = 0; i < m->nparams; i++) m->grads[i] *= w;
        }
    }
    t->ready = 1;
    t->forwarded = local > 0;
    stats->images = local;
    stats->loss = local ? (float)(batch_loss / local) : 0.0f;
    stats->accuracy = local ? (float)batch_correct / (float)local : 0.0f;
    stats->lr = lr;
    stats->epoch = t->epoch;
    stats->step_in_epoch = (t->pos + t->p.batch - 1) / t->p.batch;
    return CNN_OK;
}

int cnn_trainer_apply_step(cnn_trainer *t, cnn_step_stats *stats) {
    if (!t || !stats) return cnn_fail(CNN_E_INVALID, "trainer_apply_step: NULL argument");
    memset(stats, 0, sizeof *stats);
    if (!t->ready)
        return cnn_fail(CNN_E_INVALID, "trainer_apply_step: no gradients to apply (call compute_gradients first)");
    cnn_model *m = t->m;
    float lr = cnn_schedule_lr(&t->p, t->t);
    t->ready = 0;
    if (!all_finite(m->grads, m->nparams))
        return cnn_fail(CNN_E_DIVERGED, "trainer_run: gradients overflowed at step %d (learning rate %g); the step "
                        "was not applied, try a lower learning rate", t->t + 1, (double)lr);
    snapshot(t, 0);
    cnn_optimizer_step(m, t->s1, t->s2, &t->p, lr, t->t + 1, t->lr_mult);
    if (!all_finite(m->params, m->nparams)) {
        snapshot(t, 1);
        return cnn_fail(CNN_E_DIVERGED, "trainer_run: weights overflowed at step %d (learning rate %g); the step "
                        "was undone, try a lower learning rate", t->t + 1, (double)lr);
    }
    /* Batch norm's running statistics follow the batches of applied steps, each replica its own shard's (so
     * replica 0, the model being trained, keeps those of its shard, as DistributedDataParallel keeps the first
     * process's); kept apart from the optimizer. */
    if (t->forwarded) cnn_model_update_running_stats(m, 1);
    int n = batch_size(t);
    t->t++;
    t->pos += n;
    stats->steps = 1;
    stats->images = n;
    stats->lr = lr;
    if (t->pos >= t->epoch_len) {
        t->pos = 0;
        t->epoch++;
        new_epoch_order(t);
    }
    stats->epoch = t->epoch;
    stats->step_in_epoch = (t->pos + t->p.batch - 1) / t->p.batch;
    return CNN_OK;
}

int cnn_trainer_run(cnn_trainer *t, int steps, cnn_step_stats *stats) {
    if (!t || !stats) return cnn_fail(CNN_E_INVALID, "trainer_run: NULL argument");
    memset(stats, 0, sizeof *stats);
    if (steps < 1) return cnn_fail(CNN_E_INVALID, "trainer_run: %d steps (expected >= 1)", steps);
    if (t->ranks != 1)
        return cnn_fail(CNN_E_INVALID, "trainer_run: this trainer computes shard %d of %d; use compute_gradients, "
                        "sum the replicas' gradients, then apply_step", t->rank, t->ranks);
    double loss_sum = 0.0, correct = 0.0;
    int st = CNN_OK;
    cnn_step_stats g, a;
    for (int s = 0; s < steps; s++) {
        if ((st = cnn_trainer_compute_gradients(t, &g)) != CNN_OK) break;
        if ((st = cnn_trainer_apply_step(t, &a)) != CNN_OK) break;
        stats->steps++;
        stats->images += a.images;
        stats->lr = a.lr;
        loss_sum += (double)g.loss * g.images;
        correct += (double)g.accuracy * g.images;
        if (a.step_in_epoch == 0) break; /* the end of an epoch */
    }
    /* the statistics cover the steps applied, also when a later one diverged */
    stats->loss = stats->images ? (float)(loss_sum / stats->images) : 0.0f;
    stats->accuracy = stats->images ? (float)(correct / stats->images) : 0.0f;
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
