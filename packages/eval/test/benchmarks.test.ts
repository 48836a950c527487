import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError, type Sample } from '@llm2clip/core';
import {
  FeatureCache,
  classificationSet,
  clipBenchmarkClassificationSet,
  cocoKarpathySet,
  docciSet,
  shareGpt4v1kSet,
  flickr30kKarpathySet,
  imageFolderSet,
  readClipBenchmarkInfo,
  retrievalMetrics,
  retrievalSet,
  runBenchmark,
  runBenchmarks,
  runLinearProbe,
  syntheticRetrievalSets,
  urban1kSet,
} from '../src/index.js';
import { BagOfWordsTextEmbedder, PixelLabelImageEmbedder, toyImage, toySample } from './toy-embedders.js';
import { MemorySource } from './memory-source.js';

const dir = await mkdtemp(join(tmpdir(), 'eval-benchmarks-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

function karpathySample(key: string, split: string, color: string, shape: 'circle' | 'square' | 'triangle', captions: string[]): Sample {
  return { key, image: toyImage(color, shape), captions, meta: { split } };
}

const karpathy = new MemorySource('karpathy', [
  karpathySample('k0', 'test', 'red', 'circle', ['red circle', 'a red circle', 'circle red', 'the red circle', 'one red circle', 'six: red circle']),
  karpathySample('k1', 'train', 'green', 'square', ['green square']),
  karpathySample('k2', 'test', 'blue', 'triangle', ['blue triangle', 'a blue triangle']),
  karpathySample('k3', 'test', 'green', 'square', ['green square', 'a green square', 'square green', 'the green square', 'one green square']),
]);

describe('retrieval adapters', () => {
  it('Karpathy splits keep the test split and the first five captions, and note an unusual size', async () => {
    const set = await flickr30kKarpathySet(karpathy);
    expect(set.name).toBe('flickr30k-karpathy-test');
    expect(set.imageKeys).toEqual(['k0', 'k2', 'k3']);
    expect(set.captions.length).toBe(5 + 2 + 5);
    expect(set.captions).not.toContain('six: red circle');
    expect(Array.from(set.captionImage)).toEqual([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2]);
    expect(set.skipped).toBe(1);
    expect(set.notes[0]).toMatch(/3 images where the benchmark has 1000/);
    const coco = await cocoKarpathySet(karpathy);
    expect(coco.notes[0]).toMatch(/has 5000/);
    // the same data under another name is another dataset
    expect(coco.fingerprint).not.toBe(set.fingerprint);
  });

  it('re-reads the images in gallery order and fails when the source changed', async () => {
    const set = await flickr30kKarpathySet(karpathy);
    const seen: string[] = [];
    for await (const image of set.images()) seen.push(Array.from(image.kind === 'raw' ? image.data.subarray(0, 3) : []).join(','));
    expect(seen).toEqual(['255,0,0', '0,0,255', '0,255,0']);
    const items: Sample[] = [];
    for await (const sample of karpathy.samples()) items.push(sample);
    const source = new MemorySource('changing', items);
    const changing = await flickr30kKarpathySet(source);
    items.reverse();
    let error: unknown;
    try {
      for await (const _ of changing.images()) void _;
    } catch (caught) {
      error = caught;
    }
    expect(isLlm2ClipError(error, 'E_MISMATCH')).toBe(true);
  });

  it('1:1 long-caption sets take the long caption (or the first caption without kinds)', async () => {
    const withKinds = [toySample('a', 'red', 'circle', 'red circle', 'a long red circle'), toySample('b', 'blue', 'square', 'blue square', 'a long blue square')];
    const set = await urban1kSet(withKinds);
    expect(set.protocol).toBe('one-to-one');
    expect(set.captions).toEqual(['a long red circle', 'a long blue square']);
    const plain = await urban1kSet([{ key: 'c', image: toyImage('red', 'circle'), captions: ['first', 'second'] }]);
    expect(plain.captions).toEqual(['first']);
    // DOCCI's `description` and ShareGPT4V's `gpt` kinds: the first caption
    const docci = await docciSet([{ key: 'd', image: toyImage('red', 'circle'), captions: ['a dense description'], captionKinds: ['description'], meta: { split: 'test' } }], { split: 'test' });
    expect(docci.captions).toEqual(['a dense description']);
    const sharegpt = await shareGpt4v1kSet([{ key: 'g', image: toyImage('red', 'circle'), captions: ['gpt one', 'gpt two'], captionKinds: ['gpt', 'gpt'] }]);
    expect(sharegpt.captions).toEqual(['gpt one']);
  });

  it('splits the synthetic held-out set into short and long caption sets', async () => {
    const samples = [toySample('s0', 'red', 'circle', 'red circle', 'a long red circle'), toySample('s1', 'blue', 'square', 'blue square', 'a long blue square')];
    const { short, long } = await syntheticRetrievalSets(samples);
    expect(short.name).toBe('synthetic-short');
    expect(short.captions).toEqual(['red circle', 'blue square']);
    expect(long.captions).toEqual(['a long red circle', 'a long blue square']);
  });

  it('fails with E_DATA when nothing is left', async () => {
    await expect(retrievalSet([], { name: 'empty' })).rejects.toMatchObject({ code: 'E_DATA' });
  });
});

describe('classification adapters', () => {
  it('an image folder labels by directory, classes in sorted order, with display names', async () => {
    const samples: Sample[] = [
      { key: 'n02/img1', image: toyImage('red', 'circle'), captions: [] },
      { key: 'n01/img2', image: toyImage('green', 'square'), captions: [] },
      { key: 'n02/img3', image: toyImage('blue', 'circle'), captions: [] },
      { key: 'loose', image: toyImage('blue', 'circle'), captions: [] },
    ];
    const set = await imageFolderSet(samples, { name: 'folders', displayNames: { n01: 'square thing', n02: 'circle thing' } });
    expect(set.classNames).toEqual(['square thing', 'circle thing']);
    expect(Array.from(set.labels)).toEqual([1, 0, 1]);
    expect(set.skipped).toBe(1);
    expect(set.templates).toEqual(['a photo of a {c}.']);
  });

  it('an image-folder source with numeric labels names its classes through meta.className', async () => {
    const samples: Sample[] = [
      { key: 'a', image: toyImage('red', 'circle'), captions: ['tench'], meta: { label: 0, className: 'tench', folder: 'n01440764' } },
      { key: 'b', image: toyImage('green', 'square'), captions: ['goldfish'], meta: { label: 1, className: 'goldfish', folder: 'n01443537' } },
    ];
    const set = await imageFolderSet(samples, { name: 'imagenet-toy' });
    expect(set.classNames).toEqual(['tench', 'goldfish']);
    expect(Array.from(set.labels)).toEqual([0, 1]);
    // a class index nobody names needs explicit classNames
    await expect(imageFolderSet([{ ...samples[1], meta: { label: 1, className: 'goldfish' } }], { name: 'gap' })).rejects.toMatchObject({ code: 'E_CONFIG' });
  });

  it('reads CLIP_benchmark classnames and templates and labels by .cls', async () => {
    const root = join(dir, 'wds_toy');
    await import('node:fs/promises').then((fs) => fs.mkdir(root, { recursive: true }));
    await writeFile(join(root, 'classnames.txt'), 'circle\nsquare\ntriangle\n');
    await writeFile(join(root, 'zeroshot_classification_templates.txt'), 'a photo of a {c}.\na drawing of a {c}.\n');
    const info = await readClipBenchmarkInfo(root);
    expect(info).toEqual({ classNames: ['circle', 'square', 'triangle'], templates: ['a photo of a {c}.', 'a drawing of a {c}.'] });
    const samples: Sample[] = [
      { key: '0', image: toyImage('red', 'circle'), captions: [], meta: { cls: '0' } },
      { key: '1', image: toyImage('red', 'triangle'), captions: [], meta: { cls: 2 } },
    ];
    const set = await clipBenchmarkClassificationSet(samples, { ...info, name: 'toy' });
    expect(Array.from(set.labels)).toEqual([0, 2]);
    await expect(clipBenchmarkClassificationSet([{ ...samples[0], meta: { cls: '7' } }], { ...info, name: 'toy' })).rejects.toMatchObject({ code: 'E_DATA' });
    await writeFile(join(root, 'zeroshot_classification_templates.txt'), 'no placeholder\n');
    await expect(readClipBenchmarkInfo(root)).rejects.toMatchObject({ code: 'E_FORMAT' });
    await expect(readClipBenchmarkInfo(join(dir, 'nowhere'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('running benchmarks with the feature cache', () => {
  const samples = [
    toySample('s0', 'red', 'circle', 'a red circle', 'a small red circle on a big canvas'),
    toySample('s1', 'green', 'square', 'a green square', 'a big green square'),
    toySample('s2', 'blue', 'triangle', 'a blue triangle', 'a small blue triangle'),
    toySample('s3', 'red', 'square', 'a red square', 'a small red square'),
  ];

  it('computes the same retrieval metrics as retrievalMetrics and zero-shot rows', async () => {
    const text = new BagOfWordsTextEmbedder();
    const image = new PixelLabelImageEmbedder(true);
    const set = await retrievalSet(samples, { name: 'toy', captions: 'short' });
    const outcome = await runBenchmark({ id: 'm', textEmbedder: text, imageEmbedder: image }, set);
    const direct = retrievalMetrics(await image.embed(samples.map((s) => s.image)), await text.embed(set.captions), set.captionImage);
    expect(outcome.retrieval).toEqual(direct);
    expect(outcome.rows.find((row) => row.metric === 't2i.r1')?.value).toBe(direct.t2i.r1);

    const shapes = await classificationSet(
      samples.map((s, i) => ({ ...s, meta: { label: ['circle', 'square', 'triangle', 'square'][i] } })),
      { name: 'shapes', classNames: ['circle', 'square', 'triangle'], templates: ['a {c}', 'one {c}'] },
    );
    const zeroShot = await runBenchmark({ id: 'm', textEmbedder: text, imageEmbedder: image }, shapes);
    // the shape word alone decides: every image's shape class ranks first
    expect(zeroShot.classification?.accuracy.acc1).toBe(1);
    expect(zeroShot.rows.map((row) => row.metric)).toEqual(['acc1', 'acc5', 'meanPerClassRecall']);
  });

  it('embeds on the first run, reads the cache on the second (embedders not called)', async () => {
    const cacheDir = join(dir, 'cache');
    const source = new MemorySource('toy', samples);
    const short = await retrievalSet(source, { name: 'toy-short', captions: 'short' });
    const long = await retrievalSet(source, { name: 'toy-long', captions: 'long' });
    const text = new BagOfWordsTextEmbedder();
    const image = new PixelLabelImageEmbedder();
    const model = { id: 'bow', textEmbedder: text, imageEmbedder: image };
    const first = await runBenchmarks(model, [short, long], { cache: cacheDir, exampleQueries: 2, exampleTopK: 2 });
    expect(text.calls).toBeGreaterThan(0);
    expect(image.calls).toBeGreaterThan(0);
    const [textCalls, imageCalls] = [text.calls, image.calls];
    const passes = source.passes;

    const cache = new FeatureCache(cacheDir);
    const second = await runBenchmarks(model, [short, long], { cache });
    expect(text.calls).toBe(textCalls);
    expect(image.calls).toBe(imageCalls);
    expect(source.passes).toBe(passes); // no image was read either
    expect(cache.stats).toEqual({ hits: 4, misses: 0 });
    expect(second.rows).toEqual(first.rows);
    expect(first.datasets.map((d) => d.name)).toEqual(['toy-short', 'toy-long']);

    // the cache file is a safetensors file that names what it holds
    const file = cache.pathOf(text.describe(), { name: 'toy-short', fingerprint: short.fingerprint }, 'texts');
    const bytes = await readFile(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    expect(header.__metadata__).toMatchObject({ format: 'llm2clip.eval-features', version: '1', model_fingerprint: text.describe().fingerprint, role: 'texts' });
    expect(header.embeddings).toEqual({ dtype: 'F32', shape: [4, text.dim], data_offsets: [0, 4 * text.dim * 4] });

    // another image model misses the image cache but shares the text features
    const other = new PixelLabelImageEmbedder(true);
    await runBenchmarks({ id: 'other', textEmbedder: text, imageEmbedder: other }, [short], { cache });
    expect(other.calls).toBeGreaterThan(0);
    expect(text.calls).toBe(textCalls);

    // a damaged file is an E_FORMAT error naming it
    await writeFile(file, Buffer.from([1, 2, 3]));
    const error = await cache.get(text.describe(), { name: 'toy-short', fingerprint: short.fingerprint }, 'texts').catch((caught: unknown) => caught);
    expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
    expect((error as Error).message).toContain(file);
  });

  it('makes example queries with thumbnails of the top images', async () => {
    const set = await retrievalSet(samples, { name: 'toy', captions: 'short' });
    const outcome = await runBenchmark({ id: 'm', textEmbedder: new BagOfWordsTextEmbedder(), imageEmbedder: new PixelLabelImageEmbedder() }, set, {
      exampleQueries: 2,
      exampleTopK: 3,
      thumbnailSize: 16,
    });
    expect(outcome.examples.map((e) => e.query)).toEqual(['a red circle', 'a blue triangle']);
    const hits = outcome.examples[0].hits;
    expect(hits.length).toBe(3);
    expect(hits[0]).toMatchObject({ key: 's0', correct: true });
    expect(hits.every((hit) => hit.thumbnail?.startsWith('data:image/png;base64,'))).toBe(true);
  });
});

describe('linear probe on eval sets', () => {
  it('probes frozen image features and reports the chosen λ; features come from the cache the second time', async () => {
    const colours = ['red', 'green', 'blue'] as const;
    const shapes = ['circle', 'square', 'triangle'] as const;
    const make = (prefix: string, count: number): Sample[] =>
      Array.from({ length: count }, (_, i) => ({
        key: `${prefix}${i}`,
        image: toyImage(colours[i % 3], shapes[(i * 7 + Math.floor(i / 3)) % 3]),
        captions: [],
        meta: { label: colours[i % 3] },
      }));
    const train = await classificationSet(make('tr', 24), { name: 'colours-train' });
    const test = await classificationSet(make('te', 9), { name: 'colours-test' });
    const image = new PixelLabelImageEmbedder();
    const cache = join(dir, 'probe-cache');
    const { result, rows } = await runLinearProbe('pixel', image, train, test, { cache, l2Grid: [1e-3, 1e-1] });
    expect(result.metrics.accuracy.acc1).toBe(1);
    expect(rows.map((row) => [row.task, row.metric, row.value])).toEqual([
      ['linear-probe', 'acc1', 1],
      ['linear-probe', 'acc5', 1],
      ['linear-probe', 'meanPerClassRecall', 1],
    ]);
    expect(rows[0].settings).toMatchObject({ train: 24, images: 9, classes: 3, l2: 0.1 });
    const calls = image.calls;
    await runLinearProbe('pixel', image, train, test, { cache, l2Grid: [1e-3, 1e-1] });
    expect(image.calls).toBe(calls);
  });
});
