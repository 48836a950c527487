import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// the fuzz tool's own runner (built with the workspace); a test-only path import, since the tool depends on this package
import { CI_FUZZ_SECONDS, fuzzRunProblems, runRegressionFuzz } from '../../../tools/fuzz/dist/child.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Llm2ClipError, Rng } from '@llm2clip/core';
import { loadCheckpoint, saveCheckpoint } from '../src/index.js';

let dir: string;
let valid: Record<string, unknown>;
let stepDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-checkpoint-hardening-'));
  stepDir = await saveCheckpoint(join(dir, 'good'), {
    step: 2,
    weights: new Map([['w', { shape: [2], dtype: 'float32', data: Float32Array.of(1, 2) }]]),
    optimizer: { step: 2, tensors: new Map([['w.exp_avg', { shape: [2], dtype: 'float32', data: Float32Array.of(0, 1) }]]) },
    rng: new Rng(3).getState(),
    cursor: { position: 2 },
    trainer: { phase: 'stage1' },
  });
  valid = JSON.parse(await readFile(join(stepDir, 'trainer.json'), 'utf8')) as Record<string, unknown>;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A copy of the good checkpoint whose trainer.json is `text`. */
async function withTrainer(name: string, text: string): Promise<string> {
  const target = join(dir, name);
  await mkdir(target, { recursive: true });
  for (const file of ['model.safetensors', 'optimizer.safetensors']) await writeFile(join(target, file), await readFile(join(stepDir, file)));
  await writeFile(join(target, 'trainer.json'), text);
  return target;
}

async function expectCode(path: string, code: string, field?: string): Promise<void> {
  const error = await loadCheckpoint(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Llm2ClipError);
  expect((error as Llm2ClipError).code).toBe(code);
  if (field !== undefined) expect((error as Llm2ClipError).field).toBe(field);
  expect((error as Llm2ClipError).message).toContain('trainer.json');
}

describe('checkpoint reader validation', () => {
  it('loads a checkpoint written by saveCheckpoint', async () => {
    const loaded = await loadCheckpoint(stepDir);
    expect(loaded.step).toBe(2);
    expect(loaded.optimizer?.step).toBe(2);
    expect([...loaded.weights.get('w')!.data]).toEqual([1, 2]);
  });

  it('turns a trainer.json that is JSON but not an object into E_FORMAT, not a TypeError (regression)', async () => {
    // before: `null` made `trainer.format` throw a TypeError
    for (const [i, text] of ['null', '[]', '7', '"x"'].entries()) await expectCode(await withTrainer(`not-object-${i}`, text), 'E_FORMAT');
  });

  it('reports invalid JSON as E_FORMAT and a missing trainer.json as E_NOT_FOUND', async () => {
    await expectCode(await withTrainer('bad-json', '{"format": '), 'E_FORMAT');
    const empty = join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    await expectCode(empty, 'E_NOT_FOUND');
  });

  it('validates step, optimizerStep, rng and trainer fields', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['neg-step', { step: -1 }, 'step'],
      ['frac-step', { step: 1.5 }, 'step'],
      ['huge-step', { step: 2 ** 60 }, 'step'],
      ['str-opt', { optimizerStep: '2' }, 'optimizerStep'],
      ['rng-null', { rng: null }, 'rng'],
      ['rng-short', { rng: { algorithm: 'xoroshiro128plus', state: [1, 2] } }, 'rng'],
      ['rng-float', { rng: { algorithm: 'xoroshiro128plus', state: [1, 2, 3, 0.5] } }, 'rng'],
      ['trainer-array', { trainer: [] }, 'trainer'],
      ['version', { version: 99 }, 'format'],
    ];
    for (const [name, patch, field] of cases) await expectCode(await withTrainer(name, JSON.stringify({ ...valid, ...patch })), 'E_FORMAT', field);
  });

  it('refuses a corrupt weight file with the safetensors reader error', async () => {
    const target = await withTrainer('bad-model', JSON.stringify(valid));
    await writeFile(join(target, 'model.safetensors'), Uint8Array.of(255, 255, 255, 255, 255, 255, 255, 255, 1));
    await expect(loadCheckpoint(target)).rejects.toMatchObject({ code: 'E_FORMAT' });
  });
});

describe('fuzz: checkpoint reader (coverage-guided, bounded)', () => {
  it(`no crash in ${CI_FUZZ_SECONDS} s of fuzzing`, async () => {
    expect(fuzzRunProblems(await runRegressionFuzz('checkpoint'))).toEqual([]);
  }, (CI_FUZZ_SECONDS + 120) * 1000);
});
