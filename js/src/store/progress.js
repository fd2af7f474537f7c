// Progress in bytes for one phase ('download' or 'verify'), throttled so that a fast stream of small
// chunks does not flood the callback (or the worker's postMessage behind it).

const MIN_INTERVAL_MS = 50;

/**
 * A progress counter that calls `onProgress({phase, loaded, total})`: at once on creation, at most
 * every 50 ms while bytes arrive, and always on `finish()`.
 * @param {((event: {phase: string, loaded: number, total: number}) => void)|undefined} onProgress
 * @param {'download'|'verify'} phase
 * @param {number} total bytes of the phase
 * @param {number} [loaded] bytes already done when the phase starts (a resumed download)
 * @returns {{add: (bytes: number) => void, finish: () => void}} `add` takes negative counts too
 *   (the bytes of a failed attempt that will be fetched again)
 * @throws nothing: an error thrown by `onProgress` is reported as uncaught and the work goes on
 */
export function progressCounter(onProgress, phase, total, loaded = 0) {
  let done = loaded;
  let lastEmit = 0;
  const emit = () => {
    lastEmit = Date.now();
    if (!onProgress) return;
    try {
      onProgress({ phase, loaded: done, total });
    } catch (error) {
      // A failing callback is the caller's bug: report it as uncaught, as event listeners' errors
      // are, instead of failing the download with an unrelated message.
      queueMicrotask(() => {
        throw error;
      });
    }
  };
  emit();
  return {
    add(bytes) {
      done += bytes;
      if (Date.now() - lastEmit >= MIN_INTERVAL_MS) emit();
    },
    finish() {
      emit();
    },
  };
}
