// The routing of one reply, read from the engine while the reply streams.
//
// Token i of a reply is computed by the forward pass at position `firstPosition + i` (the first
// token comes from the prompt's last position, each later one from feeding the token before it),
// and `engine.routing(from, to)` gives the experts chosen at positions [from, to). Reads are
// batched: while one is in flight, newer tokens wait and go in the next read, so a slow engine
// is asked at most once per read, never once per token in a queue.

/**
 * @typedef {number[][]} Choices  [layer] → experts chosen, best first
 */

export class ReplyRouting {
  /**
   * @param {object} engine            has `routing(from, to)` → Promise<Choices[]>
   * @param {number} firstPosition     position whose pass computed the reply's first token
   * @param {{layers: number, experts: number}} shape
   * @param {() => void} onUpdate      called after new choices arrived
   */
  constructor(engine, firstPosition, shape, onUpdate) {
    this.engine = engine;
    this.firstPosition = firstPosition;
    this.shape = shape;
    this.onUpdate = onUpdate;
    /** @type {Choices[]} [token] → choices; filled in token order */
    this.choices = [];
    /** @type {number[][]} [layer][expert] → tokens of this reply routed there */
    this.counts = Array.from({ length: shape.layers }, () => new Array(shape.experts).fill(0));
    this.tokensSeen = 0;
    this.reading = null;
    this.error = null;
  }

  /** The reply now has `count` tokens: read the routing of those not read yet. */
  tokensArrived(count) {
    this.tokensSeen = Math.max(this.tokensSeen, count);
    if (!this.reading) {
      this.reading = this.readPending().finally(() => {
        this.reading = null;
      });
    }
  }

  /** Resolves once every token announced so far has its choices (or a read failed). */
  async settle() {
    while (this.reading) await this.reading;
  }

  /** The choices of token `index`, or null when not read (yet). */
  choicesOf(index) {
    return this.choices[index] || null;
  }

  /** The newest token that has its choices, or -1. */
  latest() {
    return this.choices.length - 1;
  }

  async readPending() {
    try {
      while (this.choices.length < this.tokensSeen && !this.error) {
        const from = this.firstPosition + this.choices.length;
        const to = this.firstPosition + this.tokensSeen;
        const rows = await this.engine.routing(from, to);
        for (const row of rows) this.add(row);
        this.onUpdate();
        if (rows.length === 0) break;
      }
    } catch (error) {
      // The picture is an extra: a failed read leaves it as it was and the reply goes on.
      this.error = error;
      this.onUpdate();
    }
  }

  /** @param {Choices} row */
  add(row) {
    this.choices.push(row);
    row.forEach((experts, layer) => {
      for (const expert of experts) {
        if (this.counts[layer] && expert < this.shape.experts) this.counts[layer][expert] += 1;
      }
    });
  }
}
