import type { ProgressCallback, ProgressEvent } from '@llm2clip/core';

/** Options of {@link createProgressRenderer}. */
export interface ProgressRendererOptions {
  /** Where to write (default `process.stderr`). */
  stream?: NodeJS.WriteStream | { write(text: string): boolean; isTTY?: boolean };
  /** Force TTY (redrawn bar) or plain-line mode; default: the stream's `isTTY`. */
  tty?: boolean;
  /** In plain mode, the fewest seconds between two lines of one task (default 5). */
  plainIntervalSeconds?: number;
  /** Clock in milliseconds (for tests). */
  now?: () => number;
}

interface TaskState {
  start: number;
  lastPrint: number;
  lastDone: number;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

function formatValues(values: ProgressEvent['values']): string {
  if (values === undefined) return '';
  return Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(4)) : v}`)
    .join(' ');
}

/**
 * Renders {@link ProgressEvent}s: on a TTY, one bar per task redrawn in place with rate and ETA;
 * otherwise plain log lines at most every few seconds per task (and always the final one).
 */
export function createProgressRenderer(options: ProgressRendererOptions = {}): ProgressCallback {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const interval = (options.plainIntervalSeconds ?? 5) * 1000;
  const now = options.now ?? (() => Date.now());
  const tasks = new Map<string, TaskState>();
  let openLine = false;

  return (event) => {
    const time = now();
    let state = tasks.get(event.task);
    if (state === undefined || event.done < state.lastDone) {
      state = { start: time, lastPrint: -Infinity, lastDone: 0 };
      tasks.set(event.task, state);
    }
    state.lastDone = event.done;
    const elapsed = (time - state.start) / 1000;
    const rate = elapsed > 0 ? event.done / elapsed : 0;
    const finished = event.total !== undefined && event.done >= event.total;
    const eta = event.total !== undefined && rate > 0 ? (event.total - event.done) / rate : NaN;
    const count = event.total !== undefined ? `${event.done}/${event.total}` : `${event.done}`;
    const values = formatValues(event.values);
    const speed = `${rate.toFixed(rate >= 10 ? 0 : 2)} ${event.unit}/s`;
    if (tty) {
      const width = 24;
      const fraction = event.total ? Math.min(1, event.done / event.total) : 0;
      const bar = event.total ? `${'█'.repeat(Math.round(fraction * width))}${'░'.repeat(width - Math.round(fraction * width))} ${(fraction * 100).toFixed(0).padStart(3)}%` : '';
      const line = `[${event.task}] ${bar} ${count} ${event.unit}s ${speed} ${finished ? `in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`} ${values}`;
      stream.write(`\r\u001b[2K${line}`);
      openLine = true;
      if (finished) {
        stream.write('\n');
        openLine = false;
      }
      return;
    }
    if (finished || time - state.lastPrint >= interval) {
      state.lastPrint = time;
      if (openLine) stream.write('\n');
      openLine = false;
      stream.write(`[${event.task}] ${count} ${event.unit}s, ${speed}, ${finished ? `done in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`}${values ? `, ${values}` : ''}\n`);
    }
  };
}
