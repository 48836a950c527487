import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@llm2clip/core';
import { initBackend, nativeAddonStatus, nativeKernelNames } from '../src/backend/index.js';
import { loadNativeAddon } from '../src/backend/native-addon.js';

// Every C++ kernel of the `native` backend against the stock tfjs `cpu` kernel, on random shapes
// (odd sizes, size-1 broadcast dims, zero-size dims, transposed / non-contiguous layouts), and
// through tf.grad. One table row per kernel, with its tolerance |native − cpu| ≤ rtol·|cpu| + atol:
//
// | kernels | rtol | atol | why |
// |---|---|---|---|
// | Add Sub Multiply RealDiv Maximum Minimum SquaredDifference Neg Square Abs Relu Relu6 Step LeakyRelu ClipByValue Floor Ceil Reciprocal Sqrt Rsqrt | 1e-6 | 0 | same float32 formula (cpu rounds through float64 once) |
// | comparisons, Select, Transpose, Slice, SplitV, Concat, Tile, PadV2, GatherV2 | 0 | 0 | exact copies / exact predicates |
// | Exp Sigmoid Tanh Elu Expm1 | 1e-5 | 1e-6 | Cephes-style float32 exp (≈1–2 ulp) vs float64 Math.exp |
// | Erf | 1e-5 | 1e-6 | same Abramowitz–Stegun formula, float32 exp |
// | Log Log1p Sin Cos Pow | 1e-5 | 1e-6 | float32 libm vs float64 Math.* |
// | Sum Mean Prod | 1e-5 | 1e-5 | both accumulate in float64; the last rounding differs |
// | Max Min | 0 | 0 | exact |
// | Softmax | 1e-5 | 1e-6 | float32 exp, float64 row sums |
// | AddN UnsortedSegmentSum | 1e-6 | 1e-6 | float32 sums in the same order as cpu |
// | BatchMatMul _FusedMatMul | 1e-5 | 1e-5·√k | OpenBLAS sums in another order (more cases in backend-kernels.test.ts) |
// | gradients (tf.grad through composites) | 1e-4 | 1e-5·scale | chains of the above |
const status = nativeAddonStatus();
const skipNative = !status.available;
const suffix = skipNative ? ` — SKIPPED: native addon unavailable: ${status.reason}` : '';

const rng = new Rng(31337);

type Dtype = 'float32' | 'int32' | 'bool';
interface Result {
  shape: number[];
  dtype: string;
  values: number[];
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, q) => p * q, 1);
}

/** The data of one case: the same on both backends because each run reseeds it (see {@link seeded}). */
let caseRng = new Rng(0);

/** Wraps a case so that every run of it draws the same random data. */
function seeded(fn: () => tf.Tensor | tf.Tensor[]): () => tf.Tensor | tf.Tensor[] {
  const seed = rng.int(0, 1e9);
  return () => {
    caseRng = new Rng(seed);
    return fn();
  };
}

function data(shape: readonly number[], dtype: Dtype, kind: 'normal' | 'positive' | 'nonzero' | 'coarse' | 'nearOne' = 'normal'): tf.Tensor {
  const n = size(shape);
  const rng = caseRng;
  if (dtype === 'bool') return tf.tensor(Uint8Array.from({ length: n }, () => (rng.bernoulli(0.5) ? 1 : 0)), [...shape], 'bool');
  if (dtype === 'int32') return tf.tensor(Int32Array.from({ length: n }, () => rng.int(-20, 20)), [...shape], 'int32');
  const values = rng.normalArray(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (kind === 'positive') values[i] = Math.abs(v) + 0.1;
    else if (kind === 'nonzero') values[i] = (v < 0 ? -1 : 1) * (Math.abs(v) + 0.5);
    else if (kind === 'coarse') values[i] = Math.round(v * 2) / 2;
    else if (kind === 'nearOne') values[i] = 1 + 0.1 * v;
  }
  return tf.tensor(values, [...shape], 'float32');
}

