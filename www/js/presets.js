// The models offered as one-click choices: what scripts/demo serves under models/ and fixtures/
// beside the page (paths relative to the page, so the demo works served from any path), and a
// public file of each MoE family webmoe runs, as its publishers put it on Hugging Face.

/**
 * @typedef {object} Preset
 * @property {string} url    the GGUF file: a path relative to the page, or an absolute URL
 * @property {string} label  short name shown on the button
 * @property {string} detail what the model is, with its size
 * @property {string} [family] `general.architecture` of a public model (absolute URL)
 */

/** The URL the URL field starts with. */
export const DEFAULT_MODEL_URL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';

/** Mixtral 8x7B Instruct v0.1 at Q4_K_M, as TheBloke publishes it: 26.4 GB, 32 layers, 8 experts, top-2. */
export const MIXTRAL_8X7B_URL =
  'https://huggingface.co/TheBloke/Mixtral-8x7B-Instruct-v0.1-GGUF/resolve/main/mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf';

/** OpenAI gpt-oss-20b, MXFP4 experts as released, 12.1 GB: 24 layers, 32 experts, top-4. */
export const GPT_OSS_20B_URL = 'https://huggingface.co/bartowski/openai_gpt-oss-20b-GGUF/resolve/main/openai_gpt-oss-20b-MXFP4.gguf';

/** Qwen3-30B-A3B at Q4_K_M, from Qwen: 18.6 GB, 48 layers, 128 experts, top-8. */
export const QWEN3_30B_A3B_URL = 'https://huggingface.co/Qwen/Qwen3-30B-A3B-GGUF/resolve/main/Qwen3-30B-A3B-Q4_K_M.gguf';

/** OLMoE-1B-7B-0924-Instruct at Q4_K_M, from AllenAI: 4.2 GB, 16 layers, 64 experts, top-8. */
export const OLMOE_1B_7B_URL = 'https://huggingface.co/allenai/OLMoE-1B-7B-0924-Instruct-GGUF/resolve/main/olmoe-1b-7b-0924-instruct-q4_k_m.gguf';

/** Granite 3.0 3B-A800M Instruct at Q4_K_M, from IBM: about 2 GB, 32 layers, 40 experts, top-8. */
export const GRANITE_MOE_3B_URL = 'https://huggingface.co/ibm-granite/granite-3.0-3b-a800m-instruct-GGUF/resolve/main/granite-3.0-3b-a800m-instruct-Q4_K_M.gguf';

/** Qwen1.5-MoE-A2.7B-Chat at Q4_K_M, from Qwen: about 9 GB, 24 layers, 60 experts, top-4, a shared expert. */
export const QWEN2_MOE_URL = 'https://huggingface.co/Qwen/Qwen1.5-MoE-A2.7B-Chat-GGUF/resolve/main/qwen1_5-moe-a2_7b-chat-q4_k_m.gguf';

const STREAMED = 'Larger than a browser may store: read from the server as needed (set a GPU budget below your GPU memory), or download it and open it from disk';

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
    detail: `the real thing from Hugging Face: 8 experts, top-2, 26.4 GB. ${STREAMED}`,
    family: 'llama',
  },
  {
    url: GPT_OSS_20B_URL,
    label: 'gpt-oss-20b, MXFP4',
    detail: `OpenAI's open MoE from Hugging Face: 32 experts, top-4, attention sinks, harmony chat format, 12.1 GB. ${STREAMED}`,
    family: 'gpt-oss',
  },
  {
    url: QWEN3_30B_A3B_URL,
    label: 'Qwen3-30B-A3B, Q4_K_M',
    detail: `Qwen's MoE from Hugging Face: 128 experts, top-8, 3B active, 18.6 GB. ${STREAMED}`,
    family: 'qwen3moe',
  },
  {
    url: OLMOE_1B_7B_URL,
    label: 'OLMoE-1B-7B Instruct, Q4_K_M',
    detail: "AllenAI's fully open MoE from Hugging Face: 64 experts, top-8, 1B active, 4.2 GB (stored in the browser)",
    family: 'olmoe',
  },
  {
    url: GRANITE_MOE_3B_URL,
    label: 'Granite 3.0 3B-A800M Instruct, Q4_K_M',
    detail: "IBM's small MoE from Hugging Face: 40 experts, top-8, 800M active, about 2 GB (stored in the browser)",
    family: 'granitemoe',
  },
  {
    url: QWEN2_MOE_URL,
    label: 'Qwen1.5-MoE-A2.7B Chat, Q4_K_M',
    detail: "Qwen's first MoE from Hugging Face: 60 experts, top-4 and a shared expert, about 9 GB (close to a browser's quota: read from the server or open it from disk)",
    family: 'qwen2moe',
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
