// Types of the webmoe JavaScript API.
//
//   import { Engine } from 'webmoe';
//   const engine = await Engine.load('https://example.org/mixtral.Q4_K_M.gguf', { onProgress: console.log });
//   for await (const { text } of engine.generate('The capital of France is', { maxTokens: 16 })) show(text);
//
// The engine runs in a module Web Worker; every method talks to it through messages, so the page
// never blocks. Every error is one of the classes below; its message says what to do.

/** Bytes done and total of one phase of `Engine.load` (or of `Engine.verifyCached`), with an estimate of the time left. */
export interface LoadProgress {
  /**
   * 'download': fetching shards from the server into storage (or copying a File into storage,
   * with `store: true`);
   * 'verify': checking shards against their SHA-256 (the shards just written, once; every stored
   * shard in `Engine.verifyCached`);
   * 'upload': reading the weights (from storage, the File in place, or the server) and copying
   * them to the GPU.
   */
  phase: 'download' | 'verify' | 'upload';
  /** Bytes done in this phase. */
  loaded: number;
  /** Bytes of the whole phase. */
  total: number;
  /**
   * The phase's average speed so far, in bytes per second (bytes done in this load over the time
   * since the phase started; a resumed download's earlier bytes do not count); `null` until half
   * a second of the phase has run.
   */
  bytesPerSecond: number | null;
  /** Seconds the rest of the phase takes at that speed: 0 once it is done, `null` while unknown. */
  etaSeconds: number | null;
}

/** Options of `Engine.load`. */
export interface LoadOptions {
  /** Called as each phase advances (download, verify, upload). Exceptions it throws are logged, not propagated. */
  onProgress?: (progress: LoadProgress) => void;
  /** Cancels the load; the promise rejects with `AbortError`. Shards already stored are kept. */
  signal?: AbortSignal;
  /**
   * Whether to keep the model in the browser's storage (IndexedDB).
   * - A URL: stored unless `store` is `false`. Stored, it is downloaded once in verified shards and
   *   later loads read it from storage; a model larger than the storage the site may use is
   *   refused (`QuotaExceededError`) right after the first 1-byte request tells its size. With
   *   `store: false` nothing is written: the weights are read from the server with HTTP Range
   *   requests straight into the GPU, and experts that stream in under a `gpuBudget` are fetched
   *   again when not in the RAM cache (`ramBudget`). A complete stored copy is used either way.
   *   `store: false` needs a server that answers Range requests (`DownloadError` otherwise).
   * - A `File`/`Blob` (or the Files of a split model): read in place with `Blob.slice`, nothing
   *   copied, unless `store` is `true`, which copies it into storage first (later loads of the same
   *   File then read storage).
   */
  store?: boolean;
  /**
   * Most bytes of GPU memory the engine may allocate (weights, KV cache, scratch). When not every
   * expert fits, each layer keeps as many experts as the budget allows on the GPU and the others
   * stream in from where the model is read (the browser's storage, the File, or the server with
   * `store: false`) as the router chooses them (same output, slower). A budget
   * below what one token needs (the shared weights, the KV cache and `expertsUsed` experts per
   * layer) rejects with `InvalidOptionError` saying the minimum. `webmoe inspect FILE --json -c
   * CONTEXT --binding-limit BYTES` prints that minimum and the bytes of every expert (`gpu_budget`)
   * for the same context. `stats().expertCache` shows the slots and what streaming costs.
   * Default: every expert on the GPU.
   */
  gpuBudget?: number;
  /**
   * Most bytes of the model kept in the worker's memory between reads, in blocks of 32 MiB (a
   * stored model's shards, slices of a File, Range requests to the server), the most recently read
   * first; a block larger than the budget is not kept, so 0 keeps none. More saves reads (from
   * IndexedDB, the disk or the network) when experts stream in under a `gpuBudget`; less saves
   * memory. The output is the same either way. A whole number of bytes ≥ 0, else
   * `InvalidOptionError`. Default: 64 MiB.
   */
  ramBudget?: number;
  /**
   * Positions the KV cache holds (prompt plus generated tokens). Default: the model's trained
   * context, at most 4096. More than the model's trained context is an `InvalidOptionError`.
   */
  contextLength?: number;
  /** Precision of the KV cache: 'f16' (default, half the memory) or 'f32'. */
  kvType?: 'f16' | 'f32';
  /**
   * Conversations the engine keeps ready (see `GenerateOptions.conversationId`), the one in the
   * KV cache included; a whole number ≥ 1, default 1. Each conversation beyond the first is kept
   * as a GPU copy of its KV rows while another runs: up to the KV cache's size each
   * (`stats().gpuMemory.snapshots`; 128 KiB per position for Mixtral 8x7B with the f16 cache),
   * outside `gpuBudget`. With 1, switching conversations runs the returning one's tokens again
   * (only a beginning it shares with the cache, such as a system prompt, is reused).
   */
  maxConversations?: number;
  /**
   * Where the package's `worker.js` is served, when not beside `index.js` (a bundler that moved
   * it, another path). The worker imports the package's other modules relative to itself, so
   * serve the package's files together there. A string (relative to the page) or a URL.
   */
  workerUrl?: string | URL;
  /**
   * Where `webmoe_web_bg.wasm` is served, when not at `wasm/` beside the worker (a CDN, another
   * path). A string (relative to the page) or a URL.
   */
  wasmUrl?: string | URL;
}

