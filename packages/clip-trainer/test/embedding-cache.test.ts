import { beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { embeddingMatrix, isLlm2ClipError } from '@llm2clip/core';
import { EmbeddingCache, EmbeddingCacheWriter, checkCacheCoverage, embedCaptions } from '../src/index.js';
import { ArraySource, BagOfWordsEmbedder, syntheticSamples, tempDir, useCpu } from './helpers.js';

beforeAll(useCpu);

describe('embedding cache', () => {
  it('round-trips embeddings by key with caption kinds and a complete manifest', async () => {
    const dir = await tempDir('cache');
    const writer = await EmbeddingCacheWriter.create(dir, { embedder: { name: 'toy', fingerprint: 'abc' }, pooling: 'mean', dim: 3, samplesPerShard: 2 });
    const rows = (n: number, base: number) => embeddingMatrix(n, 3, Float32Array.from({ length: n * 3 }, (_, i) => base + i));
    await writer.put({ key: 'a', embeddings: rows(2, 0), captionKinds: ['short', 'long'] });
    await writer.put({ key: 'b', embeddings: rows(1, 100) });
    await writer.put({ key: 'c', embeddings: rows(3, 200), captionKinds: ['short', 'long', 'long'] });
    const manifest = await writer.finish();
    expect(manifest).toMatchObject({ format: 'llm2clip.embeddings', version: 1, dim: 3, dtype: 'float32', samples: 3, rows: 6, pooling: 'mean', embedder: { fingerprint: 'abc' } });
    expect(manifest.shards.map((s) => [s.file, s.samples, s.rows])).toEqual([
      ['embeddings-000000.safetensors', 2, 3],
      ['embeddings-000001.safetensors', 1, 3],
    ]);
    const onDisk = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    expect(onDisk.shards).toEqual(manifest.shards);
    const cache = await EmbeddingCache.open(dir, { dim: 3, embedderFingerprint: 'abc' });
    expect(cache.keys()).toEqual(['a', 'b', 'c']);
    expect(cache.has('b')).toBe(true);
    expect(cache.get('zzz')).toBeUndefined();
    const c = cache.get('c');
    expect(c?.embeddings.rows).toBe(3);
    expect(Array.from(c?.embeddings.data ?? [])).toEqual(Array.from(rows(3, 200).data));
    expect(c?.captionKinds).toEqual(['short', 'long', 'long']);
    expect(cache.get('b')?.captionKinds).toBeUndefined();
  });

  it('refuses a cache of another dimension or embedder, and samples it lacks', async () => {
    const dir = await tempDir('cache-mismatch');
    const writer = await EmbeddingCacheWriter.create(dir, { embedder: { name: 'toy', fingerprint: 'abc' }, pooling: 'mean', dim: 4 });
    await writer.put({ key: 'x', embeddings: embeddingMatrix(2, 4, new Float32Array(8)) });
    await expect(writer.put({ key: 'y', embeddings: embeddingMatrix(1, 3, new Float32Array(3)) })).rejects.toMatchObject({ code: 'E_SHAPE' });
    await writer.finish();
    await expect(EmbeddingCache.open(dir, { dim: 8 })).rejects.toMatchObject({ code: 'E_MISMATCH', field: 'dim' });
    await expect(EmbeddingCache.open(dir, { embedderFingerprint: 'other' })).rejects.toMatchObject({ code: 'E_MISMATCH' });
    const cache = await EmbeddingCache.open(dir);
    expect(() => checkCacheCoverage(cache, [{ key: 'x', captions: ['a', 'b'] }], 8)).toThrow(/dim 4 does not match the expected 8/);
    let error: unknown;
    try {
      checkCacheCoverage(cache, [{ key: 'x', captions: ['a', 'b'] }, { key: 'missing-1', captions: ['a'] }]);
    } catch (e) {
      error = e;
    }
    expect(isLlm2ClipError(error, 'E_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain('missing-1');
    expect(() => checkCacheCoverage(cache, [{ key: 'x', captions: ['a', 'b', 'c'] }])).toThrow(/2 caption rows/);
  });

  it('embeds every caption once, in shards named after the image shards', async () => {
    const samples = syntheticSamples(10, 16, 4);
    const teacher = new BagOfWordsEmbedder(12);
    const dir = await tempDir('embed');
    const events: number[] = [];
    const manifest = await embedCaptions({ source: new ArraySource(samples), embedder: teacher, outDir: dir, batchSize: 8, onProgress: (e) => events.push(e.done) });
    expect(manifest.samples).toBe(10);
    expect(manifest.rows).toBe(40);
    expect(manifest.shards.map((s) => s.file)).toEqual(['train-000000.safetensors', 'train-000001.safetensors', 'train-000002.safetensors']);
    expect((await readdir(dir)).sort()).toEqual(['manifest.json', 'train-000000.safetensors', 'train-000001.safetensors', 'train-000002.safetensors']);
    expect(events.at(-1)).toBe(40);
    const cache = await EmbeddingCache.open(dir);
    const direct = await new BagOfWordsEmbedder(12).embed(samples[7].captions);
    expect(Array.from(cache.get(samples[7].key)?.embeddings.data ?? [])).toEqual(Array.from(direct.data));
    expect(cache.get(samples[7].key)?.captionKinds).toEqual(['short', 'long', 'short', 'long']);
    expect(cache.manifest.embedder.fingerprint).toBe(teacher.describe().fingerprint);
  });
});
