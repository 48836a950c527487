import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@llm2clip/core';
import { ensureWasmTrainingKernels, initBackend, nativeAddonStatus, nativeKernelNames } from '../src/backend/index.js';
import { loadNativeAddon } from '../src/backend/native-addon.js';

// Tolerances (float32; OpenBLAS sums in a different order than tfjs-backend-cpu):
// - BatchMatMul / _FusedMatMul: |native − cpu| ≤ 1e-5·|cpu| + 1e-5·√k. Inputs are N(0, 1), so
//   outputs have scale √k and 1e-5·√k is a relative error of ~1e-5 on the typical output.
// - UnsortedSegmentSum: at most 4 addends per output here, in the same order as cpu: 1e-6.
const status = nativeAddonStatus();
const skipNative = !status.available;
const suffix = skipNative ? ` — SKIPPED: native addon unavailable: ${status.reason}` : '';

// CI installs OpenBLAS and builds the addon (scripts/setup.sh), so there the native tests below must
// run rather than skip; elsewhere a machine without a toolchain skips them with the reason.
describe('native addon in CI', () => {
  it.runIf(process.env.CI !== undefined && process.env.CI !== '')('is built, so the native kernel tests are not skipped', () => {
    expect(status.available, status.available ? '' : status.reason).toBe(true);
  });
});

interface Case {
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
}

const rng = new Rng(20261127);

function randomTensor(shape: number[]): Float32Array {
  return rng.normalArray(shape.reduce((x, y) => x * y, 1));
}

/** Runs `fn` on the named tfjs backend and returns its result's shape and values. */
async function on(backend: 'cpu' | 'native' | 'wasm', fn: () => tf.Tensor): Promise<{ shape: number[]; values: Float32Array | Int32Array }> {
  await tf.setBackend(backend);
  const result = tf.tidy(fn);
  const values = (await result.data()) as Float32Array | Int32Array;
  const shape = result.shape;
  result.dispose();
  return { shape, values: values.slice() };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (rtol * Math.abs(expected[i]) + atol);
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      worstIndex = i;
    }
  }
  expect(worstIndex, `${what}: element ${worstIndex} is ${actual[worstIndex]}, expected ${expected[worstIndex]}`).toBe(-1);
}

function innerDim(c: Case): number {
  return c.transposeA === true ? c.a[c.a.length - 2] : c.a[c.a.length - 1];
}

/** cpu reference with both operands broadcast to the full batch first (tfjs-backend-cpu only
 * handles batch broadcasting where one side's flattened batch is 1). */
function referenceMatMul(a: tf.Tensor, b: tf.Tensor, c: Case): tf.Tensor {
  const batchA = c.a.slice(0, -2);
  const batchB = c.b.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const batch: number[] = [];
  for (let i = 1; i <= rank; i++) {
    const da = i <= batchA.length ? batchA[batchA.length - i] : 1;
    const db = i <= batchB.length ? batchB[batchB.length - i] : 1;
    batch.unshift(da === 1 ? db : da);
  }
  const fullA = tf.broadcastTo(tf.reshape(a, [...new Array<number>(rank - batchA.length).fill(1), ...c.a]), [...batch, ...c.a.slice(-2)]);
  const fullB = tf.broadcastTo(tf.reshape(b, [...new Array<number>(rank - batchB.length).fill(1), ...c.b]), [...batch, ...c.b.slice(-2)]);
  return tf.matMul(fullA, fullB, c.transposeA, c.transposeB);
}

const transposeCombos = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

// [m, k, n] for plain 2-D products; each is run with all four transpose combinations.
const matrixSizes: Array<[number, number, number]> = [
  [1, 1, 1],
  [7, 13, 5],
  [33, 17, 65],
  [64, 100, 3],
  [128, 96, 130],
];

function stored(rows: number, cols: number, transposed: boolean): number[] {
  return transposed ? [cols, rows] : [rows, cols];
}

