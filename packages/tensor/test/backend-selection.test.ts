import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { isLlm2ClipError } from '@llm2clip/core';
import { BACKEND_PREFERENCE, getBackendInfo, initBackend, isBackendName, nativeAddonStatus } from '../src/backend/index.js';
import { broadcastStrides, planMatMul } from '../src/backend/matmul-plan.js';
import { loadNativeAddon } from '../src/backend/native-addon.js';

function resolvable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('matMul planning', () => {
  it('resolves transposes, broadcast batch dims and strides', () => {
    const plan = planMatMul([2, 1, 4, 5], [3, 6, 4], true, true);
    expect(plan).toEqual({
      m: 5,
      n: 6,
      k: 4,
      batchShape: [2, 3],
      aBatchStrides: [20, 0],
      bBatchStrides: [0, 24],
      outShape: [2, 3, 5, 6],
    });
  });

  it('rejects mismatched inner dims and non-broadcastable batches with E_SHAPE', () => {
    expect(() => planMatMul([3, 4], [5, 6], false, false)).toThrow(/inner dims differ/);
    expect(() => planMatMul([2, 3, 4], [3, 4, 5], false, false)).toThrow(/do not broadcast/);
    expect(() => planMatMul([4], [4, 5], false, false)).toThrow(/rank >= 2/);
  });

  it('maps a bias shape onto the output with broadcast strides', () => {
    expect(broadcastStrides([7], [3, 9, 7], 'bias')).toEqual({ batchStrides: [0], rowStride: 0, colStride: 1 });
    expect(broadcastStrides([9, 1], [3, 9, 7], 'bias')).toEqual({ batchStrides: [0], rowStride: 1, colStride: 0 });
    expect(broadcastStrides([3, 1, 7], [3, 9, 7], 'bias')).toEqual({ batchStrides: [7], rowStride: 0, colStride: 1 });
    expect(broadcastStrides([1, 1, 9, 7], [9, 7], 'bias')).toEqual({ batchStrides: [], rowStride: 7, colStride: 1 });
    expect(() => broadcastStrides([8], [9, 7], 'bias')).toThrow(/does not broadcast/);
  });
});

describe('initBackend', () => {
  it('lists the backends fastest first', () => {
    expect(BACKEND_PREFERENCE).toEqual(['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu']);
    expect(isBackendName('native')).toBe(true);
    expect(isBackendName('webgl')).toBe(false);
  });

  it('rejects an unknown backend name and a bad thread count with E_CONFIG', async () => {
    const unknown = await rejection(initBackend({ backend: 'webgpu' as never, log: () => {} }));
    expect(isLlm2ClipError(unknown, 'E_CONFIG')).toBe(true);
    const threads = await rejection(initBackend({ threads: 0, log: () => {} }));
    expect(isLlm2ClipError(threads, 'E_CONFIG')).toBe(true);
    expect(getBackendInfo()).toBeUndefined();
  });

  it.skipIf(resolvable('@tensorflow/tfjs-node'))('fails with E_BACKEND naming why when a forced backend is unavailable', async () => {
    const error = await rejection(initBackend({ backend: 'tensorflow', log: () => {} }));
    expect(isLlm2ClipError(error, 'E_BACKEND')).toBe(true);
    expect((error as Error).message).toMatch(/'tensorflow' was requested .* @tensorflow\/tfjs-node is not installed/);
    expect(getBackendInfo()).toBeUndefined();
  });

  it('picks the fastest available backend and logs one line with the reasons for skipping faster ones', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (line) => lines.push(line) });
    const native = nativeAddonStatus();
    expect(info.name).toBe(native.available ? 'native' : 'wasm');
    expect(info.tfBackend).toBe(native.available ? 'native' : 'wasm');
    expect(tf.getBackend()).toBe(info.tfBackend);
    expect(info.skipped.map((entry) => entry.name)).toEqual(native.available ? ['tensorflow-gpu', 'tensorflow'] : ['tensorflow-gpu', 'tensorflow', 'native']);
    if (!resolvable('@tensorflow/tfjs-node-gpu')) expect(info.skipped[0].reason).toMatch(/not installed/);
    if (native.available) expect(info.threads).toBe(loadNativeAddon()?.getNumThreads());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`tensor backend: ${info.name}`);
    for (const entry of info.skipped) expect(lines[0]).toContain(entry.reason);
  });

  it('is idempotent and refuses to switch backends later', async () => {
    const first = getBackendInfo();
    const lines: string[] = [];
    const again = await initBackend({ log: (line) => lines.push(line) });
    expect(again).toBe(first);
    expect(lines).toHaveLength(0);
    const other = await rejection(initBackend({ backend: 'cpu' }));
    expect(isLlm2ClipError(other, 'E_STATE')).toBe(true);
    expect(await initBackend({ backend: again.name })).toBe(first);
  });
});
