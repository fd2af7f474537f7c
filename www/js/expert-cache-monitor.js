// The expert cache while replies stream. When experts stream in (a GPU budget smaller than the
// model's experts), `engine.stats()` is read after each token: one read at a time, and tokens
// that arrive during a read are covered by the next one, so a slow engine is never asked once per
// token in a queue. With every expert on the GPU nothing changes between tokens and only the
// figures read after the load and after each reply are shown.

/**
 * @typedef {object} CacheFigures     what the expert cache panel shows
 * @property {number} experts         experts per layer
 * @property {number} layers          layers of the model
 * @property {number} slots           expert slots on the GPU, in pools shared by the layers
 * @property {(number|null)[][]|null} residency  [layer][slot of its pool] → expert of the layer
 *   held (null: empty or another layer's); null: all resident
 * @property {number} hits
 * @property {number} misses
 * @property {number} hitRate         hits / (hits + misses)
 * @property {number} bytesUploaded   since the load
 * @property {number|null} bytesPerToken  uploaded per decoded token of the current reply, null before two tokens
 * @property {number} prefetches
 * @property {number} prefetchHits
 * @property {number} prefetchWasted
 * @property {number} stallSeconds    since the load
 */

export class ExpertCacheMonitor {
  /** @param {(figures: CacheFigures|null) => void} onUpdate called with each new reading (null: no model) */
  constructor(onUpdate) {
    this.onUpdate = onUpdate;
    this.engine = null;
    this.experts = 0;
    this.layers = 0;
    this.streaming = false;
    /** The reply's first reading: per-token figures count from it. */
    this.baseline = null;
    this.reading = null;
    this.pending = false;
  }

  /** A model was loaded (its engine and `engine.model`), or unloaded (null). */
  setEngine(engine, model) {
    this.engine = engine;
    this.experts = model ? model.experts : 0;
    this.layers = model ? model.layers : 0;
    this.streaming = false;
    this.baseline = null;
    if (!engine) this.onUpdate(null);
  }

  /** A reply starts: its per-token figures start with its first reading. */
  startReply() {
    this.baseline = null;
  }

  /** A token of the reply arrived. */
  tokenArrived() {
    if (!this.streaming || !this.engine) return;
    this.pending = true;
    if (!this.reading) {
      this.reading = this.readPending().finally(() => {
        this.reading = null;
      });
    }
  }

  /** Resolves once the reads asked for so far are done. */
  async settle() {
    while (this.reading) await this.reading;
  }

  /** Figures read elsewhere (`engine.stats()` after the load or a reply). */
  show(stats) {
    const cache = stats.expertCache;
    this.streaming = this.experts > 1 && cache.residency !== null;
    if (stats.generatedTokens > 0 && !this.baseline) this.baseline = { tokens: stats.generatedTokens, bytes: cache.bytesUploaded };
    const base = this.baseline;
    const decoded = base ? stats.generatedTokens - base.tokens : 0;
    this.onUpdate({
      experts: this.experts,
      layers: this.layers,
      slots: cache.slots,
      residency: cache.residency,
      hits: cache.hits,
      misses: cache.misses,
      hitRate: cache.hitRate,
      bytesUploaded: cache.bytesUploaded,
      bytesPerToken: decoded > 0 ? (cache.bytesUploaded - base.bytes) / decoded : null,
      prefetches: cache.prefetches,
      prefetchHits: cache.prefetchHits,
      prefetchWasted: cache.prefetchWasted,
      stallSeconds: cache.stallSeconds,
    });
  }

  async readPending() {
    const engine = this.engine;
    while (this.pending && engine === this.engine) {
      this.pending = false;
      try {
        const stats = await engine.stats();
        if (engine === this.engine) this.show(stats);
      } catch {
        // The figures are an extra: an unloaded or failed engine reports its error elsewhere.
        return;
      }
    }
  }
}