const batchedCases: Case[] = [
  { a: [3, 5, 4], b: [3, 4, 6] },
  { a: [1, 5, 4], b: [3, 4, 6] },
  { a: [3, 5, 4], b: [1, 4, 6] },
  { a: [3, 5, 4], b: [4, 6] },
  { a: [5, 4], b: [2, 3, 4, 6] },
  { a: [2, 1, 5, 4], b: [1, 3, 4, 6] },
  { a: [2, 3, 5, 4], b: [2, 3, 6, 4], transposeB: true },
  { a: [2, 3, 4, 5], b: [3, 4, 6], transposeA: true },
  { a: [2, 1, 4, 5], b: [1, 3, 6, 4], transposeA: true, transposeB: true },
  // a contiguous over the batch and b shared: folded into one tall GEMM
  { a: [4, 16, 32], b: [32, 24] },
  { a: [2, 4, 16, 32], b: [24, 32], transposeB: true },
  { a: [4, 32, 16], b: [32, 24], transposeA: true },
];

const zeroSizeCases: Case[] = [
  { a: [0, 4], b: [4, 3] },
  { a: [3, 4], b: [4, 0] },
  { a: [3, 0], b: [0, 5] },
  { a: [0, 3], b: [0, 5], transposeA: true },
  { a: [0, 3, 4], b: [4, 5] },
  { a: [2, 3, 0], b: [2, 0, 5] },
  { a: [2, 0, 3, 4], b: [1, 4, 5] },
];

async function compareMatMul(c: Case): Promise<void> {
  const aData = randomTensor(c.a);
  const bData = randomTensor(c.b);
  const expected = await on('cpu', () => referenceMatMul(tf.tensor(aData, c.a), tf.tensor(bData, c.b), c));
  const actual = await on('native', () => tf.matMul(tf.tensor(aData, c.a), tf.tensor(bData, c.b), c.transposeA, c.transposeB));
  const what = `matMul ${JSON.stringify(c)}`;
  expect(actual.shape, what).toEqual(expected.shape);
  if (expected.shape.includes(0)) {
    // tfjs-backend-cpu returns stray values for some empty batches; an empty shape is the truth.
    expect(actual.values.length, what).toBe(0);
    return;
  }
  expectClose(actual.values, expected.values, 1e-5, 1e-5 * Math.sqrt(Math.max(1, innerDim(c))), what);
}

