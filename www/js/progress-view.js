// The loading panel: one progress bar per phase (download, verify, read and upload to the GPU) with
// bytes, percent and the time left, and a status line.

import { formatBytes, formatPercent, formatTimeLeft } from './format.js';

export class ProgressView {
  /**
   * @param {HTMLElement} group one `.progress-row[data-phase]` per phase of `Engine.load`'s
   *   progress: 'download', 'verify', 'upload' (to the GPU)
   * @param {HTMLElement} statusLine
   */
  constructor(group, statusLine) {
    this.status = statusLine;
    this.rows = new Map();
    for (const row of group.querySelectorAll('.progress-row')) {
      this.rows.set(row.dataset.phase, { row, bar: row.querySelector('progress'), figures: row.querySelector('output') });
    }
  }

  /** Empty every bar, e.g. before a new load. */
  reset() {
    for (const { row, bar, figures } of this.rows.values()) {
      bar.max = 1;
      bar.value = 0;
      figures.textContent = '—';
      row.classList.remove('active', 'done');
    }
  }

  /**
   * Show one progress report.
   * @param {{phase: string, loaded: number, total: number, etaSeconds?: number|null}} report bytes
   *   done and expected, and the phase's time left when known
   */
  update({ phase, loaded, total, etaSeconds }) {
    const entry = this.rows.get(phase);
    if (!entry) return;
    const known = total > 0;
    entry.bar.max = known ? total : 1;
    if (known) entry.bar.value = Math.min(loaded, total);
    else entry.bar.removeAttribute('value');
    const percent = formatPercent(loaded, total);
    const left = known && loaded < total ? formatTimeLeft(etaSeconds) : '';
    entry.figures.textContent = known
      ? `${formatBytes(loaded)} of ${formatBytes(total)}${percent ? ` (${percent})` : ''}${left ? ` · ${left}` : ''}`
      : formatBytes(loaded);
    const done = known && loaded >= total;
    entry.row.classList.toggle('done', done);
    entry.row.classList.toggle('active', !done);
  }

  /** Mark every phase that reported as finished (a cached model skips the download, say). */
  finish() {
    for (const { row, bar } of this.rows.values()) {
      row.classList.remove('active');
      if (bar.value > 0) row.classList.add('done');
    }
  }

  /** Replace the status line. */
  say(text) {
    this.status.textContent = text;
  }
}
