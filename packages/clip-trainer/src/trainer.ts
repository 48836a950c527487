import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import {
  JsonlMetricsLogger,
  Llm2ClipError,
  Rng,
  silentProgress,
  type EmbeddingStore,
  type ImageRef,
  type MetricsLogger,
  type ProgressCallback,
  type RawImage,
  type SampleSource,
} from '@llm2clip/core';
import {
  AdamW,
  ParameterStore,
  clipGradNorm,
  disposeGradients,
  ensureGradientsRegistered,
  latestCheckpoint,
  removeCheckpointLeftovers,
  loadCheckpoint,
  saveCheckpoint,
  warmupCosineSchedule,
  type HostTensor,
} from '@llm2clip/tensor';
import {
  ImagePreprocessor,
  layerDecayScale,
  noWeightDecay,
  type ClipTextModel,
  type ClipTextTokenizer,
  type ClipVisionModel,
  type Eva02VisionModel,
  type RandomResizedCropOptions,
} from '@llm2clip/vision';
import { anyRank, barrier, broadcastParameters, initDistributed, requireSameOnAllRanks } from '@llm2clip/distributed';
import { localRows, type DataParallelRank } from './data-parallel.js';
import { augmentRows } from './row-augmentation.js';
import { TextAdapter } from './adapter.js';
import { EmbeddingCache } from './embedding-cache.js';
import { LOGIT_SCALE, contrastiveGradients, type ContrastiveTower, type MicroBatchInputs } from './contrastive-step.js';
import { lockStore } from './tower-lock.js';
import { TrainedClipModel, type TrainedTextTower } from './exported-model.js';
import { CachedEmbeddingTextSide, ClipTowerTextSide, chooseCaption, type CaptionedSample, type TextSide } from './text-side.js';

/** LLM2CLIP's text side: cached frozen-LLM caption embeddings through a trainable adapter. */
export interface Llm2ClipTextOptions {
  kind: 'llm2clip';
  /** The embedding cache (`EmbeddingCache.open(dir)`), covering every training sample. */
  cache: EmbeddingStore;
  /** An adapter to continue training; default: a fresh one `cache.dim → projectionDim`. */
  adapter?: TextAdapter;
  /** Residual blocks of a fresh adapter. Default 4. */
  adapterBlocks?: number;
  /**
   * The teacher the cache must come from (e.g. the fingerprint in a saved model's `llm2clip.json`
   * when continuing its adapter): a cache written by another embedder is refused with `E_MISMATCH`.
   */
  teacherFingerprint?: string;
}

/** The baseline's text side: a CLIP text tower trained jointly (77-token context). */
export interface BaselineTextOptions {
  kind: 'baseline';
  /** The text tower (e.g. `ClipTextModel.create({...tokenizer.configFields(), ...}, rng)`). */
  model: ClipTextModel;
  /** Its tokenizer. */
  tokenizer: ClipTextTokenizer;
}

