import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@llm2clip/core';
import { initBackend } from '../src/backend/index.js';
import { AdamW, ParameterStore, computeGradients, gelu, layerNorm, linear, scaledDotProductAttention, softmaxCrossEntropy, splitHeads, mergeHeads } from '../src/index.js';

// 1000 training steps of a small transformer block on the backend initBackend() picks (native
// where the addon built): the tensor count must not move after the first step, and the memory
// the tensors live in (ArrayBuffers for native/cpu, the wasm heap for wasm) must not grow.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function externalBytes(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.arrayBuffers + usage.external;
}

describe('1000 training steps', () => {
  it('keep tf.memory().numTensors and the native memory flat', async () => {
    const info = await initBackend({ log: () => {} });
    const rng = new Rng(5);
    const vocab = 32;
    const dim = 16;
    const seq = 8;
    const batch = 4;
    const params = new ParameterStore();
    const add = (name: string, shape: number[], std: number) => {
      const init = tf.tensor(rng.normalArray(shape.reduce((p, q) => p * q, 1), std), shape);
      params.add(name, init);
      init.dispose();
    };
    add('embed', [vocab, dim], 0.1);
    add('ln.weight', [dim], 0);
    add('qkv', [3 * dim, dim], 0.1);
    add('fc', [dim, dim], 0.1);
    add('fc.bias', [dim], 0);
    add('head', [vocab, dim], 0.1);
    params.get('ln.weight').assign(tf.onesLike(params.get('ln.weight')));
    const ids = tf.tensor2d(
      Array.from({ length: batch * seq }, () => rng.int(0, vocab - 1)),
      [batch, seq],
      'int32',
    );
    const targets = tf.tensor1d(
      Array.from({ length: batch * seq }, () => rng.int(0, vocab - 1)),
      'int32',
    );
    const lnBias = tf.zeros([dim]);
    const optimizer = new AdamW({ weightDecay: 0.01 });
    const step = (): number =>
      tf.tidy(() => {
        const { loss, grads } = computeGradients(params, () => {
          const x = tf.gather(params.get('embed'), ids); // [batch, seq, dim]
          const h = layerNorm(x, params.get('ln.weight'), lnBias);
          const [q, k, v] = tf.split(linear(h, params.get('qkv')), 3, 2).map((t) => splitHeads(t, 2));
          const attended = tf.add(x, mergeHeads(scaledDotProductAttention(q, k, v)));
          const mlp = tf.add(attended, gelu(linear(attended, params.get('fc'), params.get('fc.bias'))));
          const logits = linear(tf.reshape(mlp, [batch * seq, dim]), params.get('head')) as tf.Tensor2D;
          return softmaxCrossEntropy(logits, targets);
        });
        optimizer.apply(params, grads, 3e-3);
        return loss.dataSync()[0];
      });
    const first = step();
    const tensors = tf.memory().numTensors;
    let bytesAt100 = 0;
    let last = first;
    for (let i = 2; i <= 1000; i++) {
      last = step();
      if (tf.memory().numTensors !== tensors) expect.fail(`step ${i}: ${tf.memory().numTensors} tensors, ${tensors} after step 1`);
      if (i === 100) bytesAt100 = externalBytes();
    }
    const bytesAt1000 = externalBytes();
    expect(last, `loss on ${info.name}`).toBeLessThan(first);
    // Steps 100→1000 allocate and free ~1 GB of kernel outputs in total; what stays must not grow.
    expect(bytesAt1000 - bytesAt100, `${info.name}: ArrayBuffer + external bytes, step 100 → 1000`).toBeLessThan(256 * 1024);
    tf.dispose([ids, targets, lnBias]);
    params.dispose();
  }, 120_000);
});