describe(`native OpenBLAS matrix products vs tfjs cpu${suffix}`, () => {
  beforeAll(async () => {
    if (skipNative) return;
    await initBackend({ backend: 'native', log: () => {} });
  });

  it.skipIf(skipNative)('the native kernels are the ones registered', () => {
    expect(nativeKernelNames()).toEqual(expect.arrayContaining(['BatchMatMul', '_FusedMatMul']));
    expect(tf.getBackend()).toBe('native');
  });

  it.skipIf(skipNative)('BatchMatMul matches cpu for 2-D products in all four transpose combinations', async () => {
    for (const [m, k, n] of matrixSizes) {
      for (const [transposeA, transposeB] of transposeCombos) {
        await compareMatMul({ a: stored(m, k, transposeA), b: stored(k, n, transposeB), transposeA, transposeB });
      }
    }
  });

  it.skipIf(skipNative)('BatchMatMul broadcasts batch dims like NumPy, including multi-dim broadcast', async () => {
    for (const c of batchedCases) await compareMatMul(c);
  });

  it.skipIf(skipNative)('BatchMatMul on random shapes matches cpu', async () => {
    for (let trial = 0; trial < 12; trial++) {
      const m = rng.int(1, 40);
      const k = rng.int(1, 40);
      const n = rng.int(1, 40);
      const transposeA = rng.bernoulli(0.5);
      const transposeB = rng.bernoulli(0.5);
      const batchA = rng.bernoulli(0.5) ? [rng.int(1, 3)] : [];
      const batchB = batchA.length > 0 && rng.bernoulli(0.5) ? [rng.bernoulli(0.5) ? 1 : batchA[0]] : [];
      await compareMatMul({
        a: [...batchA, ...stored(m, k, transposeA)],
        b: [...batchB, ...stored(k, n, transposeB)],
        transposeA,
        transposeB,
      });
    }
  });

  it.skipIf(skipNative)('BatchMatMul handles zero-size dims (empty outputs, and zeros when k = 0)', async () => {
    for (const c of zeroSizeCases) await compareMatMul(c);
  });

  it.skipIf(skipNative)('BatchMatMul leaves no stray tensors on large outputs', async () => {
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const a = tf.ones([1024, 256]);
    const b = tf.ones([256, 1024]);
    const c = tf.matMul(a, b);
    const total = tf.sum(c);
    expect((await total.data())[0]).toBe(1024 * 1024 * 256);
    tf.dispose([a, b, c, total]);
    expect(tf.memory().numTensors).toBe(before);
  });

  const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  const biasShapes: Array<{ a: number[]; b: number[]; bias?: number[]; transposeA?: boolean; transposeB?: boolean }> = [
    { a: [9, 11], b: [11, 7], bias: [7] },
    { a: [9, 11], b: [7, 11], bias: [1], transposeB: true },
    { a: [11, 9], b: [11, 7], bias: [9, 7], transposeA: true },
    { a: [9, 11], b: [11, 7], bias: [9, 1] },
    { a: [3, 9, 11], b: [3, 11, 7], bias: [3, 1, 7] },
    { a: [3, 9, 11], b: [11, 7], bias: [7] },
    { a: [3, 9, 11], b: [3, 11, 7] },
  ];

  it.skipIf(skipNative)('_FusedMatMul applies bias and every activation like cpu', async () => {
    for (const shapes of biasShapes) {
      for (const activation of activations) {
        const aData = randomTensor(shapes.a);
        const bData = randomTensor(shapes.b);
        const biasData = shapes.bias === undefined ? undefined : randomTensor(shapes.bias);
        const n = shapes.transposeB === true ? shapes.b[shapes.b.length - 2] : shapes.b[shapes.b.length - 1];
        const preluData = rng.normalArray(n, 0.5);
        const run = () =>
          tf.fused.matMul({
            a: tf.tensor(aData, shapes.a),
            b: tf.tensor(bData, shapes.b),
            transposeA: shapes.transposeA,
            transposeB: shapes.transposeB,
            bias: biasData === undefined ? undefined : tf.tensor(biasData, shapes.bias),
            activation,
            preluActivationWeights: activation === 'prelu' ? tf.tensor(preluData, [n]) : undefined,
            leakyreluAlpha: 0.15,
          });
        const expected = await on('cpu', run);
        const actual = await on('native', run);
        const what = `fused matMul ${activation} ${JSON.stringify(shapes)}`;
        expect(actual.shape, what).toEqual(expected.shape);
        const k = shapes.transposeA === true ? shapes.a[shapes.a.length - 2] : shapes.a[shapes.a.length - 1];
        expectClose(actual.values, expected.values, 1e-5, 1e-5 * Math.sqrt(k), what);
      }
    }
  });

  it.skipIf(skipNative)('the addon rejects out-of-bounds and misaligned arguments with JS errors', () => {
    const addon = loadNativeAddon();
    if (addon === undefined) throw new Error('addon missing');
    const spec = {
      m: 4,
      n: 4,
      k: 4,
      transposeA: false,
      transposeB: false,
      batchShape: [],
      aOffset: 0,
      aBatchStrides: [],
      bOffset: 0,
      bBatchStrides: [],
      outOffset: 0,
    };
    const a = new Float32Array(16).fill(1);
    const b = new Float32Array(16).fill(1);
    const out = new Float32Array(16);
    addon.matmulArrays(a, b, out, spec);
    expect(Array.from(out)).toEqual(new Array(16).fill(4));
    expect(() => addon.matmulArrays(a, b, out, { ...spec, outOffset: 8 })).toThrow(RangeError);
    expect(() => addon.matmulArrays(a, b, out, { ...spec, batchShape: [5], aBatchStrides: [16], bBatchStrides: [0] })).toThrow(/holds only/);
    expect(() => addon.matmulArrays(a, b, out, { ...spec, aOffset: 2 })).toThrow(/multiple of 4/);
    expect(() => addon.matmulArrays(a, b, out, { ...spec, m: -1 })).toThrow(/non-negative integer/);
    expect(() => addon.matmulArrays(a, b, out, { ...spec, aBatchStrides: [1] })).toThrow(/batchShape/);
    expect(() => addon.matmulArrays(new Int32Array(16) as unknown as Float32Array, b, out, spec)).toThrow(/Float32Array/);
    expect(() => addon.matmulArrays(a, b, out, { ...spec, activation: 3 })).toThrow(/prelu/);
    expect(() => addon.matmulArrays(a, b, out, { ...spec, bias: { offset: 0, batchStrides: [], rowStride: 0, colStride: 1 } })).toThrow(RangeError);
    expect(() => addon.setNumThreads(0)).toThrow(RangeError);
    expect(() => addon.setPoolThreads(0)).toThrow(RangeError);
  });

  it.skipIf(skipNative)('the element-wise and layout entry points reject bad extents with JS errors', () => {
    const addon = loadNativeAddon();
    if (addon === undefined) throw new Error('addon missing');
    const x = new Float32Array(6);
    expect(() => addon.binary(0, x, 0, [3, 1], x, 0, [3, 1], new Float32Array(6), [3, 3])).toThrow(RangeError);
    expect(() => addon.binary(99, x, 0, [1], x, 0, [1], new Float32Array(6), [6])).toThrow(/unknown op/);
    expect(() => addon.binary(8, x, 0, [1], x, 0, [1], new Float32Array(6), [6])).toThrow(TypeError);
    expect(() => addon.unary(0, x, new Float32Array(5), 0, 0)).toThrow(RangeError);
    expect(() => addon.reduce(0, x, new Float32Array(2), 2, 2, 1)).toThrow(RangeError);
    expect(() => addon.softmax(x, new Float32Array(6), 4, 2)).toThrow(RangeError);
    expect(() => addon.copyStrided(x, 1, [1], new Float32Array(6), 0, [1], [6])).toThrow(RangeError);
    expect(() => addon.copyStrided(x, 0, [1], new Uint8Array(6), 0, [1], [6])).toThrow(/element sizes/);
    expect(() => addon.gather(x, 1, 3, 2, Int32Array.from([0, 3]), new Float32Array(4))).toThrow(/not in \[0, 3\)/);
    expect(() => addon.segmentSum(x, Int32Array.from([0, 1]), 2, 2, new Float32Array(4))).toThrow(RangeError);
  });
});

