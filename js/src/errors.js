// Named errors of the webmoe JavaScript API. Every message says what happened and what to do.
// Errors cross the worker boundary as plain objects ({name, message, details}) and are rebuilt
// into these classes on the other side by `reviveError`.

/** Base class of every error webmoe throws. `details` holds structured facts (bytes, ids, …). */
export class WebmoeError extends Error {
  constructor(message, details = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The browser has no WebGPU, or no adapter could be created. */
export class WebGPUUnavailableError extends WebmoeError {}

/** The GPU device was lost (driver reset, too much memory asked, tab in background too long). */
export class DeviceLostError extends WebmoeError {}

/** The GPU refused an allocation. `details.bytes` is what was asked for. */
export class OutOfMemoryError extends WebmoeError {}

/** Not enough storage for the model. `details.needed` and `details.available` are bytes. */
export class QuotaExceededError extends WebmoeError {}

/** A download failed (network error, HTTP error, changed file). Retrying resumes where it stopped. */
export class DownloadError extends WebmoeError {}

/** The file is not a model webmoe can run (not GGUF, damaged, unsupported architecture or type). */
export class ModelFormatError extends WebmoeError {}

/** An option or argument is out of range. `details.option` names it. */
export class InvalidOptionError extends WebmoeError {}

/**
 * The prompt and the requested tokens do not fit the context length (`details.needed`,
 * `details.contextLength`). Refused before any work.
 */
export class ContextLengthError extends WebmoeError {}

/** The former name of `ContextLengthError` (the same class). */
export const ContextFullError = ContextLengthError;

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends WebmoeError {}

/** The engine was unloaded, or a previous fatal error left it unusable: load a model again. */
export class EngineUnavailableError extends WebmoeError {}

const CLASSES = {
  WebmoeError,
  WebGPUUnavailableError,
  DeviceLostError,
  OutOfMemoryError,
  QuotaExceededError,
  DownloadError,
  ModelFormatError,
  InvalidOptionError,
  ContextLengthError,
  ContextFullError,
  AbortError,
  EngineUnavailableError,
};

/** A plain, structured-clonable form of an error, for postMessage. */
export function serializeError(error) {
  if (error instanceof WebmoeError) {
    return { name: error.name, message: error.message, details: error.details };
  }
  if (error && error.name === 'AbortError') {
    return { name: 'AbortError', message: error.message || 'the operation was cancelled', details: {} };
  }
  return { name: 'WebmoeError', message: String(error && error.message ? error.message : error), details: {} };
}

/** The error class instance for a serialized error. */
export function reviveError(plain) {
  const Class = CLASSES[plain && plain.name] || WebmoeError;
  return new Class(plain && plain.message ? plain.message : 'unknown error', (plain && plain.details) || {});
}
