import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { isLlm2ClipError } from '@llm2clip/core';
import { initBackend } from '@llm2clip/tensor';
import {
  detectLauncher,
  planBuckets,
  initDistributed,
  getProcessGroup,
  allReduce,
  allReduceBucketed,
  allGather,
  allGatherWithGrad,
  broadcastTensors,
  broadcastVariables,
  barrier,
  finalizeDistributed,
  mpiAddonStatus,
} from '../src/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isLlm2ClipError(error) ? error.code : `not an Llm2ClipError: ${String(error)}`;
  }
  return undefined;
}

describe('detectLauncher', () => {
  it('reads OpenMPI, SLURM srun and PMI variables', () => {
    expect(detectLauncher({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '8', OMPI_COMM_WORLD_LOCAL_RANK: '1' })).toMatchObject({
      launcher: 'openmpi',
      rank: 3,
      worldSize: 8,
      localRank: 1,
    });
    expect(detectLauncher({ SLURM_STEP_ID: '0', SLURM_PROCID: '5', SLURM_STEP_NUM_TASKS: '6', SLURM_NTASKS: '12', SLURM_LOCALID: '2' })).toMatchObject({
      launcher: 'slurm',
      rank: 5,
      worldSize: 6,
      localRank: 2,
    });
    expect(detectLauncher({ PMI_RANK: '1', PMI_SIZE: '2' })).toMatchObject({ launcher: 'pmi', rank: 1, worldSize: 2, localRank: 1 });
  });

  it('treats an sbatch script (no job step) and a plain shell as no launcher', () => {
    expect(detectLauncher({ SLURM_PROCID: '0', SLURM_NTASKS: '4', SLURM_JOB_ID: '17' })).toMatchObject({ launcher: 'none', worldSize: 1 });
    expect(detectLauncher({})).toEqual({ launcher: 'none', rank: 0, worldSize: 1, localRank: 0, source: 'no launcher variables' });
  });

  it('rejects malformed or inconsistent values with E_CONFIG naming the variable', () => {
    expect(codeOf(() => detectLauncher({ OMPI_COMM_WORLD_SIZE: 'two', OMPI_COMM_WORLD_RANK: '0' }))).toBe('E_CONFIG');
    expect(() => detectLauncher({ OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '2' })).toThrow(/OMPI_COMM_WORLD_RANK/);
    expect(() => detectLauncher({ OMPI_COMM_WORLD_SIZE: '2' })).toThrow(/OMPI_COMM_WORLD_RANK is not set/);
  });
});

describe('planBuckets', () => {
  it('packs consecutive tensors up to the cap and gives an oversized tensor its own bucket', () => {
    // cap: 10 floats
    expect(planBuckets([4, 4, 4, 25, 1, 9, 1], 40)).toEqual([
      { indices: [0, 1], offsets: [0, 4], size: 8 },
      { indices: [2], offsets: [0], size: 4 },
      { indices: [3], offsets: [0], size: 25 },
      { indices: [4, 5], offsets: [0, 1], size: 10 },
      { indices: [6], offsets: [0], size: 1 },
    ]);
    expect(planBuckets([], 40)).toEqual([]);
    expect(codeOf(() => planBuckets([1], 0))).toBe('E_CONFIG');
  });
});