describe('UnsortedSegmentSum on the wasm backend vs tfjs cpu', () => {
  beforeAll(async () => {
    // initBackend already chose a backend for this process; set the wasm one up directly.
    await import('@tensorflow/tfjs-backend-wasm');
    await ensureWasmTrainingKernels();
  });

  const cases: Array<{ x: number[]; ids: number[]; numSegments: number; dtype: 'float32' | 'int32' }> = [
    { x: [6, 3], ids: [0, 2, 2, -1, 5, 1], numSegments: 4, dtype: 'float32' },
    { x: [5], ids: [1, 1, 0, 3, 1], numSegments: 4, dtype: 'float32' },
    { x: [4, 2, 3], ids: [3, 0, 3, 3], numSegments: 5, dtype: 'float32' },
    { x: [4, 2], ids: [1, 0, 1, 1], numSegments: 2, dtype: 'int32' },
    { x: [0, 3], ids: [], numSegments: 3, dtype: 'float32' },
  ];

  it('sums rows into segments, dropping out-of-range ids, like cpu', async () => {
    for (const c of cases) {
      const size = c.x.reduce((p, q) => p * q, 1);
      const data = c.dtype === 'int32' ? Int32Array.from({ length: size }, () => rng.int(-50, 50)) : randomTensor(c.x);
      const run = () => tf.unsortedSegmentSum(tf.tensor(data, c.x, c.dtype), tf.tensor1d(c.ids, 'int32'), c.numSegments);
      const expected = await on('cpu', run);
      const actual = await on('wasm', run);
      const what = `unsortedSegmentSum ${JSON.stringify(c)}`;
      expect(actual.shape, what).toEqual(expected.shape);
      expectClose(actual.values, expected.values, 1e-6, 1e-6, what);
    }
  });

  it('gives an empty result for zero segments (where tfjs cpu throws)', async () => {
    const result = await on('wasm', () => tf.unsortedSegmentSum(tf.ones([3, 2]), tf.tensor1d([0, 1, 0], 'int32'), 0));
    expect(result.shape).toEqual([0, 2]);
  });
});
