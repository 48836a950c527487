import {
  concatRows,
  embeddingMatrix,
  Llm2ClipError,
  type EmbeddingMatrix,
  type ImageEmbedder,
  type ImageRef,
  type ProgressCallback,
  type TextEmbedder,
} from '@llm2clip/core';
import type { ClassificationEvalSet, EvalSet, RetrievalEvalSet } from './eval-set.js';
import { embedBatch, embedInChunks, resolveBatchSize } from './embed-in-chunks.js';
import type { ExampleQuery } from './example-queries.js';
import { FeatureCache, type FeatureDataset } from './feature-cache.js';
import { reportModel } from './report-model.js';
import type { ReportDataset, ReportModel, ReportResult } from './report.js';
import { retrievalReportRows } from './report-rows.js';
import { DEFAULT_KS, metricsFromRanks, resolveKs, retrievalRanks, type RetrievalMetrics } from './retrieval.js';
import { thumbnailDataUri } from './thumbnail.js';
import { topK } from './top-k.js';
import { averageTemplateEmbeddings, fillClassTemplate, zeroShotMetrics, type ClassificationMetrics } from './zero-shot.js';
import { linearProbe, splitForValidation, type LinearProbeOptions, type LinearProbeResult } from './linear-probe.js';

/** A model to benchmark: an id for the report and its two embedders. */
export interface BenchmarkModel {
  /** The `models[].id` of the report. */
  readonly id: string;
  readonly textEmbedder: TextEmbedder;
  readonly imageEmbedder: ImageEmbedder;
}

/** Options of {@link runBenchmark} / {@link runBenchmarks}. */
export interface RunBenchmarkOptions {
  /** Feature cache (or its directory): a second run with the same model reads features instead of embedding. */
  cache?: FeatureCache | string;
  /** Retrieval recall cut-offs. Default `[1, 5, 10]`. */
  ks?: readonly number[];
  /** Classification top-k cut-offs. Default `[1, 5]`. */
  classificationKs?: readonly number[];
  /** Inputs per `embed` call. Default 64. */
  batchSize?: number;
  /** Text queries per retrieval set shown in the report's example grid. Default 0 (none). */
  exampleQueries?: number;
  /** Images shown per example query. Default 5. */
  exampleTopK?: number;
  /** Thumbnail size in pixels. Default 96. */
  thumbnailSize?: number;
  /** Progress events: `embed-images:<set>`, `embed-texts:<set>`, `rank:<set>`. */
  onProgress?: ProgressCallback;
}

/** What one benchmark produced. */
export interface BenchmarkOutcome {
  /** The benchmark. */
  readonly set: EvalSet;
  /** Its report rows. */
  readonly rows: readonly ReportResult[];
  /** Retrieval metrics (retrieval sets). */
  readonly retrieval?: RetrievalMetrics;
  /** Zero-shot metrics (classification sets). */
  readonly classification?: ClassificationMetrics;
  /** Example queries with thumbnails (retrieval sets, when asked for). */
  readonly examples: readonly ExampleQuery[];
}

/** The result of {@link runBenchmarks}: everything a report needs. */
export interface BenchmarkRun {
  /** The model's report entry (names and fingerprints of both embedders). */
  readonly model: ReportModel;
  /** The datasets, with fingerprints. */
  readonly datasets: readonly ReportDataset[];
  /** All rows. */
  readonly rows: readonly ReportResult[];
  /** Per set. */
  readonly outcomes: readonly BenchmarkOutcome[];
  /** Example queries of all sets. */
  readonly examples: readonly ExampleQuery[];
  /** Notes of the sets (e.g. sizes that differ from the published benchmark). */
  readonly notes: readonly string[];
}

/**
 * Runs every set on `model` and collects report rows, dataset fingerprints and example queries.
 * See {@link runBenchmark}.
 */
