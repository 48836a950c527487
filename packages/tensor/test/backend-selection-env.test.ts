import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@llm2clip/core';
import { initBackend } from '../src/backend/index.js';

// Each vitest test file runs in its own worker process, so this environment variable only
// affects this file.
process.env.LLM2CLIP_BACKEND = 'wasm';

describe('LLM2CLIP_BACKEND', () => {
  it('forces the stock wasm backend, which can still train embeddings', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (line) => lines.push(line) });
    expect(info.name).toBe('wasm');
    expect(info.threads).toBe(1);
    expect(info.skipped).toEqual([
      { name: 'tensorflow-gpu', reason: 'not tried: LLM2CLIP_BACKEND=wasm' },
      { name: 'tensorflow', reason: 'not tried: LLM2CLIP_BACKEND=wasm' },
      { name: 'native', reason: 'not tried: LLM2CLIP_BACKEND=wasm' },
    ]);
    expect(lines).toHaveLength(1);
    expect(tf.getBackend()).toBe('wasm');

    // The gradient of gather needs UnsortedSegmentSum, which stock tfjs-backend-wasm lacks.
    const grad = tf.tidy(() =>
      tf.grad((table: tf.Tensor) => tf.sum(tf.gather(table, tf.tensor1d([2, 0, 2], 'int32'))))(tf.ones([3, 2])).arraySync(),
    );
    expect(grad).toEqual([
      [1, 1],
      [0, 0],
      [2, 2],
    ]);
  });

  it('trains convolutions on wasm: Conv2DBackpropFilter and depthwise gradients match cpu (rtol 1e-5, atol 1e-5)', async () => {
    const rng = new Rng(3);
    const x = rng.normalArray(2 * 9 * 9 * 3);
    const w = rng.normalArray(3 * 3 * 3 * 4);
    const dw = rng.normalArray(3 * 3 * 3 * 2);
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const out = tf.tidy(() => {
        const input = tf.tensor4d(x, [2, 9, 9, 3]);
        // The ViT patch embedding is this conv (stride = kernel) when written as a convolution.
        const [dInput, dFilter] = tf.grads((i: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(i as tf.Tensor4D, f as tf.Tensor4D, 3, 'valid'))))([
          input,
          tf.tensor4d(w, [3, 3, 3, 4]),
        ]);
        const [dDepthInput, dDepthFilter] = tf.grads((i: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(i as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'))))([
          input,
          tf.tensor4d(dw, [3, 3, 3, 2]),
        ]);
        return [dInput, dFilter, dDepthInput, dDepthFilter];
      });
      const values = await Promise.all(out.map(async (t) => Array.from(await t.data())));
      tf.dispose(out);
      return values;
    };
    const actual = await grads('wasm');
    const expected = await grads('cpu');
    expect(actual.map((v) => v.length)).toEqual(expected.map((v) => v.length));
    expected.forEach((values, i) =>
      values.forEach((e, j) => {
        if (!(Math.abs(actual[i][j] - e) <= 1e-5 * Math.abs(e) + 1e-5)) expect.fail(`gradient ${i} element ${j}: ${actual[i][j]} vs cpu ${e}`);
      }),
    );
    await tf.setBackend('wasm');
  });
});