/** What the engine knows about the loaded model. */
export interface ModelInfo {
  /** `general.name` from the GGUF metadata, when present. */
  name?: string;
  /**
   * The model's key in the store, whether or not it is stored: its URL, its parts' URLs joined by
   * newlines, or `file:NAME:SIZE:LAST_MODIFIED` of each File; `null` for a Blob read in place.
   */
  key: string | null;
  /**
   * Where the engine reads the model's bytes, and streams experts from under a `gpuBudget`:
   * 'storage' (IndexedDB), 'file' (a local File, in place) or 'network' (its server, `store: false`).
   */
  readFrom: 'storage' | 'file' | 'network';
  /** Transformer layers. */
  layers: number;
  /** Experts per layer (1 for a dense model). */
  experts: number;
  /** Experts each token uses (top-k of the router; 1 for a dense model). */
  expertsUsed: number;
  /** Token ids range over [0, vocabSize). */
  vocabSize: number;
  /** Positions the KV cache holds. */
  contextLength: number;
  /** The context the model was trained for. */
  trainedContextLength: number;
  /** Whether the GGUF carries `tokenizer.chat_template` (needed by `chat.completions.create`). */
  hasChatTemplate: boolean;
  /** The GPU adapter the engine runs on. */
  adapter: string;
  /**
   * The GPU device's limits that bound the weights' buffers: the engine asks the adapter for its
   * maxima (WebGPU's defaults are 256 MiB and 128 MiB, below one layer's merged experts of
   * Mixtral 8x7B), and splits every tensor into pages of at most `bindingLimit` bytes.
   */
  gpuLimits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    /** Bytes one storage binding of a weight page spans at most. */
    bindingLimit: number;
  };
}

/**
 * Sampling and stopping options of `generate`. Unset sampling options take llama.cpp's defaults:
 * temperature 0.8, topK 40, topP 0.95, minP 0.05, repeatPenalty 1 (off), seed 0.
 * Ranges are checked by the engine: a value outside one rejects with `InvalidOptionError`
 * (its `details.option` names the option).
 */
export interface GenerateOptions {
  /**
   * Most tokens to generate. Default: what the context has room for, at most 256. A prompt plus
   * `maxTokens` that do not fit the context reject with `ContextLengthError`.
   */
  maxTokens?: number;
  /** ≥ 0; 0 always picks the most likely token (greedy), ignoring topK, topP, minP and seed. */
  temperature?: number;
  /** Keep only the k most likely tokens (≥ 1). */
  topK?: number;
  /** How many of the last ids (prompt included) the penalties look at, 0 to 256 (default 64). */
  repeatLastN?: number;
  /** In [-2, 2]: subtracted from a token's logit once per occurrence in the penalty window. */
  frequencyPenalty?: number;
  /** In [-2, 2]: subtracted once from the logit of every token in the penalty window. */
  presencePenalty?: number;
  /**
   * Added to the logits of the listed token ids before the penalties: `{ id: bias }` or
   * `[[id, bias], …]`, biases in [-100, 100], at most 1024 ids.
   */
  logitBias?: Record<number, number> | Array<[number, number]>;
  /**
   * Report each token's log-probability (`GenerateChunk.logprobs`) and those of this many most
   * likely tokens (0 to 20), computed on the GPU.
   */
  logprobs?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP, in (0, 1]. */
  topP?: number;
  /** Keep tokens at least minP times as likely as the most likely one, in [0, 1]. */
  minP?: number;
  /** > 0; divides positive (multiplies negative) logits of tokens seen in the last 64 positions; 1 is off. */
  repeatPenalty?: number;
  /** Seed of the random draws (a whole number): the same seed and prompt give the same text. */
  seed?: number;
  /** Texts that end the reply; the reply stops before the first one found (it is not included). */
  stop?: string | string[];
  /** Keep generating past end-of-generation tokens until `maxTokens` (for tests and benchmarks). */
  ignoreEos?: boolean;
  /**
   * The conversation this request continues. Whatever the id, a prompt that begins with what
   * the KV cache holds (the conversation so far and a new turn, a shared system prompt) runs only
   * its new tokens (`stats().cachedTokens`, `usage.prompt_tokens_details.cached_tokens`). The id
   * matters when requests alternate between conversations: the one leaving the cache is kept as
   * a GPU snapshot and restored when its id comes back, up to `LoadOptions.maxConversations`, the
   * least recently used dropped first. A dropped (or unkept, with the default of 1)
   * conversation runs its tokens again when it returns. A non-empty string.
   */
  conversationId?: string;
  /**
   * What a request that does not fit the context gets (its prompt plus `maxTokens`, or plus a
   * reply of min(256, contextLength / 4) tokens when `maxTokens` is unset):
   * - 'error' (default): `ContextLengthError`, before anything runs;
   * - 'truncate-middle': the leading system messages are kept and the oldest turns after them
   *   dropped, as few as make it fit (the kept turns start at a user message); a text or token
   *   prompt keeps its beginning and its end;
   * - 'shift': the same, but turns are dropped until the prompt takes at most half of the room, as
   *   llama.cpp's context shift discards half: the next turns then extend the cached conversation
   *   instead of each dropping a turn and running everything again; a text or token prompt keeps
   *   its BOS and its end.
   * `stats().droppedMessages` and `stats().droppedTokens` say what was dropped. A request whose
   * system messages and last turn alone do not fit still gets `ContextLengthError`.
   */
  contextOverflow?: 'error' | 'truncate-middle' | 'shift';
  /**
   * Generate only JSON that validates against this JSON Schema (an object, or `true`/`false`):
   * at each token the engine computes which tokens keep the text valid and masks out every other
   * one on the GPU before sampling (so `temperature`, `topP` … choose among valid tokens only),
   * and the reply ends (`finishReason` 'stop') as soon as the value is complete. Whitespace
   * between JSON tokens is nothing, one space, or a newline and up to 20 spaces or tabs. A
   * schema the engine cannot compile (an unknown type, a `$ref` to nothing, impossible bounds)
   * rejects with `InvalidOptionError` (`details.option` 'json_schema') before anything runs,
   * its message naming the problem. `maxTokens` still applies: a reply cut short by it
   * (`finishReason` 'length') is incomplete JSON. The first request with a format builds the
   * vocabulary's token trie (a fraction of a second) and keeps it.
   */
  jsonSchema?: Record<string, unknown> | boolean;
  /** Generate only a JSON object (any object), as `jsonSchema: { type: 'object' }`. Not with `jsonSchema`. */
  jsonObject?: boolean;
  /**
   * Cancels the generation: it stops before the next token and the iteration throws `AbortError`.
   * The engine stays usable.
   */
  signal?: AbortSignal;
}

