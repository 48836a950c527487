import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import {
  AdamW,
  ParameterStore,
  attentionBias,
  clipContrastiveLoss,
  clipGradNorm,
  computeGradients,
  gelu,
  initBackend,
  latestCheckpoint,
  layerNorm,
  linear,
  loadCheckpoint,
  normalInit,
  parseSafetensors,
  readSafetensors,
  rmsNorm,
  saveCheckpoint,
  serializeSafetensors,
  softmaxCrossEntropy,
  warmupCosineSchedule,
  warmupLinearSchedule,
  writeSafetensors,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: () => {} });
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i])));
};

describe('safetensors', () => {
  it('round-trips float32 and int32 tensors with metadata, 8-byte aligned', () => {
    const bytes = serializeSafetensors(
      { a: { shape: [2, 3], dtype: 'float32', data: Float32Array.of(1, 2, 3, 4, 5, 6) }, b: { shape: [1], dtype: 'int32', data: Int32Array.of(-7) } },
      { format: 'pt' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.tensors.get('a')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(file.tensors.get('b')!.dtype).toBe('int32');
    expect(Array.from(file.tensors.get('b')!.data)).toEqual([-7]);
  });

  it('converts F16 and BF16 to float32', async () => {
    // hand-written file: F16 [1.0, -2.0, 0.5], BF16 [1.0, 3.0]
    const header = JSON.stringify({ h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] }, b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] } });
    const headerBytes = new TextEncoder().encode(header);
    const out = new Uint8Array(8 + headerBytes.length + 10);
    const view = new DataView(out.buffer);
    view.setBigUint64(0, BigInt(headerBytes.length), true);
    out.set(headerBytes, 8);
    const base = 8 + headerBytes.length;
    [0x3c00, 0xc000, 0x3800].forEach((h, i) => view.setUint16(base + 2 * i, h, true));
    [0x3f80, 0x4040].forEach((h, i) => view.setUint16(base + 6 + 2 * i, h, true));
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    writeFileSync(join(dir, 'x.safetensors'), out);
    const file = await readSafetensors(join(dir, 'x.safetensors'));
    expect(Array.from(file.tensors.get('h')!.data)).toEqual([1, -2, 0.5]);
    expect(Array.from(file.tensors.get('b')!.data)).toEqual([1, 3]);
  });

  it('refuses offsets outside the file, overlapping ranges and wrong byte counts, naming the tensor', () => {
    const make = (h: object, dataBytes: number) => {
      const headerBytes = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + headerBytes.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
      out.set(headerBytes, 8);
      return out;
    };
    expect(() => parseSafetensors(make({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8))).toThrow(/outside.*field w/);
    expect(() => parseSafetensors(make({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, 16))).toThrow(/byte count/);
    expect(() => parseSafetensors(make({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12))).toThrow(/overlap/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => parseSafetensors(huge)).toThrow(/E_FORMAT/);
  });

  it('writes atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    const path = join(dir, 'w.safetensors');
    await writeSafetensors(path, new Map([['x', { shape: [2], dtype: 'float32' as const, data: Float32Array.of(5, 6) }]]));
    expect(Array.from(parseSafetensors(new Uint8Array(readFileSync(path))).tensors.get('x')!.data)).toEqual([5, 6]);
  });
});

describe('nn ops', () => {
  it('linear uses the [out, in] layout', () => {
    const y = linear(tf.tensor([[1, 2]]), tf.tensor([[1, 0], [0, 1], [1, 1]]), tf.tensor([10, 20, 30]));
    expect(Array.from(y.dataSync())).toEqual([11, 22, 33]);
  });
  it('layer norm and RMS norm match hand computations', () => {
    const x = tf.tensor([[1, 2, 3, 6]]);
    const ln = layerNorm(x, tf.ones([4]), tf.zeros([4]), 0);
    // mean 3, population variance 3.5
    const sd = Math.sqrt(3.5);
    close(ln.dataSync(), [-2 / sd, -1 / sd, 0, 3 / sd]);
    const rms = rmsNorm(x, tf.tensor([1, 1, 1, 2]), 0);
    const r = Math.sqrt((1 + 4 + 9 + 36) / 4);
    close(rms.dataSync(), [1 / r, 2 / r, 3 / r, 12 / r]);
  });
  it('exact GELU matches erf values', () => {
    close(gelu(tf.tensor([-1, 0, 1, 2])).dataSync(), [-0.15865525, 0, 0.8413447, 1.9544997]);
  });
  it('attention bias masks padding, and the causal future', () => {
    const mask = tf.tensor2d([[0, 1, 1]], [1, 3], 'int32');
    const bidirectional = attentionBias(mask, false);
    expect(bidirectional.shape).toEqual([1, 1, 1, 3]);
    expect(Array.from(bidirectional.dataSync()).map((v) => v + 0)).toEqual([-1e9, 0, 0]);
    const causal = attentionBias(mask, true).arraySync()[0][0].map((row) => row.map((v) => v + 0));
    expect(causal[1]).toEqual([-1e9, 0, -1e9]);
    expect(causal[2]).toEqual([-1e9, 0, 0]);
    const window = attentionBias(tf.tensor2d([[1, 1, 1]], [1, 3], 'int32'), true, 2).arraySync()[0][0].map((row) => row.map((v) => v + 0));
    expect(window[2]).toEqual([-1e9, 0, 0]);
  });
  it('cross-entropy ignores negative labels and the CLIP loss is ln(n) for uninformative embeddings', () => {
    const ce = softmaxCrossEntropy(tf.tensor2d([[0, Math.log(3)], [5, 5]]), tf.tensor1d([1, -100], 'int32'));
    close(ce.dataSync(), [-Math.log(3 / 4)]);
    const same = tf.ones([4, 8]) as tf.Tensor2D;
    close(clipContrastiveLoss(same, same, tf.scalar(10)).dataSync(), [Math.log(4)]);
  });
});

