// An async iterator over the chunks of one generation that runs in the worker.
//
// The generation starts on the first `next()` (a stream that is never iterated costs nothing).
// The worker sends chunks as fast as the GPU makes them; they wait here until the consumer asks.
// Leaving a `for await` loop early (`return()`) cancels the generation in the worker.

/**
 * @template T
 * @typedef {object} Run what `start` returns
 * @property {Promise<object>} done resolves with the generation's result (finish reason, usage)
 *   once the last chunk was sent, rejects with the error that ended it
 * @property {() => void} cancel asks the worker to stop after the current token
 */

/** @template T */
export class ChunkStream {
  #start;
  #run = null;
  #chunks = [];
  #wake = null;
  #ended = false;
  #error = null;
  #closed = false;
  #resolveResult;
  #rejectResult;

  /**
   * @param {(onChunk: (chunk: T) => void) => Run<T>} start begins the generation
   */
  constructor(start) {
    this.#start = start;
    /** The generation's result once it has ended: { finishReason, usage }. */
    this.result = new Promise((resolve, reject) => {
      this.#resolveResult = resolve;
      this.#rejectResult = reject;
    });
    // The result is also reported through the iterator; an unobserved rejection is not an error.
    this.result.catch(() => {});
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  #begin() {
    this.#run = this.#start((chunk) => {
      if (this.#closed) return;
      this.#chunks.push(chunk);
      this.#notify();
    });
    this.#run.done.then(
      (result) => {
        this.#ended = true;
        this.#resolveResult(result);
        this.#notify();
      },
      (error) => {
        this.#ended = true;
        if (!this.#closed) this.#error = error;
        this.#rejectResult(error);
        this.#notify();
      },
    );
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = null;
    if (wake) wake();
  }

  /** @returns {Promise<IteratorResult<T, undefined>>} */
  async next() {
    if (!this.#run) this.#begin();
    for (;;) {
      if (this.#chunks.length > 0) return { value: this.#chunks.shift(), done: false };
      if (this.#error) {
        const error = this.#error;
        this.#error = null;
        throw error;
      }
      if (this.#ended) return { value: undefined, done: true };
      await new Promise((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Stop early: the worker cancels the generation; chunks not yet read are dropped. */
  async return() {
    if (this.#run && !this.#ended) this.#run.cancel();
    this.#closed = true;
    this.#chunks = [];
    this.#error = null;
    this.#ended = true;
    this.#notify();
    return { value: undefined, done: true };
  }
}
