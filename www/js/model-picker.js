// The model panel: a URL (or the URLs of a split model), one-click presets, the models stored in
// this browser (load or delete), and a GGUF file (or the parts of a split one) opened from disk:
// dropped on the page or chosen with the file picker, and read in place.

import { formatBytes, formatPercent } from './format.js';
import { DEFAULT_MODEL_URL, PRESETS } from './presets.js';

/**
 * @typedef {object} CachedModel  what `Engine.listCached()` returns for one model
 * @property {string} key
 * @property {string} key         the URL(s) joined by newlines, or "file:…" / "blob:…" for an import
 * @property {string[]} sources   the URLs it was stored from, or the imported file's name
 * @property {number} size        bytes of all parts
 * @property {number} [storedBytes] bytes stored so far
 * @property {boolean} complete   false while shards are missing (loading resumes the download)
 * @property {number} [storedAt]  milliseconds since the epoch
 */

export class ModelPicker {
  /**
   * @param {object} elements the panel's elements (see index.html)
   * @param {object} handlers
   * @param {(source: string|string[]|File|File[], label: string) => void} handlers.onLoad
   * @param {(model: CachedModel) => void} handlers.onDelete
   * @param {(message: string) => void} handlers.onInvalid a choice that cannot be loaded, and why
   */
  constructor(elements, { onLoad, onDelete, onInvalid }) {
    this.elements = elements;
    this.onLoad = onLoad;
    this.onDelete = onDelete;
    this.onInvalid = onInvalid;
    /** Whether loading is possible now (WebGPU is there and nothing else is running). */
    this.enabled = false;
    elements.urlField.value = DEFAULT_MODEL_URL;
    elements.urlForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.loadFromUrlField();
    });
    this.renderPresets();
    this.watchFiles();
  }

  /** Enable or disable every control that starts a load (while a model loads, or without WebGPU). */
  setEnabled(enabled) {
    for (const control of document.querySelectorAll('[data-needs-gpu]')) {
      control.toggleAttribute('disabled', !enabled);
      control.setAttribute('aria-disabled', String(!enabled));
    }
    this.elements.dropZone.classList.toggle('disabled', !enabled);
    this.enabled = enabled;
  }

  loadFromUrlField() {
    const lines = this.elements.urlField.value.split(/\s+/).filter(Boolean);
    if (lines.length === 0) {
      this.onInvalid('Enter the URL of a .gguf file (or the URLs of the parts of a split model, one per line).');
      return;
    }
    let urls;
    try {
      urls = lines.map((line) => new URL(line, window.location.href).href);
    } catch {
      this.onInvalid(`"${lines.join(' ')}" is not a URL. Enter an address such as ${DEFAULT_MODEL_URL}.`);
      return;
    }
    this.onLoad(urls.length === 1 ? urls[0] : urls, fileName(urls[0]));
  }

  renderPresets() {
    const list = this.elements.presetList;
    list.replaceChildren();
    for (const preset of PRESETS) {
      const button = choiceButton(preset.label, preset.detail);
      button.dataset.url = preset.url;
      button.addEventListener('click', () => {
        this.elements.urlField.value = preset.url;
        this.onLoad(new URL(preset.url, window.location.href).href, preset.label);
      });
      const item = document.createElement('li');
      item.append(button);
      list.append(item);
    }
  }

  /** Show the stored models. @param {CachedModel[]} models */
  renderCached(models) {
    const { cachedList, cachedEmpty } = this.elements;
    cachedList.replaceChildren();
    cachedEmpty.hidden = models.length > 0;
    for (const model of models) {
      const name = model.sources && model.sources.length ? (isImport(model) ? model.sources[0] : fileName(model.sources[0])) : model.key;
      const item = document.createElement('li');
      item.className = 'cached-item';

      const load = choiceButton(name, describeCached(model));
      load.title = (model.sources || [model.key]).join('\n');
      // A stored file (stored with store: true) is found by its name, size and date: the button
      // asks for the File itself, which is then read in place.
      load.addEventListener('click', () => (isImport(model) ? this.elements.fileInput.click() : this.onLoad(cachedSource(model), name)));

      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete';
      remove.textContent = 'Delete';
      remove.setAttribute('aria-label', `Delete ${name} from this browser`);
      remove.addEventListener('click', () => this.onDelete(model));

      item.append(load, remove);
      cachedList.append(item);
    }
    this.setEnabled(this.enabled);
  }

  watchFiles() {
    const { dropZone, fileInput } = this.elements;
    fileInput.addEventListener('change', () => {
      this.loadFiles(fileInput.files);
      fileInput.value = '';
    });
    // The whole page accepts a drop, so a file need not hit the zone exactly.
    const page = document.documentElement;
    page.addEventListener('dragover', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = this.enabled ? 'copy' : 'none';
      dropZone.classList.add('dragging');
    });
    page.addEventListener('dragleave', (event) => {
      if (event.relatedTarget === null) dropZone.classList.remove('dragging');
    });
    page.addEventListener('drop', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      dropZone.classList.remove('dragging');
      if (this.enabled) this.loadFiles(event.dataTransfer.files);
    });
  }

  /**
   * Load a file from disk, or the parts of a split model (`…-00001-of-00003.gguf` and the others,
   * chosen or dropped together; the engine puts them in order by name).
   * @param {FileList} files
   */
  loadFiles(files) {
    if (!files || files.length === 0) return;
    const chosen = Array.from(files);
    const other = chosen.find((file) => !file.name.toLowerCase().endsWith('.gguf'));
    if (other) {
      this.onInvalid(`${other.name} is not a .gguf file. Choose a GGUF model file, or every part of a split one.`);
      return;
    }
    const label = chosen.length === 1 ? chosen[0].name : `${chosen[0].name} and ${chosen.length - 1} more parts`;
    this.onLoad(chosen.length === 1 ? chosen[0] : chosen, label);
  }
}

