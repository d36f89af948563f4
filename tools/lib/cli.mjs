/**
 * cli.mjs - what the command-line tools share: argument parsing with clear errors, option values, the last
 * JSON line, and turning user errors into one line on stderr with a non-zero exit code.
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';

import { CnnError } from '../../web/cnn.mjs';
import { DataError } from '../../web/data.mjs';

/** A mistake of the user's (bad option, missing file): reported in one line, without a stack trace. */
export class UsageError extends Error {}

/**
 * Runs a tool's main function; user errors print `tool: message` on stderr and exit 1.
 * @param {string} tool the tool's name @param {() => Promise<void>} main
 */
export async function runTool(tool, main) {
  try {
    await main();
  } catch (e) {
    const user = e instanceof UsageError || e instanceof CnnError || e instanceof DataError ||
      ['ENOENT', 'EACCES', 'EISDIR', 'ERR_PARSE_ARGS_UNKNOWN_OPTION', 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
        'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'].includes(e?.code);
    if (!user) throw e; // a bug: keep the stack trace
    process.stderr.write(`${tool}: ${e.message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}

/**
 * parseArgs with the tool's options; --help prints usage and exits 0.
 * @param {string[]} argv @param {object} options parseArgs option specs @param {string} usage
 * @param {boolean} [positionals=false]
 */
export function parseToolArgs(argv, options, usage, positionals = false) {
  const { values, positionals: rest } = parseArgs({
    args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals, strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return { values, positionals: rest };
}

/**
 * Reads a numeric option. @param {object} values @param {string} name @param {number} fallback
 * @param {{min?: number, max?: number, integer?: boolean}} [range] @returns {number}
 */
export function numberOption(values, name, fallback, { min = -Infinity, max = Infinity, integer = false } = {}) {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    const kind = integer ? 'an integer' : 'a number';
    throw new UsageError(`--${name} '${raw}' is not ${kind} in ${min}..${max}`);
  }
  return v;
}

/** Writes the tool's result as one JSON object on the last line of stdout. @param {object} result */
export function printResult(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Reads a whole file as bytes. @param {string} file @returns {Promise<Uint8Array>} */
export async function readBytes(file) {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new UsageError(`cannot read '${file}': ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

/**
 * The metrics of an evaluation in the tools' JSON form.
 * @param {object} ev the result of Model.evaluate @returns {object}
 */
export function metricsJson(ev) {
  const round = (x) => Math.round(x * 1e6) / 1e6;
  return {
    test_accuracy: round(ev.accuracy), test_loss: round(ev.loss), count: ev.count,
    precision: ev.precision.map(round), recall: ev.recall.map(round), f1: ev.f1.map(round),
    macro_precision: round(ev.macroPrecision), macro_recall: round(ev.macroRecall), macro_f1: round(ev.macroF1),
    confusion: ev.confusion,
  };
}

/**
 * The spec text a --model option names: a preset name (returned as is), a spec file, or spec text itself.
 * @param {import('../../web/cnn.mjs').Cnn} cnn @param {string} model @returns {Promise<string>}
 */
export async function resolveModelSpec(cnn, model) {
  if (cnn.presetSpec(model)) return model;
  try {
    return await readFile(model, 'utf8');
  } catch {
    if (/[;\n]/.test(model) || /^\s*(conv2d|dense|flatten|input|residual)\b/.test(model)) return model;
    throw new UsageError(`--model '${model}' is neither a preset (${cnn.presets().join(', ')}) nor a readable spec file`);
  }
}
