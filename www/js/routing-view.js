// The routing panel's state: which reply and which token the heatmap shows. By default the newest
// reply and its newest token; while a token of any reply is pointed at (mouse) or focused
// (keyboard), that token and its reply.

import { Heatmap } from './heatmap.js';

const NO_MODEL = 'Load a Mixture-of-Experts model and send a message to see its routing.';
const HOW_TO_EXPLORE = 'Point at a token, or step through a reply with the arrow keys, to see its choices.';

export class RoutingView {
  /**
   * @param {object} elements
   * @param {HTMLElement} elements.host      where the heatmap goes
   * @param {HTMLElement} elements.legend    the legend, hidden without a heatmap
   * @param {HTMLElement} elements.tokenLabel the legend's words for the outlined token
   * @param {HTMLElement} elements.caption   what the heatmap shows, or why it cannot
   */
  constructor({ host, legend, tokenLabel, caption }) {
    this.heatmap = new Heatmap(host);
    this.legend = legend;
    this.tokenLabel = tokenLabel;
    this.caption = caption;
    this.routed = false;
    /** @type {import('./chat-view.js').Reply|null} */
    this.latestReply = null;
    /** @type {import('./chat-view.js').TokenTarget|null} */
    this.pointed = null;
    this.queued = false;
    /** @type {import('./heatmap.js').Residency[][]|null} where each expert is now, when experts stream */
    this.residency = null;
    this.heatmap.showEmpty(NO_MODEL);
  }

  /**
   * A model was loaded (null: unloaded).
   * @param {{layers: number, experts: number, expertsUsed: number}|null} model
   */
  setModel(model) {
    this.routed = Boolean(model) && model.experts > 1;
    this.latestReply = null;
    this.pointed = null;
    this.residency = null;
    this.legend.hidden = !this.routed;
    if (!model) this.heatmap.showEmpty(NO_MODEL);
    else if (this.routed) this.heatmap.setShape(model.layers, model.experts, model.expertsUsed);
    else this.heatmap.showDense(model.layers);
    this.refresh();
  }

  /**
   * Where each expert is now: [layer][expert] → "resident" or "streamed"; null when every expert
   * is on the GPU. It describes the cache at the newest token, whichever token is shown.
   * @param {import('./heatmap.js').Residency[][]|null} residency
   */
  setResidency(residency) {
    this.residency = residency;
    this.refresh();
  }

  /** The newest reply (null: the conversation was cleared). */
  setLatestReply(reply) {
    if (this.latestReply && this.latestReply !== reply) this.latestReply.highlight(null);
    this.latestReply = reply;
    this.refresh();
  }

  /** A token is pointed at or focused; null: none is. */
  pointAt(target) {
    if (this.pointed && this.pointed.reply !== (target && target.reply)) this.pointed.reply.highlight(null);
    this.pointed = target;
    this.refresh();
  }

  /** Redraw at the next frame (many updates in one frame draw once). */
  refresh() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  draw() {
    if (!this.routed) return;
    this.heatmap.setExpertResidency(this.residency);
    for (const item of this.legend.querySelectorAll('[data-residency-legend]')) item.hidden = !this.residency;
    const reply = this.pointed ? this.pointed.reply : this.latestReply;
    const routing = reply && reply.routing;
    if (!routing) {
      this.heatmap.setCounts(null);
      this.heatmap.showChoices(null);
      this.tokenLabel.textContent = "newest token's choices";
      this.caption.textContent = `Experts chosen in each layer for each generated token. ${HOW_TO_EXPLORE}`;
      return;
    }
    const index = this.pointed ? this.pointed.index : routing.latest();
    this.heatmap.setCounts(routing.counts);
    this.heatmap.showChoices(routing.choicesOf(index));
    reply.highlight(index >= 0 ? index : null);
    const token = reply.tokens[index];
    const text = token ? JSON.stringify(token.textContent) : '';
    this.tokenLabel.textContent = this.pointed ? `choices for token ${index + 1} ${text}` : `newest token's choices ${text}`;
    this.caption.textContent = routing.error
      ? `The routing could not be read: ${routing.error.message}`
      : `Experts chosen in each layer for the ${routing.choices.length} tokens of ${this.pointed ? 'this' : 'the newest'} reply. ${HOW_TO_EXPLORE}`;
  }
}
