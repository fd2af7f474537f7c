// The demo's controller: loads a model, runs chat turns, and keeps the routing picture, the expert
// cache and the engine figures in step with what is streamed. Views do the drawing; this file
// holds the state.

import { BudgetField } from './budget-field.js';
import { ChatView } from './chat-view.js';
import { ErrorView, isAbort } from './error-view.js';
import { ExpertCacheMonitor } from './expert-cache-monitor.js';
import { ExpertCacheView, residencyByExpert } from './expert-cache-view.js';
import { formatBytes } from './format.js';
import { describeFinish, streamReply } from './generation.js';
import { ModelPicker } from './model-picker.js';
import { ProgressView } from './progress-view.js';
import { ReplyRouting } from './routing-tracker.js';
import { RoutingView } from './routing-view.js';
import { SamplingForm } from './sampling.js';
import { SpeedMeter } from './speed-meter.js';
import { StatsView } from './stats-view.js';

const byId = (id) => document.getElementById(id);

/** Where the loaded engine reads its model, as the load status says it (`engine.model.readFrom`). */
const READ_FROM = {
  storage: 'read from this browser’s storage',
  file: 'read in place from the file on disk, nothing stored',
  network: 'read from the server, nothing stored',
};

/** A URL or the URLs of a split model, as opposed to Files. */
function isUrlSource(source) {
  return typeof source === 'string' || (Array.isArray(source) && typeof source[0] === 'string');
}

export class DemoApp {
  /** @param {object} webmoe the package module: `{ Engine, … }` */
  constructor(webmoe) {
    this.Engine = webmoe.Engine;
    /** The loaded engine, and its model's description (`engine.model` plus the chosen label). */
    this.engine = null;
    this.model = null;
    /** AbortControllers of the load and of the reply in progress, null when none is. */
    this.loading = null;
    this.generating = null;
    /** Whether a turn is starting or running: a second Send is refused until it ends. */
    this.sending = false;
    /** The promise of the reply in progress (it never rejects). */
    this.turn = null;
    /** The conversation so far, for the chat template. */
    this.messages = [];
    /** The newest reply: the next turn waits until its routing is read. */
    this.latestReply = null;

    this.errors = new ErrorView({
      banner: byId('error-banner'),
      name: byId('error-name'),
      message: byId('error-message'),
      dismiss: byId('error-dismiss'),
    });
    this.progress = new ProgressView(byId('progress-group'), byId('load-status'));
    this.sampling = new SamplingForm(byId('sampling-form'));
    this.routingView = new RoutingView({
      host: byId('heatmap'),
      legend: byId('heatmap-legend'),
      tokenLabel: byId('legend-current-label'),
      caption: byId('routing-caption'),
    });
    this.stats = new StatsView(byId('stats'));
    this.budget = new BudgetField({ amount: byId('gpu-budget'), unit: byId('gpu-budget-unit') });
    this.cacheView = new ExpertCacheView({ summary: byId('cache-summary'), list: byId('cache-figures') });
    this.cacheMonitor = new ExpertCacheMonitor((figures) => {
      this.cacheView.show(figures);
      this.routingView.setResidency(figures && residencyByExpert(figures.residency, figures.experts));
    });
    this.chat = new ChatView(byId('transcript'), (target) => this.routingView.pointAt(target));
    this.picker = new ModelPicker(
      {
        urlForm: byId('url-form'),
        urlField: byId('model-url'),
        presetList: byId('preset-list'),
        cachedList: byId('cached-list'),
        cachedEmpty: byId('cached-empty'),
        dropZone: byId('drop-zone'),
        fileInput: byId('model-file'),
      },
      {
        onLoad: (source, label) => this.load(source, label),
        onDelete: (model) => this.deleteCached(model),
        onInvalid: (message) => this.errors.show(new Error(message)),
      },
    );
    this.wireChat();
    byId('cancel-load').addEventListener('click', () => this.loading && this.loading.abort());
    byId('unload').addEventListener('click', () => this.unload());
  }

  /** Start with every control usable (WebGPU is there). */
  start() {
    this.picker.setEnabled(true);
    this.refreshCached();
  }

  /** Without WebGPU nothing can load, but stored models can still be listed and deleted. */
  startWithoutGpu() {
    this.picker.setEnabled(false);
    this.refreshCached();
  }

