import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@llm2clip/core';
import { initBackend, nativeAddonStatus } from '../src/backend/index.js';

// Tolerances: gradients go through several float32 matrix products whose summation order
// differs between OpenBLAS and tfjs-backend-cpu: |native − cpu| ≤ 1e-4·|cpu| + 1e-4·scale, with
// scale the largest |cpu| value of that gradient. Embedding (gather) gradients only add a few
// values per row, in the same order as cpu: 1e-6.
const status = nativeAddonStatus();
const skipNative = !status.available;
const suffix = skipNative ? ` — SKIPPED: native addon unavailable: ${status.reason}` : '';

const rng = new Rng(7);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const bound = rtol * Math.abs(expected[i]) + atol;
    if (!(Math.abs(actual[i] - expected[i]) <= bound)) {
      expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (±${bound})`);
    }
  }
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}

/** Runs `fn` on a backend and returns the values of every tensor it returns. */
async function gradsOn(backend: 'cpu' | 'native', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensors = tf.tidy(fn);
  const values = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(tensors);
  return values.map((v) => v.slice());
}

describe(`gradients on the native backend vs tfjs cpu${suffix}`, () => {
  beforeAll(async () => {
    if (skipNative) return;
    await initBackend({ backend: 'native', log: () => {} });
  });

  it.skipIf(skipNative)('tf.grads of a matMul chain (all transpose combos, batched, fused bias+relu) match cpu', async () => {
    const x = rng.normalArray(2 * 5 * 8);
    const w1 = rng.normalArray(6 * 8, 0.3);
    const w2 = rng.normalArray(6 * 4, 0.3);
    const w3 = rng.normalArray(4 * 3, 0.3);
    const bias = rng.normalArray(3, 0.1);
    const weights = rng.normalArray(2 * 5 * 3);
    const run = () => {
      const loss = (xt: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
        // tfjs's BatchMatMul gradient does not reduce over broadcast batch dims, so weight
        // products run on [batch·seq, features] matrices, as nn/linear.ts does.
        const h = tf.tanh(tf.matMul(tf.reshape(xt, [10, 8]), a, false, true)); // [10,8]·[6,8]ᵀ
        const g = tf.reshape(tf.matMul(h, b), [2, 5, 4]); // [10,6]·[6,4]
        const attn = tf.matMul(g, g, false, true); // [2,5,4]·[2,5,4]ᵀ -> [2,5,5]
        const mixed = tf.matMul(attn, g, true, false); // [2,5,5]ᵀ·[2,5,4] -> [2,5,4]
        const back = tf.matMul(tf.reshape(mixed, [10, 4]), tf.reshape(g, [4, 10]), true, true); // [10,4]ᵀ·[4,10]ᵀ -> [4,4]
        const out = tf.fused.matMul({ a: tf.reshape(mixed, [10, 4]), b: c, bias: d, activation: 'relu' });
        return tf.add(tf.sum(tf.mul(tf.reshape(out, [2, 5, 3]), tf.tensor(weights, [2, 5, 3]))), tf.mul(tf.sum(back), 0.01));
      };
      return tf.grads(loss)([
        tf.tensor(x, [2, 5, 8]),
        tf.tensor(w1, [6, 8]),
        tf.tensor(w2, [6, 4]),
        tf.tensor(w3, [4, 3]),
        tf.tensor(bias, [3]),
      ]);
    };
    const expected = await gradsOn('cpu', run);
    const actual = await gradsOn('native', run);
    const names = ['dx', 'dW1', 'dW2', 'dW3', 'dbias'];
    expected.forEach((values, i) => {
      expect(maxAbs(values), `${names[i]} is not trivially zero`).toBeGreaterThan(0);
      expectClose(actual[i], values, 1e-4, 1e-4 * maxAbs(values), names[i]);
    });
  });

  it.skipIf(skipNative)('the gradient of tf.gather (embedding lookup) matches cpu', async () => {
    const table = rng.normalArray(10 * 4);
    const ids = [1, 3, 3, 0, 9, 1, 1, 7];
    const weights = rng.normalArray(ids.length * 4);
    const run = () =>
      tf.grads((emb: tf.Tensor) => tf.sum(tf.mul(tf.gather(emb, tf.tensor2d(ids, [2, 4], 'int32')), tf.tensor(weights, [2, 4, 4]))))([
        tf.tensor(table, [10, 4]),
      ]);
    const [expected] = await gradsOn('cpu', run);
    const [actual] = await gradsOn('native', run);
    expectClose(actual, expected, 1e-6, 1e-6, 'd(embedding)');
    // Rows never looked up get no gradient.
    expect(Array.from(actual.subarray(2 * 4, 3 * 4))).toEqual([0, 0, 0, 0]);
  });

  it.skipIf(skipNative)('a 20-step training loop leaves tf.memory().numTensors flat', async () => {
    await tf.setBackend('native');
    const vocab = 16;
    const dim = 8;
    const embedding = tf.variable(tf.tensor(rng.normalArray(vocab * dim, 0.1), [vocab, dim]));
    const proj = tf.variable(tf.tensor(rng.normalArray(dim * dim, 0.1), [dim, dim]));
    const bias = tf.variable(tf.zeros([dim]));
    const ids = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'int32');
    const target = tf.tensor(rng.normalArray(2 * 4 * dim), [2, 4, dim]);
    const step = (): number => {
      const lossValue = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const x = tf.gather(embedding, ids); // [2,4,8]
          const h = tf.fused.matMul({ a: tf.reshape(x, [8, dim]), b: proj, transposeB: true, bias, activation: 'linear' });
          const scores = tf.softmax(tf.matMul(tf.reshape(h, [2, 4, dim]), x, false, true)); // [2,4,4]
          const mixed = tf.matMul(scores, x);
          return tf.mean(tf.square(tf.sub(mixed, target))) as tf.Scalar;
        });
        for (const variable of [embedding, proj, bias]) {
          variable.assign(tf.sub(variable, tf.mul(grads[variable.name], 0.5)));
        }
        return value.dataSync()[0];
      });
      return lossValue;
    };
    const first = step();
    const baseline = tf.memory().numTensors;
    let last = first;
    for (let i = 1; i < 20; i++) {
      last = step();
      expect(tf.memory().numTensors, `after step ${i + 1}`).toBe(baseline);
    }
    expect(last).toBeLessThan(first);
    tf.dispose([embedding, proj, bias, ids, target]);
  });
});
