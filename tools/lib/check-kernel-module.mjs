// check-kernel-module.mjs - build.sh's check of a kernel module that shares the core's memory (the relaxed-SIMD
// GEMM micro-kernel): it may import only env.memory, must export the given functions and nothing else but
// functions, and must not write memory by itself (no data segments, no start function) or use a stack in that
// memory (checked by running it: it writes only the tile it computes). Exits non-zero with a message naming what is wrong.
//
//   node tools/lib/check-kernel-module.mjs FILE.wasm EXPORT...
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

const [file, ...wanted] = process.argv.slice(2);
const bytes = readFileSync(file);
const fail = (msg) => {
  process.stderr.write(`check-kernel-module: ${file}: ${msg}\n`);
  process.exit(1);
};

// Section ids: 8 start, 11 data, 12 data count.
const sections = [];
for (let i = 8; i < bytes.length;) {
  const id = bytes[i++];
  let size = 0, shift = 0, b;
  do { b = bytes[i++]; size += (b & 127) * 2 ** shift; shift += 7; } while (b & 128);
  sections.push({ id, start: i, size });
  i += size;
}
for (const [id, what] of [[8, 'a start function'], [11, 'data segments'], [12, 'a data count']]) {
  if (sections.some((s) => s.id === id)) fail(`has ${what}; it would write the core's memory on instantiation`);
}
const code = sections.find((s) => s.id === 10);
if (!code) fail('has no code');
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
let mod;
try {
  mod = new WebAssembly.Module(bytes);
} catch (e) {
  fail(`does not compile: ${e.message}`);
}
const imports = WebAssembly.Module.imports(mod);
if (imports.length !== 1 || imports[0].module !== 'env' || imports[0].name !== 'memory' || imports[0].kind !== 'memory') {
  fail(`imports ${JSON.stringify(imports)} (expected only env.memory)`);
}
const exports = WebAssembly.Module.exports(mod);
for (const name of wanted) {
  if (!exports.some((e) => e.name === name && e.kind === 'function')) fail(`does not export the function ${name}`);
}
const extra = exports.filter((e) => e.kind !== 'function' || !wanted.includes(e.name));
if (extra.length) fail(`exports more than expected: ${JSON.stringify(extra)}`);
// Instantiated on a memory full of a pattern, the module must leave every byte as it was.
const memory = new WebAssembly.Memory({ initial: 4 });
new Uint8Array(memory.buffer).fill(0xa5);
new WebAssembly.Instance(mod, { env: { memory } });
if (new Uint8Array(memory.buffer).some((v) => v !== 0xa5)) fail('writes memory when instantiated');
// One call on an edge tile (mr = 3, nr = 6, accumulating): only those 18 floats of C may change, to A.B + C.
const instance = new WebAssembly.Instance(mod, { env: { memory } });
const f32 = new Float32Array(memory.buffer), u8 = new Uint8Array(memory.buffer);
const AP = 131072, BP = 135168, C = 200000, kc = 5, ldc = 10, mr = 3, nr = 6;
for (let i = 0; i < kc * 4; i++) f32[AP / 4 + i] = (i % 7) - 3;
for (let i = 0; i < kc * 8; i++) f32[BP / 4 + i] = (i % 5) - 2;
const before = u8.slice();
const ukernel = instance.exports[wanted[0]];
const c0 = (i, j) => new Float32Array(before.buffer)[C / 4 + i * ldc + j];
ukernel(C, ldc, AP, BP, kc, mr, nr, 1);
for (let i = 0; i < mr; i++) {
  for (let j = 0; j < nr; j++) {
    let want = c0(i, j);
    for (let p = 0; p < kc; p++) want += f32[AP / 4 + p * 4 + i] * f32[BP / 4 + p * 8 + j];
    const got = f32[C / 4 + i * ldc + j];
    if (Math.abs(got - want) > 1e-3 * (1 + Math.abs(want))) fail(`C[${i}][${j}] = ${got}, expected ${want}`);
    for (let b = 0; b < 4; b++) before[C + 4 * (i * ldc + j) + b] = u8[C + 4 * (i * ldc + j) + b];
  }
}
const changed = u8.findIndex((v, i) => v !== before[i]);
if (changed >= 0) fail(`writes memory outside the tile it computes (byte ${changed}): does it use a stack?`);