/** Options of {@link trainClip}. Defaults in brackets. */
export interface TrainClipOptions {
  /** Training data; read in file order once when images are cached, else per epoch with `{ seed, epoch }`. */
  source: SampleSource;
  /**
   * The vision tower to train — a CLIP ViT or an EVA02 tower (`loadVisionTower(dir)` of
   * `@llm2clip/vision`); modified in place: it gets a fresh projection unless `freshProjection: false`.
   */
  vision: ClipVisionModel | Eva02VisionModel;
  /** Which text side to train against. */
  text: Llm2ClipTextOptions | BaselineTextOptions;
  /** Seed of everything random: init of new heads, shuffling, caption choice, augmentation. [0] */
  seed?: number;
  /** Total optimizer steps. [epochs × ⌊samples / batchSize⌋] */
  steps?: number;
  /** Epochs when `steps` is not given. [1] */
  epochs?: number;
  /** Samples per step (the incomplete last batch of an epoch is dropped). [64] */
  batchSize?: number;
  /** Peak learning rate. [5e-4] */
  lr?: number;
  /** Final learning rate of the cosine decay. [0] */
  minLr?: number;
  /** Linear warm-up steps. [10% of the steps] */
  warmupSteps?: number;
  /** AdamW decoupled weight decay (not applied to `noWeightDecay` weights). [0.05] */
  weightDecay?: number;
  /** AdamW betas. [[0.9, 0.98]] (CLIP's) */
  betas?: readonly [number, number];
  /** AdamW epsilon. [1e-6] */
  eps?: number;
  /** Global gradient-norm clip. [5.0] */
  gradClip?: number;
  /** Layer-wise lr decay factor over the vision blocks (e.g. 0.85); off when undefined. */
  layerDecay?: number;
  /** Initial logit scale. [ln(1/0.07)] */
  logitScaleInit?: number;
  /** The logit scale is clamped to [0, this] after each step. [ln(100)] */
  maxLogitScale?: number;
  /** Replace the vision projection with a fresh one of `projectionDim`. [true] */
  freshProjection?: boolean;
  /** Shared embedding dim. [the adapter's / text tower's dim, else the vision config's projection_dim] */
  projectionDim?: number;
  /** Image preprocessing. [`new ImagePreprocessor({ imageSize: vision.config.image_size })`] */
  preprocessor?: ImagePreprocessor;
  /** Random-resized-crop augmentation (true: scale 0.9–1, ratio 3/4–4/3). [false] */
  augment?: boolean | RandomResizedCropOptions;
  /**
   * Decode every image once and keep it in memory (preprocessed, or decoded when augmenting);
   * `auto` does so when the source's size is known and ≤ 20,000. ['auto']
   */
  cacheImages?: boolean | 'auto';
  /** Run directory: `metrics.jsonl` and `checkpoints/`. */
  outDir?: string;
  /** Checkpoint every N steps (and at the end); needs `outDir`. */
  checkpointEvery?: number;
  /** Keep only the newest N checkpoints. [all] */
  keepCheckpoints?: number;
  /** Continue from the newest checkpoint in `outDir/checkpoints` (true) or from a checkpoint directory. */
  resume?: boolean | string;
  /** Metrics sink. [`outDir/metrics.jsonl` when `outDir` is set] */
  metrics?: MetricsLogger;
  /** Metrics `phase`. ['stage2' for LLM2CLIP, 'baseline' for the baseline] */
  phase?: string;
  /** Log metrics every N steps. [1] */
  logEvery?: number;
  /** Progress events: `decode` (images) while caching, then one per step (loss, lr, img/s). */
  onProgress?: ProgressCallback;
  /** Stops training after the current step when aborted (result `stopped: true`). */
  signal?: AbortSignal;
  /**
   * Samples per micro-batch for exact large batches: the step's gradients are those of the whole
   * `batchSize` batch (gradient caching, see {@link contrastiveGradients}) while activations are
   * held for one micro-batch at a time. [batchSize: no micro-batching]
   */
  microBatchSize?: number;
  /**
   * Freeze the vision tower as open_clip's `lock_image_tower` (the tower's own `lock`): `true`
   * freezes it all, `{ unlockedGroups: k }` leaves the last k groups trainable — groups are the
   * embeddings, each block but the last, the last block with the final norm, the projection;
   * `freezeNorms` keeps layer norms frozen in unlocked groups. The tower is unlocked again when
   * training ends. [unlocked]
   */
  lockImage?: boolean | { unlockedGroups: number; freezeNorms?: boolean };
  /** Freeze the text side (the adapter, or the baseline's text tower). [false] */
  lockText?: boolean;
  /** Freeze the logit scale at its initial value. [false] */
  lockLogitScale?: boolean;
  /** Run `evaluate` every N steps (and after the last step). */
  evalEvery?: number;
  /**
   * Periodic evaluation (e.g. `@llm2clip/eval`'s retrieval on a held-out split): gets the model as
   * it is at `step` (do not dispose it) and returns named numbers, logged to the metrics with
   * phase `<phase>-eval` and sent as a progress event of task `eval`.
   */
  evaluate?: (model: TrainedClipModel, step: number) => Promise<Record<string, number>>;
  /**
   * The process group to train in (`initDistributed()` of `@llm2clip/distributed`, or any
   * `{ rank, worldSize }` whose collectives that package runs). With `worldSize > 1` the run is
   * data-parallel: `batchSize` is the global batch (a multiple of `worldSize`), every rank walks the
   * same global batches and processes rows `[rank·B/n, (rank+1)·B/n)`, the loss gathers features
   * over ranks (open_clip's `local_loss` + `gather_with_grad`), gradients are averaged, initial
   * weights come from rank 0, and only rank 0 logs metrics, reports progress, evaluates and writes
   * checkpoints (which every rank must be able to read back on `resume`: a shared directory).
   * [`initDistributed()`: data-parallel under `mpirun`/`srun`, else a world of one]
   */
  processGroup?: DataParallelRank;
}