/** One generated token. */
export interface GenerateChunk {
  /**
   * The text this token completes. It may be empty: a byte of a multi-byte character, or text held
   * back because it may be the start of a stop string (it comes with a later chunk).
   */
  text: string;
  /** The token's id. */
  tokenId: number;
  /**
   * For a model whose replies are harmony messages (gpt-oss): the channel `text` belongs to,
   * `'analysis'` (the chain of thought), `'commentary'` or `'final'` (the answer). The messages'
   * header words are not text. Absent for other models.
   */
  channel?: string;
  /** With `GenerateOptions.logprobs`: the token's log-probability and the most likely tokens'. */
  logprobs?: TopLogprob & { tokenId: number; topLogprobs: Array<TopLogprob & { tokenId: number }> };
  /** On the last chunk: why generation ended. */
  finishReason?: FinishReason;
}

/** A message of a conversation, as in the OpenAI API. */
export interface ChatMessage {
  /** 'system', 'user' or 'assistant' (the model's chat template decides which it accepts). */
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/**
 * Parameters of `chat.completions.create`: every field of OpenAI's chat-completions request is
 * accepted. Applied: `messages`, `max_completion_tokens` (or the older `max_tokens`),
 * `temperature`, `top_p`, `seed`, `stop`, `stream`, `stream_options.include_usage`,
 * `frequency_penalty`, `presence_penalty`, `logit_bias`, `logprobs`, `top_logprobs`,
 * `response_format` (`json_object` and `json_schema`, as `GenerateOptions.jsonObject` and
 * `jsonSchema`).
 * Accepted and ignored (they change nothing webmoe computes): `model`, `metadata`, `store`,
 * `user`, `service_tier`, `prompt_cache_key`, `prompt_cache_retention`, `safety_identifier`,
 * `reasoning_effort`, `verbosity`, `prediction`, `parallel_tool_calls`, `stream_options.include_obfuscation`,
 * `n: 1`, `tool_choice`/`function_call` 'none' or 'auto' without tools, `modalities: ['text']`,
 * `response_format: { type: 'text' }`.
 * Refused by name with `InvalidOptionError` (`details.option`): `n` > 1, `tools`, `functions`,
 * tool messages and tool calls, `audio` and audio modalities, `web_search_options`, content
 * parts other than text. Unknown names are refused too.
 * `top_k`, `min_p`, `repeat_penalty`, `repeat_last_n`, `ignore_eos`, `signal`, `conversationId`
 * and `contextOverflow` are webmoe's extensions. Sampling defaults as in `GenerateOptions`.
 */
export interface ChatCompletionParams {
  /**
   * The conversation, rendered with the model's `tokenizer.chat_template`. `content` may be a
   * string, an array of text parts (joined), or null for an assistant turn; 'developer'
   * messages speak as 'system'.
   */
  messages: Array<{
    role: 'system' | 'developer' | 'user' | 'assistant' | (string & {});
    /** Text parts (`{ type: 'text', text }`, `{ type: 'refusal', refusal }`) only; other types are refused. */
    content?: string | Array<{ type: 'text'; text: string } | { type: 'refusal'; refusal: string } | { type: string }> | null;
    /** Accepted and ignored. */
    name?: string;
    refusal?: string | null;
    /** Refused when non-empty, as are messages of role 'tool' or 'function' (`details.option` 'tools'). */
    tool_calls?: unknown[];
    tool_call_id?: string;
    function_call?: unknown;
    audio?: unknown;
  }>;
  /** Accepted and ignored: the engine answers with the model it loaded. */
  model?: string;
  /** true: resolve to an async iterable of chunks; false (default): to one completion. */
  stream?: boolean | null;
  /** With `stream`: `include_usage` adds a last chunk with no choices and the usage. */
  stream_options?: { include_usage?: boolean; include_obfuscation?: boolean } | null;
  /** Most tokens to generate (default: what the context has room for, at most 256). */
  max_completion_tokens?: number | null;
  /** The older name of `max_completion_tokens`. */
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  /**
   * In [-2, 2]: subtracted from a token's logit once per occurrence among the last 256 ids
   * (prompt included; `repeat_last_n` changes the window), as llama.cpp applies it.
   */
  frequency_penalty?: number | null;
  /** In [-2, 2]: subtracted once from the logit of every token among the last 256 ids. */
  presence_penalty?: number | null;
  /** Token id (a decimal string) → bias in [-100, 100] added to its logit before sampling; -100 bans it in effect. */
  logit_bias?: Record<string, number> | null;
  /** Report the log-probability of each generated token (`choices[0].logprobs`). */
  logprobs?: boolean | null;
  /** With `logprobs`: also the most likely tokens at each position, 0 to 20. */
  top_logprobs?: number | null;
  /** 1 (or unset); more is refused. */
  n?: number | null;
  /**
   * 'text' (default); 'json_object': the reply is a JSON object; 'json_schema': the reply is JSON
   * that validates against `json_schema.schema` (see `GenerateOptions.jsonSchema`; no schema:
   * any JSON value). The schema is enforced whole whether `strict` is true or not. A schema the
   * engine cannot compile rejects with `InvalidOptionError` (`details.option` 'json_schema').
   */
  response_format?:
    | { type: 'text' }
    | { type: 'json_object' }
    | {
        type: 'json_schema';
        json_schema: { name: string; description?: string; schema?: Record<string, unknown> | boolean; strict?: boolean | null };
      }
    | null;
  tools?: unknown[] | null;
  tool_choice?: unknown;
  parallel_tool_calls?: boolean | null;
  functions?: unknown[] | null;
  function_call?: unknown;
  audio?: unknown;
  modalities?: string[] | null;
  prediction?: unknown;
  web_search_options?: unknown;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  user?: string | null;
  service_tier?: string | null;
  prompt_cache_key?: string | null;
  prompt_cache_retention?: string | null;
  safety_identifier?: string | null;
  reasoning_effort?: string | null;
  verbosity?: string | null;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  repeat_last_n?: number;
  ignore_eos?: boolean;
  /** Cancels the completion (`AbortError`); the engine stays usable. */
  signal?: AbortSignal;
  /** As `GenerateOptions.conversationId` (an extension). */
  conversationId?: string;
  /** As `GenerateOptions.contextOverflow` (an extension). */
  contextOverflow?: 'error' | 'truncate-middle' | 'shift';
}

/**
 * 'stop': an end-of-generation token, a stop text, or the value of a JSON format complete;
 * 'length': `max_tokens` reached.
 */
export type FinishReason = 'stop' | 'length';

/** Token counts of a completion. */
export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: {
    /** Of `prompt_tokens`, the leading ones the KV cache already held: they did not run again. */
    cached_tokens: number;
  };
}

