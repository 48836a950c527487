import {
  Llm2ClipError,
  embeddingMatrix,
  type EmbeddingMatrix,
  type ModelDescription,
  type ProgressCallback,
  type TextEmbedder,
} from '@llm2clip/core';
import { embedInChunks } from './embed-in-chunks.js';
import { assertSameDim, similarityBlocks, type SimilarityOptions } from './similarity.js';

/** The placeholder a zero-shot template uses for the class name (CLIP_benchmark's `{c}`). */
export const CLASS_PLACEHOLDER = '{c}';

/** A zero-shot classifier: one unit-norm text embedding per class. */
export interface ZeroShotClassifier {
  /** Class names, in label order. */
  readonly classNames: readonly string[];
  /** The templates the class embeddings were averaged over. */
  readonly templates: readonly string[];
  /** `classes × dim`, unit-norm rows: row `c` is the classifier weight of class `c`. */
  readonly weights: EmbeddingMatrix;
  /** The text embedder that built it. */
  readonly model: ModelDescription;
}

/** Options of {@link buildZeroShotClassifier}. */
export interface ZeroShotClassifierOptions {
  /** Prompts per `embed` call. Default 64. */
  batchSize?: number;
  /** Receives `{ task: 'embed-prompts', unit: 'prompt' }` events. */
  onProgress?: ProgressCallback;
}

/**
 * Fills `template` with `className`: every `{c}` is replaced (CLIP_benchmark's template files use
 * `{c}`; OpenAI's CLIP notebook writes the same prompts as Python lambdas).
 *
 * @throws Llm2ClipError `E_CONFIG` when the template has no `{c}`.
 */
export function fillClassTemplate(template: string, className: string): string {
  if (!template.includes(CLASS_PLACEHOLDER)) {
    throw new Llm2ClipError('E_CONFIG', `zero-shot template ${JSON.stringify(template)} has no ${CLASS_PLACEHOLDER} placeholder`, {
      field: 'templates',
    });
  }
  return template.split(CLASS_PLACEHOLDER).join(className);
}

/**
 * Builds the zero-shot classifier of CLIP / open_clip / CLIP_benchmark: for each class, embed
 * every template filled with the class name, L2-normalise each prompt embedding, average them,
 * and L2-normalise the average. (A class whose average is the zero vector keeps a zero row and
 * scores 0 against every image.)
 *
 * @example
 * ```ts
 * const classifier = await buildZeroShotClassifier(textEmbedder, ['cat', 'dog'], ['a photo of a {c}.', 'a {c}.']);
 * ```
 * @throws Llm2ClipError `E_CONFIG` for no classes, no templates or a template without `{c}`;
 *   `E_SHAPE` when the embedder returns a wrong shape.
 */
export async function buildZeroShotClassifier(
  textEmbedder: TextEmbedder,
  classNames: readonly string[],
  templates: readonly string[],
  options: ZeroShotClassifierOptions = {},
): Promise<ZeroShotClassifier> {
  if (classNames.length === 0) throw new Llm2ClipError('E_CONFIG', 'zero-shot classification needs at least one class', { field: 'classNames' });
  if (templates.length === 0) throw new Llm2ClipError('E_CONFIG', 'zero-shot classification needs at least one template', { field: 'templates' });
  const prompts: string[] = [];
  for (const className of classNames) for (const template of templates) prompts.push(fillClassTemplate(template, className));
  const embedded = await embedInChunks(textEmbedder, prompts, {
    batchSize: options.batchSize,
    onProgress: options.onProgress,
    task: 'embed-prompts',
    unit: 'prompt',
    label: 'text embedder',
  });
  return {
    classNames: [...classNames],
    templates: [...templates],
    weights: averageTemplateEmbeddings(embedded, classNames.length, templates.length),
    model: textEmbedder.describe(),
  };
}

/**
 * Class weights from prompt embeddings laid out class-major (`classes × templates` rows): each
 * prompt row is L2-normalised, the rows of a class are averaged, and the average is L2-normalised.
 * Exposed for callers that embed prompts themselves.
 *
 * @throws Llm2ClipError `E_SHAPE` when `prompts.rows !== classes * templates`.
 */