export async function runBenchmarks(model: BenchmarkModel, sets: readonly EvalSet[], options: RunBenchmarkOptions = {}): Promise<BenchmarkRun> {
  const names = new Set<string>();
  for (const set of sets) {
    if (names.has(set.name)) throw new Llm2ClipError('E_CONFIG', `two eval sets are named '${set.name}'`, { field: 'sets' });
    names.add(set.name);
  }
  const resolved = { ...options, cache: typeof options.cache === 'string' ? new FeatureCache(options.cache) : options.cache };
  const outcomes: BenchmarkOutcome[] = [];
  for (const set of sets) outcomes.push(await runBenchmark(model, set, resolved));
  return {
    model: reportModel(model.id, model.textEmbedder, model.imageEmbedder),
    datasets: sets.map(describeSet),
    rows: outcomes.flatMap((outcome) => outcome.rows),
    outcomes,
    examples: outcomes.flatMap((outcome) => outcome.examples),
    notes: sets.flatMap((set) => set.notes),
  };
}

/** The report entry of an eval set: name, fingerprint and sizes. */
export function describeSet(set: EvalSet): ReportDataset {
  const details: Record<string, string | number | boolean> =
    set.task === 'retrieval'
      ? { task: 'retrieval', protocol: set.protocol, images: set.imageKeys.length, texts: set.captions.length }
      : { task: 'classification', images: set.imageKeys.length, classes: set.classNames.length, templates: set.templates.length };
  return { name: set.name, fingerprint: set.fingerprint, details };
}

/**
 * Evaluates `model` on one set:
 *
 * - retrieval sets: image→text and text→image R@k, mean and median rank (task `retrieval`, or
 *   `retrieval-1to1` for one-to-one long-caption sets), see `retrievalMetrics`;
 * - classification sets: zero-shot acc@k and mean per-class recall (task `zero-shot`), see
 *   `zeroShotMetrics`.
 *
 * Image, caption and prompt features go through the feature cache when one is given, keyed by the
 * embedder's fingerprint and the set's fingerprint: on a second run the embedders are not called.
 *
 * @throws Llm2ClipError `E_SHAPE` when the embedders' dims differ, as the metric functions otherwise.
 */
export async function runBenchmark(model: BenchmarkModel, set: EvalSet, options: RunBenchmarkOptions = {}): Promise<BenchmarkOutcome> {
  const { textEmbedder, imageEmbedder } = model;
  if (textEmbedder.dim !== imageEmbedder.dim) {
    throw new Llm2ClipError('E_SHAPE', `text embedder dim ${textEmbedder.dim} differs from image embedder dim ${imageEmbedder.dim}`, { field: 'imageEmbedder' });
  }
  const cache = typeof options.cache === 'string' ? new FeatureCache(options.cache) : options.cache;
  const batchSize = resolveBatchSize(options.batchSize);
  const dataset: FeatureDataset = { name: set.name, fingerprint: set.fingerprint };
  const cached = (description: ReturnType<TextEmbedder['describe']>, role: 'images' | 'texts' | 'prompts', compute: () => Promise<EmbeddingMatrix>) =>
    cache === undefined ? compute() : cache.getOrCompute(description, dataset, role, compute);

  const images = await cached(imageEmbedder.describe(), 'images', () => embedImages(imageEmbedder, set, batchSize, options.onProgress));
  if (set.task === 'retrieval') {
    const texts = await cached(textEmbedder.describe(), 'texts', () =>
      embedInChunks(textEmbedder, set.captions, { batchSize, onProgress: options.onProgress, task: `embed-texts:${set.name}`, unit: 'caption', label: 'text embedder' }),
    );
    return retrievalOutcome(model, set, images, texts, options);
  }
  const prompts = await cached(textEmbedder.describe(), 'prompts', () =>
    embedInChunks(textEmbedder, classificationPrompts(set), { batchSize, onProgress: options.onProgress, task: `embed-prompts:${set.name}`, unit: 'prompt', label: 'text embedder' }),
  );
  return classificationOutcome(model, set, images, prompts, options);
}