/** A token and its log-probability, with its UTF-8 bytes (OpenAI's `TopLogprob`). */
export interface TopLogprob {
  /** The token's text (a special token's own text, such as `<|im_end|>`). */
  token: string;
  /**
   * ln p under the model's distribution after `logit_bias` and the penalties, at temperature 1,
   * before top-k/top-p/min-p (computed on the GPU: no logits are copied to the CPU).
   */
  logprob: number;
  /** UTF-8 bytes of the token: a byte token gives its one byte, a piece of a character whose text is U+FFFD. */
  bytes: number[];
}

/** One generated token's log-probability and the most likely alternatives (OpenAI's `ChatCompletionTokenLogprob`). */
export interface ChatCompletionTokenLogprob extends TopLogprob {
  /** `top_logprobs` entries, most likely first (lowest id first on ties). */
  top_logprobs: TopLogprob[];
}

/** `choices[i].logprobs` when `logprobs: true`. The end-of-generation token is not listed. */
export interface ChatCompletionLogprobs {
  content: ChatCompletionTokenLogprob[];
  refusal: null;
}

/** The non-streaming response, shaped as OpenAI's `chat.completion`. */
export interface ChatCompletion {
  /** "chatcmpl-…", shared by nothing else. */
  id: string;
  object: 'chat.completion';
  /** Unix time in seconds. */
  created: number;
  /** The model's name (`general.name`) or storage key. */
  model: string;
  choices: Array<{
    index: number;
    /**
     * `reasoning_content`: a harmony model's (gpt-oss's) chain of thought, its `analysis`
     * channel, apart from the answer in `content` (as llama.cpp's server gives it).
     */
    message: { role: 'assistant'; content: string; refusal: null; annotations: []; reasoning_content?: string };
    logprobs: ChatCompletionLogprobs | null;
    finish_reason: FinishReason;
  }>;
  usage: CompletionUsage;
}

/**
 * One streamed chunk, shaped as OpenAI's `chat.completion.chunk`. The first chunk's delta is
 * `{ role: 'assistant', content: '' }`, then one `{ content }` per piece of text (with the
 * log-probabilities of its tokens when asked for), then a chunk with an empty delta and the
 * `finish_reason`. A harmony model's chain of thought streams as `{ reasoning_content }` deltas.
 * With `stream_options: { include_usage: true }` every chunk has `usage: null` and a last chunk
 * follows with no choices and the usage. The contents add up to the non-streaming answer for the
 * same parameters.
 */
export interface ChatCompletionChunk {
  /** The same for every chunk of one completion. */
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string; reasoning_content?: string };
    logprobs: ChatCompletionLogprobs | null;
    finish_reason: FinishReason | null;
  }>;
  /** Present with `stream_options.include_usage`: null, and the counts on the last chunk. */
  usage?: CompletionUsage | null;
}

/**
 * Parameters of `completions.create` (OpenAI's legacy text completions): every field is
 * accepted. Applied: `prompt` (one string or one array of token ids; a list holding one of them),
 * `max_tokens` (default 16, as OpenAI's), `temperature`, `top_p`, `seed`, `stop`, `stream`,
 * `stream_options.include_usage`, `frequency_penalty`, `presence_penalty`, `logit_bias`,
 * `logprobs` (top entries per token, 0 to 20). Ignored: as for chat. Refused by name: several
 * prompts, `n` or `best_of` > 1, `echo: true`, `suffix`.
 */