/** What {@link trainClip} returns. */
export interface TrainClipResult {
  /** The trained towers (the same objects as passed in, plus the adapter); dispose when done. */
  model: TrainedClipModel;
  /** Steps completed (including those before a resume). */
  steps: number;
  /** Steps the schedule was planned for. */
  totalSteps: number;
  /** Loss of every step run by this call. */
  losses: number[];
  /** Step of the checkpoint resumed from, if any. */
  resumedFrom?: number;
  /** True when `signal` stopped the run early. */
  stopped: boolean;
  /** Directory of the last checkpoint written, if any. */
  lastCheckpoint?: string;
  /** Mean training throughput of this call (images per second, data preparation included). */
  imagesPerSecond: number;
  /** Results of the periodic evaluations of this call, by step (rank 0 only). */
  evaluations: Array<{ step: number; values: Record<string, number> }>;
  /** This process's rank and the world size it trained in (`{ rank: 0, worldSize: 1 }` without a launcher). */
  processGroup: { rank: number; worldSize: number; isRoot: boolean };
}

interface CachedItem extends CaptionedSample {
  readonly pixels?: Float32Array;
  readonly decoded?: RawImage;
}

interface StreamItem extends CaptionedSample {
  readonly image: ImageRef;
}

interface TrainBatch {
  samples: CaptionedSample[];
  /**
   * Preprocessed pixels of `samples[start, end)` (only those images are decoded); when augmenting,
   * row i's crop comes from `rowAugmentationRng(stepSeed, i)`. Caller owns the tensor.
   */
  pixels(stepSeed: number, start: number, end: number): Promise<tf.Tensor4D>;
}

/** Where the next batch comes from: epoch and batch index within it. */
interface DataCursor {
  epoch: number;
  batch: number;
}

const AUTO_CACHE_LIMIT = 20_000;

function epochSeed(seed: number, epoch: number): number {
  return (seed ^ Math.imul(epoch + 1, 0x9e3779b1)) | 0;
}

/** `1h02m`, `3m05s`, `42s`. */
function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function positive(value: number | undefined, field: string, integer = false): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Llm2ClipError('E_CONFIG', `${field} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`, { field });
  }
}

/** Data for training: epochs of batches, either from memory or streamed from the source. */
interface BatchPlan {
  samplesPerEpoch: number | undefined;
  batches(cursor: DataCursor): AsyncIterable<TrainBatch>;
}

