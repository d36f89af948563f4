// The libFuzzer targets (tests/fuzz/), run briefly on seeds made here: any input must be accepted or refused
// with a message, never crash, read out of bounds or leak (ASan + UBSan). Longer runs: see the targets' headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { idxFile, setup } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'cnn-fuzz-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const idx = idxFile;
const text = (s) => new TextEncoder().encode(s);

/** Seeds for each target: a few valid inputs of each kind, so the fuzzer starts from deep inside the parsers. */
async function seeds() {
  const { cnn } = await setup();
  const small = cnn.createModel('input 8x8; conv2d 2 3x3 relu; maxpool 2; dense 3', { seed: 1 }).save();
  const mlp = cnn.createModel('input 6x6x2; dense 4 tanh; dropout 0.5; dense 2', { seed: 2 }).save();
  const images = idx([0, 0, 8, 3], [2, 4, 4], new Uint8Array(32).fill(7));
  const specs = ['conv2d 4 3x3 relu; maxpool 2; dense 10', 'input 12x12x3; conv2d 3 5x5 same tanh; avgpool 2; dense 2',
    'input 5x7; flatten; dense 8 sigmoid; dropout 0.25; dense 3; softmax'];
  return {
    fuzz_safetensors: [small, mlp],
    fuzz_inputs: [Uint8Array.of(0, ...images), ...specs.map((s) => Uint8Array.of(1, ...text(s))), Uint8Array.of(2, ...small)],
    fuzz_train: specs.map((s, i) => Uint8Array.of(...text(s), 0, i * 37, ...new Uint8Array(300).map((_, j) => (j * 31 + i) & 255))),
  };
}

const SECONDS = { fuzz_safetensors: 8, fuzz_inputs: 8, fuzz_train: 14 };

for (const [target, seconds] of Object.entries(SECONDS)) {
  test(`${target} runs ${seconds} s without a crash, leak or undefined behaviour`, async () => {
    const bin = path.join(root, 'build/fuzz', target);
    assert.ok(existsSync(bin), `${bin} is missing: bash build.sh --test-deps builds it (needs clang and libclang-rt-14-dev)`);
    const corpus = path.join(tmp, target);
    mkdirSync(corpus);
    (await seeds())[target].forEach((b, i) => writeFileSync(path.join(corpus, `seed${i}`), b));
    const r = spawnSync(bin, [`-max_total_time=${seconds}`, '-timeout=20', '-rss_limit_mb=2560', '-max_len=65536',
      '-print_final_stats=1', corpus], { cwd: tmp, encoding: 'utf8', timeout: (seconds + 60) * 1000 });
    const crashes = readdirSync(tmp).filter((f) => /^(crash|leak|timeout|oom)-/.test(f));
    assert.equal(r.status, 0, `${target} failed (${crashes.join(', ') || `status ${r.status}`}):\n${r.stderr.slice(-3000)}`);
    const runs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(r.stderr)?.[1] ?? 0);
    assert.ok(runs >= 200, `${target} ran only ${runs} inputs:\n${r.stderr.slice(-1500)}`);
  });
}
