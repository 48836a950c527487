import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Llm2ClipError, Rng, type SampleSource } from '@llm2clip/core';
import {
  CocoCaptionsSource,
  CsvSource,
  DataLoader,
  DocciSource,
  JsonlSource,
  KarpathySplitSource,
  ShareGpt4vSource,
  SkipReport,
  Urban1kSource,
  WebDatasetSource,
  openClipBenchmarkDataset,
  openLlm2ClipShards,
  openWebDataset,
  writeTarAtomic,
  type TarEntry,
} from '../src/index.js';
import { imageBytes } from './helpers/fixtures.js';

// Seeded corruption loop: every format's file is truncated and byte-corrupted many ways; reading it
// must end (no hang) either normally, with bad parts counted, or with a typed Llm2ClipError.

let dir: string;
const ROUNDS = 12;

/** Truncates, flips bytes, or both, drawn from `rng`. */
function corrupt(bytes: Buffer, rng: Rng): Buffer {
  const out = Buffer.from(bytes);
  const kind = rng.int(0, 2);
  let result = out;
  if (kind !== 1) result = out.subarray(0, rng.int(0, Math.max(0, out.length - 1)));
  if (kind !== 0) {
    const flips = rng.int(1, 16);
    for (let i = 0; i < flips && result.length > 0; i++) result[rng.int(0, result.length - 1)] = rng.int(0, 255);
  }
  return Buffer.from(result);
}

async function drain(make: () => SampleSource | Promise<SampleSource>, decode = false): Promise<'ok' | string> {
  const report = new SkipReport();
  const run = async (): Promise<'ok' | string> => {
    try {
      const source = await make();
      if (decode) {
        for await (const _ of new DataLoader(source, { batchSize: 4, workers: 0, skipReport: report, seed: 1 })) void _;
      } else {
        for await (const _ of source.samples({ seed: 1 })) void _;
      }
      return 'ok';
    } catch (error) {
      if (error instanceof Llm2ClipError) return error.code;
      throw error;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('hang: reading took more than 10 s')), 10_000)));
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Case {
  name: string;
  /** The file that gets corrupted. */
  file: () => string;
  open: () => SampleSource | Promise<SampleSource>;
  decode?: boolean;
}

