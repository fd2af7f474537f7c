// The models offered as one-click choices: what scripts/demo serves under /models and /fixtures.

/**
 * @typedef {object} Preset
 * @property {string} url    served path of the GGUF file
 * @property {string} label  short name shown on the button
 * @property {string} detail what the model is, with its size
 */

/** The URL the URL field starts with. */
export const DEFAULT_MODEL_URL = '/models/SmolLM2-135M-Instruct.Q4_1.gguf';

/** @type {Preset[]} */
export const PRESETS = [
  {
    url: DEFAULT_MODEL_URL,
    label: 'SmolLM2-135M-Instruct',
    detail: 'a real chat model, dense (no experts), Q4_1, 98 MB',
  },
  {
    url: '/fixtures/mixtral-q8_0/model.gguf',
    label: 'Tiny MoE, 8 experts, top-2',
    detail: 'random weights, Mixtral layout, 2 layers, Q8_0, 2.4 MB',
  },
  {
    url: '/fixtures/moe-4x-top2-q8_0/model.gguf',
    label: 'Tiny MoE, 4 experts, top-2',
    detail: 'random weights, Beyonder-like layout, 2 layers, Q8_0, 1.5 MB',
  },
  {
    url: '/fixtures/mixtral-realvocab-q8_0/model.gguf',
    label: 'Tiny MoE, Mixtral vocabulary',
    detail: 'random weights, the real 32000-token tokenizer, 2 layers, Q8_0, 3.1 MB',
  },
  {
    url: '/fixtures/dense-llama-q8_0/model.gguf',
    label: 'Tiny dense Llama',
    detail: 'random weights, no experts, 2 layers, Q8_0, 1.5 MB',
  },
];
