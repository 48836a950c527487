import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  INTERFACE_VERSION,
  JsonlMetricsLogger,
  Llm2ClipError,
  Rng,
  concatRows,
  embeddingMatrix,
  fingerprint,
  isLlm2ClipError,
  l2NormalizeRows,
  readMetricsJsonl,
  writeDirectoryAtomic,
  writeFileAtomic,
} from '../src/index.js';

describe('errors', () => {
  it('carry a stable code and name the path and field in the message', () => {
    const error = new Llm2ClipError('E_FORMAT', 'bad header', { path: '/x/model.safetensors', field: 'dtype' });
    expect(error.code).toBe('E_FORMAT');
    expect(error.message).toContain('/x/model.safetensors');
    expect(error.message).toContain('dtype');
    expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
    expect(isLlm2ClipError(error, 'E_IO')).toBe(false);
    expect(isLlm2ClipError(new Error('x'))).toBe(false);
  });
  it('exports a semver interface version', () => {
    expect(INTERFACE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('Rng', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const seqA = Array.from({ length: 20 }, () => a.float());
    expect(Array.from({ length: 20 }, () => b.float())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.float())).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });
  it('restores from a saved state to continue the same sequence', () => {
    const rng = new Rng(3);
    rng.normal();
    const state = rng.getState();
    const expected = [rng.float(), rng.int(0, 100), rng.normal()];
    const restored = Rng.fromState(JSON.parse(JSON.stringify(state)));
    expect([restored.float(), restored.int(0, 100), restored.normal()]).toEqual(expected);
  });
  it('draws normals with roughly unit variance and permutations that are permutations', () => {
    const rng = new Rng(11);
    const xs = rng.normalArray(20000);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect([...rng.permutation(50)].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('matrices', () => {
  it('validate shapes, stack rows and normalise', () => {
    expect(() => embeddingMatrix(2, 3, new Float32Array(5))).toThrow(/E_SHAPE/);
    const m = concatRows([embeddingMatrix(1, 2, Float32Array.of(3, 4)), embeddingMatrix(1, 2, Float32Array.of(0, 0))]);
    expect(m.rows).toBe(2);
    const n = l2NormalizeRows(m);
    expect(Array.from(n.data)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
  });
});

describe('files', () => {
  it('atomic writes leave no temp files and replace content', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'core-'));
    const path = join(dir, 'a.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(dir)).toEqual(['a.json']);
  });
  it('a failing directory fill keeps the previous directory whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'core-'));
    const target = join(dir, 'ckpt');
    await writeDirectoryAtomic(target, async (tmp) => writeFileSync(join(tmp, 'w'), 'good'));
    await expect(
      writeDirectoryAtomic(target, async (tmp) => {
        writeFileSync(join(tmp, 'w'), 'half');
        throw new Error('killed');
      }),
    ).rejects.toThrow(/E_IO/);
    expect(readFileSync(join(target, 'w'), 'utf8')).toBe('good');
    expect(readdirSync(dir)).toEqual(['ckpt']);
  });
  it('metrics.jsonl appends whole lines and the reader skips a torn tail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'core-'));
    const logger = new JsonlMetricsLogger(join(dir, 'metrics.jsonl'));
    logger.log({ phase: 'stage1', step: 1, loss: 2.5 });
    logger.log({ phase: 'stage1', step: 2, loss: 2.0 });
    const text = readFileSync(logger.path, 'utf8') + '{"phase":"stage1","st';
    const records = readMetricsJsonl(text);
    expect(records.map((r) => r.loss)).toEqual([2.5, 2.0]);
  });
  it('fingerprints change with content', () => {
    expect(fingerprint({ a: 1 }, Float32Array.of(1, 2))).toBe(fingerprint({ a: 1 }, Float32Array.of(1, 2)));
    expect(fingerprint({ a: 1 }, Float32Array.of(1, 2))).not.toBe(fingerprint({ a: 1 }, Float32Array.of(1, 3)));
  });
});
