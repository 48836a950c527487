import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { saveCheckpoint } from '@llm2clip/tensor';
import {
  compareFinalCheckpoints,
  compareMetrics,
  compareTrees,
  formatReport,
  inspectCheckpoints,
  operationPattern,
  prepareStage1,
  runCliChild,
  runCrashHarness,
  type CrashHarnessReport,
} from '../src/index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'llm2clip-crash-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const INJECT = fileURLToPath(new URL('../dist/inject.js', import.meta.url));

/** Runs `script` under the inject preload; resolves with the signal and the files written. */
async function underInject(dir: string, script: string, env: Record<string, string>): Promise<{ signal: NodeJS.Signals | null; files: string[] }> {
  const child = spawn(process.execPath, ['--import', INJECT, '--input-type=module', '-e', script], {
    env: { ...process.env, LLM2CLIP_CRASH_DIR: dir, ...env },
    stdio: 'ignore',
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  return { signal, files: (await readdir(dir)).sort() };
}

describe('kill injection', () => {
  it('kills the process at the n-th matching write under the watched directory, before or after it', async () => {
    const script = `import { writeFile } from 'node:fs/promises';
      for (const name of ['a.bin', 'b.json', 'c.bin', 'd.bin']) await writeFile(${JSON.stringify(root)} + '/' + process.env.SUB + '/' + name, 'x');`;
    for (const [sub, when, expected] of [
      ['before', 'before', ['a.bin', 'b.json']],
      ['after', 'after', ['a.bin', 'b.json', 'c.bin']],
    ] as const) {
      const dir = join(root, sub);
      await mkdir(dir, { recursive: true });
      const result = await underInject(dir, script, { SUB: sub, LLM2CLIP_CRASH_MATCH: '^writeFile .*\\.bin$', LLM2CLIP_CRASH_NTH: '2', LLM2CLIP_CRASH_WHEN: when });
      expect(result.signal).toBe('SIGKILL');
      expect(result.files).toEqual(expected);
    }
  });

  it('generalises temporary and step names in operation patterns', () => {
    const pattern = new RegExp(operationPattern({ index: 1, op: 'rename', paths: ['checkpoints/.step-00000003.tmp-81-9f2c01ab', 'checkpoints/step-00000003'], ms: 0 }));
    expect(pattern.test('rename checkpoints/.step-00000007.tmp-4411-00ff00ff checkpoints/step-00000007')).toBe(true);
    expect(pattern.test('rename checkpoints/.step-00000007.tmp-4411-00ff00ff checkpoints/step-00000007x')).toBe(false);
    expect(pattern.test('rm checkpoints/step-00000007')).toBe(false);
    const removal = new RegExp(operationPattern({ index: 2, op: 'rename', paths: ['checkpoints/step-00000001', 'checkpoints/.step-00000001.del-81-0badc0de'], ms: 0 }));
    expect(removal.test('rename checkpoints/step-00000004 checkpoints/.step-00000004.del-9-12345678')).toBe(true);
    const aside = new RegExp(operationPattern({ index: 3, op: 'rename', paths: ['checkpoints/step-00000001', 'checkpoints/.step-00000001.old-81-0badc0de'], ms: 0 }));
    expect(aside.test('rename checkpoints/step-00000005 checkpoints/.step-00000005.old-12-87654321')).toBe(true);
  });

  it('reports a single flipped byte between two trees, and ignores temporary files of atomic writes', async () => {
    const a = join(root, 'tree-a');
    const b = join(root, 'tree-b');
    for (const dir of [a, b]) {
      await mkdir(join(dir, 'sub'), { recursive: true });
      await writeFile(join(dir, 'sub', 'w.safetensors'), Uint8Array.of(1, 2, 3));
    }
    await writeFile(join(b, '.w.safetensors.tmp-12-abcdef01'), 'partial');
    expect(await compareTrees(a, b, 'export')).toEqual([]);
    await writeFile(join(b, 'sub', 'w.safetensors'), Uint8Array.of(1, 2, 4));
    expect(await compareTrees(a, b, 'export')).toEqual(['export/sub/w.safetensors: bytes differ']);
  });
});

describe('checkpoint inspection', () => {
  it('loads every complete checkpoint and reports a damaged one, and lists leftover temporary directories', async () => {
    const dir = join(root, 'inspect');
    for (const step of [1, 2]) {
      await saveCheckpoint(dir, {
        step,
        weights: new Map([['w', { shape: [2], dtype: 'float32', data: Float32Array.of(step, 1) }]]),
        optimizer: { step, tensors: new Map([['w.exp_avg', { shape: [2], dtype: 'float32', data: Float32Array.of(0, step) }]]) },
        rng: new Rng(step).getState(),
        trainer: { phase: 'test' },
      });
    }
    await mkdir(join(dir, `.step-00000003.tmp-${process.pid}-abcdef01`));
    expect(await inspectCheckpoints(dir)).toEqual({ steps: [1, 2], latest: 2, broken: [], temps: [`.step-00000003.tmp-${process.pid}-abcdef01`] });
    // a torn weights file in the newest checkpoint
    const weights = join(dir, 'step-00000002', 'model.safetensors');
    await writeFile(weights, (await readFile(weights)).subarray(0, 20));
    const inspection = await inspectCheckpoints(dir);
    expect(inspection.broken.map((b) => b.step)).toEqual([2]);
  });
});

function expectCrashSafe(report: CrashHarnessReport): void {
  const t = report.totals;
  expect(t.kills).toBeGreaterThanOrEqual(1);
  // the first kill of trial 0 is injected inside a checkpoint write
  expect(t.killsInCheckpointCode).toBeGreaterThanOrEqual(1);
  expect(report.trials.flatMap((trial) => trial.problems)).toEqual([]);
  expect(report.trials.flatMap((trial) => trial.differences)).toEqual([]);
  expect(t.brokenCheckpoints).toBe(0);
  expect(t.bitIdentical).toBe(t.trials);
  // temporary files and directories of killed writers are cleared by the resumed run (the next
  // atomic write of the same file, the next save, or the resume itself)
  expect(report.trials.flatMap((trial) => trial.leftoverTemps)).toEqual([]);
}

describe('kill-and-resume (SIGKILL, then --resume, until done; compared with an uninterrupted run)', () => {
  it('stage 1 (llm finetune) resumes bit-identically', async () => {
    const report = await runCrashHarness({ stage: 1, trials: 1, killSeed: 11, root: join(root, 'stage-1'), maxKillsPerTrial: 3 });
    process.stderr.write(`${formatReport(report)}\n`);
    expectCrashSafe(report);
  });

  it('stage 2 (clip train) resumes bit-identically', async () => {
    const report = await runCrashHarness({ stage: 2, trials: 1, killSeed: 12, root: join(root, 'stage-2'), maxKillsPerTrial: 3 });
    process.stderr.write(`${formatReport(report)}\n`);
    expectCrashSafe(report);
  });

  it('notices a resume that lost state: the RNG state of the checkpoint resumed from, changed by one bit', async () => {
    // reuses the stage-1 fixtures and reference of the test above (rebuilt when run alone)
    const base = join(root, 'stage-1');
    const fixture = await prepareStage1(join(base, 'fixtures'));
    const referenceDir = join(base, 'reference');
    if (!(await access(join(referenceDir, 'adapter')).then(() => true, () => false))) expect((await runCliChild(fixture.args(referenceDir, false))).code).toBe(0);
    const runDir = join(root, 'tampered');
    const killed = await runCliChild(fixture.args(runDir, false), {
      kill: { mode: 'inject', dir: runDir, match: '^rename checkpoints/\\.step-00000003\\.tmp-\\d+-[0-9a-f]+ checkpoints/step-00000003$', nth: 1, when: 'after' },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.injectedAt?.op).toBe('rename');
    const trainerJson = join(runDir, 'checkpoints', 'step-00000003', 'trainer.json');
    const json = JSON.parse(await readFile(trainerJson, 'utf8')) as { rng: { state: number[] } };
    json.rng.state[0] = json.rng.state[0]! ^ 1;
    await writeFile(trainerJson, JSON.stringify(json));
    const resumed = await runCliChild(fixture.args(runDir, true));
    expect(resumed.code).toBe(0);
    expect(fixture.startStep(resumed.stdout)).toBe(3);
    const checkpointDiffs = await compareFinalCheckpoints(fixture.checkpointsDir(referenceDir), fixture.checkpointsDir(runDir));
    const metricDiffs = await compareMetrics(join(referenceDir, 'metrics.jsonl'), join(runDir, 'metrics.jsonl'), 'stage1');
    expect(checkpointDiffs).toEqual(expect.arrayContaining(['checkpoint model.safetensors: bytes differ', expect.stringMatching(/^checkpoint trainer\.json rng:/)]));
    // steps 1–3 ran before the kill and match; step 4 is the first drawn from the changed generator
    expect(metricDiffs.some((d) => d.startsWith('metrics step 4 loss'))).toBe(true);
    expect(metricDiffs.some((d) => /^metrics step [123] /.test(d))).toBe(false);
  });
});