export interface CompletionParams {
  /** One prompt: a string, token ids, or a list holding one of them (several are refused). */
  prompt: string | string[] | number[] | number[][] | null;
  model?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; include_obfuscation?: boolean } | null;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  logprobs?: number | null;
  n?: number | null;
  best_of?: number | null;
  echo?: boolean | null;
  suffix?: string | null;
  user?: string | null;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  service_tier?: string | null;
  prompt_cache_key?: string | null;
  prompt_cache_retention?: string | null;
  safety_identifier?: string | null;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  repeat_last_n?: number;
  ignore_eos?: boolean;
  signal?: AbortSignal;
  conversationId?: string;
  contextOverflow?: 'error' | 'truncate-middle' | 'shift';
}

/** The legacy logprobs of a text completion (OpenAI's `CompletionChoice.Logprobs`). */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  /** Per token: token text → log-probability of the most likely tokens. */
  top_logprobs: Array<Record<string, number>>;
  /** Character offset of each token in the reply. */
  text_offset: number[];
}

/** A whole text completion, shaped as OpenAI's `text_completion`. */
export interface Completion {
  /** "cmpl-…". */
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: Array<{ text: string; index: number; logprobs: CompletionLogprobs | null; finish_reason: FinishReason }>;
  usage: CompletionUsage;
}

/**
 * One streamed chunk of a text completion, as OpenAI streams them: a `text_completion` per piece
 * of text with `finish_reason: null`, then one with empty text and the `finish_reason`; with
 * `stream_options.include_usage`, `usage: null` on each and a last chunk with no choices and the
 * usage.
 */
export interface CompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: Array<{ text: string; index: number; logprobs: CompletionLogprobs | null; finish_reason: FinishReason | null }>;
  usage?: CompletionUsage | null;
}

/** GPU memory of the engine, in bytes. */
export interface GpuMemory {
  /** Every weight on the GPU, expert slots included. */
  weights: number;
  /** Of `weights`, the expert slots. */
  experts: number;
  kvCache: number;
  /** Activations of one submit. */
  scratch: number;
  /** Tables and small buffers (RoPE angles, expert slot table, routing log, sampler state). */
  other: number;
  /** Snapshots of the conversations kept besides the one in the KV cache (`maxConversations`). */
  snapshots: number;
  total: number;
}

/**
 * The expert cache: where experts are, and what it did since the model was loaded. Under a
 * `gpuBudget` too small for every expert, the experts share pools of GPU slots: layers whose
 * expert matrices have the same types and shapes (usually all of them) use one pool, and an
 * expert of any of those layers may take any of its slots. With every expert on the GPU (no
 * `gpuBudget`, or a large one) `slots` is `ModelInfo.experts × ModelInfo.layers`, every choice is
 * a hit and `residency` is null.
 */
export interface ExpertCacheStats {
  /** Expert slots on the GPU, all pools together. */
  slots: number;
  /**
   * When experts stream in: `[layer][slot]`, for each slot of the pool the layer uses, the expert
   * of that layer the slot holds (`null` while it is empty or holds another layer's expert). An
   * expert of a layer in no slot is uploaded when the router chooses it. `null` when every expert
   * is resident.
   */
  residency: (number | null)[][] | null;
  /** Chosen experts that were already on the GPU. */
  hits: number;
  /** Chosen experts that had to be uploaded before their layer could run. */
  misses: number;
  /** hits / (hits + misses); 1 before any choice. */
  hitRate: number;
  /** Bytes copied to the GPU for misses and prefetches. */
  bytesUploaded: number;
  /** Experts uploaded ahead of their layer on a prediction, and how many of those were then chosen or not. */
  prefetches: number;
  prefetchHits: number;
  prefetchWasted: number;
  /** Seconds spent waiting for the uploads of misses. */
  stallSeconds: number;
}

/** Options of `bench()`. */
export interface BenchOptions {
  /** Prompt tokens per run (default 64). */
  prompt?: number;
  /** Tokens generated per run, the first from the prompt's submit (default 32). */
  gen?: number;
  /** Timed runs after one warm-up run (default 3). */
  reps?: number;
}

/** What `bench()` measured; speeds are medians over the timed runs. */
export interface BenchReport {
  adapter: string;
  promptTokens: number;
  genTokens: number;
  reps: number;
  prefillTokensPerSecond: number;
  timeToFirstTokenSeconds: number;
  decodeTokensPerSecond: number;
  decodeTokensPerSecondMin: number;
  decodeTokensPerSecondMax: number;
  /** Per decoded token: 1 submit and 1 read-back when every expert is resident. */
  submitsPerToken: number;
  dispatchesPerToken: number;
  readbacksPerToken: number;
  /** Dispatches inside the layers per layer (the rest of a step does not grow with depth). */
  dispatchesPerLayer: number;
  /** Weight bytes a decode step reads (non-expert matrices and the experts used per layer). */
  weightBytesPerToken: number;
  gpuMemoryBytes: number;
  /** Memory traffic of GPU buffer copies (each byte read and written), bytes per second. */
  copyBandwidthBytesPerSecond: number;
  /** weightBytesPerToken × decodeTokensPerSecond. */
  decodeBandwidthBytesPerSecond: number;
  /** decodeBandwidthBytesPerSecond / copyBandwidthBytesPerSecond. */
  rooflineRatio: number;
  /** Expert slots on the GPU, all pools together (experts × layers when every expert is resident). */
  expertSlots: number;
  /** Share of expert choices already resident during the timed decode steps. */
  expertHitRate: number;
  /** Expert bytes uploaded during the timed decode steps. */
  expertBytesUploaded: number;
  /** Experts uploaded ahead of their layer on a prediction during the timed decode steps. */
  expertPrefetches: number;
  /** Share of those prefetches the router then chose (0 without prefetches). */
  expertPrefetchAccuracy: number;
  /** Seconds the timed decode steps waited for expert uploads. */
  expertStallSeconds: number;
}

