import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError, type Sample } from '@llm2clip/core';
import { WebDatasetSource, splitMemberName, writeTarAtomic, type TarEntry } from '../src/index.js';

let dir: string;
const SHARDS = 4;
const PER_SHARD = 25;

function sampleEntries(key: string): TarEntry[] {
  return [
    { name: `${key}.png`, data: Buffer.from(`png:${key}`) },
    { name: `${key}.json`, data: Buffer.from(JSON.stringify({ captions: [`caption of ${key}`, `long caption of ${key}`], caption_kinds: ['short', 'long'], label: key })) },
  ];
}

async function collect(iterable: AsyncIterable<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const sample of iterable) out.push(sample);
  return out;
}

const keys = (samples: readonly Sample[]): string[] => samples.map((s) => s.key);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-wds-'));
  for (let s = 0; s < SHARDS; s++) {
    const entries: TarEntry[] = [];
    for (let i = 0; i < PER_SHARD; i++) entries.push(...sampleEntries(`s${s}-${String(i).padStart(3, '0')}`));
    await writeTarAtomic(join(dir, `shard-${String(s).padStart(6, '0')}.tar`), entries);
  }
  await writeTarAtomic(join(dir, 'odd.tar'), [
    // a directory prefix and a multi-dot extension
    { name: 'images/cat0001.seg.png', data: Buffer.from('seg') },
    { name: 'images/cat0001.jpg', data: Buffer.from('jpg') },
    { name: 'images/cat0001.txt', data: Buffer.from('a cat\n\nanother caption of the cat\n') },
    // same basename in another directory is another sample
    { name: 'other/cat.jpg', data: Buffer.from('jpg2') },
    { name: 'other/cat.json', data: Buffer.from('{"captions": "one caption"}') },
    // no image
    { name: 'noimage.json', data: Buffer.from('{"captions": ["x"]}') },
    // no captions
    { name: 'nocaption.png', data: Buffer.from('png') },
    { name: 'nocaption.json', data: Buffer.from('{"captions": []}') },
    // broken json
    { name: 'badjson.png', data: Buffer.from('png') },
    { name: 'badjson.json', data: Buffer.from('{"captions": [') },
    // custom field
    { name: 'custom.webp', data: Buffer.from('webp') },
    { name: 'custom.json', data: Buffer.from('{"text": ["from a custom field"], "captions": ["default field"]}') },
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pattern = (): string => join(dir, 'shard-{000000..000003}.tar');

describe('WebDatasetSource', () => {
  it('splits member names into key and extension the webdataset way', () => {
    expect(splitMemberName('a/b.c/key.seg.PNG')).toEqual({ key: 'a/b.c/key', extension: 'seg.png' });
    expect(splitMemberName('noext')).toEqual({ key: 'noext', extension: '' });
  });

  it('groups members by key in file order, with image, captions, kinds and meta', async () => {
    const source = new WebDatasetSource(pattern());
    expect(source.shards).toHaveLength(SHARDS);
    const samples = await collect(source);
    expect(samples).toHaveLength(SHARDS * PER_SHARD);
    expect(samples[0].key).toBe('s0-000');
    expect(samples[PER_SHARD].key).toBe('s1-000');
    expect(samples[0].captions).toEqual(['caption of s0-000', 'long caption of s0-000']);
    expect(samples[0].captionKinds).toEqual(['short', 'long']);
    expect(samples[0].image).toMatchObject({ kind: 'encoded', format: 'png' });
    expect(Buffer.from((samples[0].image as { bytes: Uint8Array }).bytes).toString()).toBe('png:s0-000');
    expect(samples[0].meta).toMatchObject({ label: 's0-000', __url__: source.shards[0] });
  });

  it('skips and counts samples without an image or captions or with broken JSON', async () => {
    const source = new WebDatasetSource(join(dir, 'odd.tar'));
    const samples = await collect(source.samples());
    expect(keys(samples)).toEqual(['images/cat0001', 'other/cat', 'custom']);
    expect(samples[0].image).toMatchObject({ format: 'jpg' });
    expect(samples[0].captions).toEqual(['a cat', 'another caption of the cat']);
    expect(samples[0].captionKinds).toBeUndefined();
    expect(samples[1].captions).toEqual(['one caption']);
    expect(samples[2].captions).toEqual(['default field']);
    expect(source.skipped).toEqual({ 'missing-image': 1, 'missing-captions': 1, 'bad-json': 1, 'corrupt-shard': 0 });
    const custom = new WebDatasetSource(join(dir, 'odd.tar'), { captionsField: 'text' });
    expect((await collect(custom)).find((s) => s.key === 'custom')?.captions).toEqual(['from a custom field']);
  });

  it('shuffles deterministically for a seed and epoch, and keeps every sample', async () => {
    const source = new WebDatasetSource(pattern(), { shuffleBuffer: 20 });
    const fileOrder = keys(await collect(source.samples()));
    const a = keys(await collect(source.samples({ seed: 7, epoch: 0 })));
    const b = keys(await collect(source.samples({ seed: 7, epoch: 0 })));
    const c = keys(await collect(source.samples({ seed: 7, epoch: 1 })));
    const d = keys(await collect(source.samples({ seed: 8, epoch: 0 })));
    expect(a).toEqual(b);
    expect(a).not.toEqual(fileOrder);
    expect(c).not.toEqual(a);
    expect(d).not.toEqual(a);
    for (const order of [a, c, d]) expect([...order].sort()).toEqual([...fileOrder].sort());
  });

  it('shards by files into disjoint, complete parts with known sizes', async () => {
    const source = new WebDatasetSource(pattern(), { shardSizes: [PER_SHARD, PER_SHARD, PER_SHARD, PER_SHARD] });
    expect(source.size).toBe(SHARDS * PER_SHARD);
    const all = keys(await collect(source)).sort();
    const parts = [source.shard(0, 2), source.shard(1, 2)];
    expect(parts.map((p) => p.shards.length)).toEqual([2, 2]);
    expect(parts.map((p) => p.size)).toEqual([2 * PER_SHARD, 2 * PER_SHARD]);
    const seen = await Promise.all(parts.map(async (p) => keys(await collect(p.samples({ seed: 3 })))));
    expect(seen[0].filter((k) => seen[1].includes(k))).toEqual([]);
    expect([...seen[0], ...seen[1]].sort()).toEqual(all);
  });

  it('shards round robin over samples when there are fewer shards than parts', async () => {
    const source = new WebDatasetSource(pattern(), { size: SHARDS * PER_SHARD });
    const parts = [0, 1, 2, 3, 4, 5].map((i) => source.shard(i, 6));
    expect(parts.reduce((sum, p) => sum + (p.size ?? 0), 0)).toBe(SHARDS * PER_SHARD);
    const seen = await Promise.all(parts.map(async (p) => keys(await collect(p.samples({ seed: 5, epoch: 2 })))));
    const flat = seen.flat();
    expect(new Set(flat).size).toBe(flat.length);
    expect(flat.sort()).toEqual(keys(await collect(source)).sort());
    seen.forEach((part, i) => expect(part).toHaveLength(parts[i].size ?? -1));
    // a part of a part is still disjoint and complete (iterated with the same seed as the whole)
    const nested = [0, 1].map((i) => parts[0].shard(i, 2));
    const nestedKeys = (await Promise.all(nested.map(async (p) => keys(await collect(p.samples({ seed: 5, epoch: 2 })))))).flat().sort();
    expect(nestedKeys).toEqual([...seen[0]].sort());
  });

  it('throws E_FORMAT on a truncated shard, or counts it when told to skip', async () => {
    const whole = await readFile(join(dir, 'shard-000001.tar'));
    const broken = join(dir, 'broken.tar');
    await writeFile(broken, whole.subarray(0, Math.floor(whole.length / 2)));
    const shards = [join(dir, 'shard-000000.tar'), broken, join(dir, 'shard-000002.tar')];
    const error = await collect(new WebDatasetSource(shards)).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
    expect((error as Error).message).toContain('broken.tar');
    const lenient = new WebDatasetSource(shards, { onShardError: 'skip' });
    const samples = await collect(lenient);
    expect(lenient.skipped['corrupt-shard']).toBe(1);
    expect(samples.filter((s) => s.key.startsWith('s0-'))).toHaveLength(PER_SHARD);
    expect(samples.filter((s) => s.key.startsWith('s2-'))).toHaveLength(PER_SHARD);
  });

  it('reads sizes from a wids shard index', async () => {
    const index = join(dir, 'index.json');
    await writeFile(
      index,
      JSON.stringify({ shardlist: [0, 1, 2, 3].map((s) => ({ url: `shard-${String(s).padStart(6, '0')}.tar`, nsamples: PER_SHARD })) }),
    );
    const source = await WebDatasetSource.fromShardIndex(index);
    expect(source.size).toBe(SHARDS * PER_SHARD);
    expect(await collect(source)).toHaveLength(SHARDS * PER_SHARD);
    expect(source.shard(1, 4).size).toBe(PER_SHARD);
  });

  it('rejects bad options', () => {
    expect(() => new WebDatasetSource([])).toThrow(/at least one shard/);
    expect(() => new WebDatasetSource(pattern(), { shardSizes: [1] })).toThrow(/shardSizes/);
    expect(() => new WebDatasetSource(pattern()).shard(2, 2)).toThrow(/index/);
  });
});