async function embedImages(embedder: ImageEmbedder, set: EvalSet, batchSize: number, onProgress: ProgressCallback | undefined): Promise<EmbeddingMatrix> {
  const parts: EmbeddingMatrix[] = [];
  let pending: ImageRef[] = [];
  let done = 0;
  const total = set.imageKeys.length;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    parts.push(await embedBatch(embedder, pending, batchSize, 'image embedder'));
    done += pending.length;
    pending = [];
    onProgress?.({ task: `embed-images:${set.name}`, done, total, unit: 'image' });
  };
  for await (const image of set.images()) {
    pending.push(image);
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  if (done !== total) throw new Llm2ClipError('E_MISMATCH', `eval set '${set.name}' gave ${done} images for ${total} keys`, { field: 'images' });
  return parts.length === 0 ? embeddingMatrix(0, embedder.dim, new Float32Array(0)) : concatRows(parts);
}

function classificationPrompts(set: ClassificationEvalSet): string[] {
  const prompts: string[] = [];
  for (const className of set.classNames) for (const template of set.templates) prompts.push(fillClassTemplate(template, className));
  return prompts;
}

async function retrievalOutcome(
  model: BenchmarkModel,
  set: RetrievalEvalSet,
  images: EmbeddingMatrix,
  texts: EmbeddingMatrix,
  options: RunBenchmarkOptions,
): Promise<BenchmarkOutcome> {
  const ks = resolveKs(options.ks ?? DEFAULT_KS);
  const progress = options.onProgress;
  const ranks = retrievalRanks(images, texts, set.captionImage, {
    onProgress: progress === undefined ? undefined : (event) => progress({ ...event, task: `rank:${set.name}` }),
  });
  const metrics = metricsFromRanks(ranks, ks);
  const task = set.protocol === 'one-to-one' ? 'retrieval-1to1' : 'retrieval';
  const rows = retrievalReportRows({ model: model.id, dataset: set.name, result: metrics, task });
  const examples = await exampleQueries(model.id, set, images, texts, options);
  return { set, rows, retrieval: metrics, examples };
}

function classificationOutcome(
  model: BenchmarkModel,
  set: ClassificationEvalSet,
  images: EmbeddingMatrix,
  prompts: EmbeddingMatrix,
  options: RunBenchmarkOptions,
): BenchmarkOutcome {
  const weights = averageTemplateEmbeddings(prompts, set.classNames.length, set.templates.length);
  const metrics = zeroShotMetrics(images, weights, set.labels, { ks: options.classificationKs });
  const settings = { images: set.imageKeys.length, classes: set.classNames.length, templates: set.templates.length };
  const rows: ReportResult[] = [];
  for (const k of metrics.ks) {
    rows.push({ model: model.id, dataset: set.name, task: 'zero-shot', metric: `acc${k}`, value: metrics.accuracy[`acc${k}`], unit: 'fraction', settings });
  }
  rows.push({ model: model.id, dataset: set.name, task: 'zero-shot', metric: 'meanPerClassRecall', value: metrics.meanPerClassRecall, unit: 'fraction', settings });
  return { set, rows, classification: metrics, examples: [] };
}

/** The top images of a few evenly spaced captions, with thumbnails. */
async function exampleQueries(
  modelId: string,
  set: RetrievalEvalSet,
  images: EmbeddingMatrix,
  texts: EmbeddingMatrix,
  options: RunBenchmarkOptions,
): Promise<ExampleQuery[]> {
  const count = Math.min(options.exampleQueries ?? 0, set.captions.length);
  if (count <= 0) return [];
  const k = Math.min(options.exampleTopK ?? 5, images.rows);
  const picked = Array.from({ length: count }, (_, i) => Math.floor((i * set.captions.length) / count));
  const queries = embeddingMatrix(count, texts.dim, new Float32Array(count * texts.dim));
  picked.forEach((row, i) => (queries.data as Float32Array).set(texts.data.subarray(row * texts.dim, (row + 1) * texts.dim), i * texts.dim));
  const best = topK(queries, images, k);
  const needed = new Set(best.indices);
  const thumbnails = new Map<number, string>();
  let row = 0;
  for await (const image of set.images()) {
    if (needed.has(row)) thumbnails.set(row, await thumbnailDataUri(image, { size: options.thumbnailSize, key: set.imageKeys[row] }));
    row++;
    if (thumbnails.size === needed.size) break;
  }
  return picked.map((caption, i) => ({
    model: modelId,
    dataset: set.name,
    query: set.captions[caption],
    hits: Array.from({ length: best.k }, (_, t) => {
      const image = best.indices[i * best.k + t];
      const thumbnail = thumbnails.get(image);
      return {
        key: set.imageKeys[image],
        score: best.scores[i * best.k + t],
        correct: image === set.captionImage[caption],
        ...(thumbnail !== undefined ? { thumbnail } : {}),
      };
    }),
  }));
}