/** What `stats()` reports. */
export interface EngineStats {
  /** Prompt tokens of the current (or last) generation. */
  promptTokens: number;
  /** Of `promptTokens`, the leading ones the KV cache already held: they did not run again. */
  cachedTokens: number;
  /** Messages of the current (or last) conversation that `contextOverflow` left out. */
  droppedMessages: number;
  /** Tokens of the current (or last) text or token prompt that `contextOverflow` left out. */
  droppedTokens: number;
  /** Tokens generated so far by the current (or last) generation. */
  generatedTokens: number;
  /** Prompt tokens per second: from the prompt's submit to its first token. */
  prefillTokensPerSecond: number;
  /** Generated tokens per second after the first. */
  decodeTokensPerSecond: number;
  /**
   * CPU seconds the current (or last) generation spent computing the token masks of its
   * `jsonSchema`/`jsonObject`/`response_format` (0 without one); not part of
   * `decodeTokensPerSecond`.
   */
  constraintSeconds: number;
  /** Positions of the current sequence in the KV cache (prompt and fed generated tokens). */
  positions: number;
  /**
   * `[layer][expert]`: how many positions of the current sequence chose that expert (a dense model
   * has one expert per layer, chosen by every position).
   */
  expertCounts: number[][];
  /** The expert cache's slots and counts. */
  expertCache: ExpertCacheStats;
  /** GPU memory the engine allocated. */
  gpuMemory: GpuMemory;
  /** Bytes of the WebAssembly memory; it only grows, so this is its peak. */
  wasmMemory: number;
  /** The conversations kept (`conversationId`). */
  conversations: {
    /** The conversation the KV cache holds; null when the last request named none. */
    current: string | null;
    /** Conversations saved as GPU snapshots, least recently used first. */
    saved: string[];
  };
}

/** A stored model, as `Engine.listCached` lists it. */
export interface CachedModel {
  /** Pass it to `Engine.deleteCached`. */
  key: string;
  /** The URLs (parts in order) or the file name it came from. */
  sources: string[];
  /** Bytes of the whole model. */
  size: number;
  /** Bytes stored so far. */
  storedBytes: number;
  /** Whether every shard is stored. */
  complete: boolean;
  /** When it was first stored, in ms since the epoch. */
  storedAt: number;
  /** Bytes per shard. */
  shardSize: number;
}

/** Options of `Engine.verifyCached`. */
export interface VerifyOptions {
  /** Called as the check advances (phase 'verify'). */
  onProgress?: (progress: LoadProgress) => void;
  /** Cancels the check (`AbortError`); what was checked stays as it was. */
  signal?: AbortSignal;
}

/** What `Engine.verifyCached` found. */
export interface VerifyReport {
  /** The model's key in the store. */
  key: string;
  /** Bytes of the shards checked (every stored shard). */
  verifiedBytes: number;
  /** Shards whose bytes no longer match their SHA-256, or are missing: dropped from the store. */
  damagedShards: number;
  /** Whether every shard is stored and intact now (false after dropping damaged shards: loading again fetches them). */
  complete: boolean;
}

/**
 * A loaded model. Create one with `Engine.load`; release it with `unload`.
 *
 * One generation runs at a time: a `generate` or `chat.completions.create` started while another
 * runs waits its turn (queued in the order the iterations start) and then runs in full, and so do
 * `bench()` and `logits()`. `stats()` and `routing()` do not wait for a generation: they answer
 * between two of its tokens.
 *
 * A lost GPU device ends the engine: the call that meets the loss rejects with `DeviceLostError`.
 * After that, or after an internal error, every call rejects with `EngineUnavailableError`; load
 * the model again with `Engine.load` (a new engine gets a new device).
 */
export declare class Engine {
  private constructor();

  /**
   * Open a model and upload it to the GPU.
   * - A URL is fetched with HTTP Range requests in shards, stored in IndexedDB as each shard
   *   completes (each verified once, as it is written), and resumed with only the missing shards
   *   after an interruption; a stored model loads without downloading and without hashing again
   *   (it is trusted by its manifest, size and ETag; `verifyCached` checks it on request). With
   *   `store: false` it is read from the server without storing anything (see `LoadOptions.store`).
   * - A `File` (from an `<input type="file">` or a drop), a `Blob`, or the Files of a split model
   *   are read in place with `Blob.slice`: nothing is copied into the browser's storage unless
   *   `store: true` is given. A model larger than the site's storage loads this way.
   * Before the weights are read, the model is checked from its header (for a URL one request for
   * the first 4 MiB of each part, more only for a longer header; a `File`/`Blob` is read
   * locally): a file webmoe cannot run is refused before any of it is downloaded or stored.
   * @param source a GGUF URL (absolute or relative to the page), the URLs of a split GGUF's parts
   *   in order (`…-00001-of-00003.gguf`, …), a local `File`/`Blob`, or the Files of a split GGUF's
   *   parts (in any order: their names give it)
   * @throws {WebGPUUnavailableError} the browser has no WebGPU or no usable adapter
   * @throws {QuotaExceededError} the model does not fit the storage the site may use, checked
   *   before anything is written and, for a URL, before any request but the 1-byte probe;
   *   `details.needed` and `details.available` are bytes, and the message names the ways out:
   *   `store: false`, or the file opened from disk
   * @throws {DownloadError} the server failed or refused; loading again resumes the download (with
   *   `store: false`, a server without Range support is refused this way too)
   * @throws {ModelFormatError} not a GGUF file, or a model webmoe cannot run (a damaged header, an
   *   unsupported architecture or tensor type, inconsistent shapes or keys, a vocabulary the
   *   tokenizer cannot use); the message names the key, tensor or type at fault
   * @throws {OutOfMemoryError} the GPU cannot hold the model
   * @throws {DeviceLostError} the GPU device was lost during the upload
   * @throws {InvalidOptionError} a source or option of the wrong kind or out of range, or a
   *   `gpuBudget` below what one token needs
   * @throws {AbortError} `options.signal` aborted
   */
  static load(source: string | string[] | Blob | Blob[], options?: LoadOptions): Promise<Engine>;

