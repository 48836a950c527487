import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, readMetricsJsonl } from '@llm2clip/core';
import { ClipTextModel, ClipTextTokenizer, ClipVisionModel } from '@llm2clip/vision';
import { EmbeddingCache, TextAdapter, chooseCaption, embedCaptions, loadClipModel, trainClip, type TrainClipOptions } from '../src/index.js';
import { ArraySource, BagOfWordsEmbedder, TINY_VISION, captionWords, syntheticSamples, tempDir, useCpu, wordLevelTokenizerJson } from './helpers.js';

beforeAll(useCpu);

const samples = syntheticSamples(8);
const source = new ArraySource(samples);
const teacher = new BagOfWordsEmbedder(24);
const tokenizer = ClipTextTokenizer.fromJson(wordLevelTokenizerJson(captionWords(samples)), { contextLength: 16 });
let cacheDir: string;
let cache: EmbeddingCache;

beforeAll(async () => {
  cacheDir = await tempDir('cache');
  await embedCaptions({ source, embedder: teacher, outDir: cacheDir });
  cache = await EmbeddingCache.open(cacheDir);
});

function baseOptions(overrides: Partial<TrainClipOptions> = {}): TrainClipOptions {
  return {
    source,
    vision: ClipVisionModel.create(TINY_VISION, new Rng(11)),
    text: { kind: 'llm2clip', cache, adapterBlocks: 2 },
    batchSize: 8,
    steps: 25,
    lr: 3e-3,
    warmupSteps: 0,
    seed: 5,
    ...overrides,
  };
}

