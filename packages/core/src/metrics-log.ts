import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Llm2ClipError } from './errors.js';

/** One line of `metrics.jsonl`: a step, the phase it belongs to, and named values. */
export interface MetricsRecord {
  /** Phase, e.g. `clm`, `stage1`, `stage2`, `baseline`. */
  phase: string;
  /** Step within the phase. */
  step: number;
  /** ISO time of logging. */
  time?: string;
  [metric: string]: number | string | undefined;
}

/** Where training loops log metrics. */
export interface MetricsLogger {
  /** Records one step. */
  log(record: MetricsRecord): void;
}

/**
 * Appends one JSON object per line to a `metrics.jsonl` file. Each line is written with one
 * `appendFileSync`, so a killed run leaves whole lines only (the last may be missing, never torn
 * in the middle of earlier ones).
 */
export class JsonlMetricsLogger implements MetricsLogger {
  /** Path of the `metrics.jsonl` file. */
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (cause) {
      throw new Llm2ClipError('E_IO', 'cannot create the metrics directory', { path, cause });
    }
  }

  log(record: MetricsRecord): void {
    const line = JSON.stringify({ ...record, time: record.time ?? new Date().toISOString() });
    appendFileSync(this.path, `${line}\n`);
  }
}

/** Reads a `metrics.jsonl` file, skipping a torn last line. */
export function readMetricsJsonl(text: string): MetricsRecord[] {
  const records: MetricsRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // a torn line at the end of a killed run: skip it
    }
  }
  return records;
}
