import { readFile } from 'node:fs/promises';
import { extname, isAbsolute, resolve } from 'node:path';
import { Llm2ClipError, Rng, type Sample, type SampleIterationOptions, type SampleSource } from '@llm2clip/core';
import type { SkipReport } from '../skip-report.js';
import { DATA_LIMITS, checkFileSize } from '../limits.js';

/** One entry of an annotation index: where the image is and what its captions are. */
export interface IndexRecord {
  /** Unique key of the sample within the dataset. */
  readonly key: string;
  /** Absolute path of the image file. */
  readonly imagePath: string;
  /** Captions (may be empty; such records are skipped as `missing-captions`). */
  readonly captions: readonly string[];
  /** What each caption is, aligned with `captions`. */
  readonly captionKinds?: readonly string[];
  /** Anything else the index says (split, class label, original ids). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** Options every index-file source takes. */
export interface IndexedSourceOptions {
  /** Counts and logs skipped records and samples (default: a private report, see `skipReport`). */
  skipReport?: SkipReport;
  /** Directory image paths are resolved against (default: the annotation file's directory). */
  imageRoot?: string;
  /** Description of the source (default: the format and the annotation path). */
  name?: string;
}

/** One stage of `shard(i, n)`: this part keeps the records at positions `index`, `index + count`, …. */
export interface IndexedSourcePart {
  readonly index: number;
  readonly count: number;
}

/** Image files an {@link IndexedSource} reads ahead of the consumer. */
const READ_AHEAD = 8;

/** Resolves an image path of an index against `root` (absolute paths stay as they are). */
export function resolveImagePath(root: string, path: string): string {
  return isAbsolute(path) ? path : resolve(root, path);
}

/** Reads an image file of an index, refusing (as a typed error value) one over {@link DATA_LIMITS}.maxImageFileBytes. */
async function readImageFile(path: string): Promise<Uint8Array | NodeJS.ErrnoException | Llm2ClipError> {
  try {
    await checkFileSize(path, DATA_LIMITS.maxImageFileBytes, 'image file');
    return await readFile(path);
  } catch (error) {
    return error as NodeJS.ErrnoException | Llm2ClipError;
  }
}

/** Throws the typed error for an annotation file that cannot be read at all. */
export function unreadableSource(path: string, cause: unknown, what = 'annotation file'): never {
  if (cause instanceof Llm2ClipError) throw cause;
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') throw new Llm2ClipError('E_NOT_FOUND', `${what} does not exist`, { path, cause });
  if (code !== undefined) throw new Llm2ClipError('E_IO', `cannot read ${what}: ${(cause as Error).message}`, { path, cause });
  throw new Llm2ClipError('E_FORMAT', `${what} is not readable: ${(cause as Error).message}`, { path, cause });
}

/**
 * Reads a whole annotation file as UTF-8, throwing `E_NOT_FOUND`/`E_IO` that name it, or
 * `E_FORMAT` when it is larger than `maxBytes` (default {@link DATA_LIMITS}.maxAnnotationBytes).
 */
export async function readAnnotationText(path: string, what = 'annotation file', maxBytes: number = DATA_LIMITS.maxAnnotationBytes): Promise<string> {
  try {
    await checkFileSize(path, maxBytes, what);
    return await readFile(path, 'utf8');
  } catch (cause) {
    return unreadableSource(path, cause, what);
  }
}

/** Parses a whole-file JSON annotation, throwing `E_FORMAT` naming the file when it is not JSON or over `maxBytes`. */
export async function readAnnotationJson(path: string, what = 'annotation file', maxBytes: number = DATA_LIMITS.maxAnnotationBytes): Promise<unknown> {
  const text = await readAnnotationText(path, what, maxBytes);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', `${what} is not valid JSON: ${(cause as Error).message}`, { path, cause });
  }
}

/**
 * A `SampleSource` over an annotation index (CSV, JSONL, COCO, Karpathy, ShareGPT4V,
 * DOCCI, Urban-1k, class folders): the index is read once, then each pass reads the image files
 * in file order, or in a seeded permutation (the same for the same seed and epoch).
 * `shard(i, n)` keeps every n-th record of the file order, so parts are disjoint whatever the seed.
 * An image file that cannot be read is skipped as `missing-image`; a record without captions as
 * `missing-captions`. An annotation file that cannot be read or parsed at all throws at once.
 */
