// add-wasmrelaxed.js - linked into the C test programs (--pre-js): adds the wasmrelaxed kernel variant before
// main() runs, as web/cnn.mjs does for the page, so test_kernels checks it against the reference too.
Module.preRun = [].concat(Module.preRun || [], function addWasmRelaxed() {
  require('v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
  var file = require('path').join(__dirname, '../../web/build/cnn-wasmrelaxed.wasm');
  var bytes = require('fs').readFileSync(file);
  if (!WebAssembly.validate(bytes)) throw new Error(file + ': this engine does not validate relaxed SIMD');
  var exports = Object.values(Module.asm);
  var memory = exports.find(function (e) { return e instanceof WebAssembly.Memory; });
  var table = exports.find(function (e) { return e instanceof WebAssembly.Table; });
  var kernel = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: memory } });
  var slot = table.grow(1);
  table.set(slot, kernel.exports.cnn_gemm_ukernel__wasmrelaxed);
  if (Module._cnn_kernels_add_wasmrelaxed(slot) !== 0) throw new Error('cnn_kernels_add_wasmrelaxed failed');
});
