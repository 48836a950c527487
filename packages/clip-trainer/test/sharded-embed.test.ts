import { beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EmbeddingMatrix, Sample } from '@llm2clip/core';
import { readTarEntries } from '@llm2clip/data';
import { EmbeddingCache, assignShards, embedShards, mergeEmbeddingShards, resolveShardSpec, writeLlm2ClipColumnTars, type EmbedInputShard } from '../src/index.js';
import { ArraySource, BagOfWordsEmbedder, syntheticSamples, tempDir, useCpu } from './helpers.js';

beforeAll(useCpu);

/** Five input shards of 3, 3, 3, 3 and 2 samples, like five webdataset tars. */
function inputs(): EmbedInputShard[] {
  const samples = syntheticSamples(14);
  return Array.from({ length: 5 }, (_, i) => ({ name: `data/train-${String(i).padStart(6, '0')}.tar`, samples: () => new ArraySource(samples.slice(i * 3, i * 3 + 3)).samples() }));
}

/** Counts the captions it embeds, per caption text. */
class CountingEmbedder extends BagOfWordsEmbedder {
  embedded: string[] = [];
  override async embed(texts: readonly string[]): Promise<EmbeddingMatrix> {
    this.embedded.push(...texts);
    return super.embed(texts);
  }
}

async function cacheContents(dir: string): Promise<Array<[string, number[]]>> {
  const cache = await EmbeddingCache.open(dir);
  return cache.keys().map((key) => [key, Array.from(cache.get(key)?.embeddings.data ?? [])]);
}

