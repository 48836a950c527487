import { open, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng, isLlm2ClipError } from '@llm2clip/core';
import { readSafetensors } from '@llm2clip/tensor';
import { LlamaModel, SafetensorsSource, floatToBf16, floatToHalf, halfToFloat, parseLlamaConfig, readModelWeights } from '../src/index.js';
import { tempDir, tinyConfig } from './fixtures.js';

function logitsOf(model: LlamaModel): Float32Array {
  return tf.tidy(() => {
    const ids = tf.tensor2d([[1, 5, 6, 7, 8], [2, 2, 1, 9, 10]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], undefined, 'int32');
    return model.logits(model.forward(ids, mask)).dataSync() as Float32Array;
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('streamed safetensors weights', () => {
  it('converts half and bfloat16 bits exactly (round to nearest even on the way back)', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(2 ** -24)).toBe(0x0001);
    // normal numbers keep 11 significant bits; subnormals (below 2^-14) are exact to 2^-25
    for (const x of [0.1, -3.14159, 1e-5, 123.456]) expect(Math.abs(halfToFloat(floatToHalf(x)) - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
    expect(floatToBf16(1)).toBe(0x3f80);
    expect(floatToBf16(-2)).toBe(0xc000);
  });

  for (const dtype of ['F16', 'BF16'] as const) {
    it(`saves ${dtype} (torch_dtype follows) and loads it back converted to float32 while streaming`, async () => {
      const dir = await tempDir();
      const model = LlamaModel.create(tinyConfig(), new Rng(3));
      await model.save(dir, { dtype });
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { torch_dtype: string };
      expect(config.torch_dtype).toBe(dtype === 'F16' ? 'float16' : 'bfloat16');
      const source = await SafetensorsSource.open(join(dir, 'model.safetensors'));
      expect(new Set(source.list().map((t) => t.dtype))).toEqual(new Set([dtype]));
      await source.close();
      const loaded = await LlamaModel.fromPretrained(dir);
      // the stored values are the rounded ones: every weight is within half-precision rounding
      const original = model.parameters.get('model.layers.0.self_attn.q_proj.weight').dataSync() as Float32Array;
      const back = loaded.parameters.get('model.layers.0.self_attn.q_proj.weight').dataSync() as Float32Array;
      const ulp = dtype === 'F16' ? 2 ** -11 : 2 ** -8;
      for (let i = 0; i < original.length; i++) expect(Math.abs(back[i] - original[i])).toBeLessThanOrEqual(Math.abs(original[i]) * ulp + 1e-7);
      expect(back).not.toEqual(original);
      // the streamed reader and the tensor package's whole-file reader agree bit for bit
      const whole = await readModelWeights(dir);
      expect(whole.get('model.layers.0.self_attn.q_proj.weight')!.data).toEqual(back);
      const reference = (await readSafetensors(join(dir, 'model.safetensors'))).tensors.get('model.layers.0.self_attn.q_proj.weight')!;
      expect(reference.data).toEqual(back);
      model.dispose();
      loaded.dispose();
    });
  }

  it('writes sharded files with an index above maxShardBytes and loads them to identical logits', async () => {
    const dir = await tempDir();
    const model = LlamaModel.create(tinyConfig(), new Rng(4));
    await model.save(dir, { maxShardBytes: 20_000 });
    const files = (await readdir(dir)).sort();
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    expect(files).toContain('model.safetensors.index.json');
    expect(files).not.toContain('model.safetensors');
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    expect(index.metadata.total_size).toBe(model.parameters.entries().reduce((sum, [, v]) => sum + v.size * 4, 0));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    const loaded = await LlamaModel.fromPretrained(dir);
    expect(maxAbsDiff(logitsOf(loaded), logitsOf(model))).toBe(0);
    // saving again unsharded removes the stale shards
    await model.save(dir);
    expect((await readdir(dir)).filter((f) => f.startsWith('model'))).toEqual(['model.safetensors']);
    model.dispose();
    loaded.dispose();
  });

  it('names every missing, unexpected and mis-shaped tensor before reading any data', async () => {
    const dir = await tempDir();
    const model = LlamaModel.create(tinyConfig(), new Rng(5));
    await model.save(dir);
    model.dispose();
    const wrong = parseLlamaConfig({ ...tinyConfig(), intermediate_size: 48, num_hidden_layers: 1 });
    const source = await SafetensorsSource.openDirectory(dir);
    let error: unknown;
    try {
      await LlamaModel.fromSource(wrong, source);
    } catch (caught) {
      error = caught;
    }
    await source.close();
    expect(isLlm2ClipError(error, 'E_MISMATCH')).toBe(true);
    const message = (error as Error).message;
    expect(message).toMatch(/unexpected: model\.layers\.1\.self_attn\.q_proj\.weight/);
    expect(message).toMatch(/mis-shaped: .*model\.layers\.0\.mlp\.gate_proj\.weight/);
    expect(message).toMatch(/expected shape \[48,32\], file has \[64,32\]/);
  });

  it('refuses truncated and lying files with E_FORMAT naming the file', async () => {
    const dir = await tempDir();
    const model = LlamaModel.create(tinyConfig(), new Rng(6));
    await model.save(dir);
    model.dispose();
    const path = join(dir, 'model.safetensors');
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 100));
    await expect(LlamaModel.fromPretrained(dir)).rejects.toThrow(/E_FORMAT.*model\.safetensors/);
    // a header length far beyond the file is refused before anything that size is allocated
    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(2n ** 40n, 0);
    await writeFile(path, huge);
    await expect(LlamaModel.fromPretrained(dir)).rejects.toThrow(/E_FORMAT.*header length/);
    const handle = await open(join(dir, 'model.safetensors'), 'w');
    await handle.close();
    await expect(LlamaModel.fromPretrained(dir)).rejects.toThrow(/E_FORMAT/);
  });

  it('reports a directory without weights naming both paths it looked for', async () => {
    const dir = await tempDir();
    await expect(SafetensorsSource.openDirectory(dir)).rejects.toThrow(/E_NOT_FOUND.*model\.safetensors.*model\.safetensors\.index\.json/);
  });
});
