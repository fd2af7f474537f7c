// Progress in bytes for one phase ('download', 'verify' or 'upload'), with the phase's speed so far
// and an estimate of the time left, throttled so that a fast stream of small chunks does not flood
// the callback (or the worker's postMessage behind it).

const MIN_INTERVAL_MS = 50;
/** No estimate before this much of the phase has run: the first chunks say little about the rate. */
const MIN_ESTIMATE_MS = 500;

/**
 * One progress report.
 * @typedef {object} Progress
 * @property {'download'|'verify'|'upload'} phase
 * @property {number} loaded bytes done in this phase
 * @property {number} total bytes of the whole phase
 * @property {number|null} bytesPerSecond the phase's average speed so far (bytes done in this load
 *   over the time since the phase started); null until half a second of it has run
 * @property {number|null} etaSeconds the time the rest of the phase takes at that speed; 0 when the
 *   phase is done, null while unknown
 */

/**
 * A progress counter that calls `onProgress(progress)`: at once on creation, at most every 50 ms
 * while bytes arrive, and always on `finish()`.
 * @param {((event: Progress) => void)|undefined} onProgress
 * @param {'download'|'verify'|'upload'} phase
 * @param {number} total bytes of the phase
 * @param {number} [loaded] bytes already done when the phase starts (a resumed download); they do
 *   not count towards the speed
 * @param {number} [started] when the phase started (ms since the epoch), if before this call
 * @returns {{add: (bytes: number) => void, set: (loaded: number) => void, finish: () => void}} `add`
 *   takes negative counts too (the bytes of a failed attempt that will be fetched again); `set`
 *   gives the bytes done so far instead
 * @throws nothing: an error thrown by `onProgress` is reported as uncaught and the work goes on
 */
export function progressCounter(onProgress, phase, total, loaded = 0, started = Date.now()) {
  const initial = loaded;
  let done = loaded;
  let lastEmit = 0;
  const emit = () => {
    const now = Date.now();
    lastEmit = now;
    if (!onProgress) return;
    try {
      onProgress({ phase, loaded: done, total, ...estimate(now - started, done - initial, total - done) });
    } catch (error) {
      // A failing callback is the caller's bug: report it as uncaught, as event listeners' errors
      // are, instead of failing the download with an unrelated message.
      queueMicrotask(() => {
        throw error;
      });
    }
  };
  emit();
  const changed = () => {
    if (Date.now() - lastEmit >= MIN_INTERVAL_MS) emit();
  };
  return {
    add(bytes) {
      done += bytes;
      changed();
    },
    set(bytes) {
      done = bytes;
      changed();
    },
    finish() {
      emit();
    },
  };
}

/** Speed and time left, from the time spent and the bytes done and left. */
function estimate(elapsedMs, doneBytes, leftBytes) {
  if (leftBytes <= 0) return { bytesPerSecond: elapsedMs > 0 && doneBytes > 0 ? (1000 * doneBytes) / elapsedMs : null, etaSeconds: 0 };
  if (elapsedMs < MIN_ESTIMATE_MS || doneBytes <= 0) return { bytesPerSecond: null, etaSeconds: null };
  const bytesPerSecond = (1000 * doneBytes) / elapsedMs;
  return { bytesPerSecond, etaSeconds: leftBytes / bytesPerSecond };
}