describe('shard specs', () => {
  it('parses i/n and reads the scheduler index for auto', () => {
    expect(resolveShardSpec('2/5', {})).toEqual({ index: 2, count: 5 });
    expect(resolveShardSpec('auto/4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4 });
    expect(resolveShardSpec('auto', { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5', SLURM_ARRAY_TASK_COUNT: '3' })).toEqual({ index: 2, count: 3 });
    expect(resolveShardSpec('auto', { LLM2CLIP_SHARD_INDEX: '0', LLM2CLIP_SHARD_COUNT: '2' })).toEqual({ index: 0, count: 2 });
    expect(() => resolveShardSpec('auto', { JOB_COMPLETION_INDEX: '1' })).toThrow(/count is unknown/);
    expect(() => resolveShardSpec('auto', {})).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => resolveShardSpec('5/5', {})).toThrow(/index < count/);
    expect(() => resolveShardSpec('1-of-2', {})).toThrow(/i\/n/);
  });

  it('deals every input shard to exactly one part, round robin or in blocks', () => {
    for (const assignment of ['round-robin', 'contiguous'] as const) {
      const parts = [0, 1, 2].map((index) => assignShards(8, { index, count: 3 }, assignment));
      expect(parts.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
    expect(assignShards(8, { index: 1, count: 3 }, 'round-robin')).toEqual([1, 4, 7]);
    expect(assignShards(8, { index: 1, count: 3 }, 'contiguous')).toEqual([3, 4, 5]);
  });
});

describe('embedShards + mergeEmbeddingShards', () => {
  it('a 2-way split, merged, equals a single run', async () => {
    const single = await tempDir('single');
    await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12), outDir: single, batchSize: 5 });
    const singleManifest = await mergeEmbeddingShards(single);
    const split = await tempDir('split');
    const a = await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12), outDir: split, shard: resolveShardSpec('0/2'), batchSize: 5 });
    await expect(mergeEmbeddingShards(split)).rejects.toThrow(/2 of 5 input shards are not embedded yet: #1, #3/);
    const b = await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12), outDir: split, shard: resolveShardSpec('1/2'), batchSize: 5 });
    expect([a.embedded.length, b.embedded.length]).toEqual([3, 2]);
    const splitManifest = await mergeEmbeddingShards(split);
    const { createdAt: _a, ...left } = singleManifest;
    const { createdAt: _b, ...right } = splitManifest;
    expect(right).toEqual(left);
    expect(splitManifest).toMatchObject({ samples: 14, rows: 56, dim: 12, dtype: 'float32', pooling: 'mean', inputs: { count: 5 } });
    expect(splitManifest.shards.map((s) => s.file)).toEqual([0, 1, 2, 3, 4].map((i) => `train-00000${i}.safetensors`));
    expect(await cacheContents(split)).toEqual(await cacheContents(single));
    const onDisk = JSON.parse(await readFile(join(split, 'manifest.json'), 'utf8'));
    expect(onDisk.embedder.fingerprint).toBe(new BagOfWordsEmbedder(12).describe().fingerprint);
  });

  it('resumes after a kill without redoing finished shards', async () => {
    const dir = await tempDir('killed');
    const first = new CountingEmbedder(12);
    let done = 0;
    const killed = await embedShards({
      inputs: inputs(),
      embedder: first,
      outDir: dir,
      onShardDone: () => {
        done += 1;
        if (done === 2) throw new Error('killed');
      },
    }).catch((e: unknown) => e);
    expect((killed as Error).message).toBe('killed');
    expect((await readdir(dir)).filter((f) => f.endsWith('.done.json'))).toHaveLength(2);
    // a half-written third shard without its record is redone, not trusted
    const again = new CountingEmbedder(12);
    const resumed = await embedShards({ inputs: inputs(), embedder: again, outDir: dir });
    expect(resumed.reused).toEqual(['data/train-000000.tar', 'data/train-000001.tar']);
    expect(resumed.embedded).toEqual(['data/train-000002.tar', 'data/train-000003.tar', 'data/train-000004.tar']);
    expect(again.embedded).toHaveLength(8 * 4);
    const fresh = await tempDir('fresh');
    await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12), outDir: fresh });
    await mergeEmbeddingShards(dir);
    await mergeEmbeddingShards(fresh);
    expect(await cacheContents(dir)).toEqual(await cacheContents(fresh));
  });

  it('refuses to mix embedders and reports missing or tampered shards', async () => {
    const dir = await tempDir('mixed');
    await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12), outDir: dir, shard: { index: 0, count: 2 } });
    await expect(embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12, 7), outDir: dir, shard: { index: 0, count: 2 } })).rejects.toMatchObject({ code: 'E_MISMATCH', field: 'embedder.fingerprint' });
    await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12, 7), outDir: dir, shard: { index: 1, count: 2 } });
    await expect(mergeEmbeddingShards(dir)).rejects.toMatchObject({ code: 'E_MISMATCH', field: 'embedder.fingerprint' });
    await expect(mergeEmbeddingShards(dir, { verifyOnly: true })).rejects.toThrow(/embedder/);

    const other = await tempDir('tampered');
    await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12), outDir: other });
    await rm(join(other, 'train-000003.done.json'));
    await expect(mergeEmbeddingShards(other)).rejects.toThrow(/1 of 5 input shards are not embedded yet: #3/);
    // a different input list is not silently merged into the same cache
    const four = inputs().slice(0, 4);
    await expect(embedShards({ inputs: four, embedder: new BagOfWordsEmbedder(12), outDir: other })).rejects.toMatchObject({ code: 'E_MISMATCH', field: 'input' });
  });

  it('skips and counts samples without captions', async () => {
    const samples: Sample[] = syntheticSamples(3);
    const broken: Sample = { ...samples[1], captions: [] };
    const dir = await tempDir('skips');
    const result = await embedShards({
      inputs: [
        { name: 'one.tar', samples: () => new ArraySource([samples[0], broken, samples[2]]).samples() },
        { name: 'empty.tar', samples: () => new ArraySource([{ ...broken, key: 'other' }]).samples() },
      ],
      embedder: new BagOfWordsEmbedder(12),
      outDir: dir,
    });
    expect(result.skippedSamples).toBe(2);
    const manifest = await mergeEmbeddingShards(dir);
    expect(manifest.samples).toBe(2);
    expect(manifest.shards.map((s) => [s.file, s.samples])).toEqual([['one.safetensors', 2], ['empty.safetensors', 0]]);
    expect(manifest.inputs.skippedSamples).toBe(2);
    expect((await EmbeddingCache.open(dir)).keys()).toEqual([samples[0].key, samples[2].key]);
  });

  it("also writes LLM2CLIP's x_text_embeddings.tar columns (shortSV/longSV, raw float32)", async () => {
    const dir = await tempDir('columns');
    await expect(writeLlm2ClipColumnTars(dir)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await embedShards({ inputs: inputs(), embedder: new BagOfWordsEmbedder(12), outDir: dir });
    await mergeEmbeddingShards(dir);
    const written = await writeLlm2ClipColumnTars(dir, { outDir: dir });
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual([0, 1, 2, 3, 4].map((i) => `train-00000${i}_text_embeddings.tar`));
    const entries = [];
    for await (const entry of readTarEntries(written[4])) entries.push(entry);
    const cache = await EmbeddingCache.open(dir);
    const keys = cache.keys().slice(12);
    expect(entries.map((e) => e.name)).toEqual(keys.flatMap((k) => [`${k}.shortSV_captions`, `${k}.longSV_captions`]));
    // captions are [short, long, short, long]: the first short is row 0, the first long row 1
    const rows = cache.get(keys[1])?.embeddings.data as Float32Array;
    const long = new Float32Array(new Uint8Array(entries[3].data).buffer);
    expect(Array.from(long)).toEqual(Array.from(rows.subarray(12, 24)));
  });
});
