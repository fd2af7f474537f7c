// What a model source is, and the key its stored copy lives under.
//
// Keys:
//   one URL            the absolute URL itself (so a URL can be passed wherever a key is expected)
//   a list of URLs     the absolute URLs joined by "\n" (a parsed URL never contains a newline)
//   File               "file:<name>:<size>:<lastModified>" (a changed file has a new lastModified)
//   a list of Files    their keys joined by "\n", in part order
//   Blob               "blob:<sha256 of the shard hashes>" (a Blob has no other identity; see
//                      import.js): computed only to store it; a Blob read in place has no key
//
// The parts of a split model given as Files are put in the order their names say
// (`…-00002-of-00003.gguf` is the second of three), so a file picker's order does not matter.

import { InvalidOptionError } from '../errors.js';

/**
 * A model source, classified. `blobs` and `names` list the parts of a local source in order.
 * @typedef {{kind: 'url', key: string, urls: string[]}
 *   | {kind: 'file', key: string, blobs: File[], names: string[]}
 *   | {kind: 'blob', key: null, blobs: Blob[], names: string[]}} Source
 */

/** `name-00002-of-00003.gguf` → { no: 2, count: 3 }. */
const SPLIT_NAME = /-(\d{5})-of-(\d{5})\.gguf$/i;

/**
 * Classify a source and give its key (null for a Blob: its key needs its content, see import.js).
 * @param {string|string[]|File|Blob|(File|Blob)[]} source
 * @returns {Source}
 * @throws {InvalidOptionError} for anything else, an empty list, a string that is not a URL, or the
 *   Files of a split model with parts missing or repeated
 */
export function describeSource(source) {
  if (isBlob(source)) return describeLocal([source]);
  if (typeof source === 'string') {
    const url = absoluteUrl(source);
    return { kind: 'url', key: url, urls: [url] };
  }
  if (Array.isArray(source)) {
    if (source.length === 0) {
      throw new InvalidOptionError('The model source is an empty list; pass one URL, a list of part URLs, or a File.', {
        option: 'source',
      });
    }
    if (source.every(isBlob)) return describeLocal(source);
    const urls = source.map((item, index) => {
      if (typeof item !== 'string') {
        throw new InvalidOptionError(
          `Part ${index} of the model source is not a URL string; pass the URLs of the parts in order, ` +
            'or the Files of the parts.',
          { option: 'source' },
        );
      }
      return absoluteUrl(item);
    });
    return { kind: 'url', key: urls.join('\n'), urls };
  }
  throw new InvalidOptionError(
    'The model source must be a URL string, a list of URL strings (split GGUF parts), a File or a Blob, ' +
      'or a list of Files (the parts of a split GGUF).',
    {
      option: 'source',
    },
  );
}

function isBlob(value) {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

function isFile(value) {
  return typeof File !== 'undefined' && value instanceof File;
}

function describeLocal(given) {
  const blobs = orderParts(given);
  const names = blobs.map((blob) => (isFile(blob) ? blob.name : 'blob'));
  if (blobs.every(isFile)) {
    const key = blobs.map((file) => `file:${file.name}:${file.size}:${file.lastModified}`).join('\n');
    return { kind: 'file', key, blobs, names };
  }
  return { kind: 'blob', key: null, blobs, names };
}

/**
 * Files named as the parts of one split model, in part order; anything else as given.
 * @throws {InvalidOptionError} when parts are missing or given twice
 */
function orderParts(blobs) {
  if (!blobs.every((blob) => isFile(blob) && SPLIT_NAME.test(blob.name))) return blobs;
  const numbered = blobs.map((file) => {
    const [, no, count] = SPLIT_NAME.exec(file.name);
    return { file, no: Number(no), count: Number(count) };
  });
  const count = numbered[0].count;
  const numbers = new Set(numbered.map((part) => part.no));
  const missing = [];
  for (let no = 1; no <= count; no += 1) if (!numbers.has(no)) missing.push(no);
  if (numbered.some((part) => part.count !== count) || numbers.size !== blobs.length || missing.length > 0) {
    const what = missing.length > 0 ? `part ${missing.join(', ')} of ${count} is missing` : 'some parts are given twice or belong to another model';
    throw new InvalidOptionError(
      `The files are the parts of a split model, but ${what} (${blobs.map((file) => file.name).join(', ')}). ` +
        `Choose all ${count} parts (…-00001-of-${String(count).padStart(5, '0')}.gguf and the others) together.`,
      { option: 'source' },
    );
  }
  return numbered.sort((a, b) => a.no - b.no).map((part) => part.file);
}

function absoluteUrl(text) {
  const base = globalThis.location ? globalThis.location.href : undefined;
  try {
    return new URL(text, base).href;
  } catch {
    throw new InvalidOptionError(`"${text}" is not a valid URL; pass an absolute URL or one relative to the page.`, {
      option: 'source',
    });
  }
}
