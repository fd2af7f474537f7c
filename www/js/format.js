// Number formatting shared by the views: bytes, percentages, rates.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → "1.5 KiB"; non-finite or negative input → "—". */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** `done / total` as "42%", or "" when the total is unknown. */
export function formatPercent(done, total) {
  if (!(total > 0)) return '';
  return `${Math.min(100, Math.floor((100 * done) / total))}%`;
}

/** Tokens per second with two or three significant digits, or "—" when not measured. */
export function formatRate(tokensPerSecond) {
  if (!Number.isFinite(tokensPerSecond) || tokensPerSecond <= 0) return '—';
  const digits = tokensPerSecond >= 100 ? 0 : tokensPerSecond >= 1 ? 1 : 2;
  return `${tokensPerSecond.toFixed(digits)} tok/s`;
}

/** A plural-aware count: `formatCount(1, 'token')` → "1 token". */
export function formatCount(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Seconds as "41 ms" below one second, "1.23 s" above; "—" when not finite. */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  return `${seconds.toFixed(seconds >= 100 ? 0 : 2)} s`;
}

/** Seconds left as "about 40 s left", "about 3 min left", "about 1.5 h left"; "" when unknown. */
export function formatTimeLeft(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${(seconds / 3600).toFixed(1)} h left`;
}
