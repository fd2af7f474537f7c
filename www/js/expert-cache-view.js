// The expert cache panel beside the routing heatmap: how many expert slots are on the GPU (in
// pools the layers share) and what streaming the others costs (hits and misses, bytes uploaded,
// prefetches, stalls).

import { showDefinitions } from './definition-list.js';
import { formatBytes, formatDuration } from './format.js';

/** @typedef {import('./expert-cache-monitor.js').CacheFigures} CacheFigures */

const NO_MODEL = 'Load a model to see where its experts are.';

export class ExpertCacheView {
  /**
   * @param {object} elements
   * @param {HTMLElement} elements.summary  one sentence on where the experts are
   * @param {HTMLDListElement} elements.list the figures, when experts stream
   */
  constructor({ summary, list }) {
    this.summary = summary;
    this.list = list;
    this.show(null);
  }

  /** @param {CacheFigures|null} figures null: no model */
  show(figures) {
    if (!figures) {
      this.summary.textContent = NO_MODEL;
      this.list.replaceChildren();
      this.list.hidden = true;
      return;
    }
    const { experts, layers, slots } = figures;
    const streaming = experts > 1 && figures.residency !== null;
    const all = experts * layers;
    this.list.hidden = !streaming;
    if (experts <= 1) {
      this.summary.textContent = 'A dense model has no experts to stream: all its weights are on the GPU.';
    } else if (!streaming) {
      this.summary.textContent = `All ${experts} experts of each layer are on the GPU: nothing streams. Set a GPU memory budget before loading to stream experts in.`;
    } else {
      this.summary.textContent =
        `${slots} of the ${all} experts fit on the GPU, in slots the ${layers} layers share (those there now are marked in the heatmap); ` +
        'the others stream in from where the model is read (this browser’s storage, the file or the server) when the router picks them.';
    }
    if (!streaming) {
      this.list.replaceChildren();
      return;
    }
    const choices = figures.hits + figures.misses;
    const rows = [
      ['Expert slots', `${slots} of ${all} experts`],
      ['Hits', String(figures.hits)],
      ['Misses', String(figures.misses)],
      ['Hit rate', choices > 0 ? `${percent(figures.hitRate)} of ${choices} choices` : '—'],
      ['Uploaded per token', figures.bytesPerToken === null ? '—' : formatBytes(figures.bytesPerToken)],
      ['Uploaded in total', formatBytes(figures.bytesUploaded)],
      ['Prefetches', String(figures.prefetches)],
      ['· then chosen', String(figures.prefetchHits)],
      ['· wasted', String(figures.prefetchWasted)],
      ['Stall time', formatDuration(figures.stallSeconds)],
    ];
    showDefinitions(this.list, rows);
  }
}

/**
 * Where each expert is, for the heatmap: [layer][expert] → "resident" (in a GPU slot) or
 * "streamed" (uploaded when chosen); null when every expert is resident.
 * @param {(number|null)[][]|null} residency [layer][slot of its pool] → the layer's expert the slot
 *   holds (null: empty or another layer's)
 * @param {number} experts experts per layer
 * @returns {("resident"|"streamed")[][]|null}
 */
export function residencyByExpert(residency, experts) {
  if (!residency) return null;
  return residency.map((slots) => {
    const held = new Set(slots.filter((expert) => expert !== null));
    return Array.from({ length: experts }, (_, expert) => (held.has(expert) ? 'resident' : 'streamed'));
  });
}

function percent(share) {
  return `${Math.round(share * 100)}%`;
}