/** Random shape: rank in [minRank, maxRank], odd dims, sometimes a 1 or (when allowed) a 0. */
function randomShape(minRank: number, maxRank: number, allowZero = true): number[] {
  const rank = rng.int(minRank, maxRank);
  return Array.from({ length: rank }, () => {
    const roll = rng.float();
    if (allowZero && roll < 0.05) return 0;
    if (roll < 0.25) return 1;
    return rng.int(2, 9) | 1;
  });
}

/** A pair of shapes that broadcast: `b` drops leading dims and sets some dims to 1. */
function broadcastPair(): [number[], number[]] {
  const a = randomShape(0, 4);
  const b = a.slice(rng.int(0, a.length));
  for (let i = 0; i < b.length; i++) if (rng.bernoulli(0.3)) b[i] = 1;
  return rng.bernoulli(0.5) ? [a, b] : [b, a];
}

async function run(backend: 'cpu' | 'native', fn: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const results = await Promise.all(list.map(async (t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(await t.data()) })));
  tf.dispose(list);
  return results;
}

function expectClose(actual: Result[], expected: Result[], rtol: number, atol: number, what: string): void {
  expect(actual.length, `${what}: outputs`).toBe(expected.length);
  actual.forEach((a, o) => {
    const e = expected[o];
    expect(a.shape, `${what}: shape of output ${o}`).toEqual(e.shape);
    expect(a.dtype, `${what}: dtype of output ${o}`).toBe(e.dtype);
    expect(a.values.length, `${what}: size of output ${o}`).toBe(e.values.length);
    for (let i = 0; i < e.values.length; i++) {
      const bound = rtol * Math.abs(e.values[i]) + atol;
      const same = Object.is(a.values[i], e.values[i]) || Math.abs(a.values[i] - e.values[i]) <= bound;
      if (!same) expect.fail(`${what}: output ${o} element ${i} is ${a.values[i]}, cpu gives ${e.values[i]} (±${bound})`);
    }
  });
}

/** A kernel's table row: how to make random cases and how close native must be to cpu. */
interface KernelRow {
  kernels: string[];
  rtol: number;
  atol: number;
  /** Returns `trials` random closures, each running the op(s) once. */
  cases: (kernel: string) => Array<{ what: string; fn: () => tf.Tensor | tf.Tensor[] }>;
}

const TRIALS = 8;

function binaryCases(op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, kind: 'normal' | 'positive' | 'nonzero' | 'coarse', denominatorKind?: 'nonzero') {
  return Array.from({ length: TRIALS }, () => {
    const [sa, sb] = broadcastPair();
    const seed = rng.int(0, 1e9);
    return {
      what: `${JSON.stringify(sa)} ∘ ${JSON.stringify(sb)}`,
      fn: () => {
        const local = new Rng(seed);
        const a = tf.tensor(local.normalArray(size(sa)).map((v) => shape(v, kind)), sa);
        const b = tf.tensor(local.normalArray(size(sb)).map((v) => shape(v, denominatorKind ?? kind)), sb);
        return op(a, b);
      },
    };
  });
}

function shape(v: number, kind: string): number {
  if (kind === 'positive') return Math.abs(v) + 0.1;
  if (kind === 'nonzero') return (v < 0 ? -1 : 1) * (Math.abs(v) + 0.5);
  if (kind === 'coarse') return Math.round(v * 2) / 2;
  return v;
}

const BINARY: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  Add: tf.add,
  Sub: tf.sub,
  Multiply: tf.mul,
  RealDiv: tf.div,
  Maximum: tf.maximum,
  Minimum: tf.minimum,
  SquaredDifference: tf.squaredDifference,
  Pow: tf.pow,
  Greater: tf.greater,
  GreaterEqual: tf.greaterEqual,
  Less: tf.less,
  LessEqual: tf.lessEqual,
  Equal: tf.equal,
  NotEqual: tf.notEqual,
};

