import { Llm2ClipError, Rng, isLlm2ClipError, type ImageRef, type RawImage, type Sample, type SampleSource } from '@llm2clip/core';
import { SkipReport } from '../skip-report.js';
import { assignHardNegatives, pickCaptions, type CaptionPair, type CaptionSelection } from './caption-selection.js';
import { initialCursor, parseDataCursor, type DataCursor } from './data-cursor.js';
import { DecodePool } from './decode-pool.js';
import { sampleSeed } from './sample-seed.js';
import type { WorkerTransformSpec } from './worker-transform.js';

/** What a main-thread transform gets besides the decoded image. */
export interface TransformContext {
  /** Sample key. */
  key: string;
  /** The sample's own seed (the same on resume). */
  seed: number;
  /** The sample as the source gave it. */
  sample: Sample;
}

/** One sample as the loader hands it out. */
export interface LoaderItem<T> {
  key: string;
  /** The decoded image after the worker and main-thread transforms (the `ImageRef` with `decode: false`). */
  image: T;
  /** Every caption of the sample. */
  captions: readonly string[];
  captionKinds?: readonly string[];
  /** The caption picked by `random`, `kind` or `index` selection. */
  caption?: string;
  /** The stage-1 pair picked by `pairs` selection. */
  pair?: CaptionPair;
  meta?: Readonly<Record<string, unknown>>;
  /** The sample's own seed. */
  seed: number;
}

