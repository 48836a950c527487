import { Llm2ClipError, Rng, embeddingMatrix, l2NormalizeRows, type EmbeddingMatrix } from '@llm2clip/core';
import { logisticLogits, trainLogisticRegression, type LogisticRegressionModel } from './logistic-regression.js';
import { classificationMetricsFromScores, type ClassificationMetrics } from './zero-shot.js';

/** Frozen features and their class labels. */
export interface LabelledFeatures {
  /** `N × dim` features (e.g. image embeddings). */
  readonly features: EmbeddingMatrix;
  /** `N` class indices. */
  readonly labels: Int32Array | readonly number[];
}

/** The L2 strengths tried by default: 10⁻⁶ … 10⁰, one per decade. */
export const DEFAULT_L2_GRID: readonly number[] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];

/** Options of {@link linearProbe}. */
export interface LinearProbeOptions {
  /** Number of classes. Default: 1 + the largest label in any split. */
  classes?: number;
  /** L2 strengths λ to choose from on the validation split. Default {@link DEFAULT_L2_GRID}. */
  l2Grid?: readonly number[];
  /** L2-normalise every feature row first (as CLIP features are used). Default `true`. */
  normalize?: boolean;
  /** Refit on train + validation with the chosen λ before testing. Default `true`. */
  refit?: boolean;
  /** Top-k cut-offs of the test metrics. Default `[1, 5]`. */
  ks?: readonly number[];
  /** L-BFGS iteration limit per fit. Default 500. */
  maxIterations?: number;
  /** Gradient max-norm tolerance per fit. Default 1e-6. */
  tolerance?: number;
}

/** Outcome of {@link linearProbe}. */
export interface LinearProbeResult {
  /** The chosen L2 strength. */
  readonly l2: number;
  /** Validation top-1 accuracy of every λ tried, in grid order. */
  readonly validation: readonly { readonly l2: number; readonly accuracy: number }[];
  /** Test metrics of the final model. */
  readonly metrics: ClassificationMetrics;
  /** The final model. */
  readonly model: LogisticRegressionModel;
}

/**
 * A linear probe, as in the CLIP paper: multinomial logistic regression on frozen features.
 *
 * 1. Features are L2-normalised (unless `normalize: false`).
 * 2. For each λ in `l2Grid`, fit on `train` ({@link trainLogisticRegression}: deterministic
 *    L-BFGS) and measure top-1 accuracy on `validation`.
 * 3. Choose the λ with the best validation accuracy; on a tie, the **larger** λ (the simpler
 *    model).
 * 4. Refit with that λ on train + validation (unless `refit: false`) and report acc@k and mean
 *    per-class recall on `test`.
 *
 * @throws Llm2ClipError `E_SHAPE` for mismatched dims, `E_CONFIG` for an empty grid or too few
 *   classes, `E_DATA` for bad labels.
 */
export function linearProbe(
  train: LabelledFeatures,
  validation: LabelledFeatures,
  test: LabelledFeatures,
  options: LinearProbeOptions = {},
): LinearProbeResult {
  const grid = options.l2Grid ?? DEFAULT_L2_GRID;
  if (grid.length === 0) throw new Llm2ClipError('E_CONFIG', 'l2Grid must hold at least one value', { field: 'l2Grid' });
  const dim = train.features.dim;
  for (const [name, split] of [['validation', validation], ['test', test]] as const) {
    if (split.features.dim !== dim) {
      throw new Llm2ClipError('E_SHAPE', `${name} features have dim ${split.features.dim}, train features ${dim}`, { field: name });
    }
  }
  let maxLabel = 0;
  for (const split of [train, validation, test]) for (const label of split.labels) maxLabel = Math.max(maxLabel, label);
  const classes = options.classes ?? maxLabel + 1;
  const normalize = options.normalize ?? true;
  const prepare = (features: EmbeddingMatrix): EmbeddingMatrix => (normalize ? l2NormalizeRows(features) : features);
  const trainX = prepare(train.features);
  const validationX = prepare(validation.features);
  const testX = prepare(test.features);
  const fit = { maxIterations: options.maxIterations, tolerance: options.tolerance };

  const tried: { l2: number; accuracy: number }[] = [];
  let best = { l2: grid[0], accuracy: -1 };
  for (const l2 of grid) {
    const model = trainLogisticRegression(trainX, train.labels, classes, { ...fit, l2 });
    const accuracy = classificationMetricsFromScores(logisticLogits(model, validationX), classes, validation.labels, { ks: [1] })
      .accuracy.acc1;
    tried.push({ l2, accuracy });
    if (accuracy > best.accuracy || (accuracy === best.accuracy && l2 > best.l2)) best = { l2, accuracy };
  }
  const refit = options.refit ?? true;
  const finalX = refit ? stackRows(trainX, validationX) : trainX;
  const finalLabels = refit ? [...train.labels, ...validation.labels] : train.labels;
  const model = trainLogisticRegression(finalX, finalLabels, classes, { ...fit, l2: best.l2 });
  const metrics = classificationMetricsFromScores(logisticLogits(model, testX), classes, test.labels, { ks: options.ks ?? [1, 5] });
  return { l2: best.l2, validation: tried, metrics, model };
}

/**
 * Splits labelled features into a training and a validation part: a seeded shuffle per class,
 * `fraction` of each class (rounded down, at least one when the class has ≥ 2 rows) goes to
 * validation. The same seed always gives the same split.
 *
 * @throws Llm2ClipError `E_CONFIG` when `fraction` is not in (0, 1).
 */
export function splitForValidation(data: LabelledFeatures, fraction: number, seed: number): { train: LabelledFeatures; validation: LabelledFeatures } {
  if (!(fraction > 0 && fraction < 1)) throw new Llm2ClipError('E_CONFIG', `fraction must be in (0, 1), got ${fraction}`, { field: 'fraction' });
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < data.labels.length; i++) {
    const label = data.labels[i];
    const rows = byClass.get(label) ?? [];
    rows.push(i);
    byClass.set(label, rows);
  }
  const rng = new Rng(seed);
  const trainRows: number[] = [];
  const validationRows: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(label) as number[];
    const order = rng.permutation(rows.length).map((i) => rows[i]);
    const take = rows.length < 2 ? 0 : Math.max(1, Math.floor(rows.length * fraction));
    validationRows.push(...order.slice(0, take));
    trainRows.push(...order.slice(take));
  }
  trainRows.sort((a, b) => a - b);
  validationRows.sort((a, b) => a - b);
  return { train: pickRows(data, trainRows), validation: pickRows(data, validationRows) };
}

function pickRows(data: LabelledFeatures, rows: readonly number[]): LabelledFeatures {
  const dim = data.features.dim;
  const features = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => features.set(data.features.data.subarray(row * dim, (row + 1) * dim), i * dim));
  return { features: embeddingMatrix(rows.length, dim, features), labels: Int32Array.from(rows, (row) => data.labels[row]) };
}

function stackRows(a: EmbeddingMatrix, b: EmbeddingMatrix): EmbeddingMatrix {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return embeddingMatrix(a.rows + b.rows, a.dim, data);
}
