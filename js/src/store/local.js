// Local files (a File from an <input type=file> or a drop, a Blob), read in place: each read is a
// Blob.slice of the file on disk, so nothing of the model is copied into the browser's storage.

import { WebmoeError } from '../errors.js';
import { ModelReader } from './reader.js';

/**
 * The bytes [start, start + length) of a blob.
 * @param {Blob} blob
 * @param {number} start
 * @param {number} length
 * @param {string} name the file's name, for the error message
 * @returns {Promise<Uint8Array>}
 * @throws {WebmoeError} when the file cannot be read (moved, deleted or changed since it was chosen)
 */
export async function readSlice(blob, start, length, name) {
  try {
    return new Uint8Array(await blob.slice(start, start + length).arrayBuffer());
  } catch (error) {
    throw new WebmoeError(
      `Could not read ${name}: ${error && error.message ? error.message : error}. ` +
        'The file may have been moved or changed since it was chosen; choose it again.',
      { file: name },
    );
  }
}

/**
 * Readers of local files as the parts of a model, one read per call, for `checkModel` before
 * anything is read in bulk or stored.
 * @param {Blob[]} blobs the parts, in order
 * @param {string[]} names their names, for error messages
 * @returns {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}[]}
 * @throws {WebmoeError} (from `read`) when a file cannot be read
 */
export function blobParts(blobs, names) {
  return blobs.map((blob, index) => ({
    size: blob.size,
    read: (offset, length) => readSlice(blob, offset, length, names[index]),
  }));
}

/**
 * A reader of local files in place: blocks of `blockSize` bytes sliced from the files, the most
 * recently read kept within `ramBudget`.
 * @param {import('./sources.js').Source} source a 'file' or 'blob' source
 * @param {number} blockSize
 * @param {number} ramBudget
 * @returns {ModelReader}
 */
export function blobReader(source, blockSize, ramBudget) {
  return new ModelReader({
    key: source.key,
    origin: 'file',
    partSizes: source.blobs.map((blob) => blob.size),
    blockSize,
    ramBudget,
    loadBlock: (part, index, start, length) => readSlice(source.blobs[part], start, length, source.names[part]),
    loadRange: (part, start, length) => readSlice(source.blobs[part], start, length, source.names[part]),
  });
}
