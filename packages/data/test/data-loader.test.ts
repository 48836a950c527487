import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError, type RawImage } from '@llm2clip/core';
import { DataLoader, SkipReport, WebDatasetSource, parseDataCursor, writeTarAtomic, type LoaderBatch, type TarEntry } from '../src/index.js';
import { collect, imageBytes } from './helpers/fixtures.js';

let dir: string;
const SHARDS = 4;
const PER_SHARD = 10;
const CORRUPT = new Set(['s1-003', 's2-007']);
const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-loader-'));
  for (let s = 0; s < SHARDS; s++) {
    const entries: TarEntry[] = [];
    for (let i = 0; i < PER_SHARD; i++) {
      const key = `s${s}-${String(i).padStart(3, '0')}`;
      const n = s * PER_SHARD + i;
      const image = CORRUPT.has(key) ? Buffer.from('definitely not a jpeg') : await imageBytes(n % 2 === 0 ? 'jpg' : 'png', n);
      const colour = COLOURS[n % COLOURS.length];
      entries.push(
        { name: `${key}.${n % 2 === 0 ? 'jpg' : 'png'}`, data: image },
        { name: `${key}.json`, data: Buffer.from(JSON.stringify({ captions: [`a ${colour} square ${n}`, `a long caption about a ${colour} square number ${n}`], caption_kinds: ['short', 'long'] })) },
      );
    }
    await writeTarAtomic(join(dir, `shard-${s}.tar`), entries);
  }
  await writeFile(
    join(dir, 'shrink.mjs'),
    `export default async function ({ bytes, seed, options, sharp }) {
       const { data, info } = await sharp(bytes).resize(options.size, options.size, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
       return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data), seed };
     }\n`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const source = (report?: SkipReport): WebDatasetSource => new WebDatasetSource(join(dir, `shard-{0..${SHARDS - 1}}.tar`), { shuffleBuffer: 8, ...(report ? { skipReport: report } : {}) });
const flatKeys = (batches: LoaderBatch<unknown>[]): string[] => batches.flatMap((b) => b.items.map((i) => i.key));

describe('DataLoader', () => {
  it('decodes in worker threads, skips corrupt images with key and file, and summarises at the end', async () => {
    const lines: string[] = [];
    const report = new SkipReport({ log: (line) => lines.push(line) });
    const summary: string[] = [];
    const loader = new DataLoader(source(report), { batchSize: 8, workers: 2, skipReport: report, log: (line) => summary.push(line) });
    const batches = await collect(loader);
    const items = batches.flatMap((b) => b.items);
    expect(items).toHaveLength(SHARDS * PER_SHARD - CORRUPT.size);
    expect(batches.map((b) => b.items.length)).toEqual([8, 8, 8, 8, 6]);
    const image = items[0].image as RawImage;
    expect([image.kind, image.width, image.height, image.channels, image.data.length]).toEqual(['raw', 24, 24, 3, 24 * 24 * 3]);
    expect(report.count('corrupt-image')).toBe(2);
    expect(lines[0]).toMatch(new RegExp(`^skip corrupt-image: sample s1-003 in .*shard-1\\.tar \\(`));
    expect(summary).toEqual(['skipped 2 samples: corrupt-image 2']);
  });

  it('gives the same pixels with 0 and 2 workers, and the same order for the same seed', async () => {
    const inline = await collect(new DataLoader(source(), { batchSize: 16, workers: 0, seed: 3 }));
    const threaded = await collect(new DataLoader(source(), { batchSize: 16, workers: 2, seed: 3 }));
    expect(flatKeys(threaded)).toEqual(flatKeys(inline));
    const a = threaded.flatMap((b) => b.items);
    const b = inline.flatMap((b) => b.items);
    expect(a.every((item, i) => Buffer.from((item.image as RawImage).data).equals(Buffer.from((b[i].image as RawImage).data)))).toBe(true);
    const other = await collect(new DataLoader(source(), { batchSize: 16, workers: 0, seed: 4, decode: false }));
    expect(flatKeys(other)).not.toEqual(flatKeys(inline));
    expect([...flatKeys(other)].sort()).toEqual(flatKeys(await collect(new DataLoader(source(), { batchSize: 16, decode: false }))).sort());
  });

  it('resumes from a saved cursor at the exact sample, with the same caption draws', async () => {
    const options = { batchSize: 6, seed: 11, epochs: 3, workers: 1, captions: { mode: 'random' as const } };
    const full = await collect(new DataLoader(source(), options));
    const stopAfter = 9; // mid-way through epoch 1
    const firstPart: LoaderBatch<RawImage>[] = [];
    for await (const batch of new DataLoader(source(), options)) {
      firstPart.push(batch);
      if (firstPart.length === stopAfter) break;
    }
    const saved = JSON.parse(JSON.stringify(firstPart.at(-1)!.cursor));
    expect(saved).toMatchObject({ format: 'llm2clip.data-cursor', version: 1, seed: 11, batches: stopAfter });
    const rest = await collect(new DataLoader(source(), { ...options, resumeFrom: parseDataCursor(saved) }));
    const picks = (batches: LoaderBatch<RawImage>[]): string[] => batches.flatMap((b) => b.items.map((i) => `${b.epoch}:${i.key}:${i.caption}`));
    expect(picks([...firstPart, ...rest])).toEqual(picks(full));
    expect(rest.at(-1)!.cursor.batches).toBe(full.length);
    expect(() => new DataLoader(source(), { ...options, seed: 12, resumeFrom: saved })).toThrow(/seed/);
  });

  it('splits the work between ranks with shard(i, n): disjoint and complete', async () => {
    const parts = await Promise.all([0, 1].map(async (rank) => flatKeys(await collect(new DataLoader(source().shard(rank, 2), { batchSize: 5, seed: 2, decode: false })))));
    expect(parts[0].filter((k) => parts[1].includes(k))).toEqual([]);
    expect(parts[0].length + parts[1].length).toBe(SHARDS * PER_SHARD);
  });

  it('runs a worker-side transform module and a main-thread transform after it', async () => {
    const seen: number[] = [];
    const loader = new DataLoader(source(), {
      batchSize: 10,
      workers: 2,
      seed: 1,
      workerTransform: { module: join(dir, 'shrink.mjs'), options: { size: 8 } },
      transform: (image: RawImage & { seed: number }, context) => {
        seen.push(context.seed);
        expect(image.seed).toBe(context.seed);
        return Float32Array.from(image.data, (v) => v / 255);
      },
    });
    const items = (await collect(loader)).flatMap((b) => b.items);
    expect(items[0].image).toBeInstanceOf(Float32Array);
    expect(items[0].image.length).toBe(8 * 8 * 3);
    expect(new Set(seen).size).toBe(items.length);
    const broken = new DataLoader(source(), { batchSize: 4, workerTransform: { module: join(dir, 'shrink.mjs'), exportName: 'nothing' } });
    const error = await collect(broken).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_CONFIG')).toBe(true);
  });

  it('selects captions by kind, and builds stage-1 pairs with a hard negative from another sample', async () => {
    const longs = (await collect(new DataLoader(source(), { batchSize: 8, decode: false, captions: { mode: 'kind', kind: 'long' } }))).flatMap((b) => b.items);
    expect(longs.every((item) => item.caption === item.captions[1])).toBe(true);
    const report = new SkipReport();
    const none = await collect(new DataLoader(source(), { batchSize: 8, decode: false, skipReport: report, captions: { mode: 'kind', kind: 'medium' } }));
    expect(none).toEqual([]);
    expect(report.count('missing-captions')).toBe(SHARDS * PER_SHARD);
    const batches = await collect(new DataLoader(source(), { batchSize: 10, decode: false, seed: 5, captions: { mode: 'pairs', anchorKind: 'short', positiveKind: 'long' } }));
    for (const batch of batches) {
      for (const item of batch.items) {
        expect(item.pair?.anchor).toBe(item.captions[0]);
        expect(item.pair?.positive).toBe(item.captions[1]);
        expect(item.pair?.negativeKey).not.toBe(item.key);
        const colour = /a (\w+) square/.exec(item.pair!.anchor)![1];
        // the hardest negative shares the colour word when another sample of that colour is in the batch
        const sameColour = batch.items.some((other) => other.key !== item.key && other.captions[0].includes(` ${colour} `));
        if (sameColour) expect(item.pair?.negative).toContain(colour);
      }
    }
  });

  it('resamples shards with replacement for endless training', async () => {
    const batches: LoaderBatch<unknown>[] = [];
    for await (const batch of new DataLoader(source(), { batchSize: 10, seed: 9, resample: true, decode: false })) {
      batches.push(batch);
      if (batches.length === 40) break;
    }
    expect(flatKeys(batches)).toHaveLength(400);
    expect(batches.at(-1)!.epoch).toBe(9);
    // 4 shards drawn with replacement: most passes read some shard twice (a pass without a repeat has p = 24/256)
    const passes = Array.from({ length: 10 }, (_, epoch) => batches.filter((b) => b.epoch === epoch).flatMap((b) => b.items.map((i) => i.key)));
    const repeating = passes.filter((keys) => new Set(keys).size < keys.length).length;
    expect(repeating).toBeGreaterThanOrEqual(5);
    passes.forEach((keys) => expect(keys).toHaveLength(40));
  });

  it('prefetches: decoding runs ahead of a slow consumer', async () => {
    let transformed = 0;
    const loader = new DataLoader(source(), { batchSize: 4, prefetch: 3, workers: 2, transform: (image: RawImage) => (transformed++, image) });
    for await (const batch of loader) {
      expect(batch.items).toHaveLength(4);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(transformed).toBeGreaterThanOrEqual(12);
      break;
    }
  });
});

describe('DecodePool', () => {
  it("leaves the caller's buffer usable (the worker gets a copy) and reports undecodable bytes as E_DATA", async () => {
    const { DecodePool } = await import('../src/index.js');
    const pool = new DecodePool({ workers: 1 });
    try {
      const bytes = await imageBytes('png', 3);
      const image = (await pool.run({ bytes, key: 'a', seed: 0 })) as RawImage;
      expect(image.width).toBe(24);
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes.subarray(1, 4).toString()).toBe('PNG');
      const error = await pool.run({ bytes: Buffer.from('nope'), key: 'b', seed: 0 }).catch((e: unknown) => e);
      expect(isLlm2ClipError(error, 'E_DATA')).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('lets several loaders share one caller-owned pool, which they leave open', async () => {
    const { DecodePool } = await import('../src/index.js');
    const pool = new DecodePool({ workers: 2 });
    try {
      const first = await collect(new DataLoader(source(), { batchSize: 16, seed: 2, pool }));
      let seen = 0;
      for await (const batch of new DataLoader(source(), { batchSize: 16, seed: 2, pool })) {
        seen += batch.items.length;
        break;
      }
      expect(seen).toBe(16);
      const again = await collect(new DataLoader(source(), { batchSize: 16, seed: 2, pool }));
      expect(flatKeys(again)).toEqual(flatKeys(first));
      expect(((await pool.run({ bytes: await imageBytes('jpg', 1), key: 'x', seed: 0 })) as RawImage).width).toBe(24);
    } finally {
      await pool.close();
    }
  });

  it('knows batches per epoch from the source size', () => {
    const sized = new WebDatasetSource(join(dir, `shard-{0..${SHARDS - 1}}.tar`), { shardSizes: [10, 10, 10, 10] });
    expect(new DataLoader(sized, { batchSize: 6 }).batchesPerEpoch).toBe(7);
    expect(new DataLoader(sized, { batchSize: 6, dropLast: true }).batchesPerEpoch).toBe(6);
    expect(new DataLoader(source(), { batchSize: 6 }).batchesPerEpoch).toBeUndefined();
  });
});