const UNARY: Record<string, [(x: tf.Tensor) => tf.Tensor, 'normal' | 'positive' | 'nonzero']> = {
  Neg: [tf.neg, 'normal'],
  Exp: [tf.exp, 'normal'],
  Log: [tf.log, 'positive'],
  Sqrt: [tf.sqrt, 'positive'],
  Rsqrt: [tf.rsqrt, 'positive'],
  Square: [tf.square, 'normal'],
  Tanh: [tf.tanh, 'normal'],
  Sigmoid: [tf.sigmoid, 'normal'],
  Erf: [tf.erf, 'normal'],
  Abs: [tf.abs, 'normal'],
  Relu: [tf.relu, 'normal'],
  Reciprocal: [tf.reciprocal, 'nonzero'],
  Sin: [tf.sin, 'normal'],
  Cos: [tf.cos, 'normal'],
  Log1p: [tf.log1p, 'positive'],
  Expm1: [tf.expm1, 'normal'],
  Elu: [tf.elu, 'normal'],
  Relu6: [(x) => tf.relu6(tf.mul(x, 4)), 'normal'],
  Step: [(x) => tf.step(x, 0.3), 'normal'],
  LeakyRelu: [(x) => tf.leakyRelu(x, 0.15), 'normal'],
  ClipByValue: [(x) => tf.clipByValue(x, -0.5, 0.7), 'normal'],
  Floor: [(x) => tf.floor(tf.mul(x, 3)), 'normal'],
  Ceil: [(x) => tf.ceil(tf.mul(x, 3)), 'normal'],
};

function unaryCases(kernel: string) {
  const [op, kind] = UNARY[kernel];
  return Array.from({ length: TRIALS }, (_, trial) => {
    // One trial with large magnitudes exercises the exp overflow/underflow paths.
    const s = randomShape(0, 4);
    const scale = trial === 0 ? 60 : 1;
    const seed = rng.int(0, 1e9);
    return {
      what: JSON.stringify(s),
      fn: () => {
        const values = new Rng(seed).normalArray(size(s)).map((v) => shape(v * scale, kind));
        return op(tf.tensor(values, s));
      },
    };
  });
}

const REDUCE: Record<string, (x: tf.Tensor, axis: number[], keepDims: boolean) => tf.Tensor> = {
  Sum: tf.sum,
  Mean: tf.mean,
  Max: tf.max,
  Min: tf.min,
  Prod: tf.prod,
};

function reduceCases(kernel: string) {
  return Array.from({ length: TRIALS * 2 }, () => {
    const s = randomShape(1, 5, kernel === 'Sum' || kernel === 'Prod');
    // Random axis subset (often non-contiguous), sometimes negative.
    let axes = s.map((_, d) => d).filter(() => rng.bernoulli(0.5));
    if (axes.length === 0) axes = [rng.int(0, s.length - 1)];
    const signed = axes.map((a) => (rng.bernoulli(0.3) ? a - s.length : a));
    const keepDims = rng.bernoulli(0.5);
    const seed = rng.int(0, 1e9);
    return {
      what: `${JSON.stringify(s)} axes ${JSON.stringify(signed)} keepDims ${keepDims}`,
      fn: () => {
        const values = new Rng(seed).normalArray(size(s)).map((v) => (kernel === 'Prod' ? 1 + 0.1 * v : v));
        return REDUCE[kernel](tf.tensor(values, s), signed, keepDims);
      },
    };
  });
}

function layoutDtypes(): Dtype[] {
  return ['float32', 'int32', 'bool'];
}

