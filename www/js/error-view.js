// The error banner. webmoe's errors are named classes (WebGPUUnavailableError, QuotaExceededError,
// DownloadError, …) whose message already says what to do, so the banner shows name and message.

/** Words for the error names, shown in bold before the message. */
const TITLES = {
  WebGPUUnavailableError: 'WebGPU is not available.',
  DeviceLostError: 'The GPU device was lost.',
  OutOfMemoryError: 'Not enough GPU memory.',
  QuotaExceededError: 'Not enough storage.',
  DownloadError: 'The download failed.',
  ModelFormatError: 'This model cannot be run.',
  InvalidOptionError: 'A setting is out of range.',
  ContextLengthError: 'The conversation does not fit the context.',
  EngineUnavailableError: 'The engine is not available.',
};

export class ErrorView {
  constructor({ banner, name, message, dismiss }) {
    this.banner = banner;
    this.name = name;
    this.message = message;
    dismiss.addEventListener('click', () => this.hide());
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !this.banner.hidden) this.hide();
    });
  }

  /** Show `error` (an Error, ideally one of webmoe's named classes, or a string). */
  show(error) {
    const name = error && error.name ? error.name : 'Error';
    this.name.textContent = TITLES[name] || `${name}:`;
    this.message.textContent = error && error.message ? error.message : String(error);
    this.banner.dataset.errorName = name;
    this.banner.hidden = false;
  }

  hide() {
    this.banner.hidden = true;
  }
}

/** True for a cancellation (through an AbortSignal), which is not an error to show. */
export function isAbort(error) {
  return Boolean(error) && error.name === 'AbortError';
}