describe('initDistributed', () => {
  it('refuses collectives before the group exists', async () => {
    expect(codeOf(() => getProcessGroup())).toBe('E_STATE');
    await expect(barrier()).rejects.toMatchObject({ code: 'E_STATE' });
  });

  it('fails with E_BACKEND and build instructions under a launcher when the binding is missing', () => {
    const env = { OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '0' };
    let message = '';
    try {
      initDistributed({ env, addonPath: '/nonexistent/llm2clip_mpi.node' });
    } catch (error) {
      expect(isLlm2ClipError(error, 'E_BACKEND')).toBe(true);
      message = (error as Error).message;
    }
    expect(message).toMatch(/started by openmpi/);
    expect(message).toMatch(/apt-get install openmpi-bin libopenmpi-dev/);
    expect(message).toMatch(/build:native/);
    expect(message).toMatch(/LLM2CLIP_DISTRIBUTED=single/);
    expect(mpiAddonStatus('/nonexistent/llm2clip_mpi.node')).toMatchObject({ available: false });
  });

  it('rejects an unknown LLM2CLIP_DISTRIBUTED value', () => {
    expect(codeOf(() => initDistributed({ env: { LLM2CLIP_DISTRIBUTED: 'nccl' } }))).toBe('E_CONFIG');
  });

  it('is a world of one without a launcher, needing no MPI (the binding path is never read)', () => {
    const group = initDistributed({ env: {}, addonPath: '/nonexistent/llm2clip_mpi.node' });
    expect(group).toEqual({ rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, backend: 'single', launcher: 'none', isRoot: true });
    expect(initDistributed()).toEqual(group);
    expect(getProcessGroup()).toEqual(group);
  });
});

describe('collectives in a world of one', () => {
  it('all-reduce, bucketed all-reduce, broadcast and all-gather are the identity; inputs are kept', async () => {
    await initBackend({ backend: 'cpu', log: () => {} });
    initDistributed({ env: {} });
    const x = tf.tensor2d([
      [1, -2, 3],
      [4, 5.5, -6],
    ]);
    for (const op of ['sum', 'mean', 'max', 'min'] as const) {
      const y = await allReduce(x, op);
      expect(y.shape).toEqual([2, 3]);
      expect(Array.from(y.dataSync())).toEqual([1, -2, 3, 4, 5.5, -6]);
      y.dispose();
    }
    const grads = new Map([
      ['a', tf.tensor1d([1, 2, 3])],
      ['b', tf.tensor2d([[4], [5]])],
    ]);
    const reduced = await allReduceBucketed(grads, { bucketBytes: 8 });
    expect([...reduced.keys()]).toEqual(['a', 'b']);
    expect(Array.from(reduced.get('a')!.dataSync())).toEqual([1, 2, 3]);
    expect(reduced.get('b')!.shape).toEqual([2, 1]);
    reduced.forEach((t) => t.dispose());
    const [b] = await broadcastTensors([x]);
    expect(Array.from(b.dataSync())).toEqual([1, -2, 3, 4, 5.5, -6]);
    b.dispose();
    const v = tf.variable(tf.tensor1d([7, 8]));
    await broadcastVariables([v]);
    expect(Array.from(v.dataSync())).toEqual([7, 8]);
    await expect(broadcastTensors([x], 1)).rejects.toMatchObject({ code: 'E_CONFIG' });
    const g = await allGather(x);
    expect(g.shape).toEqual([2, 3]);
    g.dispose();
    expect(Array.from(x.dataSync())).toEqual([1, -2, 3, 4, 5.5, -6]);
    await expect(allReduce(tf.tensor1d([1], 'int32'))).rejects.toMatchObject({ code: 'E_CONFIG' });
    x.dispose();
    v.dispose();
    grads.forEach((t) => t.dispose());
  });

  it('all-gather with gradient passes the gradient straight through and leaks no tensors', async () => {
    initDistributed({ env: {} });
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const w = tf.tensor2d([
      [0.5, -1],
      [2, 3],
    ]);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.square(allGatherWithGrad(t)), w)) as tf.Scalar;
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      const { value, grad } = tf.valueAndGrad(f)(x);
      expect(value.dataSync()[0]).toBeCloseTo(0.5 * 1 - 4 + 18 + 48, 5);
      expect(Array.from(grad.dataSync())).toEqual([1, -4, 12, 24]); // 2·x·w
      value.dispose();
      grad.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    w.dispose();
  });

  it('finalizes once; collectives afterwards throw E_STATE', async () => {
    initDistributed({ env: {} });
    await finalizeDistributed();
    await finalizeDistributed();
    await expect(barrier()).rejects.toMatchObject({ code: 'E_STATE' });
    expect(codeOf(() => initDistributed({ env: {} }))).toBe('E_STATE');
  });
});