const TABLE: KernelRow[] = [
  {
    kernels: ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference'],
    rtol: 1e-6,
    atol: 0,
    cases: (k) => binaryCases(BINARY[k], 'normal', k === 'RealDiv' ? 'nonzero' : undefined),
  },
  { kernels: ['Pow'], rtol: 1e-5, atol: 1e-6, cases: (k) => binaryCases(BINARY[k], 'positive', undefined) },
  {
    kernels: ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual'],
    rtol: 0,
    atol: 0,
    cases: (k) => binaryCases(BINARY[k], 'coarse'),
  },
  {
    kernels: ['Neg', 'Square', 'Abs', 'Relu', 'Relu6', 'Step', 'LeakyRelu', 'ClipByValue', 'Floor', 'Ceil', 'Reciprocal', 'Sqrt', 'Rsqrt'],
    rtol: 1e-6,
    atol: 0,
    cases: unaryCases,
  },
  { kernels: ['Exp', 'Sigmoid', 'Tanh', 'Elu', 'Expm1', 'Erf'], rtol: 1e-5, atol: 1e-6, cases: unaryCases },
  { kernels: ['Log', 'Log1p', 'Sin', 'Cos'], rtol: 1e-5, atol: 1e-6, cases: unaryCases },
  { kernels: ['Sum', 'Mean', 'Prod'], rtol: 1e-5, atol: 1e-5, cases: reduceCases },
  { kernels: ['Max', 'Min'], rtol: 0, atol: 0, cases: reduceCases },
  {
    kernels: ['Softmax'],
    rtol: 1e-5,
    atol: 1e-6,
    cases: () =>
      Array.from({ length: TRIALS }, (_, trial) => {
        const s = randomShape(1, 4);
        const scale = trial === 0 ? 30 : 3;
        return { what: JSON.stringify(s), fn: seeded(() => tf.softmax(tf.mul(data(s, 'float32'), scale))) };
      }),
  },
  {
    kernels: ['Transpose'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS * 2 }, () => {
        const s = randomShape(1, 5);
        const perm = rng.shuffle(s.map((_, d) => d));
        const dtype = rng.pick(layoutDtypes());
        return { what: `${dtype} ${JSON.stringify(s)} perm ${JSON.stringify(perm)}`, fn: seeded(() => tf.transpose(data(s, dtype), perm)) };
      }),
  },
  {
    kernels: ['Slice'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS * 2 }, () => {
        const s = randomShape(1, 4);
        const begin = s.map((d) => rng.int(0, d));
        const sz = s.map((d, i) => (rng.bernoulli(0.2) ? -1 : rng.int(0, d - begin[i])));
        const dtype = rng.pick(layoutDtypes());
        return { what: `${dtype} ${JSON.stringify(s)} begin ${JSON.stringify(begin)} size ${JSON.stringify(sz)}`, fn: seeded(() => tf.slice(data(s, dtype), begin, sz)) };
      }),
  },
  {
    kernels: ['SplitV'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS }, () => {
        const s = randomShape(1, 4, false);
        const axis = rng.int(0, s.length - 1);
        const cut = rng.int(0, s[axis]);
        const sizes = rng.bernoulli(0.5) ? [cut, -1] : [cut, s[axis] - cut];
        const dtype = rng.pick(layoutDtypes());
        return { what: `${dtype} ${JSON.stringify(s)} axis ${axis} sizes ${JSON.stringify(sizes)}`, fn: seeded(() => tf.split(data(s, dtype), sizes, axis)) };
      }),
  },
  {
    kernels: ['Concat'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS * 2 }, () => {
        const s = randomShape(1, 4);
        const axis = rng.int(0, s.length - 1);
        const parts = Array.from({ length: rng.int(2, 4) }, () => {
          const p = [...s];
          p[axis] = rng.int(0, 4);
          return p;
        });
        const dtype = rng.pick(layoutDtypes());
        return { what: `${dtype} ${JSON.stringify(parts)} axis ${axis}`, fn: seeded(() => tf.concat(parts.map((p) => data(p, dtype)), axis)) };
      }),
  },
  {
    kernels: ['Tile'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS }, () => {
        const s = randomShape(1, 4);
        const reps = s.map(() => rng.int(1, 3));
        const dtype = rng.pick(layoutDtypes());
        return { what: `${dtype} ${JSON.stringify(s)} reps ${JSON.stringify(reps)}`, fn: seeded(() => tf.tile(data(s, dtype), reps)) };
      }),
  },
  {
    kernels: ['PadV2'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS }, () => {
        const s = randomShape(1, 4);
        const paddings = s.map(() => [rng.int(0, 2), rng.int(0, 2)] as [number, number]);
        const dtype = rng.pick<Dtype>(['float32', 'int32']);
        return { what: `${dtype} ${JSON.stringify(s)} paddings ${JSON.stringify(paddings)}`, fn: seeded(() => tf.pad(data(s, dtype), paddings, 3)) };
      }),
  },
  {
    kernels: ['GatherV2'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS * 2 }, () => {
        const s = randomShape(1, 4, false);
        const axis = rng.int(0, s.length - 1);
        const indexShape = randomShape(0, 2);
        const indices = Array.from({ length: size(indexShape) }, () => rng.int(0, s[axis] - 1));
        const dtype = rng.pick<Dtype>(['float32', 'int32']);
        return {
          what: `${dtype} ${JSON.stringify(s)} axis ${axis} indices ${JSON.stringify(indexShape)}`,
          fn: seeded(() => tf.gather(data(s, dtype), tf.tensor(indices, indexShape, 'int32'), axis)),
        };
      }),
  },
  {
    kernels: ['UnsortedSegmentSum'],
    rtol: 1e-6,
    atol: 1e-6,
    cases: () =>
      Array.from({ length: TRIALS }, () => {
        const rows = rng.int(0, 9);
        const inner = randomShape(0, 2);
        const segments = rng.int(1, 6);
        const ids = Array.from({ length: rows }, () => rng.int(-1, segments));
        return {
          what: `${rows} rows of ${JSON.stringify(inner)} into ${segments} (ids ${JSON.stringify(ids)})`,
          fn: seeded(() => tf.unsortedSegmentSum(data([rows, ...inner], 'float32'), tf.tensor1d(ids, 'int32'), segments)),
        };
      }),
  },
  {
    kernels: ['Select'],
    rtol: 0,
    atol: 0,
    cases: () =>
      Array.from({ length: TRIALS }, () => {
        const [sa, sb] = broadcastPair();
        return { what: `cond ${JSON.stringify(sa)} values ${JSON.stringify(sb)}`, fn: seeded(() => tf.where(data(sa, 'bool'), data(sb, 'float32'), data(sa, 'float32'))) };
      }),
  },
  {
    kernels: ['AddN'],
    rtol: 1e-6,
    atol: 1e-6,
    cases: () =>
      Array.from({ length: TRIALS }, () => {
        const s = randomShape(0, 4);
        const n = rng.int(1, 4);
        return { what: `${n} × ${JSON.stringify(s)}`, fn: seeded(() => tf.addN(Array.from({ length: n }, () => data(s, 'float32')))) };
      }),
  },
  {
    kernels: ['BatchMatMul', '_FusedMatMul'],
    rtol: 1e-5,
    atol: 1e-4,
    cases: (kernel) =>
      Array.from({ length: TRIALS }, () => {
        const [m, k, n] = [rng.int(0, 9), rng.int(0, 9), rng.int(1, 9)];
        const batch = rng.int(1, 3);
        const [ta, tb] = [rng.bernoulli(0.5), rng.bernoulli(0.5)];
        const aShape = [batch, ...(ta ? [k, m] : [m, k])];
        const bShape = [batch, ...(tb ? [n, k] : [k, n])];
        return {
          what: `${JSON.stringify(aShape)}${ta ? 'ᵀ' : ''} · ${JSON.stringify(bShape)}${tb ? 'ᵀ' : ''}`,
          fn: seeded(() =>
            kernel === 'BatchMatMul'
              ? tf.matMul(data(aShape, 'float32'), data(bShape, 'float32'), ta, tb)
              : tf.fused.matMul({ a: data(aShape, 'float32'), b: data(bShape, 'float32'), transposeA: ta, transposeB: tb, bias: data([n], 'float32'), activation: 'relu' }),
          ),
        };
      }),
  },
];

