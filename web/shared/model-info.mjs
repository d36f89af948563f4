/** model-info.mjs - a plain-object summary of a Model, small enough to post between workers and the page. */

/**
 * @param {import('../cnn.mjs').Model} model
 * @returns {{spec: string, classes: number, inputShape: number[], paramCount: number,
 *   layers: {name: string, kind: string, outputShape: number[], params: number, frozen: boolean}[]}}
 */
export function modelInfo(model) {
  return {
    spec: model.spec, classes: model.classes, inputShape: model.inputShape, paramCount: model.paramCount,
    layers: model.layers,
  };
}

/** @param {number[]} shape [height, width, channels] @returns {string} e.g. "28x28x1" */
export function shapeText(shape) {
  return shape.join('x');
}