/** A button that loads a model: its name in bold and a line of detail. */
function choiceButton(label, detail) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'choice';
  button.dataset.needsGpu = '';
  const name = document.createElement('span');
  name.className = 'choice-label';
  name.textContent = label;
  const more = document.createElement('span');
  more.className = 'choice-detail';
  more.textContent = detail;
  button.append(name, more);
  return button;
}

/** What to pass to `Engine.load` to open a stored model again: its URL, or its parts' URLs. */
function cachedSource(model) {
  const sources = model.sources || [];
  return sources.length > 1 ? sources : sources[0] || model.key;
}

function isImport(model) {
  return /^(file|blob):/.test(model.key);
}

function describeCached(model) {
  const parts = [formatBytes(model.size)];
  if (model.sources && model.sources.length > 1) parts.push(`${model.sources.length} parts`);
  if (!model.complete) {
    const percent = formatPercent(model.storedBytes || 0, model.size);
    parts.push(`partly stored${percent ? ` (${percent})` : ''}: loading resumes`);
  }
  if (isImport(model)) parts.push('from a file: choose it again to load');
  if (model.storedAt) parts.push(`stored ${new Date(model.storedAt).toLocaleDateString()}`);
  return parts.join(' · ');
}

function fileName(url) {
  try {
    const path = new URL(url, window.location.href).pathname;
    const last = decodeURIComponent(path.split('/').filter(Boolean).pop() || url);
    // Fixtures are all called model.gguf: their folder says which one.
    if (last === 'model.gguf') {
      const folders = path.split('/').filter(Boolean);
      return folders.length > 1 ? `${decodeURIComponent(folders[folders.length - 2])}/model.gguf` : last;
    }
    return last;
  } catch {
    return url;
  }
}

function hasFiles(event) {
  return Boolean(event.dataTransfer) && Array.from(event.dataTransfer.types || []).includes('Files');
}