describe(`native C++ kernels vs the stock tfjs cpu kernels${suffix}`, () => {
  beforeAll(async () => {
    if (skipNative) return;
    await initBackend({ backend: 'native', log: () => {} });
  });

  it.skipIf(skipNative)('the table covers every kernel the native backend registers', () => {
    const covered = new Set(TABLE.flatMap((row) => row.kernels));
    expect(nativeKernelNames().filter((name) => !covered.has(name))).toEqual([]);
    expect([...covered].filter((name) => !nativeKernelNames().includes(name))).toEqual([]);
  });

  for (const row of TABLE) {
    for (const kernel of row.kernels) {
      it.skipIf(skipNative)(`${kernel} matches cpu (rtol ${row.rtol}, atol ${row.atol})`, async () => {
        for (const c of row.cases(kernel)) {
          const expected = await run('cpu', c.fn);
          const actual = await run('native', c.fn);
          expectClose(actual, expected, row.rtol, row.atol, `${kernel} ${c.what}`);
        }
      });
    }
  }

  it.skipIf(skipNative)('GatherV2 rejects an out-of-range index with E_SHAPE, like cpu rejects it', async () => {
    await tf.setBackend('native');
    expect(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([0, 3], 'int32'))).toThrow(/not in \[0, 3\)/);
  });

  it.skipIf(skipNative)('falls back to the cpu kernels for dtypes the C++ kernels do not take', async () => {
    const fn = () => [tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32')), tf.sum(tf.tensor2d([1, 0, 1, 1], [2, 2], 'bool'), 1), tf.neg(tf.tensor1d([1, -2], 'int32'))];
    expectClose(await run('native', fn), await run('cpu', fn), 0, 0, 'int32/bool fallbacks');
  });

  // Gradients: composites whose backward passes run the native kernels (Tile for broadcast
  // gradients, Sum over broadcast dims, Select/Step for relu/maximum, UnsortedSegmentSum for
  // gather, Transpose/Concat/Slice for layout ops, Softmax and Erf backward formulas).
  const gradCases: Array<{ what: string; shapes: number[][]; loss: (...xs: tf.Tensor[]) => tf.Scalar }> = [
    {
      what: 'broadcast arithmetic, exp/log/sqrt, maximum, reductions',
      shapes: [[3, 5, 7], [5, 1], [7]],
      loss: (x, y, z) =>
        // tfjs's Maximum gradient does not reduce broadcast dims, so its operands share a shape.
        tf.sum(tf.div(tf.mul(tf.maximum(tf.add(x, y), tf.mul(x, z)), tf.exp(tf.mul(y, 0.1))), tf.sqrt(tf.add(tf.square(z), 1)))) as tf.Scalar,
    },
    {
      what: 'softmax, gelu (erf), mean over non-contiguous axes, transpose',
      shapes: [[2, 3, 4, 5], [5, 5]],
      loss: (x, w) => {
        const h = tf.transpose(tf.softmax(tf.matMul(tf.reshape(x, [24, 5]), w)), [1, 0]);
        const g = tf.mul(tf.mul(h, 0.5), tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1));
        return tf.sum(tf.mean(tf.reshape(g, [5, 2, 3, 4]), [0, 2])) as tf.Scalar;
      },
    },
    {
      what: 'gather + concat + slice + split + sigmoid/tanh + where',
      shapes: [[9, 6], [4, 6]],
      loss: (table, other) => {
        const rows = tf.gather(table, tf.tensor1d([1, 4, 4, 0, 8], 'int32'));
        const joined = tf.concat([rows, other], 0); // [9, 6]
        const [left, right] = tf.split(joined, [2, 4], 1);
        const mixed = tf.add(tf.tile(tf.sigmoid(left), [1, 2]), tf.tanh(right));
        const sliced = tf.slice(mixed, [1, 0], [7, 3]);
        // Comparisons have no gradient in tfjs: the mask is a constant.
        const mask = tf.tensor2d(Array.from({ length: 21 }, (_, i) => i % 3 !== 1), [7, 3], 'bool');
        return tf.sum(tf.where(mask, tf.square(sliced), tf.neg(sliced))) as tf.Scalar;
      },
    },
  ];

  for (const c of gradCases) {
    it.skipIf(skipNative)(`tf.grad through ${c.what} matches cpu (rtol 1e-4, atol 1e-5·scale)`, async () => {
      const inputs = c.shapes.map((s) => Array.from(rng.normalArray(size(s))));
      const fn = () => tf.grads(c.loss)(inputs.map((values, i) => tf.tensor(values, c.shapes[i])));
      const expected = await run('cpu', fn);
      const actual = await run('native', fn);
      expected.forEach((e, i) => {
        const scale = Math.max(1, ...e.values.map(Math.abs));
        expectClose([actual[i]], [e], 1e-4, 1e-5 * scale, `d/dx${i} of ${c.what}`);
      });
    });
  }

  // Small tensors run on the calling thread only; these are big enough (≥ 2 × 32k elements or
  // rows) for the pool to split them. Chunking never changes per-element arithmetic, so 1 and 3
  // threads (uneven chunks) must agree bit for bit.
  it.skipIf(skipNative)('multi-threaded kernels give bit-identical results to one thread on large tensors', async () => {
    const addon = loadNativeAddon();
    if (addon === undefined) throw new Error('addon missing');
    const before = addon.getPoolThreads();
    const big = () => {
      const x = data([96, 65, 33], 'float32');
      const y = data([65, 1], 'float32');
      const ids = tf.tensor1d(Array.from({ length: 3000 }, (_, i) => (i * 37) % 96), 'int32');
      return [
        tf.add(x, y),
        tf.mul(x, tf.transpose(x, [0, 1, 2])),
        tf.greater(x, y),
        tf.exp(x),
        tf.erf(x),
        tf.sum(x, [0, 2]),
        tf.max(x, 2),
        tf.mean(x, 0),
        tf.softmax(x),
        tf.transpose(x, [2, 0, 1]),
        tf.concat([x, x], 1),
        tf.tile(y, [400, 33]),
        tf.gather(tf.reshape(x, [96, 65 * 33]), ids),
        tf.unsortedSegmentSum(tf.reshape(x, [96 * 65, 33]), tf.tensor1d(Array.from({ length: 96 * 65 }, (_, i) => i % 7), 'int32'), 7),
        tf.where(tf.greater(x, 0), x, tf.neg(x)),
        tf.matMul(tf.reshape(x, [96 * 65, 33]), tf.slice(y, [0, 0], [33, 1])),
      ];
    };
    try {
      const fn = seeded(big);
      addon.setPoolThreads(1);
      const single = await run('native', fn);
      addon.setPoolThreads(3);
      const threaded = await run('native', fn);
      expectClose(threaded, single, 0, 0, '3 threads vs 1');
    } finally {
      addon.setPoolThreads(before);
    }
  });

  // The native backend recycles output buffers when their last tensor is disposed; nothing a
  // caller still holds may change afterwards.
  it.skipIf(skipNative)('recycled buffers never change arrays read earlier or tensors that view them', async () => {
    await tf.setBackend('native');
    const x = tf.tensor1d(Array.from({ length: 4096 }, (_, i) => i / 4096));
    const first = tf.exp(x);
    const read = first.dataSync();
    const expected = Array.from(read);
    // A cpu-fallback kernel (Unpack, through tfjs-backend-cpu's slice) whose outputs are views
    // of `first`'s buffer.
    const rows = tf.unstack(tf.reshape(first, [64, 64]));
    const view = rows[3];
    tf.dispose(rows.filter((row) => row !== view));
    first.dispose();
    for (let i = 0; i < 5; i++) tf.dispose([tf.exp(x), tf.neg(x), tf.mul(x, 3)]);
    expect(Array.from(read)).toEqual(expected);
    expect(Array.from(view.dataSync())).toEqual(expected.slice(3 * 64, 4 * 64));
    const before = tf.memory().numTensors;
    view.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
    x.dispose();
  });
});
