/**
 * explanations.mjs - a short, plain-language note for each control of the training form, each layer kind,
 * optimizer and schedule: what it does and a typical value. Shown beside the controls (views/explain.mjs).
 * Keys: a field's name, or 'name:value' for the chosen value of a select (e.g. 'optimizer:adam').
 */

/** The notes by key. */
export const EXPLANATIONS = {
  // ---- data and starting point ----
  dataset: 'The images the network learns from. MNIST: 60,000 handwritten digits by 500 writers, with 10,000 ' +
    'more kept apart for testing. Your drawings teach it your own handwriting.',
  'train-from': 'A new model starts from random weights. Fine-tuning continues from the current model, so a few ' +
    'images are enough to adapt it (for example to your handwriting).',
  freeze: 'A frozen layer keeps its weights. Freezing the first layers while fine-tuning keeps the general ' +
    'features they learned and trains only the later layers: faster, and less forgetting.',
  preset: 'Ready-made architectures. The Keras and PyTorch ones are the classic MNIST networks (about 99 % ' +
    'right); the small ResNet adds batch normalization and residual blocks (the most accurate, slower); the ' +
    'small CNN trains in seconds; the MLP has no convolutions, to compare.',

  // ---- layer kinds ----
  'layer:conv2d': 'Convolution: slides small filters (3×3 or 5×5 weights) over the image; each filter makes one ' +
    'feature map that lights up where its pattern (an edge, a curve) appears. Typical: 32 filters of 3×3, relu.',
  'layer:maxpool': 'Max pooling: halves each feature map, keeping the strongest response of every 2×2 block. ' +
    'The network gets cheaper and cares less about exactly where a stroke is.',
  'layer:avgpool': 'Average pooling: halves each feature map by averaging every 2×2 block (smoother than max).',
  'layer:globalavgpool': 'Global average pooling: averages each whole feature map into one number, so the dense ' +
    'layer after it sees one value per filter: few weights, whatever the image size (as in ResNets).',
  'layer:batchnorm': 'Batch normalization: rescales each channel to mean 0 and spread 1 over the batch, then ' +
    'learns its own scale and shift. Training is steadier and tolerates larger learning rates; when predicting ' +
    'it uses the averages it kept during training. Usual place: right after a convolution, before relu.',
  'layer:residual': 'Residual block: the layers inside (the branch) learn a change that is added to the block\'s ' +
    'input (the skip). Deep networks train well this way (ResNet). When the branch changes the shape (a stride, ' +
    'more filters), the skip gets a 1×1 convolution to match.',
  'layer:dense': 'Dense (fully connected): every output looks at every input. The last dense layer has one ' +
    'output per class (10 for digits). Typical hidden size: 64 to 256, relu.',
  'layer:dropout': 'Dropout: during training, randomly silences this share of the values (0.25 to 0.5), so the ' +
    'network cannot lean on any single one; it tends to generalise better. Off when predicting.',
  'layer:flatten': 'Flatten: lays the feature maps out as one long list of numbers, for a dense layer.',
  'layer:activation': 'Activation: bends each value. relu keeps positives and zeroes negatives (the usual choice); ' +
    'leaky relu lets a little of the negatives through (slope 0.01), gelu is a smooth relu (used in ' +
    'transformers); sigmoid and tanh squash into (0, 1) and (−1, 1).',

  // ---- optimizer and schedule ----
  'optimizer:adam': 'Adam adapts the step for each weight from the history of its gradients: a good default. ' +
    'Typical learning rate: 0.001 to 0.003.',
  'optimizer:sgd': 'Stochastic gradient descent with momentum: steps against the gradient, keeping some of the ' +
    'previous step. Simple and reliable, needs a larger learning rate: 0.01 to 0.1.',
  lr: 'How big a step the optimizer takes. Too small: slow learning. Too large: the loss jumps around or the run ' +
    'diverges. Typical: 0.002 for Adam, 0.05 for SGD.',
  'schedule:cosine': 'Cosine: the learning rate glides from its start value down to almost zero over the run, ' +
    'so the last steps fine-tune. A good default.',
  'schedule:constant': 'Constant: the same learning rate for the whole run.',
  'schedule:step': 'Step: the learning rate halves after each epoch.',
  'schedule:exponential': 'Exponential: the learning rate shrinks a little after every step.',
  batch: 'How many images each step looks at before the weights change. Larger batches give smoother, fewer ' +
    'steps per epoch. Typical: 32 to 128.',
  epochs: 'How many times training goes through all the images. One epoch of MNIST already gives about 98.7 %; ' +
    'the page starts at 3 (with the Keras preset, batch 64: about 99.0 % on the test set).',
  limit: 'Train on only the first images of the data set: fewer images, faster runs, a less accurate network.',
  'val-split': 'The share of the training images kept apart to check the network on images it did not train on ' +
    '(the validation curve). Typical: 0.1.',
  seed: 'The random choices of a run (starting weights, order of the images, dropout) come from this number: ' +
    'the same seed gives the same network again.',
  workers: 'How many threads train at once: each computes the gradients of its part of every batch, they are ' +
    'averaged and one step applies them, so the result is the same as one thread training on the whole batch. ' +
    'Starts at the number of cores of this computer. The same seed and number of workers give the same network.',
  augment: 'Shifts, rotates and scales each training image a little at random, so the network sees more ' +
    'variety; it helps with digits drawn off-centre or slanted.',
  momentum: 'SGD keeps this share of the previous step (0.9 is usual): it rolls through small bumps and speeds ' +
    'up along steady slopes.',
  nesterov: 'A variant of momentum that looks one step ahead; often slightly better.',
  'weight-decay': 'Pulls every weight a little towards zero at each step, which discourages extreme weights. ' +
    'Typical: 0 to 0.0005.',
  decoupled: 'Applies the weight decay directly to the weights instead of through the gradient (AdamW); the ' +
    'better way with Adam.',
  warmup: 'Starts with a small learning rate and raises it to the full value over these first steps: steadier ' +
    'starts for large learning rates. Typical: 0 to a few hundred.',
};

/** @param {string} key @returns {string|undefined} */
export function explanation(key) {
  return EXPLANATIONS[key];
}
