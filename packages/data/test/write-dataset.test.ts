import { mkdtemp, readFile, readdir, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { isLlm2ClipError, type ProgressEvent, type Sample } from '@llm2clip/core';
import {
  decodeImage,
  encodePng,
  openSyntheticSplit,
  readSyntheticDatasetManifest,
  renderScene,
  sceneSignature,
  writeSyntheticDataset,
  type Scene,
  type SyntheticDatasetOptions,
} from '../src/index.js';

let root: string;
const settings: SyntheticDatasetOptions = { seed: 42, trainSamples: 50, testSamples: 20, samplesPerShard: 16 };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'llm2clip-synth-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const sample of iterable) out.push(sample);
  return out;
}

async function shardBytes(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const split of ['train', 'test']) {
    for (const name of (await readdir(join(dir, split))).sort()) files.set(`${split}/${name}`, await readFile(join(dir, split, name)));
  }
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) files.set(name, await readFile(join(dir, name)));
  return files;
}

describe('writeSyntheticDataset', () => {
  it('writes webdataset shards, tokenizer files and dataset.json', async () => {
    const dir = join(root, 'a');
    const events: ProgressEvent[] = [];
    const info = await writeSyntheticDataset(dir, { ...settings, onProgress: (e) => events.push(e) });
    expect(info.reused).toBe(false);
    expect(info.splits.train).toMatchObject({ dir: 'train', samples: 50, shards: ['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar', 'shard-000003.tar'], shardSamples: [16, 16, 16, 2] });
    expect(info.splits.test).toMatchObject({ samples: 20, shardSamples: [16, 4] });
    expect(events.at(-1)).toMatchObject({ task: 'synthetic-data', done: 70, total: 70, unit: 'sample' });
    const manifest = await readSyntheticDatasetManifest(dir);
    expect(manifest).toMatchObject({ format: 'llm2clip.synthetic-dataset', version: 1, seed: 42, imageSize: 64, captionKinds: ['short', 'long', 'short', 'long'] });
    expect(manifest.splits.test.longCaptions.captions).toBe(20);
    expect((await readdir(dir)).sort()).toEqual(['dataset.json', 'test', 'tokenizer.json', 'tokenizer_config.json', 'train']);
  });

  it('is read back through WebDatasetSource with four captions and lossless PNG images', async () => {
    const dir = join(root, 'a');
    const train = await openSyntheticSplit(dir, 'train');
    expect(train.size).toBe(50);
    const samples = await collect(train);
    expect(samples).toHaveLength(50);
    expect(train.skipped).toEqual({ 'missing-image': 0, 'missing-captions': 0, 'bad-json': 0, 'corrupt-shard': 0 });
    expect(samples[0].key).toBe('train-000000');
    for (const sample of samples.slice(0, 10)) {
      expect(sample.captions).toHaveLength(4);
      expect(sample.captionKinds).toEqual(['short', 'long', 'short', 'long']);
      const scene = sample.meta?.scene as Scene;
      const decoded = await decodeImage(sample.image);
      expect(decoded).toMatchObject({ width: 64, height: 64, channels: 3 });
      expect(Buffer.from(decoded.data).equals(Buffer.from(renderScene(scene, 64).data))).toBe(true);
    }
    const shuffled = await collect((await openSyntheticSplit(dir, 'train', { shuffleBuffer: 10 })).samples({ seed: 1 }));
    expect(shuffled.map((s) => s.key).sort()).toEqual(samples.map((s) => s.key).sort());
  });

  it('writes a tokenizer.json that covers every caption', async () => {
    const dir = join(root, 'a');
    const tokenizer = new Tokenizer(JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')));
    for (const sample of await collect(await openSyntheticSplit(dir, 'test'))) {
      for (const caption of sample.captions) expect(tokenizer.encode(caption).ids).not.toContain(1);
    }
  });

  it('gives byte-identical shards for the same seed and different data for another seed', async () => {
    await writeSyntheticDataset(join(root, 'b'), settings);
    const a = await shardBytes(join(root, 'a'));
    const b = await shardBytes(join(root, 'b'));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name) as Buffer), name).toBe(true);
    await writeSyntheticDataset(join(root, 'c'), { ...settings, seed: 43 });
    const c = await shardBytes(join(root, 'c'));
    expect((c.get('train/shard-000000.tar') as Buffer).equals(a.get('train/shard-000000.tar') as Buffer)).toBe(false);
  });

  it('draws test scenes disjoint from training scenes', async () => {
    const dir = join(root, 'a');
    const signatures = async (split: 'train' | 'test'): Promise<string[]> =>
      (await collect(await openSyntheticSplit(dir, split))).map((s) => sceneSignature(s.meta?.scene as Scene));
    const train = new Set(await signatures('train'));
    for (const signature of await signatures('test')) expect(train.has(signature)).toBe(false);
  });

  it('reuses a finished dataset with the same settings without writing', async () => {
    const dir = join(root, 'a');
    const before = (await stat(join(dir, 'train', 'shard-000000.tar'))).mtimeMs;
    const info = await writeSyntheticDataset(dir, settings);
    expect(info.reused).toBe(true);
    expect((await stat(join(dir, 'train', 'shard-000000.tar'))).mtimeMs).toBe(before);
  });

  it('resumes an interrupted run, keeping finished shards, and ends with the same bytes', async () => {
    const dir = join(root, 'resume');
    let shardsDone = 0;
    const interrupted = await writeSyntheticDataset(dir, {
      ...settings,
      onProgress: (event) => {
        if (event.values?.shard !== undefined && ++shardsDone === 2) throw new Error('killed');
      },
    }).catch((e: unknown) => e);
    expect((interrupted as Error).message).toBe('killed');
    await expect(readSyntheticDatasetManifest(dir)).rejects.toThrow(/dataset.json missing/);
    const first = await stat(join(dir, 'train', 'shard-000000.tar'));
    const info = await writeSyntheticDataset(dir, settings);
    expect(info.reused).toBe(false);
    expect((await stat(join(dir, 'train', 'shard-000000.tar'))).mtimeMs).toBe(first.mtimeMs);
    const a = await shardBytes(join(root, 'a'));
    const resumed = await shardBytes(dir);
    for (const [name, bytes] of a) expect(bytes.equals(resumed.get(name) as Buffer), name).toBe(true);
    expect((await readdir(dir)).includes('.progress.json')).toBe(false);
  });

  it('regenerates deleted shards, refuses other settings unless overwrite, and drops stale shards', async () => {
    const dir = join(root, 'b');
    await unlink(join(dir, 'test', 'shard-000001.tar'));
    expect((await writeSyntheticDataset(dir, settings)).reused).toBe(false);
    expect((await collect(await openSyntheticSplit(dir, 'test'))).length).toBe(20);

    const other = { ...settings, trainSamples: 20 };
    const error = await writeSyntheticDataset(dir, other).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_MISMATCH')).toBe(true);
    const info = await writeSyntheticDataset(dir, { ...other, overwrite: true });
    expect(info.splits.train.shards).toEqual(['shard-000000.tar', 'shard-000001.tar']);
    expect((await readdir(join(dir, 'train'))).sort()).toEqual(['shard-000000.tar', 'shard-000001.tar']);
    expect((await collect(await openSyntheticSplit(dir, 'train'))).length).toBe(20);
  });

  it('rejects invalid settings and a directory without a dataset', async () => {
    await expect(writeSyntheticDataset(join(root, 'x'), { ...settings, samplesPerShard: 0 })).rejects.toThrow(/samplesPerShard/);
    await expect(writeSyntheticDataset(join(root, 'x'), { ...settings, trainSamples: -1 })).rejects.toThrow(/trainSamples/);
    const error = await openSyntheticSplit(join(root, 'nothing'), 'train').catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_NOT_FOUND')).toBe(true);
  });
});

describe('decodeImage', () => {
  it('rejects undecodable bytes with E_DATA naming the sample', async () => {
    const error = await decodeImage({ kind: 'encoded', bytes: new Uint8Array([1, 2, 3]), format: 'png' }, { key: 'k1' }).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_DATA')).toBe(true);
    expect((error as Error).message).toContain('k1');
  });

  it('refuses images above limitInputPixels', async () => {
    const png = await encodePng(renderScene({ background: { pattern: 'plain', colour: 'red' }, objects: [] }, 64));
    expect((await decodeImage({ kind: 'encoded', bytes: png })).width).toBe(64);
    const error = await decodeImage({ kind: 'encoded', bytes: png, format: 'png' }, { limitInputPixels: 1000 }).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_DATA')).toBe(true);
  });

  it('drops alpha from raw RGBA', async () => {
    const rgba = { kind: 'raw' as const, width: 1, height: 2, channels: 4 as const, data: new Uint8Array([1, 2, 3, 255, 4, 5, 6, 0]) };
    expect(Array.from((await decodeImage(rgba)).data)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