function meanOf(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe('chooseCaption', () => {
  it('picks short and long captions about equally, by seed', () => {
    const rng = new Rng(1);
    const counts = { short: 0, long: 0 };
    for (let i = 0; i < 2000; i++) counts[samples[0].captionKinds?.[chooseCaption(samples[0], rng)] as 'short' | 'long'] += 1;
    expect(Math.abs(counts.short - counts.long)).toBeLessThan(200);
    const a = Array.from({ length: 20 }, (_, i) => chooseCaption(samples[i % 8], new Rng(i)));
    const b = Array.from({ length: 20 }, (_, i) => chooseCaption(samples[i % 8], new Rng(i)));
    expect(a).toEqual(b);
  });
});

describe('trainClip', () => {
  it('lowers the loss against cached LLM embeddings, without leaking tensors', async () => {
    const tensorCounts: number[] = [];
    const outDir = await tempDir('llm2clip');
    const result = await trainClip(baseOptions({ outDir, onProgress: (e) => e.unit === 'step' && tensorCounts.push(tf.memory().numTensors) }));
    expect(result.steps).toBe(25);
    expect(result.losses).toHaveLength(25);
    expect(meanOf(result.losses.slice(-5))).toBeLessThan(result.losses[0] * 0.6);
    // leak check: the same number of live tensors after every step from step 2 on
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);
    const metrics = readMetricsJsonl(await readFile(join(outDir, 'metrics.jsonl'), 'utf8'));
    expect(metrics).toHaveLength(25);
    expect(metrics[0]).toMatchObject({ phase: 'stage2', step: 1 });
    expect(typeof metrics[0].logit_scale).toBe('number');

    // the exported model: embedders for eval, and a save/load round trip
    const model = result.model;
    expect(model.vision.dim).toBe(16);
    const images = samples.slice(0, 3).map((s) => s.image);
    const imageRows = await model.imageEmbedder().embed(images);
    const textRows = await model.textEmbedder(teacher).embed(['a red square', 'a blue stripe never seen in training']);
    expect([imageRows.rows, imageRows.dim, textRows.rows, textRows.dim]).toEqual([3, 16, 2, 16]);
    expect(() => model.textEmbedder()).toThrow(/teacher/);
    expect(() => model.textEmbedder(new BagOfWordsEmbedder(24, 99))).toThrow(/fingerprint/);
    const dir = await tempDir('saved');
    await model.save(dir);
    const loaded = await loadClipModel(dir);
    const again = await loaded.imageEmbedder().embed(images);
    expect(Array.from(again.data)).toEqual(Array.from(imageRows.data));
    const textAgain = await loaded.textEmbedder(teacher).embed(['a red square', 'a blue stripe never seen in training']);
    expect(Array.from(textAgain.data)).toEqual(Array.from(textRows.data));
    const vitConfig = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(vitConfig.architectures).toEqual(['CLIPVisionModelWithProjection']);
    loaded.dispose();
    model.dispose();
  });

  it('lowers the loss with the CLIP text tower baseline', async () => {
    const text = ClipTextModel.create({ hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, projection_dim: 16, ...tokenizer.configFields() }, new Rng(3));
    const tensorCounts: number[] = [];
    const result = await trainClip(baseOptions({ text: { kind: 'baseline', model: text, tokenizer }, onProgress: (e) => e.unit === 'step' && tensorCounts.push(tf.memory().numTensors) }));
    expect(meanOf(result.losses.slice(-5))).toBeLessThan(result.losses[0] * 0.6);
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);
    const rows = await result.model.textEmbedder().embed(['a red square']);
    expect(rows.dim).toBe(16);
    const dir = await tempDir('saved-baseline');
    await result.model.save(dir);
    const loaded = await loadClipModel(dir);
    const again = await loaded.textEmbedder().embed(['a red square']);
    expect(Array.from(again.data)).toEqual(Array.from(rows.data));
    loaded.dispose();
    result.model.dispose();
  });

  it('streams and preprocesses per batch when images are not cached', async () => {
    const events: string[] = [];
    const result = await trainClip(baseOptions({ steps: 3, cacheImages: false, augment: true, onProgress: (e) => events.push(e.task) }));
    expect(result.losses).toHaveLength(3);
    expect(result.losses.every(Number.isFinite)).toBe(true);
    expect(events).not.toContain('decode');
    result.model.dispose();
  });

  it('clamps the logit scale after every step', async () => {
    const result = await trainClip(baseOptions({ steps: 4, lr: 0.05, logitScaleInit: 3, maxLogitScale: 2 }));
    expect(result.model.logitScale).toBeLessThanOrEqual(2);
    result.model.dispose();
  });

  it('refuses a cache whose dim or keys do not match, before training', async () => {
    const steps: number[] = [];
    const wrongAdapter = TextAdapter.create({ inputDim: 10, outputDim: 16 }, new Rng(1));
    await expect(trainClip(baseOptions({ text: { kind: 'llm2clip', cache, adapter: wrongAdapter }, onProgress: (e) => steps.push(e.done) }))).rejects.toMatchObject({ code: 'E_MISMATCH' });
    wrongAdapter.dispose();
    const partialDir = await tempDir('partial');
    await embedCaptions({ source: new ArraySource(samples.slice(0, 6)), embedder: teacher, outDir: partialDir });
    const partial = await EmbeddingCache.open(partialDir);
    const error = await trainClip(baseOptions({ text: { kind: 'llm2clip', cache: partial }, onProgress: (e) => e.unit === 'step' && steps.push(e.done) })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_MISMATCH' });
    expect((error as Error).message).toContain(samples[6].key);
    expect(steps).toEqual([]);
  });

  it('resumes from a checkpoint bit-exactly', async () => {
    const options = (outDir: string, extra: Partial<TrainClipOptions> = {}): TrainClipOptions =>
      baseOptions({ steps: 6, checkpointEvery: 3, outDir, augment: true, ...extra });
    const straight = await trainClip(options(await tempDir('straight')));

    const interruptedDir = await tempDir('interrupted');
    const controller = new AbortController();
    const first = await trainClip(options(interruptedDir, { signal: controller.signal, onProgress: (e) => e.unit === 'step' && e.done === 3 && controller.abort() }));
    expect(first.stopped).toBe(true);
    expect(first.steps).toBe(3);
    first.model.dispose();
    const resumed = await trainClip(options(interruptedDir, { resume: true }));
    expect(resumed.resumedFrom).toBe(3);
    expect(resumed.steps).toBe(6);
    expect(resumed.losses).toEqual(straight.losses.slice(3));
    expect(resumed.model.vision.fingerprint()).toBe(straight.model.vision.fingerprint());
    if (resumed.model.text.kind !== 'llm2clip' || straight.model.text.kind !== 'llm2clip') throw new Error('unexpected text side');
    expect(resumed.model.text.adapter.fingerprint()).toBe(straight.model.text.adapter.fingerprint());
    expect(resumed.model.logitScale).toBe(straight.model.logitScale);
    straight.model.dispose();
    resumed.model.dispose();
  });
});
