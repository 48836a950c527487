/** Why a sample (or a whole shard, line or file) was skipped by a source or the pipeline. */
export type DataSkipReason =
  | 'missing-image'
  | 'corrupt-image'
  | 'missing-captions'
  | 'bad-json'
  | 'malformed-line'
  | 'truncated-shard'
  | 'corrupt-shard'
  | 'missing-embedding'
  | 'key-mismatch'
  | 'bad-label'
  | 'transform-failed';

/** Every {@link DataSkipReason}, in report order. */
export const DATA_SKIP_REASONS: readonly DataSkipReason[] = [
  'missing-image',
  'corrupt-image',
  'missing-captions',
  'bad-json',
  'malformed-line',
  'truncated-shard',
  'corrupt-shard',
  'missing-embedding',
  'key-mismatch',
  'bad-label',
  'transform-failed',
];

/** One skipped item: why, which sample (when known), which file, and a short detail. */
export interface SkipEvent {
  readonly reason: DataSkipReason;
  /** Sample key, or `line 17` / `record 3` for index files. */
  readonly key?: string;
  /** File the item came from (shard, index file or image path). */
  readonly file?: string;
  /** What was wrong, e.g. the decoder's or parser's message. */
  readonly detail?: string;
}

/** Options of {@link SkipReport}. */
export interface SkipReportOptions {
  /** Called for every skip (default: none). `console.warn`-style loggers fit: `(line) => logger.warn(line)`. */
  log?: (line: string, event: SkipEvent) => void;
  /** How many events to keep for the summary (default 20; the counts are always complete). */
  keepExamples?: number;
}

/** A plain-JSON summary of a {@link SkipReport}. */
export interface SkipSummary {
  /** Total items skipped. */
  total: number;
  /** Count per reason (every reason present, zeros included). */
  counts: Record<DataSkipReason, number>;
  /** The first skipped items, for the log. */
  examples: SkipEvent[];
}

/**
 * Counts and logs what a long data job skipped instead of dying on it — corrupt images, missing
 * captions, truncated shards, malformed lines — per reason, with the key and file of each. Every
 * source and the data pipeline take one (`skipReport` option); one report may be shared by all.
 *
 * @example
 * ```ts
 * const report = new SkipReport({ log: (line) => console.warn(line) });
 * const source = new CsvSource('train.csv', { skipReport: report });
 * for await (const sample of source) train(sample);
 * console.log(report.format()); // "skipped 3 samples: corrupt-image 2, malformed-line 1"
 * ```
 */
export class SkipReport {
  private readonly counts = new Map<DataSkipReason, number>();
  private readonly examples: SkipEvent[] = [];
  private readonly options: SkipReportOptions;

  constructor(options: SkipReportOptions = {}) {
    this.options = options;
  }

  /** Records one skipped item and logs it. */
  add(event: SkipEvent): void {
    this.counts.set(event.reason, (this.counts.get(event.reason) ?? 0) + 1);
    if (this.examples.length < (this.options.keepExamples ?? 20)) this.examples.push(event);
    this.options.log?.(describeSkip(event), event);
  }

  /** Items skipped for `reason` (or in total). */
  count(reason?: DataSkipReason): number {
    if (reason !== undefined) return this.counts.get(reason) ?? 0;
    let total = 0;
    for (const value of this.counts.values()) total += value;
    return total;
  }

  /** The counts per reason, the total and the first events. */
  summary(): SkipSummary {
    const counts = Object.fromEntries(DATA_SKIP_REASONS.map((reason) => [reason, this.counts.get(reason) ?? 0])) as Record<DataSkipReason, number>;
    return { total: this.count(), counts, examples: [...this.examples] };
  }

  /** One line for the end of a run: `skipped 3 samples: corrupt-image 2, malformed-line 1`. */
  format(): string {
    const total = this.count();
    if (total === 0) return 'skipped 0 samples';
    const parts = DATA_SKIP_REASONS.filter((reason) => (this.counts.get(reason) ?? 0) > 0).map((reason) => `${reason} ${this.counts.get(reason)}`);
    return `skipped ${total} sample${total === 1 ? '' : 's'}: ${parts.join(', ')}`;
  }

  /** Forgets everything counted so far. */
  clear(): void {
    this.counts.clear();
    this.examples.length = 0;
  }
}

/** One log line for a skip: `skip corrupt-image: sample 000123 in shard-0001.tar (Input buffer contains unsupported image format)`. */
export function describeSkip(event: SkipEvent): string {
  // index positions (`line 17`, `record 3`, `after 000123`) read as they are; keys get a `sample` prefix
  const position = event.key !== undefined && /^(line|record|image|annotation|after) /.test(event.key);
  const where = [event.key !== undefined ? (position ? event.key : `sample ${event.key}`) : undefined, event.file !== undefined ? `in ${event.file}` : undefined]
    .filter((part) => part !== undefined)
    .join(' ');
  return `skip ${event.reason}: ${where || 'unknown sample'}${event.detail !== undefined ? ` (${event.detail})` : ''}`;
}
