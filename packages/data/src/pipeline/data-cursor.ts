import { Llm2ClipError } from '@llm2clip/core';

/** `format` of a {@link DataCursor}. */
export const DATA_CURSOR_FORMAT = 'llm2clip.data-cursor';
/** `version` of a {@link DataCursor}. */
export const DATA_CURSOR_VERSION = 1;

/**
 * Where a data loader stands, as plain JSON for a checkpoint's `trainer.json`: the next pass is
 * `source.samples({ seed, epoch })` and the next sample is the one at `position` of that pass
 * (samples skipped as bad count as consumed). Resuming from it yields exactly the batches an
 * uninterrupted run would have yielded next.
 */
export interface DataCursor {
  format: typeof DATA_CURSOR_FORMAT;
  version: number;
  /** Shuffle seed of the run (`null`: file order). */
  seed: number | null;
  /** Epoch of the next sample. */
  epoch: number;
  /** Samples of that epoch's pass already consumed. */
  position: number;
  /** Batches handed out so far, over all epochs. */
  batches: number;
  /** Name of the source, checked on resume. */
  source: string;
}

/** The cursor at the very start of a run. */
export function initialCursor(source: string, seed: number | undefined): DataCursor {
  return { format: DATA_CURSOR_FORMAT, version: DATA_CURSOR_VERSION, seed: seed ?? null, epoch: 0, position: 0, batches: 0, source };
}

/** Checks a cursor read back from a checkpoint; anything else throws `E_FORMAT` naming the field. */
export function parseDataCursor(value: unknown): DataCursor {
  const cursor = value as Partial<DataCursor> | null;
  if (typeof cursor !== 'object' || cursor === null || cursor.format !== DATA_CURSOR_FORMAT) {
    throw new Llm2ClipError('E_FORMAT', `expected a data cursor with format "${DATA_CURSOR_FORMAT}"`, { field: 'format' });
  }
  if (cursor.version !== DATA_CURSOR_VERSION) throw new Llm2ClipError('E_FORMAT', `unsupported data cursor version ${cursor.version}`, { field: 'version' });
  for (const field of ['epoch', 'position', 'batches'] as const) {
    if (!Number.isInteger(cursor[field]) || (cursor[field] as number) < 0) throw new Llm2ClipError('E_FORMAT', `${field} must be a non-negative integer`, { field });
  }
  if (cursor.seed !== null && !Number.isFinite(cursor.seed)) throw new Llm2ClipError('E_FORMAT', 'seed must be a number or null', { field: 'seed' });
  if (typeof cursor.source !== 'string') throw new Llm2ClipError('E_FORMAT', 'source must be a string', { field: 'source' });
  return cursor as DataCursor;
}