export class IndexedSource implements SampleSource {
  /** Description of the source. */
  readonly name: string;
  /** Where skipped records are counted. */
  readonly skipReport: SkipReport | undefined;
  private readonly load: () => Promise<readonly IndexRecord[]>;
  private readonly parts: readonly IndexedSourcePart[];
  private loaded: Promise<readonly IndexRecord[]> | undefined;
  private knownSize: number | undefined;

  /**
   * @param name Description of the source.
   * @param load Reads the index; called once, on the first pass or {@link open}.
   * @param options Skip report.
   * @param parts The `shard(i, n)` stages that select this part (empty: every record).
   */
  constructor(name: string, load: () => Promise<readonly IndexRecord[]>, options: { skipReport?: SkipReport } = {}, parts: readonly IndexedSourcePart[] = []) {
    this.name = name;
    this.load = load;
    this.skipReport = options.skipReport;
    this.parts = parts;
  }

  /** Number of samples in this part, known once the index has been read ({@link open}). */
  get size(): number | undefined {
    return this.knownSize;
  }

  /** Reads the index now (throwing a typed error if it is unreadable) and returns `this`, with `size` set. */
  async open(): Promise<this> {
    await this.records();
    return this;
  }

  /** The index records of this part, in file order. */
  async records(): Promise<readonly IndexRecord[]> {
    this.loaded ??= this.load().then((all) => {
      let mine = all;
      // parts of parts: each stage keeps every count-th record of the previous stage's selection
      for (const { index, count } of this.parts) mine = mine.filter((_, position) => position % count === index);
      this.knownSize = mine.length;
      return mine;
    });
    return this.loaded;
  }

  /** Iterates once in file order. */
  [Symbol.asyncIterator](): AsyncIterator<Sample> {
    return this.samples()[Symbol.asyncIterator]();
  }

  /** The `index`-th of `count` disjoint parts (every `count`-th record). */
  shard(index: number, count: number): IndexedSource {
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
      throw new Llm2ClipError('E_CONFIG', `shard index must satisfy 0 <= index < count, got ${index} of ${count}`, { field: 'shard' });
    }
    const part = new IndexedSource(`${this.name} [part ${index + 1}/${count}]`, this.load, { skipReport: this.skipReport }, [...this.parts, { index, count }]);
    return part;
  }

  /**
   * Iterates the samples once: file order without a seed, a seeded permutation with one. Up to
   * `READ_AHEAD` image files are read concurrently (in order of use), which hides file-system latency.
   */
  async *samples(options: SampleIterationOptions = {}): AsyncGenerator<Sample> {
    const records = await this.records();
    const order = options.seed !== undefined ? new Rng(options.seed).fork(options.epoch ?? 0).permutation(records.length) : records.map((_, i) => i);
    const reads: { record: IndexRecord; bytes: Promise<Uint8Array | NodeJS.ErrnoException | Llm2ClipError> }[] = [];
    let next = 0;
    const fill = (): void => {
      while (reads.length < READ_AHEAD && next < order.length) {
        const record = records[order[next++]];
        if (record.captions.length === 0) {
          this.skipReport?.add({ reason: 'missing-captions', key: record.key, file: record.imagePath });
          continue;
        }
        reads.push({ record, bytes: readImageFile(record.imagePath) });
      }
    };
    fill();
    while (reads.length > 0) {
      const { record, bytes } = reads.shift()!;
      const result = await bytes;
      fill();
      if (result instanceof Llm2ClipError) {
        this.skipReport?.add({ reason: 'corrupt-image', key: record.key, file: record.imagePath, detail: result.message });
        continue;
      }
      if (result instanceof Error) {
        this.skipReport?.add({ reason: 'missing-image', key: record.key, file: record.imagePath, detail: result.code ?? result.message });
        continue;
      }
      yield {
        key: record.key,
        image: { kind: 'encoded', bytes: result, format: extname(record.imagePath).slice(1).toLowerCase() },
        captions: record.captions,
        ...(record.captionKinds !== undefined ? { captionKinds: record.captionKinds } : {}),
        meta: { ...record.meta, __file__: record.imagePath },
      };
    }
  }
}
