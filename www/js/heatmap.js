// The routing heatmap: a table of layers (rows) × experts (columns). A cell's colour is how many
// tokens of the reply the router sent to that expert in that layer; outlined cells are the
// choices of one token (the newest, or the one pointed at). When experts stream in, a corner mark
// shows the experts on the GPU now and a hatch the others. A dense model has no routing: the
// heatmap says so instead of drawing an empty table.

/**
 * @typedef {number[][]} Counts       [layer][expert] → tokens routed there
 * @typedef {number[][]} Choices      [layer] → the experts chosen, best first
 * @typedef {("resident"|"streamed")} Residency  where an expert's weights are: in a GPU slot of
 *   the expert cache, or off the GPU (uploaded when the router chooses it)
 */

/** Above this many experts, cells are too narrow for their count and show colour only. */
const MAX_EXPERTS_WITH_NUMBERS = 16;

export class Heatmap {
  /** @param {HTMLElement} host the element the table (or the dense-model note) goes in */
  constructor(host) {
    this.host = host;
    this.layers = 0;
    this.experts = 0;
    /** @type {HTMLTableCellElement[][]} [layer][expert] */
    this.cells = [];
    this.showEmpty('Load a Mixture-of-Experts model and send a message to see its routing.');
  }

  /** A note in place of the table (no model yet, or a dense model). */
  showEmpty(text) {
    this.layers = 0;
    this.experts = 0;
    this.cells = [];
    const note = document.createElement('p');
    note.className = 'heatmap-note';
    note.textContent = text;
    this.host.replaceChildren(note);
  }

  /** The model is dense: one feed-forward block per layer, nothing to route. */
  showDense(layers) {
    this.showEmpty(
      `This model is dense: each of its ${layers} layers has one feed-forward block that every token goes through, ` +
        'so there is no routing to show. Load a Mixture-of-Experts model (such as a tiny MoE fixture) to see the experts at work.',
    );
  }

  /** Build an empty table for a model of `layers` × `experts` choosing `topK` per token. */
  setShape(layers, experts, topK) {
    this.layers = layers;
    this.experts = experts;
    const table = document.createElement('table');
    table.className = 'heatmap';
    table.classList.toggle('compact', experts > MAX_EXPERTS_WITH_NUMBERS);
    table.style.setProperty('--experts', String(experts));
    const caption = document.createElement('caption');
    caption.className = 'visually-hidden';
    caption.textContent = `Tokens routed to each of ${experts} experts (columns) in each of ${layers} layers (rows), ${topK} experts per token`;
    const head = table.createTHead().insertRow();
    head.append(headerCell('th', 'Layer', 'col', 'corner'));
    for (let e = 0; e < experts; e += 1) head.append(headerCell('th', String(e), 'col', 'expert-heading', `Expert ${e}`));
    const body = table.createTBody();
    this.cells = [];
    for (let l = 0; l < layers; l += 1) {
      const row = body.insertRow();
      row.append(headerCell('th', String(l), 'row', 'layer-heading', `Layer ${l}`));
      const cells = [];
      for (let e = 0; e < experts; e += 1) {
        const cell = row.insertCell();
        cell.className = 'cell';
        cell.dataset.layer = String(l);
        cell.dataset.expert = String(e);
        cells.push(cell);
      }
      this.cells.push(cells);
    }
    this.host.replaceChildren(table);
    this.setCounts(null);
  }

  /** Colour every cell by its count (null: all zero). @param {Counts|null} counts */
  setCounts(counts) {
    let max = 0;
    for (const row of counts || []) for (const n of row) max = Math.max(max, n);
    for (let l = 0; l < this.layers; l += 1) {
      for (let e = 0; e < this.experts; e += 1) {
        const n = (counts && counts[l] && counts[l][e]) || 0;
        const cell = this.cells[l][e];
        const heat = max > 0 ? n / max : 0;
        cell.style.setProperty('--heat', heat.toFixed(3));
        cell.classList.toggle('hot', heat > 0.55);
        cell.classList.toggle('filled', n > 0);
        cell.dataset.count = String(n);
        cell.textContent = this.experts <= MAX_EXPERTS_WITH_NUMBERS && n > 0 ? String(n) : '';
        this.describe(cell);
      }
    }
  }

  /**
   * Outline one token's choices (null clears them).
   * @param {Choices|null} choices
   */
  showChoices(choices) {
    for (let l = 0; l < this.layers; l += 1) {
      const chosen = (choices && choices[l]) || [];
      for (let e = 0; e < this.experts; e += 1) {
        const cell = this.cells[l][e];
        const rank = chosen.indexOf(e);
        cell.classList.toggle('chosen', rank >= 0);
        if (rank >= 0) cell.dataset.rank = String(rank + 1);
        else delete cell.dataset.rank;
        this.describe(cell);
      }
    }
  }

  /**
   * Mark where each expert's weights are now (null removes the marks, as when every expert is
   * on the GPU). Styling keys off the cells' `data-residency` attribute.
   * @param {Residency[][]|null} expertResidency [layer][expert]
   */
  setExpertResidency(expertResidency) {
    for (let l = 0; l < this.layers; l += 1) {
      for (let e = 0; e < this.experts; e += 1) {
        const cell = this.cells[l][e];
        const residency = expertResidency && expertResidency[l] ? expertResidency[l][e] : undefined;
        if (residency) cell.dataset.residency = residency;
        else delete cell.dataset.residency;
        this.describe(cell);
      }
    }
  }

  /** Keep the cell's spoken text in step with what it shows. */
  describe(cell) {
    const { layer, expert, count = '0', rank, residency } = cell.dataset;
    let text = `Layer ${layer}, expert ${expert}: ${count} token${count === '1' ? '' : 's'}`;
    if (rank) text += `; choice ${rank} of the shown token`;
    if (residency) text += residency === 'resident' ? '; on the GPU' : '; not on the GPU, streamed in when chosen';
    cell.setAttribute('aria-label', text);
    cell.title = text;
  }
}

function headerCell(tag, text, scope, className, label) {
  const cell = document.createElement(tag);
  cell.scope = scope;
  cell.className = className;
  cell.textContent = text;
  if (label) cell.setAttribute('aria-label', label);
  return cell;
}
