import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { nativeKernelsActive } from '../src/backend/wasm-kernel-overrides.js';

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
    expect(nativeKernelsActive()).toBe(false);

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
});
