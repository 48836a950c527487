import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// the fuzz tool's own runner (built with the workspace); a test-only path import, since the tool depends on this package
import { CI_FUZZ_SECONDS, fuzzRunProblems, runRegressionFuzz } from '../../../tools/fuzz/dist/child.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Llm2ClipError } from '@llm2clip/core';
import { SAFETENSORS_MAX_HEADER_BYTES, parseSafetensors, parseSafetensorsHeader, readSafetensors, serializeSafetensors } from '../src/index.js';

/** Safetensors bytes with `header` as JSON and `dataBytes` zero bytes of data. */
function file(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

function formatError(run: () => unknown): Llm2ClipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Llm2ClipError);
    expect((error as Llm2ClipError).code).toBe('E_FORMAT');
    return error as Llm2ClipError;
  }
  throw new Error('expected an E_FORMAT error');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-safetensors-hardening-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('safetensors reader limits', () => {
  it('refuses a header length over the cap or past the end of the file before allocating it', async () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(SAFETENSORS_MAX_HEADER_BYTES + 1), true);
    expect(formatError(() => parseSafetensorsHeader(bytes, 'x.safetensors')).message).toMatch(/limit/);
    new DataView(bytes.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    formatError(() => parseSafetensorsHeader(bytes, 'x.safetensors'));
    new DataView(bytes.buffer).setBigUint64(0, 9n, true);
    expect(formatError(() => parseSafetensorsHeader(bytes, 'x.safetensors')).message).toMatch(/file size/);
    const path = join(dir, 'huge-header.safetensors');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    await writeFile(path, huge);
    await expect(readSafetensors(path)).rejects.toMatchObject({ code: 'E_FORMAT' });
  });

  it('refuses offsets outside the data section, overlapping ranges and byte counts that disagree with dtype × shape', () => {
    formatError(() => parseSafetensors(file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4)));
    formatError(() => parseSafetensors(file({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8)));
    const overlap = formatError(() => parseSafetensors(file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12)));
    expect(overlap.message).toMatch(/overlap/);
    expect(formatError(() => parseSafetensors(file({ a: { dtype: 'F16', shape: [3], data_offsets: [0, 4] } }, 4))).message).toMatch(/byte count/);
    formatError(() => parseSafetensors(file({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4)));
    formatError(() => parseSafetensors(file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4)));
    formatError(() => parseSafetensors(file({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, 4)));
    formatError(() => parseSafetensors(file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 1e300] } }, 4)));
  });

  it('refuses shapes whose element count overflows instead of wrapping around', () => {
    const big = 2 ** 40;
    const error = formatError(() => parseSafetensors(file({ a: { dtype: 'F32', shape: [big, big], data_offsets: [0, 4] } }, 4)));
    expect(error.message).toMatch(/overflow/);
    // a product that fits a double but not exactly (2^53 + …) is refused too
    formatError(() => parseSafetensors(file({ a: { dtype: 'U8', shape: [2 ** 27, 2 ** 27], data_offsets: [0, 4] } }, 4)));
  });

  it('refuses headers that are not a JSON object, bad UTF-8 and bad metadata', () => {
    formatError(() => parseSafetensors(file([1, 2], 0)));
    formatError(() => parseSafetensors(file(null, 0)));
    formatError(() => parseSafetensors(file({ __metadata__: { a: 1 } }, 0)));
    const bad = file({ a: 1 }, 0);
    bad[9] = 0xff;
    formatError(() => parseSafetensors(bad));
    formatError(() => parseSafetensors(new Uint8Array(3)));
  });

  it('reads what the writer wrote (the limits do not reject valid files)', () => {
    const bytes = serializeSafetensors({ w: { shape: [2, 2], dtype: 'float32', data: Float32Array.of(1, 2, 3, 4) }, e: { shape: [0], dtype: 'int32', data: new Int32Array(0) } }, { format: 'pt' });
    const parsed = parseSafetensors(bytes);
    expect([...parsed.tensors.get('w')!.data]).toEqual([1, 2, 3, 4]);
    expect(parsed.tensors.get('e')!.shape).toEqual([0]);
  });
});

describe('fuzz: safetensors reader (coverage-guided, bounded)', () => {
  it(`no crash in ${CI_FUZZ_SECONDS} s of fuzzing`, async () => {
    expect(fuzzRunProblems(await runRegressionFuzz('safetensors'))).toEqual([]);
  }, (CI_FUZZ_SECONDS + 120) * 1000);
});
