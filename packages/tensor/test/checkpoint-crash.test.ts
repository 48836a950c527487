import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Rng } from '@llm2clip/core';
import { checkpointDirName, listCheckpoints, loadCheckpoint, removeCheckpointLeftovers, saveCheckpoint, type CheckpointContent } from '../src/index.js';

// A recursive delete that a kill interrupts half-way: it removes model.safetensors, then "dies".
const hooks = vi.hoisted(() => ({ interruptRm: undefined as undefined | ((path: string) => boolean) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rm: async (path: Parameters<typeof actual.rm>[0], options?: Parameters<typeof actual.rm>[1]) => {
      if (hooks.interruptRm?.(String(path)) === true) {
        await actual.rm(join(String(path), 'model.safetensors'), { force: true });
        throw Object.assign(new Error('killed while deleting'), { code: 'EINTR' });
      }
      return actual.rm(path, options);
    },
  };
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-checkpoint-crash-'));
});
afterAll(async () => {
  hooks.interruptRm = undefined;
  await rm(dir, { recursive: true, force: true });
});

function content(step: number, value = step): CheckpointContent {
  return {
    step,
    weights: new Map([['w', { shape: [2], dtype: 'float32', data: Float32Array.of(value, value + 0.5) }]]),
    optimizer: { step, tensors: new Map([['w.exp_avg', { shape: [2], dtype: 'float32', data: Float32Array.of(0, value) }]]) },
    rng: new Rng(step).getState(),
    cursor: { position: step },
    trainer: { phase: 'test' },
  };
}

/** The pid of a process that has exited (so its temporary directories are garbage). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

async function expectEveryListedLoads(checkpointsDir: string): Promise<number[]> {
  const listed = await listCheckpoints(checkpointsDir);
  for (const { step, path } of listed) expect((await loadCheckpoint(path)).step).toBe(step);
  return listed.map((c) => c.step);
}

describe('checkpoints after a killed job', () => {
  it('removes the temporary directories of dead writers at the next save, keeping a live writer’s (regression: they leaked a checkpoint’s size of disk per kill)', async () => {
    const checkpointsDir = join(dir, 'leftovers');
    const dead = await deadPid();
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      const deadTemp = `.${checkpointDirName(1)}.tmp-${dead}-0badc0de`;
      const liveTemp = `.${checkpointDirName(2)}.tmp-${live.pid as number}-00c0ffee`;
      // a restarted job can get the killed job's pid (pid 1 in a fresh container): its own pid with no save in progress is stale
      const samePidTemp = `.${checkpointDirName(3)}.tmp-${process.pid}-5a5a5a5a`;
      const interruptedDelete = `.${checkpointDirName(0)}.del-${live.pid as number}-0dead0ff`;
      for (const name of [deadTemp, liveTemp, samePidTemp, interruptedDelete]) {
        await mkdir(join(checkpointsDir, name), { recursive: true });
        await writeFile(join(checkpointsDir, name, 'model.safetensors'), new Uint8Array(1024));
      }
      await saveCheckpoint(checkpointsDir, content(4));
      expect((await readdir(checkpointsDir)).sort()).toEqual([liveTemp, checkpointDirName(4)].sort());
      expect(await removeCheckpointLeftovers(checkpointsDir)).toEqual([]);
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('never lists a half-deleted old checkpoint when pruning is interrupted (regression: trainer.json survived its model.safetensors)', async () => {
    const checkpointsDir = join(dir, 'prune');
    await saveCheckpoint(checkpointsDir, content(1), { keep: 2 });
    await saveCheckpoint(checkpointsDir, content(2), { keep: 2 });
    hooks.interruptRm = (path) => basename(path).includes(checkpointDirName(1));
    try {
      await expect(saveCheckpoint(checkpointsDir, content(3), { keep: 2 })).rejects.toThrow('killed while deleting');
    } finally {
      hooks.interruptRm = undefined;
    }
    // step 1 is gone or whole; the new checkpoint was committed before pruning started
    expect(await expectEveryListedLoads(checkpointsDir)).toEqual([2, 3]);
    // what the interrupted delete left is cleared by the next save
    await saveCheckpoint(checkpointsDir, content(4), { keep: 2 });
    expect((await readdir(checkpointsDir)).sort()).toEqual([checkpointDirName(3), checkpointDirName(4)]);
  });

  it('replaces a checkpoint of the same step without ever exposing a half-deleted one', async () => {
    const checkpointsDir = join(dir, 'replace');
    await saveCheckpoint(checkpointsDir, content(1));
    await saveCheckpoint(checkpointsDir, content(2));
    hooks.interruptRm = (path) => basename(path).includes(checkpointDirName(2));
    try {
      await expect(saveCheckpoint(checkpointsDir, content(2, 7))).rejects.toThrow('killed while deleting');
    } finally {
      hooks.interruptRm = undefined;
    }
    // the old step 2 was moved aside before it was deleted: step 1 is the newest complete one
    expect(await expectEveryListedLoads(checkpointsDir)).toEqual([1]);
    const path = await saveCheckpoint(checkpointsDir, content(2, 7));
    expect([...(await loadCheckpoint(path)).weights.get('w')!.data]).toEqual([7, 7.5]);
    expect((await readdir(checkpointsDir)).sort()).toEqual([checkpointDirName(1), checkpointDirName(2)]);
  });
});