  /**
   * The models in the browser's storage, complete or partly downloaded.
   * @throws {WebmoeError} IndexedDB is unavailable
   */
  static listCached(): Promise<CachedModel[]>;

  /**
   * Delete a stored model and all its shards.
   * @param source a key from `listCached`, or the source the model was loaded from
   * @returns true when something was deleted
   * @throws {InvalidOptionError} neither a key nor a source
   * @throws {WebmoeError} IndexedDB is unavailable
   */
  static deleteCached(source: string | string[] | Blob | Blob[]): Promise<boolean>;

  /**
   * Check every stored shard of a model again (its length and SHA-256 against the record made
   * when it was stored) and drop the damaged ones, so that the next load fetches them again.
   * Loads never do this: a stored model is trusted by its manifest, size and ETag. Reads the whole
   * stored copy once (progress in phase 'verify').
   * @param source a key from `listCached`, or the source the model was stored from
   * @returns what was found, or null when the model is not stored
   * @throws {InvalidOptionError} neither a key nor a source, or an unknown option
   * @throws {AbortError} `options.signal` aborted
   * @throws {WebmoeError} IndexedDB or WebCrypto is unavailable
   */
  static verifyCached(source: string | string[] | Blob | Blob[], options?: VerifyOptions): Promise<VerifyReport | null>;

  /** The loaded model's shape and context. */
  readonly model: ModelInfo;

