import { describe, expect, it } from 'vitest';
import { embeddingMatrix } from '@llm2clip/core';
import { linearProbe, logisticObjective, splitForValidation, trainLogisticRegression } from '../src/index.js';
import { randomRows } from './toy-embedders.js';

describe('logistic regression', () => {
  it('matches the closed-form optimum of a symmetric 1-d problem', () => {
    // x = +1 → class 1, x = −1 → class 0. By symmetry the optimum is W = (−u, u), b = (0, 0) with
    // f(u) = log(1 + e^(−2u)) + λu², so f'(u) = 0 ⇔ σ(−2u) = λu. Solve that by bisection.
    const l2 = 0.1;
    let lo = 0;
    let hi = 10;
    for (let i = 0; i < 200; i++) {
      const mid = (lo + hi) / 2;
      if (1 / (1 + Math.exp(2 * mid)) > l2 * mid) lo = mid;
      else hi = mid;
    }
    const u = (lo + hi) / 2;
    const features = embeddingMatrix(4, 1, Float32Array.from([1, -1, 1, -1]));
    const model = trainLogisticRegression(features, [1, 0, 1, 0], 2, { l2, tolerance: 1e-10 });
    expect(model.converged).toBe(true);
    expect(model.weights[0]).toBeCloseTo(-u, 8);
    expect(model.weights[1]).toBeCloseTo(u, 8);
    expect(model.bias[0]).toBeCloseTo(0, 8);
    expect(model.bias[1]).toBeCloseTo(0, 8);
    expect(model.loss).toBeCloseTo(Math.log(1 + Math.exp(-2 * u)) + l2 * u * u, 10);
  });

  it('reaches a stationary point on a 3-class problem, the same bits every time', () => {
    const features = randomRows(60, 5, 7);
    const labels = Array.from({ length: 60 }, (_, i) => (features.data[i * 5] > 0.3 ? 2 : features.data[i * 5 + 1] > 0 ? 1 : 0));
    const a = trainLogisticRegression(features, labels, 3, { l2: 1e-2, tolerance: 1e-8 });
    const b = trainLogisticRegression(features, labels, 3, { l2: 1e-2, tolerance: 1e-8 });
    expect(a.converged).toBe(true);
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
    const gradient = new Float64Array(3 * 5 + 3);
    logisticObjective(features, labels, 3, 1e-2, Float64Array.from([...a.weights, ...a.bias]), gradient);
    expect(Math.max(...gradient.map(Math.abs))).toBeLessThan(1e-8);
  });

  it('gives the objective gradient that finite differences give', () => {
    const features = randomRows(10, 3, 3);
    const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
    const theta = Float64Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) * 0.5);
    const gradient = new Float64Array(12);
    logisticObjective(features, labels, 3, 0.3, theta, gradient);
    const scratch = new Float64Array(12);
    for (let i = 0; i < 12; i++) {
      const plus = Float64Array.from(theta);
      const minus = Float64Array.from(theta);
      plus[i] += 1e-6;
      minus[i] -= 1e-6;
      const numeric = (logisticObjective(features, labels, 3, 0.3, plus, scratch) - logisticObjective(features, labels, 3, 0.3, minus, scratch)) / 2e-6;
      expect(gradient[i]).toBeCloseTo(numeric, 6);
    }
  });
});

describe('linear probe', () => {
  // Three well-separated clusters around the axes of a 4-d space.
  function clusters(count: number, seed: number) {
    const noise = randomRows(count, 4, seed);
    const labels = Int32Array.from({ length: count }, (_, i) => i % 3);
    const data = new Float32Array(count * 4);
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < 4; k++) data[i * 4 + k] = 0.2 * noise.data[i * 4 + k] + (k === labels[i] ? 1 : 0);
    }
    return { features: embeddingMatrix(count, 4, data), labels };
  }

  it('picks λ on the validation split (larger λ on a tie) and classifies held-out features', () => {
    const { train, validation } = splitForValidation(clusters(60, 1), 0.25, 0);
    expect(train.labels.length + validation.labels.length).toBe(60);
    expect(validation.labels.length).toBe(15); // 5 of each class's 20
    const result = linearProbe(train, validation, clusters(30, 2), { l2Grid: [1e-4, 1e-2] });
    expect(result.validation.map((entry) => entry.accuracy)).toEqual([1, 1]);
    expect(result.l2).toBe(1e-2);
    expect(result.metrics.accuracy.acc1).toBe(1);
    expect(result.metrics.meanPerClassRecall).toBe(1);
  });

  it('splits the same way for the same seed', () => {
    const data = clusters(30, 4);
    const a = splitForValidation(data, 0.3, 11);
    const b = splitForValidation(data, 0.3, 11);
    expect(Array.from(a.validation.features.data)).toEqual(Array.from(b.validation.features.data));
  });
});