/** Options of {@link runLinearProbe}. */
export interface RunLinearProbeOptions extends LinearProbeOptions {
  /** Feature cache (or its directory) for the image features of both sets. */
  cache?: FeatureCache | string;
  /** Images per `embed` call. Default 64. */
  batchSize?: number;
  /** Fraction of each training class held out to choose λ. Default 0.2. */
  validationFraction?: number;
  /** Seed of the validation split. Default 0. */
  seed?: number;
  /** Progress events: `embed-images:<set>`. */
  onProgress?: ProgressCallback;
}

/**
 * A linear probe of `imageEmbedder` (CLIP paper protocol, see `linearProbe`): image features of
 * `train` and `test` (cached like {@link runBenchmark}'s), a seeded per-class validation split of
 * `train` to choose the L2 strength, a refit on all of `train`, and acc@k / mean per-class recall on
 * `test` as report rows (task `linear-probe`, dataset `test.name`, the chosen λ in the settings).
 *
 * @throws Llm2ClipError `E_CONFIG` when the two sets have different class lists.
 */
export async function runLinearProbe(
  modelId: string,
  imageEmbedder: ImageEmbedder,
  train: ClassificationEvalSet,
  test: ClassificationEvalSet,
  options: RunLinearProbeOptions = {},
): Promise<{ result: LinearProbeResult; rows: ReportResult[] }> {
  if (train.classNames.length !== test.classNames.length || train.classNames.some((name, i) => name !== test.classNames[i])) {
    throw new Llm2ClipError('E_CONFIG', `linear probe: '${train.name}' and '${test.name}' have different classes`, { field: 'classNames' });
  }
  const cache = typeof options.cache === 'string' ? new FeatureCache(options.cache) : options.cache;
  const batchSize = resolveBatchSize(options.batchSize);
  const features = (set: ClassificationEvalSet): Promise<EmbeddingMatrix> => {
    const compute = () => embedImages(imageEmbedder, set, batchSize, options.onProgress);
    return cache === undefined ? compute() : cache.getOrCompute(imageEmbedder.describe(), { name: set.name, fingerprint: set.fingerprint }, 'images', compute);
  };
  const trainFeatures = await features(train);
  const testFeatures = await features(test);
  const { train: fit, validation } = splitForValidation({ features: trainFeatures, labels: train.labels }, options.validationFraction ?? 0.2, options.seed ?? 0);
  const result = linearProbe(fit, validation, { features: testFeatures, labels: test.labels }, { ...options, classes: options.classes ?? train.classNames.length });
  const settings = { train: train.imageKeys.length, images: test.imageKeys.length, classes: test.classNames.length, l2: result.l2 };
  const rows: ReportResult[] = [];
  for (const k of result.metrics.ks) {
    rows.push({ model: modelId, dataset: test.name, task: 'linear-probe', metric: `acc${k}`, value: result.metrics.accuracy[`acc${k}`], unit: 'fraction', settings });
  }
  rows.push({ model: modelId, dataset: test.name, task: 'linear-probe', metric: 'meanPerClassRecall', value: result.metrics.meanPerClassRecall, unit: 'fraction', settings });
  return { result, rows };
}