export function averageTemplateEmbeddings(prompts: EmbeddingMatrix, classes: number, templates: number): EmbeddingMatrix {
  if (prompts.rows !== classes * templates) {
    throw new Llm2ClipError('E_SHAPE', `expected ${classes} × ${templates} prompt embeddings, got ${prompts.rows}`, { field: 'prompts' });
  }
  const dim = prompts.dim;
  const weights = new Float32Array(classes * dim);
  const sum = new Float64Array(dim);
  for (let c = 0; c < classes; c++) {
    sum.fill(0);
    for (let t = 0; t < templates; t++) {
      const offset = (c * templates + t) * dim;
      let norm = 0;
      for (let k = 0; k < dim; k++) norm += prompts.data[offset + k] * prompts.data[offset + k];
      norm = Math.sqrt(norm);
      if (norm === 0) continue;
      for (let k = 0; k < dim; k++) sum[k] += prompts.data[offset + k] / norm;
    }
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += (sum[k] / templates) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    for (let k = 0; k < dim; k++) weights[c * dim + k] = sum[k] / templates / norm;
  }
  return embeddingMatrix(classes, dim, weights);
}

/**
 * Classification metrics, as CLIP_benchmark reports them:
 *
 * - `acc1`, `acc5` (generally `accK` for each requested k): fraction of images whose true class
 *   is among the top k classes;
 * - `meanPerClassRecall`: the mean over classes that occur in `labels` of the fraction of their
 *   images whose top-1 class is right (scikit-learn's `balanced_accuracy_score`).
 */
export interface ClassificationMetrics {
  /** Top-k accuracies keyed `acc1`, `acc5`, … (fractions in [0, 1]). */
  readonly accuracy: { readonly [key: `acc${number}`]: number };
  /** Mean per-class recall of the top-1 prediction (fraction). */
  readonly meanPerClassRecall: number;
  /** Per class: recall of its images, `NaN` for a class with no image. */
  readonly perClassRecall: Float64Array;
  /** Per image: the top-1 class. */
  readonly predictions: Int32Array;
  /** Per image: the 1-based rank of its true class. */
  readonly ranks: Int32Array;
  /** The k values of `accuracy`. */
  readonly ks: readonly number[];
  /** Number of images. */
  readonly images: number;
}

/** Options of {@link classificationMetricsFromScores} and {@link zeroShotMetrics}. */
export interface ClassificationOptions extends SimilarityOptions {
  /** Top-k cut-offs. Default `[1, 5]`; with k ≥ the class count, `acc<k>` is 1. */
  ks?: readonly number[];
}

/** Default top-k cut-offs of classification. */
export const DEFAULT_CLASSIFICATION_KS: readonly number[] = [1, 5];

/**
 * Tracks per-image ranks and predictions; shared by zero-shot and the linear probe so both use the
 * package's tie rule (equal scores go to the lower class index).
 * @internal
 */
export class ClassificationTally {
  readonly predictions: Int32Array;
  readonly ranks: Int32Array;

  constructor(
    readonly labels: Int32Array,
    readonly classes: number,
  ) {
    this.predictions = new Int32Array(labels.length);
    this.ranks = new Int32Array(labels.length);
  }

  /** Records the class scores of image `index`. */
  add(index: number, scores: ArrayLike<number>): void {
    const label = this.labels[index];
    const target = scores[label];
    let before = 0;
    let best = 0;
    for (let c = 0; c < this.classes; c++) {
      const s = scores[c];
      if (s > target || (s === target && c < label)) before++;
      if (s > scores[best]) best = c;
    }
    this.ranks[index] = before + 1;
    this.predictions[index] = best;
  }

  metrics(ks: readonly number[]): ClassificationMetrics {
    const n = this.labels.length;
    const accuracy: Record<string, number> = {};
    for (const k of ks) {
      let hits = 0;
      for (const rank of this.ranks) if (rank <= k) hits++;
      accuracy[`acc${k}`] = hits / n;
    }
    const total = new Float64Array(this.classes);
    const correct = new Float64Array(this.classes);
    for (let i = 0; i < n; i++) {
      total[this.labels[i]]++;
      if (this.predictions[i] === this.labels[i]) correct[this.labels[i]]++;
    }
    const perClassRecall = new Float64Array(this.classes);
    let sum = 0;
    let present = 0;
    for (let c = 0; c < this.classes; c++) {
      if (total[c] === 0) {
        perClassRecall[c] = Number.NaN;
        continue;
      }
      perClassRecall[c] = correct[c] / total[c];
      sum += perClassRecall[c];
      present++;
    }
    return {
      accuracy: accuracy as ClassificationMetrics['accuracy'],
      meanPerClassRecall: sum / present,
      perClassRecall,
      predictions: this.predictions,
      ranks: this.ranks,
      ks: [...ks],
      images: n,
    };
  }
}

