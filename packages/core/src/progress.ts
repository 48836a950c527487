/** A progress update from long work (training, embedding, data generation). */
export interface ProgressEvent {
  /** What is running, e.g. `stage1`, `embed`, `stage2`. */
  task: string;
  /** Units done so far. */
  done: number;
  /** Total units, when known. */
  total?: number;
  /** What a unit is (`step`, `caption`, `image`). */
  unit: string;
  /** Extra values to show (loss, lr, throughput). */
  values?: Record<string, number | string>;
}

/** Receives {@link ProgressEvent}s; renderers (TTY bar, plain log lines) implement it. */
export type ProgressCallback = (event: ProgressEvent) => void;

/** A callback that ignores everything, for callers that do not want progress. */
export const silentProgress: ProgressCallback = () => {};
