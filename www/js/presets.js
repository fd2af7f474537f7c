// The models offered as one-click choices: what scripts/demo serves under models/ and fixtures/
// beside the page (paths relative to the page, so the demo works served from any path), and the
// public Mixtral 8x7B Instruct file.

/**
 * @typedef {object} Preset
 * @property {string} url    the GGUF file: a path relative to the page, or an absolute URL
 * @property {string} label  short name shown on the button
 * @property {string} detail what the model is, with its size
 */

/** The URL the URL field starts with. */
export const DEFAULT_MODEL_URL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';

/** Mixtral 8x7B Instruct v0.1 at Q4_K_M, as TheBloke publishes it: 26.4 GB, 32 layers, 8 experts, top-2. */
export const MIXTRAL_8X7B_URL =
  'https://huggingface.co/TheBloke/Mixtral-8x7B-Instruct-v0.1-GGUF/resolve/main/mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf';

/** @type {Preset[]} */
export const PRESETS = [
  {
    url: DEFAULT_MODEL_URL,
    label: 'SmolLM2-135M-Instruct',
    detail: 'a real chat model, dense (no experts), Q4_1, 98 MB',
  },
  {
    url: MIXTRAL_8X7B_URL,
    label: 'Mixtral 8x7B Instruct, Q4_K_M',
    detail:
      'the real thing from Hugging Face: 8 experts, top-2, 26.4 GB. Larger than a browser may store: ' +
      'read from the server as needed (set a GPU budget below your GPU memory), or download it and open it from disk',
  },
  {
    url: 'fixtures/mixtral-q8_0/model.gguf',
    label: 'Tiny MoE, 8 experts, top-2',
    detail: 'random weights, Mixtral layout, 2 layers, Q8_0, 2.4 MB',
  },
  {
    url: 'fixtures/moe-4x-top2-q8_0/model.gguf',
    label: 'Tiny MoE, 4 experts, top-2',
    detail: 'random weights, Beyonder-like layout, 2 layers, Q8_0, 1.5 MB',
  },
  {
    url: 'fixtures/mixtral-realvocab-q8_0/model.gguf',
    label: 'Tiny MoE, Mixtral vocabulary',
    detail: 'random weights, the real 32000-token tokenizer, 2 layers, Q8_0, 3.1 MB',
  },
  {
    url: 'fixtures/dense-llama-q8_0/model.gguf',
    label: 'Tiny dense Llama',
    detail: 'random weights, no experts, 2 layers, Q8_0, 1.5 MB',
  },
];
