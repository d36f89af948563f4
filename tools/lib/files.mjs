/**
 * files.mjs - reading and writing the tools' files safely: only regular files (a FIFO would hang, /dev/zero
 * would never end), at most a size limit, read whole; outputs written to a temporary file and renamed, so a
 * failed write (disk full) never leaves a half-written model where a good one was.
 */
import { constants } from 'node:fs';
import { open, rename, stat, unlink, access } from 'node:fs/promises';
import path from 'node:path';

/** A file that cannot be read or written as asked: one line, for people. */
export class FileError extends Error {
  constructor(message) {
    super(message);
    this.name = 'FileError';
  }
}

const REASONS = {
  ENOENT: 'no such file', EACCES: 'permission denied', EPERM: 'permission denied', EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder', ENOSPC: 'no space left on the device', EROFS: 'read-only file system',
  EDQUOT: 'disk quota exceeded', ELOOP: 'too many symbolic links', ENAMETOOLONG: 'the name is too long',
  EFBIG: 'the file is too large', EIO: 'input/output error',
};

/** @param {Error & {code?: string}} e @returns {string} why a file operation failed, in words */
export function reason(e) {
  return REASONS[e.code] ?? e.message;
}

/** @param {import('node:fs').Stats} st @returns {string} what kind of non-regular file this is */
function kind(st) {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** @param {number} n bytes @returns {string} e.g. "512 MiB" */
export function formatBytes(n) {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(n % 2 ** 20 ? 1 : 0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * Reads a whole regular file of at most maxBytes bytes.
 * @param {string} file
 * @param {{maxBytes: number, what?: string}} o what names the file's role in messages ("weights", "image")
 * @returns {Promise<Uint8Array>}
 * @throws {FileError} not found, not a regular file, larger than maxBytes, unreadable
 */
export async function readFileBounded(file, { maxBytes, what = 'file' }) {
  let fh;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then says what the path really is
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new FileError(`cannot read ${what} '${file}': ${reason(e)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FileError(`cannot read ${what} '${file}': ${kind(st)}, not a regular file`);
    if (st.size > maxBytes) {
      throw new FileError(`cannot read ${what} '${file}': it is ${formatBytes(st.size)}, larger than the limit of ${formatBytes(maxBytes)}`);
    }
    const out = new Uint8Array(st.size);
    let off = 0;
    while (off < out.length) {
      const { bytesRead } = await fh.read(out, off, out.length - off, off);
      if (bytesRead === 0) break; // the file shrank while being read
      off += bytesRead;
    }
    return off === out.length ? out : out.subarray(0, off);
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(`cannot read ${what} '${file}': ${reason(e)}`);
  } finally {
    await fh.close();
  }
}

/**
 * Checks, before any long work, that file can be written: its folder exists and is writable, and the file
 * itself, if it exists, is a regular file.
 * @param {string} file @param {string} [what='output'] @throws {FileError}
 */
export async function checkWritable(file, what = 'output') {
  const dir = path.dirname(path.resolve(file));
  const dst = await stat(dir).catch((e) => { throw new FileError(`cannot write ${what} '${file}': folder '${dir}': ${reason(e)}`); });
  if (!dst.isDirectory()) throw new FileError(`cannot write ${what} '${file}': '${dir}' is not a folder`);
  await access(dir, constants.W_OK).catch((e) => { throw new FileError(`cannot write ${what} '${file}': folder '${dir}': ${reason(e)}`); });
  const st = await stat(file).catch((e) => (e.code === 'ENOENT' ? null : Promise.reject(new FileError(`cannot write ${what} '${file}': ${reason(e)}`))));
  if (st && !st.isFile()) throw new FileError(`cannot write ${what} '${file}': it is ${kind(st)}, not a regular file`);
}

/**
 * Writes bytes to file through a temporary file in the same folder and a rename: readers see the old file or
 * the new one, never a part.
 * @param {string} file @param {Uint8Array} bytes @param {string} [what='output'] @throws {FileError}
 */
export async function writeFileAtomic(file, bytes, what = 'output') {
  await checkWritable(file, what);
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(bytes);
    await fh.sync();
    await fh.close();
    fh = null;
    await rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw new FileError(`cannot write ${what} '${file}': ${reason(e)}`);
  }
}