  wireChat() {
    const form = byId('prompt-form');
    const field = byId('prompt');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      } else if (event.key === 'Escape' && this.generating) {
        this.generating.abort();
      }
    });
    byId('stop').addEventListener('click', () => this.generating && this.generating.abort());
    byId('clear-chat').addEventListener('click', () => this.clearChat());
  }

  // Models

  async refreshCached() {
    try {
      this.picker.renderCached(await this.Engine.listCached());
    } catch (error) {
      this.errors.show(error);
    }
  }

  async deleteCached(model) {
    const name = (model.sources && model.sources[0]) || model.key;
    if (!window.confirm(`Delete ${name} from this browser's storage? A later load downloads it again.`)) return;
    try {
      await this.Engine.deleteCached(model.key);
    } catch (error) {
      this.errors.show(error);
    }
    await this.refreshCached();
  }

  /**
   * Load a model: a URL is stored in this browser, unless it is larger than the browser lets this
   * site store (the engine refuses it with QuotaExceededError before downloading anything): it is
   * then read from the server as needed, storing nothing. A File is read in place.
   * @param {string|string[]|File|File[]} source @param {string} label
   */
  async load(source, label) {
    // One load at a time and none while a turn starts: a second Load is refused, never raced
    // (the flags are set before the first await).
    if (this.loading || this.sending) return;
    const gpuBudget = this.budget.read();
    if (gpuBudget === null) return;
    const controller = new AbortController();
    this.loading = controller;
    this.picker.setEnabled(false);
    this.errors.hide();
    await this.unload();
    byId('cancel-load').hidden = false;
    this.progress.reset();
    const local = !isUrlSource(source);
    this.progress.say(`Loading ${label}${local ? ' from disk, in place' : ''} with ${BudgetField.describe(gpuBudget)}…`);
    const started = performance.now();
    const options = { signal: controller.signal, onProgress: (report) => this.progress.update(report), gpuBudget };
    let note = '';
    try {
      let engine;
      try {
        engine = await this.Engine.load(source, options);
      } catch (error) {
        if (local || error.name !== 'QuotaExceededError') throw error;
        const { needed, available } = error.details;
        note = ` It is too large to store in this browser (${formatBytes(needed)}, ${formatBytes(available)} available), so it is read from the server as needed and nothing is stored.`;
        this.progress.reset();
        this.progress.say(`Loading ${label} from the server without storing it (it needs ${formatBytes(needed)}, this site may store ${formatBytes(available)})…`);
        engine = await this.Engine.load(source, { ...options, store: false });
      }
      this.engine = engine;
      this.model = { ...engine.model, label };
      this.progress.finish();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      this.progress.say(`${label} is loaded (${seconds} s, ${READ_FROM[engine.model.readFrom] || 'ready'}).${note}`);
      this.modelReady();
    } catch (error) {
      this.progress.say(isAbort(error) ? 'Loading was cancelled. Load again to resume the download.' : `${label} could not be loaded.`);
      if (!isAbort(error)) this.errors.show(error);
    } finally {
      this.loading = null;
      byId('cancel-load').hidden = true;
      this.picker.setEnabled(true);
      this.refreshCached();
    }
  }

  modelReady() {
    const { hasChatTemplate } = this.model;
    this.routingView.setModel(this.model);
    this.cacheMonitor.setEngine(this.engine, this.model);
    this.clearChat();
    const mode = byId('chat-mode');
    mode.hidden = false;
    mode.textContent = hasChatTemplate ? 'chat template' : 'plain completion';
    mode.title = hasChatTemplate
      ? 'Messages are formatted with the model’s chat template.'
      : 'This model has no chat template: the reply continues the text you send.';
    const field = byId('prompt');
    field.disabled = false;
    field.placeholder = hasChatTemplate ? 'Write a message' : 'Write the start of a text for the model to continue';
    byId('send').disabled = false;
    byId('clear-chat').disabled = false;
    byId('unload').hidden = false;
    field.focus();
    this.refreshStats();
  }

  async unload() {
    if (this.generating) {
      this.generating.abort();
      await this.turn;
    }
    const engine = this.engine;
    if (!engine) return;
    this.engine = null;
    this.model = null;
    byId('unload').hidden = true;
    byId('send').disabled = true;
    byId('clear-chat').disabled = true;
    byId('chat-mode').hidden = true;
    const field = byId('prompt');
    field.disabled = true;
    field.placeholder = 'Load a model first';
    this.clearChat();
    this.routingView.setModel(null);
    this.cacheMonitor.setEngine(null, null);
    this.stats.clear();
    this.progress.say('No model loaded.');
    try {
      await engine.unload();
    } catch (error) {
      this.errors.show(error);
    }
  }

  // Chat

  clearChat() {
    this.messages = [];
    this.latestReply = null;
    this.chat.clear();
    this.routingView.setLatestReply(null);
    byId('speed').textContent = '';
  }

  async send() {
    const field = byId('prompt');
    const text = field.value;
    // One turn at a time: a Send (or Enter) while one runs, or while a load runs, is refused.
    // `sending` is set before the first await, so two presses in a row cannot both start a turn.
    if (!this.engine || this.sending || this.loading || text.trim() === '') return;
    const sampling = this.sampling.read();
    if (!sampling) return;
    this.sending = true;
    try {
      await this.runSend(field, text, sampling);
    } finally {
      this.sending = false;
    }
  }

  /** The turn `send` started: the user's message, the streamed reply, the figures after it. */
  async runSend(field, text, sampling) {
    this.errors.hide();
    // The next turn restarts the sequence: the last reply's routing must be read before.
    if (this.latestReply && this.latestReply.routing) await this.latestReply.routing.settle();

    const chat = this.model.hasChatTemplate;
    if (chat) {
      this.messages.push({ role: 'user', content: text });
      this.chat.addUser(text);
    }
    field.value = '';
    const reply = this.chat.startReply(this.model.label, chat ? null : text);
    this.latestReply = reply;
    this.routingView.setLatestReply(reply);
    this.generating = new AbortController();
    this.cacheMonitor.startReply();
    this.setGenerating(true);
    this.turn = this.runTurn(this.engine, reply, { chat, messages: this.messages, prompt: text, sampling, signal: this.generating.signal });
    await this.turn;
    this.turn = null;
    this.generating = null;
    this.setGenerating(false);
    field.focus();
    if (reply.routing) await reply.routing.settle();
    // A cache reading still in flight is older than the one refreshStats makes: let it land first.
    await this.cacheMonitor.settle();
    this.routingView.refresh();
    this.refreshStats();
  }

  /** Stream one reply into `reply`; failures are shown, never thrown. */
  async runTurn(engine, reply, turn) {
    const speed = new SpeedMeter(byId('speed'));
    let replyText = '';
    let failed = false;
    try {
      for await (const event of streamReply(engine, turn)) {
        if (event.kind === 'end') {
          // Chat streams send no chunk for a token without text: the count places them all.
          if (reply.routing) reply.routing.tokensArrived(event.completionTokens);
          reply.finish(describeFinish(event.finishReason, event.completionTokens, turn.sampling));
          break;
        }
        reply.appendToken(event.text, event.tokenId);
        replyText += event.text;
        speed.tick(reply.tokens.length);
        if (reply.tokens.length === 1) await this.trackRouting(engine, reply);
        if (reply.routing) reply.routing.tokensArrived(reply.tokens.length);
        this.cacheMonitor.tokenArrived();
      }
    } catch (error) {
      if (isAbort(error)) {
        reply.finish(describeFinish('cancelled', reply.tokens.length, turn.sampling));
      } else {
        failed = true;
        reply.finish(null);
        this.chat.addNote(`The reply failed: ${error.message}`, 'error');
        this.errors.show(error);
      }
    }
    speed.done();
    if (turn.chat) {
      // Keep what was shown (a stopped reply too); a reply that failed with nothing takes its
      // question with it, so that the conversation still alternates between user and assistant.
      if (replyText !== '' || !failed) this.messages.push({ role: 'assistant', content: replyText });
      else this.messages.pop();
    }
  }

  /**
   * Start reading the routing of `reply`. Its first token was computed at the prompt's last
   * position, so the prompt's length (from the engine's figures) places every later token.
   */
  async trackRouting(engine, reply) {
    if (!this.model || this.model.experts <= 1) return;
    try {
      const figures = await engine.stats();
      const shape = { layers: this.model.layers, experts: this.model.experts };
      reply.routing = new ReplyRouting(engine, figures.promptTokens - 1, shape, () => this.routingView.refresh());
    } catch (error) {
      if (!isAbort(error)) this.chat.addNote(`The routing picture is unavailable: ${error.message}`, 'error');
    }
  }

  setGenerating(on) {
    byId('send').disabled = on || !this.engine;
    byId('stop').disabled = !on;
    byId('clear-chat').disabled = on || !this.engine;
    this.picker.setEnabled(!on);
  }

  async refreshStats() {
    const engine = this.engine;
    if (!engine) return;
    try {
      const figures = await engine.stats();
      if (engine !== this.engine) return;
      this.stats.show(figures, { ...this.model, name: this.model.name || this.model.label });
      this.cacheMonitor.show(figures);
    } catch (error) {
      // An engine unloaded in the meantime has nothing to report.
      if (engine === this.engine) this.errors.show(error);
    }
  }
}