async function planInMemory(source: SampleSource, pre: ImagePreprocessor, augment: RandomResizedCropOptions | undefined, batchSize: number, seed: number, side: TextSide, onProgress: ProgressCallback): Promise<BatchPlan> {
  const items: CachedItem[] = [];
  let chunk: Array<{ key: string; captions: readonly string[]; captionKinds?: readonly string[]; image: ImageRef }> = [];
  const started = performance.now();
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    if (augment !== undefined) {
      for (const s of chunk) items.push({ key: s.key, captions: s.captions, captionKinds: s.captionKinds, decoded: await pre.decode(s.image) });
    } else {
      const pixels = await pre.preprocessMany(chunk.map((s) => s.image));
      chunk.forEach((s, i) => items.push({ key: s.key, captions: s.captions, captionKinds: s.captionKinds, pixels: pixels[i] }));
    }
    chunk = [];
    const seconds = (performance.now() - started) / 1000;
    onProgress({ task: 'decode', done: items.length, total: source.size, unit: 'image', values: { 'img/s': Number((items.length / Math.max(seconds, 1e-9)).toFixed(1)) } });
  };
  for await (const sample of source.samples()) {
    chunk.push(sample);
    if (chunk.length >= 64) await flush();
  }
  await flush();
  side.check(items);
  const stepsPerEpoch = Math.floor(items.length / batchSize);
  let permutationEpoch = -1;
  let permutation: number[] = [];
  return {
    samplesPerEpoch: items.length,
    async *batches(cursor: DataCursor): AsyncIterable<TrainBatch> {
      if (permutationEpoch !== cursor.epoch) {
        permutation = new Rng(epochSeed(seed, cursor.epoch)).permutation(items.length);
        permutationEpoch = cursor.epoch;
      }
      for (let b = cursor.batch; b < stepsPerEpoch; b++) {
        const batch = permutation.slice(b * batchSize, (b + 1) * batchSize).map((i) => items[i]);
        yield {
          samples: batch,
          pixels: async (stepSeed, start, end) => {
            const part = batch.slice(start, end);
            if (augment === undefined) return pre.stack(part.map((item) => item.pixels as Float32Array));
            return augmentRows(pre, part.map((item) => item.decoded as RawImage), stepSeed, start, augment);
          },
        };
      }
    },
  };
}

async function planStreaming(source: SampleSource, pre: ImagePreprocessor, augment: RandomResizedCropOptions | undefined, batchSize: number, seed: number, side: TextSide): Promise<BatchPlan> {
  // one pass without decoding, to refuse a mismatching cache before any training
  const captioned: CaptionedSample[] = [];
  for await (const sample of source.samples()) captioned.push({ key: sample.key, captions: sample.captions, captionKinds: sample.captionKinds });
  side.check(captioned);
  return {
    samplesPerEpoch: captioned.length,
    async *batches(cursor: DataCursor): AsyncIterable<TrainBatch> {
      let skip = cursor.batch * batchSize;
      let pending: StreamItem[] = [];
      for await (const sample of source.samples({ seed, epoch: cursor.epoch })) {
        if (skip > 0) {
          skip -= 1;
          continue;
        }
        pending.push({ key: sample.key, captions: sample.captions, captionKinds: sample.captionKinds, image: sample.image });
        if (pending.length === batchSize) {
          const batch = pending;
          pending = [];
          yield {
            samples: batch,
            pixels: (stepSeed, start, end) => {
              const images = batch.slice(start, end).map((s) => s.image);
              return augment === undefined ? pre.preprocessBatch(images) : augmentRows(pre, images, stepSeed, start, augment);
            },
          };
        }
      }
    },
  };
}

/**
 * Stage 2 of LLM2CLIP (or the CLIP baseline): trains the vision tower, with a fresh projection,
 * and the text side with the symmetric CLIP loss and a learnable logit scale. Per sample a short
 * or a long caption is drawn with p = 0.5. AdamW (decay 0.05 except biases/norms/embeddings/logit
 * scale, optional layer-wise lr decay), warm-up + cosine schedule, gradient clipping at 5.0, the
 * logit scale clamped to ≤ ln(100) after every step. A cache whose dimension, keys or teacher
 * (`teacherFingerprint`) do not match is refused with `E_MISMATCH` before the first step. Large
 * batches run exactly in small memory with `microBatchSize` (gradient caching); towers lock by
 * open_clip's groups (`lockImage`, `lockText`); `evaluate` runs every `evalEvery` steps.
 * Checkpoints are atomic; `resume` continues bit-exactly. The backend is the caller's choice
 * (`initBackend()` or `tf.setBackend`).
 *
 * Under `mpirun` / `srun` (see `processGroup`) it trains data-parallel with the same global batch:
 * each rank decodes and runs its slice of every global batch, and the losses and the updates equal
 * the single-process run's (up to float rounding); checkpoints (whose data cursor counts global
 * batches) resume at any world size. Augmentation crops are drawn per global row (see
 * {@link rowAugmentationRng}), so they do not depend on the world size either.
 *
 * @example
 * ```ts
 * const cache = await EmbeddingCache.open('runs/cache');
 * const vision = ClipVisionModel.create(visionConfig, new Rng(0));
 * const { model } = await trainClip({ source, vision, text: { kind: 'llm2clip', cache }, steps: 300, outDir: 'runs/stage2' });
 * await model.save('runs/stage2/model');
 * ```
 */