let cases: Case[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-fuzz-'));
  const images = join(dir, 'images');
  await mkdir(images, { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(join(images, `${i}.jpg`), await imageBytes('jpg', i));
  const shard: TarEntry[] = [];
  const side: TarEntry[] = [];
  for (let i = 0; i < 3; i++) {
    shard.push({ name: `k${i}.jpg`, data: await imageBytes('jpg', i) }, { name: `k${i}.json`, data: Buffer.from(JSON.stringify({ captions: [`c${i}`], shortSV_captions: `s${i}`, longSV_captions: `l${i}` })) });
    side.push({ name: `k${i}.shortSV_captions`, data: Buffer.from(new Float32Array([i, 1]).buffer) }, { name: `k${i}.longSV_captions`, data: Buffer.from(new Float32Array([i, 2]).buffer) });
  }
  await writeTarAtomic(join(dir, 'shard.tar'), shard);
  await writeTarAtomic(join(dir, 'pair.tar'), shard);
  await writeTarAtomic(join(dir, 'pair_text_embeddings.tar'), side);
  await writeFile(join(dir, 'index.tsv'), 'filepath\ttitle\nimages/0.jpg\tzero\nimages/1.jpg\t"one"\nimages/2.jpg\ttwo\n');
  await writeFile(join(dir, 'index.jsonl'), [0, 1, 2].map((i) => JSON.stringify({ image: `images/${i}.jpg`, caption: [`c${i}`, `d${i}`] })).join('\n'));
  await writeFile(join(dir, 'coco.json'), JSON.stringify({ images: [0, 1, 2].map((i) => ({ id: i, file_name: `${i}.jpg` })), annotations: [0, 1, 2].map((i) => ({ id: i, image_id: i, caption: `c${i}` })) }));
  await writeFile(join(dir, 'karpathy.json'), JSON.stringify({ dataset: 'flickr30k', images: [0, 1, 2].map((i) => ({ filename: `${i}.jpg`, imgid: i, split: 'test', sentences: [{ raw: `c${i}`, tokens: [`c${i}`], imgid: i, sentid: i }] })) }));
  await writeFile(join(dir, 'sharegpt4v.json'), JSON.stringify([0, 1, 2].map((i) => ({ id: String(i), image: `images/${i}.jpg`, conversations: [{ from: 'human', value: '<image>' }, { from: 'gpt', value: `c${i}` }] }))));
  await writeFile(join(dir, 'docci.jsonlines'), [0, 1, 2].map((i) => JSON.stringify({ example_id: `test_${i}`, split: 'test', image_file: `${i}.jpg`, description: `c${i}` })).join('\n'));
  const urban = join(dir, 'Urban1k');
  await mkdir(join(urban, 'caption'), { recursive: true });
  await mkdir(join(urban, 'image'), { recursive: true });
  for (let i = 0; i < 3; i++) {
    await writeFile(join(urban, 'caption', `${i}.txt`), `long caption ${i}`);
    await writeFile(join(urban, 'image', `${i}.jpg`), await imageBytes('jpg', i));
  }
  const bench = join(dir, 'bench');
  await mkdir(join(bench, 'test'), { recursive: true });
  await writeFile(join(bench, 'classnames.txt'), 'cat\ndog\n');
  await writeFile(join(bench, 'zeroshot_classification_templates.txt'), 'a photo of a {c}.\n');
  await writeFile(join(bench, 'test', 'nshards.txt'), '1\n');
  await writeTarAtomic(join(bench, 'test', '0.tar'), [0, 1, 2].flatMap((i) => [{ name: `s${i}.webp`, data: Buffer.from('x') }, { name: `s${i}.cls`, data: Buffer.from(String(i % 2)) }]));
  const manifestDir = join(dir, 'manifest');
  await mkdir(manifestDir, { recursive: true });
  await writeTarAtomic(join(manifestDir, 'a.tar'), shard);
  await writeFile(join(manifestDir, 'sizes.json'), JSON.stringify({ 'a.tar': 3 }));

  cases = [
    { name: 'webdataset tar', file: () => join(dir, 'shard.tar'), open: () => new WebDatasetSource(join(dir, 'shard.tar'), { skipReport: new SkipReport() }), decode: true },
    { name: 'webdataset tar, strict', file: () => join(dir, 'shard.tar'), open: () => new WebDatasetSource(join(dir, 'shard.tar')) },
    { name: 'LLM2CLIP shard', file: () => join(dir, 'pair.tar'), open: () => openLlm2ClipShards(join(dir, 'pair.tar'), { skipReport: new SkipReport() }) },
    { name: 'LLM2CLIP sidecar', file: () => join(dir, 'pair_text_embeddings.tar'), open: () => openLlm2ClipShards(join(dir, 'pair.tar'), { skipReport: new SkipReport() }) },
    { name: 'image bytes', file: () => join(images, '1.jpg'), open: () => new CsvSource(join(dir, 'index.tsv')), decode: true },
    { name: 'CSV', file: () => join(dir, 'index.tsv'), open: () => new CsvSource(join(dir, 'index.tsv'), { skipReport: new SkipReport() }) },
    { name: 'JSONL', file: () => join(dir, 'index.jsonl'), open: () => new JsonlSource(join(dir, 'index.jsonl'), { skipReport: new SkipReport() }) },
    { name: 'COCO', file: () => join(dir, 'coco.json'), open: () => new CocoCaptionsSource(join(dir, 'coco.json'), { imageRoot: images }) },
    { name: 'Karpathy', file: () => join(dir, 'karpathy.json'), open: () => new KarpathySplitSource(join(dir, 'karpathy.json'), { imageRoot: images }) },
    { name: 'ShareGPT4V', file: () => join(dir, 'sharegpt4v.json'), open: () => new ShareGpt4vSource(join(dir, 'sharegpt4v.json')) },
    { name: 'DOCCI', file: () => join(dir, 'docci.jsonlines'), open: () => new DocciSource(join(dir, 'docci.jsonlines'), { imageRoot: images }) },
    { name: 'Urban-1k caption', file: () => join(urban, 'caption', '1.txt'), open: () => new Urban1kSource(urban), decode: true },
    { name: 'CLIP_benchmark nshards', file: () => join(bench, 'test', 'nshards.txt'), open: async () => (await openClipBenchmarkDataset(bench)).source },
    { name: 'CLIP_benchmark classnames', file: () => join(bench, 'classnames.txt'), open: async () => (await openClipBenchmarkDataset(bench, { skipReport: new SkipReport() })).source },
    { name: 'CLIP_benchmark shard', file: () => join(bench, 'test', '0.tar'), open: async () => (await openClipBenchmarkDataset(bench, { skipReport: new SkipReport() })).source },
    { name: 'sizes.json', file: () => join(manifestDir, 'sizes.json'), open: () => openWebDataset(join(manifestDir, 'a.tar'), { countIfMissing: false }) },
  ];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fuzz: truncated and corrupted files of every format', () => {
  it('never throws anything but a typed error, and never hangs', async () => {
    const outcomes: Record<string, Record<string, number>> = {};
    for (const [c, testCase] of cases.entries()) {
      const path = testCase.file();
      const original = await readFile(path);
      expect(await drain(testCase.open, testCase.decode)).toBe('ok');
      const rng = new Rng(1000 + c);
      const seen: Record<string, number> = {};
      for (let round = 0; round < ROUNDS; round++) {
        await writeFile(path, corrupt(original, rng));
        const outcome = await drain(testCase.open, testCase.decode);
        seen[outcome] = (seen[outcome] ?? 0) + 1;
      }
      // a file cut to nothing is the harshest case; it must be handled too
      await writeFile(path, Buffer.alloc(0));
      const empty = await drain(testCase.open, testCase.decode);
      seen[empty] = (seen[empty] ?? 0) + 1;
      await writeFile(path, original);
      outcomes[testCase.name] = seen;
      if (process.env.FUZZ_DEBUG) console.log(testCase.name, JSON.stringify(seen));
    }
    // every case ran every round; outcomes are 'ok' or stable error codes
    for (const [name, seen] of Object.entries(outcomes)) {
      expect(Object.values(seen).reduce((a, b) => a + b, 0), name).toBe(ROUNDS + 1);
      for (const outcome of Object.keys(seen)) expect(['ok', 'E_FORMAT', 'E_NOT_FOUND', 'E_DATA', 'E_IO', 'E_MISMATCH'], `${name}: ${outcome}`).toContain(outcome);
    }
    // strict readers do reject damage: whole-file JSON formats and the strict tar reader saw typed errors
    for (const name of ['COCO', 'Karpathy', 'ShareGPT4V', 'webdataset tar, strict']) expect(outcomes[name].E_FORMAT ?? 0, name).toBeGreaterThan(0);
  });
});