/** One batch, with the cursor to save to resume right after it. */
export interface LoaderBatch<T> {
  items: LoaderItem<T>[];
  /** Epoch the batch's samples come from. */
  epoch: number;
  /** Resume point after this batch (save it in the checkpoint). */
  cursor: DataCursor;
}

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions<T> {
  /** Samples per batch. */
  batchSize: number;
  /** Shuffle seed (shard order + sample buffer of the source); omit for file order. */
  seed?: number;
  /** Passes over the data (default 1; `Infinity` for endless; default `Infinity` with `resample`). */
  epochs?: number;
  /**
   * Draw shards with replacement each pass (webdataset sources, as open_clip's
   * `--dataset-resampled`), for endless training on huge data; other sources reshuffle each pass.
   */
  resample?: boolean;
  /** Drop each epoch's last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Decode worker threads (default 2; 0 = on the calling thread). */
  workers?: number;
  /**
   * A decode pool owned by the caller, reused instead of starting workers (starting them costs
   * about a second); `workers`, `limitInputPixels` and `workerTransform` are then the pool's.
   * The loader does not close it.
   */
  pool?: DecodePool;
  /** Decode images (default true); false hands out the source's `ImageRef` untouched and starts no workers. */
  decode?: boolean;
  /** Refuse images with more pixels than this. */
  limitInputPixels?: number;
  /** A transform run inside the workers (module path + options). */
  workerTransform?: WorkerTransformSpec;
  /** A transform run on the calling thread after decoding, e.g. the vision package's CLIP preprocessing. */
  transform?: (image: never, context: TransformContext) => T | Promise<T>;
  /** Caption selection (default `{ mode: 'all' }`). */
  captions?: CaptionSelection;
  /** Resume from a cursor saved with an earlier batch. */
  resumeFrom?: DataCursor;
  /** Where skipped samples are counted (default a new report; pass the sources' one to get one summary). */
  skipReport?: SkipReport;
  /** Receives the skip summary line at the end of the run. */
  log?: (line: string) => void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

interface InFlight {
  position: number;
  sample: Sample;
  seed: number;
  caption?: string;
  pair?: CaptionPair;
  result: Promise<Settled>;
}

const END = Symbol('end');

/**
 * The training data pipeline over any `SampleSource`: seeded shuffling (the source's shard
 * order and sample buffer), epochs or shard resampling, decoding with sharp in worker threads, a
 * pluggable transform (worker-side module or main-thread function — the vision package's
 * preprocessing plugs in here), caption selection, batching with prefetch, and a resumable
 * cursor. Bad samples (undecodable image, missing caption kind) are skipped and counted in
 * {@link skipReport}; a typed error other than `E_DATA` stops the run.
 *
 * @example
 * ```ts
 * const report = new SkipReport({ log: (line) => console.warn(line) });
 * const source = (await openWebDataset('data/{0000..0099}.tar', { skipReport: report, shuffleBuffer: 2000 })).shard(rank, world);
 * const loader = new DataLoader(source, { batchSize: 32, seed: 1, epochs: 10, skipReport: report, captions: { mode: 'random' }, resumeFrom: checkpoint?.cursor });
 * for await (const batch of loader) { train(batch.items); saveCursor(batch.cursor); }
 * console.log(report.format());
 * ```
 */
export class DataLoader<T = RawImage> implements AsyncIterable<LoaderBatch<T>> {
  /** The source read. */
  readonly source: SampleSource;
  /** Where skipped samples are counted. */
  readonly skipReport: SkipReport;
  private readonly options: DataLoaderOptions<T>;

  constructor(source: SampleSource, options: DataLoaderOptions<T>) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Llm2ClipError('E_CONFIG', `batchSize must be a positive integer, got ${options.batchSize}`, { field: 'batchSize' });
    const prefetch = options.prefetch ?? 2;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new Llm2ClipError('E_CONFIG', `prefetch must be a positive integer, got ${prefetch}`, { field: 'prefetch' });
    const epochs = options.epochs ?? (options.resample === true ? Infinity : 1);
    if (!(epochs === Infinity || (Number.isInteger(epochs) && epochs >= 0))) throw new Llm2ClipError('E_CONFIG', `epochs must be a non-negative integer or Infinity, got ${epochs}`, { field: 'epochs' });
    if (options.resample === true && options.seed === undefined) throw new Llm2ClipError('E_CONFIG', 'resampling needs a seed', { field: 'seed' });
    if (options.resumeFrom !== undefined) {
      const cursor = parseDataCursor(options.resumeFrom);
      if (cursor.seed !== (options.seed ?? null)) {
        throw new Llm2ClipError('E_MISMATCH', `cursor was saved with seed ${cursor.seed}, the loader has ${options.seed ?? null}`, { field: 'seed' });
      }
    }
    const resampled = options.resample === true ? (source as { resampled?: () => SampleSource }).resampled?.() : undefined;
    this.source = resampled ?? source;
    this.options = options;
    this.skipReport = options.skipReport ?? new SkipReport();
  }

  /** Batches per epoch when the source's size is known (for progress and ETA), else undefined. */
  get batchesPerEpoch(): number | undefined {
    const size = this.source.size;
    if (size === undefined) return undefined;
    return this.options.dropLast === true ? Math.floor(size / this.options.batchSize) : Math.ceil(size / this.options.batchSize);
  }

  /** Iterates the batches (see the class comment). */
  [Symbol.asyncIterator](): AsyncIterator<LoaderBatch<T>> {
    return this.batches()[Symbol.asyncIterator]();
  }

  /** Iterates the batches; breaking out of the loop stops the workers. */
  async *batches(): AsyncGenerator<LoaderBatch<T>> {
    const options = this.options;
    const decode = options.decode ?? true;
    const ownPool = decode && options.pool === undefined;
    const pool = !decode
      ? undefined
      : (options.pool ?? new DecodePool({ workers: options.workers ?? 2, limitInputPixels: options.limitInputPixels, workerTransform: options.workerTransform }));
    const prefetch = options.prefetch ?? 2;
    const queue: (LoaderBatch<T> | typeof END | { error: unknown })[] = [];
    let wakeConsumer: (() => void) | undefined;
    let wakeProducer: (() => void) | undefined;
    let stopped = false;
    const push = async (item: LoaderBatch<T> | typeof END | { error: unknown }): Promise<void> => {
      queue.push(item);
      wakeConsumer?.();
      while (!stopped && queue.length >= prefetch && item !== END && !('error' in (item as object))) await new Promise<void>((resolve) => (wakeProducer = resolve));
    };
    const producer = this.produce(pool, push, () => stopped).then(
      () => push(END),
      (error: unknown) => push({ error }),
    );
    try {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((resolve) => (wakeConsumer = resolve));
        const item = queue.shift()!;
        wakeProducer?.();
        if (item === END) break;
        if ('error' in item) throw item.error;
        yield item;
      }
      options.log?.(this.skipReport.format());
    } finally {
      stopped = true;
      wakeProducer?.();
      if (ownPool) await pool?.close();
      await producer;
    }
  }

  private async produce(pool: DecodePool | undefined, emit: (batch: LoaderBatch<T>) => Promise<void>, stopped: () => boolean): Promise<void> {
    const options = this.options;
    const batchSize = options.batchSize;
    const selection = options.captions ?? { mode: 'all' };
    const epochs = options.epochs ?? (options.resample === true ? Infinity : 1);
    const inFlightLimit = Math.max(batchSize, (options.prefetch ?? 2) * batchSize);
    const start = options.resumeFrom ?? initialCursor(this.source.name, options.seed);
    let batches = start.batches;
    for (let epoch = start.epoch; epoch < epochs && !stopped(); epoch++) {
      const skipTo = epoch === start.epoch ? start.position : 0;
      const window: InFlight[] = [];
      let batch: LoaderItem<T>[] = [];
      let position = 0;
      let sawSample = false;
      const flush = async (): Promise<void> => {
        const job = window.shift()!;
        const item = await this.finish(job);
        if (item !== undefined) batch.push(item);
        if (batch.length === batchSize) {
          batches++;
          const ready = batch;
          batch = [];
          await emit(this.seal(ready, epoch, { epoch, position: job.position + 1, batches }));
        }
      };
      for await (const sample of this.source.samples({ ...(options.seed !== undefined ? { seed: options.seed } : {}), epoch })) {
        if (stopped()) return;
        sawSample = true;
        const current = position++;
        if (current < skipTo) continue;
        const seed = sampleSeed(options.seed ?? 0, epoch, current);
        const picked = pickCaptions(sample, selection, new Rng(seed));
        if (!picked.ok) {
          this.skipReport.add({ reason: 'missing-captions', key: sample.key, file: fileOf(sample), detail: picked.detail });
          continue;
        }
        window.push({ position: current, sample, seed, caption: picked.caption, pair: picked.pair, result: this.start(pool, sample, seed) });
        while (window.length >= inFlightLimit) await flush();
      }
      while (window.length > 0 && !stopped()) await flush();
      if (stopped()) return;
      if (batch.length > 0 && !(options.dropLast ?? false)) {
        batches++;
        await emit(this.seal(batch, epoch, { epoch: epoch + 1, position: 0, batches }));
      }
      // an empty pass would spin forever with endless epochs
      if (!sawSample && epochs === Infinity) throw new Llm2ClipError('E_DATA', 'the source yielded no sample in a whole pass', { path: this.source.name });
    }
  }

  private start(pool: DecodePool | undefined, sample: Sample, seed: number): Promise<Settled> {
    const image: ImageRef = sample.image;
    const work: Promise<unknown> =
      pool === undefined
        ? Promise.resolve(image)
        : image.kind === 'encoded'
          ? pool.run({ bytes: image.bytes, format: image.format, key: sample.key, seed })
          : Promise.resolve(image);
    return work.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  }

  private async finish(job: InFlight): Promise<LoaderItem<T> | undefined> {
    const settled = await job.result;
    const file = fileOf(job.sample);
    if (!settled.ok) {
      if (isLlm2ClipError(settled.error, 'E_DATA')) {
        this.skipReport.add({ reason: 'corrupt-image', key: job.sample.key, file, detail: settled.error.message });
        return undefined;
      }
      throw settled.error;
    }
    let image = settled.value as T;
    if (this.options.transform !== undefined) {
      try {
        image = await this.options.transform(settled.value as never, { key: job.sample.key, seed: job.seed, sample: job.sample });
      } catch (error) {
        if (!isLlm2ClipError(error, 'E_DATA') && !isLlm2ClipError(error, 'E_SHAPE')) throw error;
        this.skipReport.add({ reason: 'transform-failed', key: job.sample.key, file, detail: error.message });
        return undefined;
      }
    }
    const sample = job.sample;
    return {
      key: sample.key,
      image,
      captions: sample.captions,
      ...(sample.captionKinds !== undefined ? { captionKinds: sample.captionKinds } : {}),
      ...(job.caption !== undefined ? { caption: job.caption } : {}),
      ...(job.pair !== undefined ? { pair: { ...job.pair } } : {}),
      ...(sample.meta !== undefined ? { meta: sample.meta } : {}),
      seed: job.seed,
    };
  }

  private seal(items: LoaderItem<T>[], epoch: number, at: { epoch: number; position: number; batches: number }): LoaderBatch<T> {
    const selection = this.options.captions;
    if (selection?.mode === 'pairs' && selection.hardNegatives !== false) assignHardNegatives(items);
    return { items, epoch, cursor: { ...initialCursor(this.source.name, this.options.seed), ...at } };
  }
}

function fileOf(sample: Sample): string | undefined {
  const meta = sample.meta as { __url__?: unknown; __file__?: unknown } | undefined;
  const file = meta?.__file__ ?? meta?.__url__;
  return typeof file === 'string' ? file : undefined;
}
