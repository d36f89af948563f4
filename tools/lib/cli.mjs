/**
 * cli.mjs - what the command-line tools share: argument parsing with clear errors, option values, the last
 * JSON line, and turning user errors into one line on stderr with a non-zero exit code.
 */
import { parseArgs } from 'node:util';

import { CnnError } from '../../web/cnn.mjs';
import { DataError } from '../../web/data.mjs';
import { FileError, readFileBounded } from './files.mjs';

/** A mistake of the user's (bad option, missing file): reported in one line, without a stack trace. */
export class UsageError extends Error {}

/**
 * Makes text safe to print on a terminal: control characters (C0, DEL, C1, which can move the cursor, clear
 * the screen or fake output) and bidirectional overrides (which reorder what is shown) become visible escapes
 * such as \x1b. Text from files (tensor names, metadata, messages quoting them) goes through this.
 * @param {string} text @returns {string}
 */
export function printable(text) {
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/** Writes one line of human output on stderr, made printable. @param {string} line */
export function say(line) {
  process.stderr.write(`${printable(line)}\n`);
}

/** @returns {boolean} whether e is a mistake of the user's or a bad input, not a bug */
function isUserError(e) {
  return e instanceof UsageError || e instanceof CnnError || e instanceof DataError || e instanceof FileError ||
    ['ENOENT', 'EACCES', 'EISDIR', 'ERR_PARSE_ARGS_UNKNOWN_OPTION', 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
      'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'].includes(e?.code);
}

/**
 * Runs a tool's main function; user errors print `tool: message` as one line on stderr (a message of several
 * lines is joined, not cut) and exit 1.
 * @param {string} tool the tool's name @param {() => Promise<void>} main
 */
export async function runTool(tool, main) {
  try {
    await main();
  } catch (e) {
    if (!isUserError(e)) throw e; // a bug: keep the stack trace
    say(`${tool}: ${e.message.trim().split(/\s*\n\s*/).join(' / ')}`);
    process.exitCode = 1;
  }
}

/**
 * Runs fn, turning an error about the content of a file into one that names the file.
 * @template T @param {string} file @param {() => T} fn @returns {T}
 */
export function aboutFile(file, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CnnError || e instanceof DataError) throw new UsageError(`${file}: ${e.message}`);
    throw e;
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

/**
 * Writes the tool's result as one JSON object on the last line of stdout. JSON.stringify escapes C0 controls;
 * C1 controls and bidirectional overrides (from file names or metadata) are escaped too.
 * @param {object} result
 */
export function printResult(result) {
  const json = JSON.stringify(result).replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  process.stdout.write(`${json}\n`);
}

/**
 * Reads a whole file given on the command line: a regular file of at most the core's file limit.
 * @param {string} file @param {import('../../web/cnn.mjs').Cnn} cnn @param {string} [what]
 * @returns {Promise<Uint8Array>}
 */
export function readBytes(file, cnn, what = 'file') {
  return readFileBounded(file, { maxBytes: cnn.limits.fileBytes, what });
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
 * The spec text a --model option names: a preset name (any case; returned in lower case), a spec file, or spec
 * text itself.
 * @param {import('../../web/cnn.mjs').Cnn} cnn @param {string} model @returns {Promise<string>}
 */
export async function resolveModelSpec(cnn, model) {
  if (cnn.presetSpec(model.toLowerCase())) return model.toLowerCase();
  try {
    return new TextDecoder().decode(await readFileBounded(model, { maxBytes: cnn.limits.specChars, what: 'spec file' }));
  } catch (e) {
    if (/[;\n]/.test(model) || /^\s*(input|conv2d|conv|dense|linear|flatten|residual)\b/i.test(model)) return model;
    if (e.message.includes('larger than the limit')) throw e;
    throw new UsageError(`--model '${model}' is neither a preset (${cnn.presets().join(', ')}) nor a readable spec file`);
  }
}
