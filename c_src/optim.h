/* optim.h - the optimizer step, internal to the core. */
#ifndef CNN_OPTIM_H
#define CNN_OPTIM_H
#include "model.h"

/* One optimizer step at learning rate lr, t = 1-based step count (Adam bias correction, SGD first step).
 * s1, s2: optimizer state arenas (nparams each): SGD velocity in s1; Adam first and second moments.
 * lr_mult: optional (nlayers) multiplier of lr per layer (NULL: 1 everywhere).
 * Frozen layers are skipped; weight decay applies to the tensors whose descriptor says so (conv and dense
 * weights, not biases). */
void cnn_optimizer_step(cnn_model *m, float *s1, float *s2, const cnn_train_params *p, float lr, int t,
                        const float *lr_mult);

#endif
