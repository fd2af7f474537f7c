// The engine's own figures (`engine.stats()`): speed of the last generation and memory.

import { showDefinitions } from './definition-list.js';
import { formatBytes, formatRate } from './format.js';

/**
 * @typedef {object} EngineStats  what `engine.stats()` returns
 * @property {number} promptTokens
 * @property {number} generatedTokens
 * @property {number} prefillTokensPerSecond
 * @property {number} decodeTokensPerSecond
 * @property {number} positions          filled positions of the KV cache
 * @property {number[][]} expertCounts   [layer][expert] over the current sequence
 * @property {{weights: number, kvCache: number, scratch: number, total: number}} gpuMemory bytes
 * @property {number} wasmMemory         bytes of the WebAssembly memory (its peak: it only grows)
 */

export class StatsView {
  /** @param {HTMLDListElement} list */
  constructor(list) {
    this.list = list;
  }

  clear() {
    this.list.replaceChildren();
  }

  /**
   * @param {EngineStats} stats
   * @param {{name: string, layers: number, experts: number, topK: number|null}} model
   */
  show(stats, model) {
    const gpu = stats.gpuMemory || {};
    const rows = [
      ['Model', model.name],
      ['Layout', describeLayout(model)],
      ['Prompt', stats.promptTokens ? `${stats.promptTokens} tokens` : '—'],
      ['Prefill', formatRate(stats.prefillTokensPerSecond)],
      ['Generated', stats.generatedTokens ? `${stats.generatedTokens} tokens` : '—'],
      ['Decode', formatRate(stats.decodeTokensPerSecond)],
      ['Context used', `${stats.positions || 0} positions`],
      ['GPU memory', formatBytes(gpu.total)],
      ['· weights', formatBytes(gpu.weights)],
      ['· KV cache', formatBytes(gpu.kvCache)],
      ['· scratch', formatBytes(gpu.scratch)],
      ['Wasm memory', formatBytes(stats.wasmMemory)],
    ];
    showDefinitions(this.list, rows);
  }
}

function describeLayout({ layers, experts, topK }) {
  if (experts <= 1) return `${layers} layers, dense`;
  return `${layers} layers × ${experts} experts${topK ? `, top-${topK}` : ''}`;
}
