// The manifest record of a stored model: where its bytes came from, how they are cut into shards,
// and which shards are stored, each with its length and SHA-256.
//
//   {
//     key: string,                 the model key (see sources.js)
//     kind: 'url' | 'file' | 'blob',
//     sources: string[],           absolute URLs in part order, or the file's name
//     shardSize: number,           bytes per shard; the last shard of a part may be shorter
//     size: number,                bytes of all parts together
//     parts: [{
//       source: string,
//       size: number,
//       etag: string | null,       validators seen when the download started; a change means the
//       lastModified: string|null, file was replaced and the stored shards are stale
//       shards: ({length: number, sha256: string} | null)[]   null: not stored yet
//     }],
//     complete: boolean,           every shard of every part is stored
//     storedAt: number,            ms since the epoch when the record was created
//     updatedAt: number,           ms since the epoch of the last shard written
//   }
//
// Shard i of a part covers bytes [i·shardSize, min((i+1)·shardSize, part.size)).

/**
 * How many shards a part of `size` bytes has.
 * @param {number} size
 * @param {number} shardSize
 * @returns {number}
 */
export function shardCount(size, shardSize) {
  return Math.ceil(size / shardSize);
}

/**
 * The byte span of shard `index` of a part.
 * @param {number} partSize
 * @param {number} shardSize
 * @param {number} index
 * @returns {{start: number, length: number}}
 */
export function shardSpan(partSize, shardSize, index) {
  const start = index * shardSize;
  return { start, length: Math.min(shardSize, partSize - start) };
}

/**
 * A manifest with no shard stored yet.
 * @param {object} model
 * @param {string} model.key
 * @param {'url'|'file'|'blob'} model.kind
 * @param {{source: string, size: number, etag?: string|null, lastModified?: string|null}[]} model.parts
 * @param {number} model.shardSize
 * @returns {object} the manifest record
 */
export function createManifest({ key, kind, parts, shardSize }) {
  const now = Date.now();
  return {
    key,
    kind,
    sources: parts.map((part) => part.source),
    shardSize,
    size: parts.reduce((sum, part) => sum + part.size, 0),
    parts: parts.map((part) => ({
      source: part.source,
      size: part.size,
      etag: part.etag || null,
      lastModified: part.lastModified || null,
      shards: new Array(shardCount(part.size, shardSize)).fill(null),
    })),
    complete: parts.every((part) => part.size === 0),
    storedAt: now,
    updatedAt: now,
  };
}

/**
 * Whether a stored part is still the file the server has now: same size, and same validators.
 * @param {{size: number, etag: string|null, lastModified: string|null}} stored
 * @param {{size: number, etag: string|null, lastModified: string|null}} current
 * @returns {boolean}
 */
export function isSameFile(stored, current) {
  return stored.size === current.size && validatorsAgree(stored, current);
}

/**
 * Whether two sets of HTTP validators name the same file version. Strong evidence first: the ETag
 * when both sides have one, else Last-Modified when both have it; with neither, nothing contradicts.
 * @param {{etag: string|null, lastModified: string|null}} a
 * @param {{etag: string|null, lastModified: string|null}} b
 * @returns {boolean}
 */
export function validatorsAgree(a, b) {
  if (a.etag && b.etag) return a.etag === b.etag;
  if (a.lastModified && b.lastModified) return a.lastModified === b.lastModified;
  return true;
}

/**
 * The shards not stored yet, in file order.
 * @param {object} manifest
 * @returns {{part: number, index: number, start: number, length: number}[]}
 */
export function missingShards(manifest) {
  const missing = [];
  manifest.parts.forEach((part, partIndex) => {
    part.shards.forEach((record, index) => {
      if (!record) missing.push({ part: partIndex, index, ...shardSpan(part.size, manifest.shardSize, index) });
    });
  });
  return missing;
}

/**
 * The shards stored, with their records, in file order.
 * @param {object} manifest
 * @returns {{part: number, index: number, length: number, sha256: string}[]}
 */
export function storedShards(manifest) {
  const stored = [];
  manifest.parts.forEach((part, partIndex) => {
    part.shards.forEach((record, index) => {
      if (record) stored.push({ part: partIndex, index, length: record.length, sha256: record.sha256 });
    });
  });
  return stored;
}

/**
 * Bytes of all stored shards.
 * @param {object} manifest
 * @returns {number}
 */
export function storedBytes(manifest) {
  return storedShards(manifest).reduce((sum, shard) => sum + shard.length, 0);
}

/**
 * Record a stored shard in the manifest (in place) and refresh `complete`.
 * @param {object} manifest
 * @param {number} part
 * @param {number} index
 * @param {{length: number, sha256: string}} record
 * @returns {void}
 */
export function recordShard(manifest, part, index, record) {
  manifest.parts[part].shards[index] = record;
  manifest.complete = manifest.parts.every((p) => p.shards.every(Boolean));
  manifest.updatedAt = Date.now();
}

/**
 * Forget shards in the manifest (in place): they must be stored again.
 * @param {object} manifest
 * @param {{part: number, index: number}[]} shards
 * @returns {void}
 */
export function forgetShards(manifest, shards) {
  for (const { part, index } of shards) manifest.parts[part].shards[index] = null;
  if (shards.length > 0) manifest.complete = false;
}

/**
 * The public description of a stored model (what listCached returns).
 * @param {object} manifest
 * @returns {{key: string, sources: string[], size: number, storedBytes: number, complete: boolean,
 *   storedAt: number, shardSize: number}}
 */
export function describeManifest(manifest) {
  return {
    key: manifest.key,
    sources: manifest.sources.slice(),
    size: manifest.size,
    storedBytes: storedBytes(manifest),
    complete: manifest.complete,
    storedAt: manifest.storedAt,
    shardSize: manifest.shardSize,
  };
}
