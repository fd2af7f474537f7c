// Live speed of the reply being streamed: time to the first token, then tokens per second.

import { formatCount, formatRate } from './format.js';

export class SpeedMeter {
  /** @param {HTMLElement} element where the figures are written */
  constructor(element) {
    this.element = element;
    this.start = performance.now();
    this.firstToken = null;
    this.lastToken = null;
    this.tokens = 0;
    this.element.textContent = 'Running the prompt…';
  }

  /** The reply now has `tokens` tokens. */
  tick(tokens) {
    const now = performance.now();
    if (this.firstToken === null) this.firstToken = now;
    this.lastToken = now;
    this.tokens = tokens;
    this.show();
  }

  /** The reply ended (or never started). */
  done() {
    if (this.tokens === 0) this.element.textContent = '';
    else this.show();
  }

  show() {
    const waited = (this.firstToken - this.start) / 1000;
    const decodeSeconds = (this.lastToken - this.firstToken) / 1000;
    // The first token comes out of the prompt's pass; decode speed counts the ones after it.
    const rate = this.tokens > 1 && decodeSeconds > 0 ? (this.tokens - 1) / decodeSeconds : NaN;
    this.element.textContent = `${formatCount(this.tokens, 'token')} · first after ${waited.toFixed(2)} s · ${formatRate(rate)}`;
  }
}
