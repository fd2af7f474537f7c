// The sampling settings form → the options of `engine.generate` and `chat.completions.create`.

/**
 * @typedef {object} Sampling
 * @property {number} temperature   0 is greedy
 * @property {number} topK          keep the k most likely tokens
 * @property {number} topP
 * @property {number} minP
 * @property {number} repeatPenalty 1 is off
 * @property {number} seed          the field's value, or a fresh random one when it is empty
 * @property {boolean} seedDrawn    whether `seed` was drawn here (the field was empty)
 * @property {number} maxTokens
 */

export class SamplingForm {
  /** @param {HTMLFormElement} form */
  constructor(form) {
    this.form = form;
    form.addEventListener('submit', (event) => event.preventDefault());
  }

  /**
   * The current settings, or null after pointing the user at the first invalid field.
   * @returns {Sampling|null}
   */
  read() {
    if (!this.form.reportValidity()) return null;
    const number = (name) => Number(this.form.elements[name].value);
    // The engine's own default seed is fixed (0): an empty field means a new draw per reply.
    const seedText = this.form.elements.seed.value.trim();
    const seedDrawn = seedText === '';
    return {
      temperature: number('temperature'),
      topK: number('topK'),
      topP: number('topP'),
      minP: number('minP'),
      repeatPenalty: number('repeatPenalty'),
      seed: seedDrawn ? Math.floor(Math.random() * 2 ** 32) : Number(seedText),
      seedDrawn,
      maxTokens: number('maxTokens'),
    };
  }
}

/** Options of `engine.generate(prompt, options)`. */
export function generateOptions(sampling, signal) {
  const { temperature, topK, topP, minP, repeatPenalty, seed, maxTokens } = sampling;
  return { temperature, topK, topP, minP, repeatPenalty, seed, maxTokens, signal };
}

/** Request of `engine.chat.completions.create`, OpenAI field names plus webmoe's extra samplers. */
export function chatRequest(sampling, messages, signal) {
  return {
    messages,
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: sampling.maxTokens,
    temperature: sampling.temperature,
    top_p: sampling.topP,
    top_k: sampling.topK,
    min_p: sampling.minP,
    repeat_penalty: sampling.repeatPenalty,
    seed: sampling.seed,
    signal,
  };
}