export async function trainClip(options: TrainClipOptions): Promise<TrainClipResult> {
  await ensureGradientsRegistered();
  const {
    source,
    vision,
    seed = 0,
    batchSize = 64,
    lr = 5e-4,
    minLr = 0,
    weightDecay = 0.05,
    betas = [0.9, 0.98],
    eps = 1e-6,
    gradClip = 5.0,
    logitScaleInit = Math.log(1 / 0.07),
    maxLogitScale = Math.log(100),
    freshProjection = true,
    logEvery = 1,
    outDir,
  } = options;
  const group = options.processGroup ?? initDistributed();
  const parallel = group.worldSize > 1;
  const isRoot = group.rank === 0;
  // rank 0 reports for the run; the others stay silent
  const onProgress = isRoot ? (options.onProgress ?? silentProgress) : silentProgress;
  positive(batchSize, 'batchSize', true);
  positive(lr, 'lr');
  positive(options.steps, 'steps', true);
  positive(options.epochs, 'epochs', true);
  positive(options.checkpointEvery, 'checkpointEvery', true);
  positive(logEvery, 'logEvery', true);
  positive(options.microBatchSize, 'microBatchSize', true);
  positive(options.evalEvery, 'evalEvery', true);
  if (options.evalEvery !== undefined && options.evaluate === undefined) throw new Llm2ClipError('E_CONFIG', 'evalEvery needs an evaluate function', { field: 'evaluate' });
  if (batchSize < 2) throw new Llm2ClipError('E_CONFIG', 'the contrastive loss needs batchSize ≥ 2', { field: 'batchSize' });
  const mine = localRows(batchSize, group);
  if ((options.checkpointEvery !== undefined || options.resume === true) && outDir === undefined) {
    throw new Llm2ClipError('E_CONFIG', 'checkpointEvery and resume need outDir', { field: 'outDir' });
  }
  const phase = options.phase ?? (options.text.kind === 'llm2clip' ? 'stage2' : 'baseline');
  const initRng = new Rng(seed).fork(1);

  // text side and the shared embedding dimension
  let side: TextSide;
  let tower: TrainedTextTower;
  if (options.text.kind === 'llm2clip') {
    const { cache } = options.text;
    const cacheTeacher = cache.manifest.embedder?.fingerprint;
    if (options.text.teacherFingerprint !== undefined && options.text.teacherFingerprint !== cacheTeacher) {
      throw new Llm2ClipError('E_MISMATCH', `the embedding cache was written by embedder ${String(cacheTeacher)}, this run expects ${options.text.teacherFingerprint}`, {
        path: cache instanceof EmbeddingCache ? join(cache.dir, 'manifest.json') : undefined,
        field: 'embedder.fingerprint',
      });
    }
    const projectionDim = options.projectionDim ?? options.text.adapter?.dim ?? vision.config.projection_dim;
    const adapter = options.text.adapter ?? TextAdapter.create({ inputDim: cache.dim, outputDim: projectionDim, numBlocks: options.text.adapterBlocks ?? 4 }, initRng);
    if (adapter.config.inputDim !== cache.dim) {
      throw new Llm2ClipError('E_MISMATCH', `embedding cache dim ${cache.dim} differs from the adapter input dim ${adapter.config.inputDim}`, { field: 'dim' });
    }
    side = new CachedEmbeddingTextSide(cache, adapter);
    tower = { kind: 'llm2clip', adapter, teacher: cache.manifest.embedder };
  } else {
    side = new ClipTowerTextSide(options.text.model, options.text.tokenizer);
    tower = { kind: 'baseline', model: options.text.model, tokenizer: options.text.tokenizer };
  }
  if (options.projectionDim !== undefined && options.projectionDim !== side.dim) {
    throw new Llm2ClipError('E_MISMATCH', `projectionDim ${options.projectionDim} differs from the text side's output dim ${side.dim}`, { field: 'projectionDim' });
  }
  if (freshProjection) vision.resetProjection(side.dim, initRng);
  else if (vision.dim !== side.dim) {
    throw new Llm2ClipError('E_MISMATCH', `vision projection dim ${vision.dim} differs from the text side's ${side.dim}`, { field: 'projection_dim' });
  }

  const preprocessor = options.preprocessor ?? new ImagePreprocessor({ imageSize: vision.config.image_size });
  if (preprocessor.imageSize !== vision.config.image_size) {
    throw new Llm2ClipError('E_MISMATCH', `preprocessor imageSize ${preprocessor.imageSize} differs from the vision image_size ${vision.config.image_size}`, { field: 'imageSize' });
  }
  const augment = options.augment === true ? {} : options.augment === false || options.augment === undefined ? undefined : options.augment;
  const cacheImages = options.cacheImages ?? 'auto';
  const inMemory = cacheImages === 'auto' ? source.size !== undefined && source.size <= AUTO_CACHE_LIMIT : cacheImages;

  // data (and the cache check, before any training)
  const plan = inMemory
    ? await planInMemory(source, preprocessor, augment, batchSize, seed, side, onProgress)
    : await planStreaming(source, preprocessor, augment, batchSize, seed, side);
  const stepsPerEpoch = Math.floor((plan.samplesPerEpoch ?? 0) / batchSize);
  if (stepsPerEpoch === 0) throw new Llm2ClipError('E_DATA', `${plan.samplesPerEpoch} samples do not fill one batch of ${batchSize}`, { field: 'batchSize' });
  const totalSteps = options.steps ?? (options.epochs ?? 1) * stepsPerEpoch;
  const warmupSteps = options.warmupSteps ?? Math.floor(totalSteps * 0.1);
  const schedule = warmupCosineSchedule({ baseLr: lr, warmupSteps, totalSteps, minLr });

  // trainable state
  const logitStore = new ParameterStore();
  const logitScale = logitStore.add(LOGIT_SCALE, tf.scalar(logitScaleInit, 'float32'), options.lockLogitScale !== true);
  const stores = [vision.parameters, ...side.stores, logitStore];
  const numLayers = vision.numLayers;
  const optimizer = new AdamW({
    beta1: betas[0],
    beta2: betas[1],
    eps,
    weightDecay,
    groupOf: (name) => ({
      weightDecay: noWeightDecay(name) ? 0 : undefined,
      lrScale: options.layerDecay !== undefined ? layerDecayScale(name, numLayers, options.layerDecay) : 1,
    }),
  });
  let rng = new Rng(seed).fork(2);
  let step = 0;
  let cursor: DataCursor = { epoch: 0, batch: 0 };
  let resumedFrom: number | undefined;
  const checkpointsDir = outDir !== undefined ? join(outDir, 'checkpoints') : undefined;
  const localBatch = mine.end - mine.start;
  const microBatchSize = Math.min(options.microBatchSize ?? localBatch, localBatch);
  const imageTower: ContrastiveTower = { stores: [vision.parameters], forward: (pixels) => vision.forward(pixels as tf.Tensor4D) };
  const textTower: ContrastiveTower = { stores: side.stores, forward: (input) => side.forward(input) };
  const unlocks: Array<() => void> = [];
  if (options.lockImage !== undefined && options.lockImage !== false) {
    const unlockedGroups = options.lockImage === true ? 0 : options.lockImage.unlockedGroups;
    if (!Number.isInteger(unlockedGroups) || unlockedGroups < 0 || unlockedGroups > numLayers + 2) {
      throw new Llm2ClipError('E_CONFIG', `lockImage.unlockedGroups must be an integer in [0, ${numLayers + 2}], got ${unlockedGroups}`, { field: 'lockImage.unlockedGroups' });
    }
    vision.lock(unlockedGroups, { freezeNorms: typeof options.lockImage === 'object' ? options.lockImage.freezeNorms : undefined });
    unlocks.push(() => vision.unlock());
  }
  if (options.lockText === true) for (const store of side.stores) unlocks.push(lockStore(store));
  if (stores.every((store) => store.trainableNames().length === 0)) {
    unlocks.forEach((unlock) => unlock());
    throw new Llm2ClipError('E_CONFIG', 'every weight is locked: nothing to train', { field: 'lockImage' });
  }

  try {
    if (options.resume !== undefined && options.resume !== false) {
      // what a job killed mid-save or mid-prune left behind (a resume at the last step saves nothing more)
      if (options.resume === true && isRoot) await removeCheckpointLeftovers(checkpointsDir as string);
      const path = typeof options.resume === 'string' ? options.resume : await latestCheckpoint(checkpointsDir as string);
      if (path !== undefined) {
        const content = await loadCheckpoint(path);
        if (content.trainer.kind !== side.kind || content.trainer.totalSteps !== totalSteps || content.trainer.batchSize !== batchSize) {
          throw new Llm2ClipError('E_MISMATCH', `checkpoint is from a ${String(content.trainer.kind)} run of ${String(content.trainer.totalSteps)} steps at batch ${String(content.trainer.batchSize)}; this run is ${side.kind}, ${totalSteps} steps, batch ${batchSize}`, { path });
        }
        const claimed = new Set<string>();
        for (const store of stores) {
          const subset = new Map<string, HostTensor>();
          for (const name of store.names()) {
            const tensor = content.weights.get(name);
            if (tensor !== undefined) subset.set(name, tensor);
            claimed.add(name);
          }
          store.loadHost(subset, { strict: true, path });
        }
        const extra = [...content.weights.keys()].filter((name) => !claimed.has(name));
        if (extra.length > 0) throw new Llm2ClipError('E_MISMATCH', `checkpoint has weights this run lacks: ${extra.slice(0, 5).join(', ')}`, { path });
        if (content.optimizer !== undefined) optimizer.importState(content.optimizer);
        if (content.rng !== undefined) rng = Rng.fromState(content.rng);
        cursor = content.cursor as DataCursor;
        step = content.step;
        resumedFrom = content.step;
      }
    }
    if (parallel) {
      // the cursor counts global batches, so a checkpoint of any world size resumes here; but every
      // rank must have found the same one, and start from rank 0's weights
      await requireSameOnAllRanks([step, cursor.epoch, cursor.batch], 'the step and data cursor to start from', { field: 'resume' });
      for (const store of stores) await broadcastParameters(store);
    }

    const metrics = isRoot ? (options.metrics ?? (outDir !== undefined ? new JsonlMetricsLogger(join(outDir, 'metrics.jsonl')) : undefined)) : undefined;
    const losses: number[] = [];
    const evaluations: TrainClipResult['evaluations'] = [];
    const firstStep = step;
    let stopped = false;
    let lastCheckpoint: string | undefined;
    let imagesSeen = 0;
    const runStarted = performance.now();

    const writeCheckpoint = async (): Promise<void> => {
      if (checkpointsDir === undefined) return;
      if (!isRoot) {
        await barrier(); // rank 0 writes; the others continue once it is on disk
        return;
      }
      const weights = new Map<string, HostTensor>();
      for (const store of stores) for (const [name, tensor] of store.toHost()) weights.set(name, tensor);
      lastCheckpoint = await saveCheckpoint(
        checkpointsDir,
        {
          step,
          weights,
          optimizer: optimizer.exportState(),
          rng: rng.getState(),
          cursor,
          trainer: { phase, kind: side.kind, totalSteps, batchSize, seed, loss: losses.at(-1), worldSize: group.worldSize },
        },
        { keep: options.keepCheckpoints },
      );
      if (parallel) await barrier();
    };

    training: while (step < totalSteps) {
      let producedAny = false;
      for await (const batch of plan.batches(cursor)) {
        producedAny = true;
        const stepStarted = performance.now();
        // every rank draws the captions (and the crop seed) of the whole global batch, in the same
        // order, so the generator stays in step across ranks and with a single-process run
        const choices = batch.samples.map((sample) => chooseCaption(sample, rng));
        const stepSeed = augment !== undefined ? rng.int(0, 0x7fffffff) : 0;
        const micro: MicroBatchInputs[] = [];
        for (let start = mine.start; start < mine.end; start += microBatchSize) {
          const end = Math.min(start + microBatchSize, mine.end);
          micro.push({
            image: () => batch.pixels(stepSeed, start, end),
            text: () => side.prepare(batch.samples.slice(start, end), choices.slice(start, end)),
          });
        }
        const stepLr = schedule(step);
        const { loss: lossValue, grads } = await contrastiveGradients(imageTower, textTower, logitStore, micro, { group, rowOffset: mine.start });
        let gradNorm: number;
        try {
          gradNorm = clipGradNorm(grads, gradClip);
          optimizer.apply(stores, grads, stepLr);
        } finally {
          disposeGradients(grads);
        }
        tf.tidy(() => {
          logitScale.assign(tf.clipByValue(logitScale, 0, maxLogitScale));
        });
        step += 1;
        cursor = { epoch: cursor.epoch, batch: cursor.batch + 1 };
        losses.push(lossValue);
        imagesSeen += batch.samples.length;
        const seconds = (performance.now() - stepStarted) / 1000;
        const imagesPerSecond = batch.samples.length / Math.max(seconds, 1e-9);
        // ETA from the mean step time of this call (evaluation and checkpoint time included)
        const etaSeconds = ((performance.now() - runStarted) / 1000 / (step - firstStep)) * (totalSteps - step);
        if (metrics !== undefined && (step % logEvery === 0 || step === totalSteps)) {
          metrics.log({ phase, step, epoch: cursor.epoch, loss: lossValue, lr: stepLr, logit_scale: Math.exp(logitScale.dataSync()[0]), grad_norm: gradNorm, images_per_s: imagesPerSecond, eta_s: etaSeconds });
        }
        if (isRoot && options.evaluate !== undefined && options.evalEvery !== undefined && (step % options.evalEvery === 0 || step === totalSteps)) {
          const values = await options.evaluate(new TrainedClipModel(vision, tower, preprocessor, logitScale.dataSync()[0]), step);
          evaluations.push({ step, values });
          metrics?.log({ phase: `${phase}-eval`, step, ...values });
          onProgress({ task: 'eval', done: step, total: totalSteps, unit: 'step', values });
        }
        if (options.checkpointEvery !== undefined && (step % options.checkpointEvery === 0 || step === totalSteps)) await writeCheckpoint();
        onProgress({
          task: phase,
          done: step,
          total: totalSteps,
          unit: 'step',
          values: { loss: Number(lossValue.toFixed(4)), lr: Number(stepLr.toExponential(3)), 'img/s': Number(imagesPerSecond.toFixed(1)), eta: formatDuration(etaSeconds) },
        });
        if (step >= totalSteps) break training;
        // a stop on any rank stops every rank after the same step
        if (parallel ? await anyRank(options.signal?.aborted === true) : options.signal?.aborted === true) {
          stopped = true;
          break training;
        }
      }
      if (!producedAny && cursor.batch === 0) {
        throw new Llm2ClipError('E_DATA', `epoch ${cursor.epoch} produced no batch of ${batchSize}`, { field: 'source' });
      }
      cursor = { epoch: cursor.epoch + 1, batch: 0 };
    }

    const totalSeconds = (performance.now() - runStarted) / 1000;
    const model = new TrainedClipModel(vision, tower, preprocessor, logitScale.dataSync()[0]);
    return {
      model,
      steps: step,
      totalSteps,
      losses,
      resumedFrom,
      stopped,
      lastCheckpoint,
      imagesPerSecond: imagesSeen / Math.max(totalSeconds, 1e-9),
      evaluations,
      processGroup: { rank: group.rank, worldSize: group.worldSize, isRoot },
    };
  } finally {
    for (const unlock of unlocks.reverse()) unlock();
    optimizer.dispose();
    logitStore.dispose();
  }
}