/**
 * Checks class labels against a class count and top-k cut-offs; returns the labels as Int32Array.
 * @internal
 */
export function checkLabels(labels: Int32Array | readonly number[], classes: number, rows: number): Int32Array {
  if (labels.length !== rows) {
    throw new Llm2ClipError('E_SHAPE', `${labels.length} labels for ${rows} images`, { field: 'labels' });
  }
  if (rows === 0) throw new Llm2ClipError('E_DATA', 'classification needs at least one image', { field: 'labels' });
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new Llm2ClipError('E_DATA', `label ${label} of image ${i} is not a class index in [0, ${classes})`, { field: 'labels' });
    }
    out[i] = label;
  }
  return out;
}

/** Resolves classification cut-offs (positive integers, duplicates dropped). @internal */
export function resolveClassificationKs(ks: readonly number[] | undefined): number[] {
  const requested = ks ?? DEFAULT_CLASSIFICATION_KS;
  if (requested.length === 0) throw new Llm2ClipError('E_CONFIG', 'ks must name at least one k', { field: 'ks' });
  const out: number[] = [];
  for (const k of requested) {
    if (!Number.isInteger(k) || k < 1) throw new Llm2ClipError('E_CONFIG', `ks must hold positive integers, got ${k}`, { field: 'ks' });
    if (!out.includes(k)) out.push(k);
  }
  return out;
}

/**
 * Classification metrics from a dense `images × classes` score matrix (row-major), e.g. logits of a
 * linear probe. Ties: a class with the same score as the true class counts before it only when its
 * index is lower (the order `torch.topk` gives on CPU for equal values, and this package's rule).
 *
 * @throws Llm2ClipError `E_SHAPE` / `E_DATA` for inconsistent labels or scores.
 */
export function classificationMetricsFromScores(
  scores: Float32Array | Float64Array,
  classes: number,
  labels: Int32Array | readonly number[],
  options: { ks?: readonly number[] } = {},
): ClassificationMetrics {
  if (classes < 1 || scores.length % classes !== 0) {
    throw new Llm2ClipError('E_SHAPE', `${scores.length} scores are not a multiple of ${classes} classes`, { field: 'scores' });
  }
  const rows = scores.length / classes;
  const tally = new ClassificationTally(checkLabels(labels, classes, rows), classes);
  for (let i = 0; i < rows; i++) tally.add(i, scores.subarray(i * classes, (i + 1) * classes));
  return tally.metrics(resolveClassificationKs(options.ks));
}

/**
 * Zero-shot classification metrics of `images` (`N × dim`, normalised here) against the class
 * weights of a {@link ZeroShotClassifier} (cosine similarity; a scale such as CLIP's logit scale
 * does not change the ranking). Scores are computed block by block; the full `N × classes`
 * matrix is never held.
 *
 * @throws Llm2ClipError `E_SHAPE` for mismatched dims or label count, `E_DATA` for a bad label.
 */
export function zeroShotMetrics(
  images: EmbeddingMatrix,
  classifier: ZeroShotClassifier | EmbeddingMatrix,
  labels: Int32Array | readonly number[],
  options: ClassificationOptions = {},
): ClassificationMetrics {
  const weights = 'weights' in classifier ? classifier.weights : classifier;
  assertSameDim(images, 'images', weights, 'class weights');
  const classes = weights.rows;
  const tally = new ClassificationTally(checkLabels(labels, classes, images.rows), classes);
  for (const block of similarityBlocks(images, weights, { blockRows: options.blockRows, assumeNormalized: options.assumeNormalized })) {
    for (let r = 0; r < block.rowCount; r++) tally.add(block.rowStart + r, block.data.subarray(r * classes, (r + 1) * classes));
  }
  return tally.metrics(resolveClassificationKs(options.ks));
}
