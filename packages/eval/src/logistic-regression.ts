import { Llm2ClipError, type EmbeddingMatrix } from '@llm2clip/core';

/** A trained multinomial logistic regression: `logits = W x + b`. */
export interface LogisticRegressionModel {
  /** Number of classes. */
  readonly classes: number;
  /** Feature dimension. */
  readonly dim: number;
  /** `classes × dim` weights, row-major. */
  readonly weights: Float64Array;
  /** `classes` biases (not regularised). */
  readonly bias: Float64Array;
  /** The L2 strength it was trained with. */
  readonly l2: number;
  /** L-BFGS iterations used. */
  readonly iterations: number;
  /** Final objective: mean cross-entropy + `l2 / 2 · ‖W‖²`. */
  readonly loss: number;
  /** Max-norm of the final gradient. */
  readonly gradientNorm: number;
  /** Whether the gradient tolerance was reached (otherwise the iteration limit stopped it). */
  readonly converged: boolean;
}

/** Options of {@link trainLogisticRegression}. */
export interface LogisticRegressionOptions {
  /** L2 strength λ on the weights (the bias is not penalised). Default 0. */
  l2?: number;
  /** L-BFGS iteration limit. Default 500. */
  maxIterations?: number;
  /** Stop when the gradient's max-norm falls below this. Default 1e-6. */
  tolerance?: number;
  /** L-BFGS history length. Default 10. */
  history?: number;
}

/**
 * Trains multinomial logistic regression on `features` (`N × dim`) and integer `labels` in
 * `[0, classes)` by minimising
 *
 * `f(W, b) = (1/N) Σᵢ −log softmax(W xᵢ + b)[yᵢ] + (λ/2) ‖W‖²`
 *
 * with full-batch L-BFGS (two-loop recursion, Armijo backtracking line search) in double precision,
 * starting from zero. There is no randomness and the summation order is fixed, so the same input
 * always gives the same weights — the property a probe needs to be comparable across runs. This is
 * the objective of scikit-learn's `LogisticRegression(multi_class='multinomial', C = 1/(N λ))`.
 *
 * @throws Llm2ClipError `E_SHAPE` / `E_DATA` for inconsistent inputs, `E_CONFIG` for bad options.
 */
export function trainLogisticRegression(
  features: EmbeddingMatrix,
  labels: Int32Array | readonly number[],
  classes: number,
  options: LogisticRegressionOptions = {},
): LogisticRegressionModel {
  const l2 = options.l2 ?? 0;
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-6;
  const history = options.history ?? 10;
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new Llm2ClipError('E_CONFIG', `l2 must be a finite number ≥ 0, got ${l2}`, { field: 'l2' });
  if (!Number.isInteger(maxIterations) || maxIterations < 0) {
    throw new Llm2ClipError('E_CONFIG', `maxIterations must be a non-negative integer, got ${maxIterations}`, { field: 'maxIterations' });
  }
  if (!Number.isInteger(history) || history < 1) throw new Llm2ClipError('E_CONFIG', `history must be a positive integer, got ${history}`, { field: 'history' });
  if (!Number.isInteger(classes) || classes < 2) throw new Llm2ClipError('E_CONFIG', `need at least 2 classes, got ${classes}`, { field: 'classes' });
  const n = features.rows;
  const dim = features.dim;
  if (features.data.length !== n * dim) throw new Llm2ClipError('E_SHAPE', `features claim ${n}x${dim} but hold ${features.data.length} values`, { field: 'features' });
  if (labels.length !== n) throw new Llm2ClipError('E_SHAPE', `${labels.length} labels for ${n} feature rows`, { field: 'labels' });
  if (n === 0) throw new Llm2ClipError('E_DATA', 'logistic regression needs at least one example', { field: 'features' });
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new Llm2ClipError('E_DATA', `label ${y} of row ${i} is not in [0, ${classes})`, { field: 'labels' });
  }
  for (let i = 0; i < features.data.length; i++) {
    if (!Number.isFinite(features.data[i])) {
      throw new Llm2ClipError('E_DATA', `feature row ${Math.floor(i / dim)} holds a non-finite value`, { field: 'features' });
    }
  }

  const size = classes * dim + classes; // weights, then biases
  const objective = (theta: Float64Array, gradient: Float64Array): number => logisticObjective(features, labels, classes, l2, theta, gradient);

  let theta = new Float64Array(size);
  let gradient = new Float64Array(size);
  let loss = objective(theta, gradient);
  const sHistory: Float64Array[] = [];
  const yHistory: Float64Array[] = [];
  const rhoHistory: number[] = [];
  const direction = new Float64Array(size);
  const alpha = new Float64Array(history);
  let iterations = 0;
  let gradNorm = maxAbs(gradient);
  let converged = gradNorm <= tolerance;
  const nextTheta = new Float64Array(size);
  const nextGradient = new Float64Array(size);
  while (!converged && iterations < maxIterations) {
    // Two-loop recursion: direction = −H·g.
    for (let i = 0; i < size; i++) direction[i] = -gradient[i];
    const m = sHistory.length;
    for (let j = m - 1; j >= 0; j--) {
      alpha[j] = rhoHistory[j] * dot(sHistory[j], direction);
      axpy(-alpha[j], yHistory[j], direction);
    }
    if (m > 0) {
      const gamma = dot(sHistory[m - 1], yHistory[m - 1]) / dot(yHistory[m - 1], yHistory[m - 1]);
      for (let i = 0; i < size; i++) direction[i] *= gamma;
    } else {
      // First step: a steepest-descent step of length 1 in parameter space.
      const scale = 1 / Math.max(norm2(gradient), 1e-300);
      for (let i = 0; i < size; i++) direction[i] *= scale;
    }
    for (let j = 0; j < m; j++) {
      const beta = rhoHistory[j] * dot(yHistory[j], direction);
      axpy(alpha[j] - beta, sHistory[j], direction);
    }
    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sHistory.length = 0;
      yHistory.length = 0;
      rhoHistory.length = 0;
      const scale = 1 / Math.max(norm2(gradient), 1e-300);
      for (let i = 0; i < size; i++) direction[i] = -gradient[i] * scale;
      slope = dot(gradient, direction);
    }
    // Armijo backtracking from the full step.
    let step = 1;
    let nextLoss = Infinity;
    for (let tries = 0; tries < 60; tries++) {
      for (let i = 0; i < size; i++) nextTheta[i] = theta[i] + step * direction[i];
      nextLoss = objective(nextTheta, nextGradient);
      if (nextLoss <= loss + 1e-4 * step * slope) break;
      step /= 2;
    }
    iterations++;
    if (!(nextLoss <= loss + 1e-4 * step * slope)) break; // the line search found no decrease: at machine precision
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = nextTheta[i] - theta[i];
      y[i] = nextGradient[i] - gradient[i];
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * norm2(s) * norm2(y)) {
      if (sHistory.length === history) {
        sHistory.shift();
        yHistory.shift();
        rhoHistory.shift();
      }
      sHistory.push(s);
      yHistory.push(y);
      rhoHistory.push(1 / sy);
    }
    const previousLoss = loss;
    [theta, gradient] = [Float64Array.from(nextTheta), Float64Array.from(nextGradient)];
    loss = nextLoss;
    gradNorm = maxAbs(gradient);
    converged = gradNorm <= tolerance;
    if (!converged && previousLoss - loss <= 1e-15 * Math.max(1, Math.abs(loss))) break; // stalled at machine precision
  }
  return {
    classes,
    dim,
    weights: theta.slice(0, classes * dim),
    bias: theta.slice(classes * dim),
    l2,
    iterations,
    loss,
    gradientNorm: gradNorm,
    converged,
  };
}