describe('parameter store', () => {
  it('owns what it is given: add and replace free their inputs (also when replace fails), replace keeps the order and frees the old weight', () => {
    const before = tf.memory().numTensors;
    const store = new ParameterStore();
    const initial = tf.tensor([1, 2]);
    store.add('a', initial);
    store.add('head', tf.zeros([2, 3]), false);
    store.add('b', tf.ones([1]));
    expect(initial.isDisposed).toBe(true);
    store.replace('head', tf.ones([4, 3]));
    expect(store.names()).toEqual(['a', 'head', 'b']);
    expect(store.get('head').shape).toEqual([4, 3]);
    expect(store.get('head').trainable).toBe(false);
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(() => store.replace('missing', tf.ones([1]))).toThrow(/E_NOT_FOUND/);
    store.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('optimisation', () => {
  it('AdamW matches the PyTorch update rule over three steps', () => {
    const store = new ParameterStore();
    store.add('w', tf.tensor([1, -2]));
    const opt = new AdamW({ weightDecay: 0.1 });
    const g = [[0.5, -1], [0.1, 0.2], [-0.3, 0.4]];
    let p = [1, -2];
    const m = [0, 0];
    const v = [0, 0];
    for (let t = 1; t <= 3; t++) {
      opt.apply(store, new Map([['w', tf.tensor(g[t - 1])]]), 0.01);
      p = p.map((pi, i) => {
        m[i] = 0.9 * m[i] + 0.1 * g[t - 1][i];
        v[i] = 0.999 * v[i] + 0.001 * g[t - 1][i] ** 2;
        const decayed = pi * (1 - 0.01 * 0.1);
        return decayed - (0.01 * (m[i] / (1 - 0.9 ** t))) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
      });
    }
    close(store.get('w').dataSync(), p, 1e-6);
  });
  it('gradients are keyed by parameter name, clipping caps the global norm, and nothing leaks', () => {
    const rng = new Rng(1);
    const store = new ParameterStore();
    store.add('a', normalInit(rng, [3, 3], 1));
    store.add('frozen', normalInit(rng, [3], 1), false);
    const opt = new AdamW();
    const x = tf.tensor2d([[1, 2, 3]]);
    const step = () => {
      const { loss, grads } = computeGradients(store, () => tf.sum(tf.square(tf.add(linear(x, store.get('a')), store.get('frozen')))) as tf.Scalar);
      expect([...grads.keys()]).toEqual(['a']);
      const norm = clipGradNorm(grads, 0.5);
      expect(norm).toBeGreaterThan(0);
      const after = Math.sqrt([...grads.values()].reduce((s, g2) => s + tf.tidy(() => tf.sum(tf.square(g2)).dataSync()[0]), 0));
      expect(after).toBeLessThanOrEqual(0.5 + 1e-4);
      opt.apply(store, grads, 0.01);
      for (const g2 of grads.values()) g2.dispose();
      loss.dispose();
    };
    step();
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
  it('schedules warm up linearly then decay', () => {
    const cosine = warmupCosineSchedule({ baseLr: 1, warmupSteps: 4, totalSteps: 14 });
    expect(cosine(0)).toBe(0.25);
    expect(cosine(3)).toBe(1);
    expect(cosine(4)).toBe(1);
    expect(cosine(9)).toBeCloseTo(0.5);
    expect(cosine(14)).toBeCloseTo(0);
    const lin = warmupLinearSchedule({ baseLr: 2, warmupSteps: 0, totalSteps: 10 });
    expect(lin(5)).toBeCloseTo(1);
  });
});

describe('checkpoints', () => {
  it('save, list, load and keep the newest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ck-'));
    const store = new ParameterStore();
    store.add('w', tf.tensor([1, 2, 3]));
    const opt = new AdamW();
    opt.apply(store, new Map([['w', tf.tensor([1, 1, 1])]]), 0.1);
    const rng = new Rng(5);
    for (const step of [10, 20, 30]) {
      await saveCheckpoint(dir, { step, weights: store.toHost(), optimizer: opt.exportState(), rng: rng.getState(), cursor: { epoch: 1, index: step }, trainer: { phase: 'test' } }, { keep: 2 });
    }
    const latest = await latestCheckpoint(dir);
    expect(latest).toMatch(/step-00000030$/);
    const loaded = await loadCheckpoint(latest!);
    expect(loaded.step).toBe(30);
    expect(loaded.cursor).toEqual({ epoch: 1, index: 30 });
    expect(Array.from(loaded.weights.get('w')!.data)).toEqual(Array.from(store.get('w').dataSync()));
    const restored = new AdamW();
    restored.importState(loaded.optimizer!);
    expect(restored.step).toBe(1);
    expect(Rng.fromState(loaded.rng!).float()).toBe(rng.float());
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['step-00000020', 'step-00000030']);
  });
});
