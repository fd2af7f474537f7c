// What a model source is, and the key its stored copy lives under.
//
// Keys:
//   one URL            the absolute URL itself (so a URL can be passed wherever a key is expected)
//   a list of URLs     the absolute URLs joined by "\n" (a parsed URL never contains a newline)
//   File               "file:<name>:<size>:<lastModified>" (a changed file has a new lastModified)
//   Blob               "blob:<sha256 of the shard hashes>" (a Blob has no other identity; see import.js)

import { InvalidOptionError } from '../errors.js';

/**
 * A model source, classified.
 * @typedef {{kind: 'url', key: string, urls: string[]}
 *   | {kind: 'file', key: string, blob: File, name: string}
 *   | {kind: 'blob', key: null, blob: Blob, name: string}} Source
 */

/**
 * Classify a source and give its key (null for a Blob: its key needs its content, see import.js).
 * @param {string|string[]|File|Blob} source
 * @returns {Source}
 * @throws {InvalidOptionError} for anything else, an empty list, or a string that is not a URL
 */
export function describeSource(source) {
  if (typeof File !== 'undefined' && source instanceof File) {
    return {
      kind: 'file',
      key: `file:${source.name}:${source.size}:${source.lastModified}`,
      blob: source,
      name: source.name,
    };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return { kind: 'blob', key: null, blob: source, name: 'blob' };
  }
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
    const urls = source.map((item, index) => {
      if (typeof item !== 'string') {
        throw new InvalidOptionError(
          `Part ${index} of the model source is not a URL string; pass the URLs of the parts in order.`,
          { option: 'source' },
        );
      }
      return absoluteUrl(item);
    });
    return { kind: 'url', key: urls.join('\n'), urls };
  }
  throw new InvalidOptionError(
    'The model source must be a URL string, a list of URL strings (split GGUF parts), a File or a Blob.',
    {
      option: 'source',
    },
  );
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