  /**
   * Generate text from a prompt, token by token. The prompt runs when the iteration starts.
   * Leaving the loop early (`break`) cancels the generation.
   * @param prompt a string (tokenized with BOS per the model's metadata; special-token text such
   *   as `<|im_start|>` becomes those tokens, as llama.cpp reads a prompt), or token ids fed
   *   exactly as given
   * @throws {InvalidOptionError} (from the iteration) an option out of range, an unknown option,
   *   an empty prompt, a token id outside the vocabulary, or a `jsonSchema` that cannot be
   *   compiled; unknown options and wrong types throw at once, from `generate` itself
   * @throws {ContextLengthError} (from the iteration) the prompt and `maxTokens` do not fit the context
   * @throws {AbortError} (from the iteration) `options.signal` aborted
   * @throws {DeviceLostError} (from the iteration) the GPU device was lost
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  generate(prompt: string | number[] | Uint32Array, options?: GenerateOptions): AsyncIterable<GenerateChunk>;

  /** OpenAI-style chat completions over the model's chat template. */
  readonly chat: {
    readonly completions: {
      /**
       * Answer a conversation. With `stream: true` the promise resolves to an async iterable of
       * chunks (the generation starts with the iteration); otherwise to the whole completion.
       * @throws {InvalidOptionError} malformed messages or parameters, an unsupported field
       *   (`n` > 1, `tools`, …; `details.option` names it), a `response_format` JSON schema that
       *   cannot be compiled, a model without a chat template, or a conversation the template
       *   refuses
       * @throws {ContextLengthError} the conversation and `max_tokens` do not fit the context
       * @throws {AbortError} `params.signal` aborted
       * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
       */
      create(params: ChatCompletionParams & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
      create(params: ChatCompletionParams & { stream?: false | null }): Promise<ChatCompletion>;
      create(params: ChatCompletionParams): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
    };
  };

  /** OpenAI-style (legacy) text completions: the prompt is continued as `generate` continues it. */
  readonly completions: {
    /**
     * Continue a prompt. With `stream: true` the promise resolves to an async iterable of chunks;
     * otherwise to the whole completion.
     * @throws {InvalidOptionError} malformed or unsupported parameters (`details.option` names them)
     * @throws {ContextLengthError} the prompt and `max_tokens` do not fit the context
     * @throws {AbortError} `params.signal` aborted
     * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
     */
    create(params: CompletionParams & { stream: true }): Promise<AsyncIterable<CompletionChunk>>;
    create(params: CompletionParams & { stream?: false | null }): Promise<Completion>;
    create(params: CompletionParams): Promise<Completion | AsyncIterable<CompletionChunk>>;
  };

  /**
   * The token ids of `text` as a generation's text prompt runs them: special-token text such as
   * `<|im_start|>` becomes those tokens, and BOS is added as the model's metadata says unless
   * `options.addSpecialTokens` is false. Answers at once, also while a generation runs.
   * @throws {InvalidOptionError} `text` is not a string, or an unknown option
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  tokenize(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]>;

  /**
   * The text of token ids; special tokens (BOS, EOS, chat markers) are left out.
   * @throws {InvalidOptionError} not an array of whole numbers, or an id outside the vocabulary
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  detokenize(ids: number[] | Uint32Array): Promise<string>;

  /**
   * How many prompt tokens a chat request for `messages` runs: the conversation rendered with the
   * model's chat template, the opening of the assistant's turn included (the `prompt_tokens` of
   * its usage). With `ModelInfo.contextLength` it tells whether a request fits.
   * @throws {InvalidOptionError} malformed messages, a model without a chat template, or a
   *   conversation the template refuses
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  countTokens(messages: ChatMessage[]): Promise<number>;

  /**
   * Forget conversation `conversationId` (its snapshot, see `GenerateOptions.conversationId`), or,
   * without an id, every conversation. Forgetting the one in the KV cache empties the cache, so
   * the next request runs its whole prompt. Waits for a running generation to end.
   * @throws {InvalidOptionError} an id that is not a non-empty string
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  resetChat(conversationId?: string): Promise<void>;

  /**
   * Speed of the current (or last) generation, expert choices of the current sequence, and memory.
   * @throws {DeviceLostError} the GPU device was lost
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  stats(): Promise<EngineStats>;

  /**
   * Measure the engine: a fixed prompt of ordinary token ids and greedy decoding, `reps` times
   * after a warm-up, then the GPU's buffer-copy bandwidth. Waits for a running generation to end,
   * as a generation would, and leaves the sequence reset.
   * @throws {InvalidOptionError} an option that is not a whole number ≥ 1, or prompt + gen beyond the context
   * @throws {DeviceLostError} the GPU device was lost
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  bench(options?: BenchOptions): Promise<BenchReport>;

  /**
   * The vocabulary logits of every position of `ids`, as after a fresh start: the sequence is
   * reset and the ids run from position 0 (in prompt batches, as a generation's prompt does).
   * Row p holds the scores of the token that follows `ids[0..=p]`, before any sampling. Waits for
   * a running generation to end, as a generation would; afterwards the sequence holds `ids`
   * (`stats().positions` is `ids.length` and `routing` reads their choices). The rows are views
   * of one buffer of `ids.length × vocabSize` floats.
   * @param ids token ids, fed exactly as given
   * @returns `ids.length` rows of `ModelInfo.vocabSize` logits
   * @throws {InvalidOptionError} no ids, an id that is not a whole number, or an id outside the
   *   vocabulary (`details.tokenId`)
   * @throws {ContextLengthError} more ids than the context holds
   * @throws {DeviceLostError} the GPU device was lost
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  logits(ids: number[] | Uint32Array): Promise<Float32Array[]>;

  /**
   * The experts the router chose at positions `from` (inclusive) to `to` (exclusive) of the
   * current sequence, `[position][layer][j]` (`expertsUsed` ids per layer, best first; empty for a
   * dense model). The prompt fills positions 0 … promptTokens − 1 and generated token i (from 0) is
   * fed at position promptTokens + i; the last generated token is never fed, so `stats().positions`
   * is the end of what can be asked.
   * @throws {InvalidOptionError} `from`/`to` not whole numbers with from ≤ to, or beyond `stats().positions`
   * @throws {DeviceLostError} the GPU device was lost
   * @throws {EngineUnavailableError} the engine was unloaded or failed fatally
   */
  routing(from: number, to: number): Promise<number[][][]>;

  /**
   * Free the engine's GPU memory and stop its worker; a running generation is cancelled. Later
   * calls reject with `EngineUnavailableError`. The model stays stored (see `deleteCached`).
   */
  unload(): Promise<void>;
}

/** Base class of every error webmoe throws. `details` holds structured facts (bytes, ids, …). */
export declare class WebmoeError extends Error {
  constructor(message: string, details?: Record<string, unknown>);
  readonly details: Record<string, unknown>;
}
/** The browser has no WebGPU, or no adapter could be created: use a browser with WebGPU enabled. */
export declare class WebGPUUnavailableError extends WebmoeError {}
/**
 * The GPU device was lost (driver reset, too much memory asked, tab in background too long). The
 * engine cannot run again (later calls reject with `EngineUnavailableError`): load the model again.
 */
export declare class DeviceLostError extends WebmoeError {}
/** The GPU refused an allocation. `details.bytes` is what was asked for. */
export declare class OutOfMemoryError extends WebmoeError {}
/**
 * Not enough storage for the model. `details.needed` and `details.available` are bytes. Load it
 * with `store: false` (a URL), or open the file from disk (read in place) instead.
 */
export declare class QuotaExceededError extends WebmoeError {}
/** A download failed (network error, HTTP error, changed file). Loading again resumes where it stopped. */
export declare class DownloadError extends WebmoeError {}
/** The file is not a model webmoe can run (not GGUF, damaged, unsupported architecture or type). */
export declare class ModelFormatError extends WebmoeError {}
/** An option or argument is out of range or of the wrong kind. `details.option` names it. */
export declare class InvalidOptionError extends WebmoeError {}
/**
 * The prompt and the requested tokens do not fit the context length, refused before any work.
 * `details.needed` and `details.contextLength` are positions. Ask for fewer tokens, load with a
 * larger `contextLength`, or pass `contextOverflow` to drop the oldest turns.
 */
export declare class ContextLengthError extends WebmoeError {}
/** The former name of `ContextLengthError`: the same class. */
export declare const ContextFullError: typeof ContextLengthError;
export type ContextFullError = ContextLengthError;
/** The operation was cancelled through its AbortSignal. */
export declare class AbortError extends WebmoeError {}
/** The engine was unloaded, or a previous fatal error left it unusable: load a model again. */
export declare class EngineUnavailableError extends WebmoeError {}