/**
 * The objective of {@link trainLogisticRegression} at `theta` (`[W row-major, b]`); writes its
 * gradient into `gradient`. Exposed for tests and for checking a solution (the gradient of an
 * optimum is zero).
 */
export function logisticObjective(
  features: EmbeddingMatrix,
  labels: Int32Array | readonly number[],
  classes: number,
  l2: number,
  theta: Float64Array,
  gradient: Float64Array,
): number {
  const n = features.rows;
  const dim = features.dim;
  const x = features.data;
  const biasOffset = classes * dim;
  gradient.fill(0);
  const logits = new Float64Array(classes);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      let z = theta[biasOffset + c];
      const w = c * dim;
      for (let k = 0; k < dim; k++) z += theta[w + k] * x[row + k];
      logits[c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      logits[c] = Math.exp(logits[c] - max);
      sum += logits[c];
    }
    const y = labels[i];
    // −log p_y = log Σ exp(z) − z_y, computed stably from the shifted exponentials.
    loss += Math.log(sum) - Math.log(logits[y]);
    for (let c = 0; c < classes; c++) {
      const residual = logits[c] / sum - (c === y ? 1 : 0);
      if (residual === 0) continue;
      const w = c * dim;
      for (let k = 0; k < dim; k++) gradient[w + k] += residual * x[row + k];
      gradient[biasOffset + c] += residual;
    }
  }
  loss /= n;
  let penalty = 0;
  for (let i = 0; i < biasOffset; i++) {
    gradient[i] = gradient[i] / n + l2 * theta[i];
    penalty += theta[i] * theta[i];
  }
  for (let c = 0; c < classes; c++) gradient[biasOffset + c] /= n;
  return loss + (l2 / 2) * penalty;
}

/** Logits `W x + b` of every row of `features` under `model`: `N × classes`, row-major. */
export function logisticLogits(model: LogisticRegressionModel, features: EmbeddingMatrix): Float64Array {
  if (features.dim !== model.dim) {
    throw new Llm2ClipError('E_SHAPE', `features have dim ${features.dim} but the model expects ${model.dim}`, { field: 'features' });
  }
  const out = new Float64Array(features.rows * model.classes);
  for (let i = 0; i < features.rows; i++) {
    for (let c = 0; c < model.classes; c++) {
      let z = model.bias[c];
      for (let k = 0; k < model.dim; k++) z += model.weights[c * model.dim + k] * features.data[i * model.dim + k];
      out[i * model.classes + c] = z;
    }
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function axpy(scale: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += scale * x[i];
}

function norm2(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}

function maxAbs(a: Float64Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}
