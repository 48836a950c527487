import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, readMetricsJsonl } from '@llm2clip/core';
import { ParameterStore, disposeGradients } from '@llm2clip/tensor';
import { ClipVisionModel, Eva02VisionModel, ImagePreprocessor } from '@llm2clip/vision';
import {
  EmbeddingCache,
  LOGIT_SCALE,
  TextAdapter,
  contrastiveGradients,
  embedCaptions,
  loadClipModel,
  trainClip,
  type ContrastiveTower,
  type MicroBatchInputs,
  type TrainClipOptions,
  type TrainClipResult,
} from '../src/index.js';
import { ArraySource, BagOfWordsEmbedder, TINY_VISION, syntheticSamples, tempDir, useCpu } from './helpers.js';

beforeAll(useCpu);

const samples = syntheticSamples(8);
const source = new ArraySource(samples);
const teacher = new BagOfWordsEmbedder(24);
let cache: EmbeddingCache;

beforeAll(async () => {
  const dir = await tempDir('lb-cache');
  await embedCaptions({ source, embedder: teacher, outDir: dir });
  cache = await EmbeddingCache.open(dir);
});

function options(overrides: Partial<TrainClipOptions> = {}): TrainClipOptions {
  return { source, vision: ClipVisionModel.create(TINY_VISION, new Rng(11)), text: { kind: 'llm2clip', cache, adapterBlocks: 2 }, batchSize: 8, steps: 3, lr: 3e-3, warmupSteps: 0, seed: 5, ...overrides };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('exact large batches (gradient caching)', () => {
  it('gives the full batch gradients from micro-batches of 2 (and of 3, uneven)', async () => {
    const vision = ClipVisionModel.create(TINY_VISION, new Rng(1));
    vision.resetProjection(16, new Rng(2));
    const adapter = TextAdapter.create({ inputDim: 24, outputDim: 16, numBlocks: 2 }, new Rng(3));
    const logitStore = new ParameterStore();
    logitStore.add(LOGIT_SCALE, tf.scalar(2.3));
    const pre = new ImagePreprocessor({ imageSize: TINY_VISION.image_size });
    const pixels = await pre.preprocessMany(samples.map((s) => s.image));
    const text = new Float32Array(8 * 24);
    samples.forEach((s, i) => text.set(cache.get(s.key)?.embeddings.data.subarray(24, 48) ?? [], i * 24));
    const image: ContrastiveTower = { stores: [vision.parameters], forward: (x) => vision.forward(x as tf.Tensor4D) };
    const textTower: ContrastiveTower = { stores: [adapter.parameters], forward: (x) => adapter.forward(x as tf.Tensor2D) };
    const split = (size: number): MicroBatchInputs[] => {
      const out: MicroBatchInputs[] = [];
      for (let start = 0; start < 8; start += size) {
        const end = Math.min(8, start + size);
        out.push({ image: () => pre.stack(pixels.slice(start, end)), text: () => tf.tensor2d(text.slice(start * 24, end * 24), [end - start, 24]) });
      }
      return out;
    };
    const full = await contrastiveGradients(image, textTower, logitStore, split(8));
    const before = tf.memory().numTensors;
    for (const size of [2, 3]) {
      const cached = await contrastiveGradients(image, textTower, logitStore, split(size));
      expect(Math.abs(cached.loss - full.loss)).toBeLessThan(1e-5);
      expect([...cached.grads.keys()].sort()).toEqual([...full.grads.keys()].sort());
      expect(full.grads.has(LOGIT_SCALE)).toBe(true);
      for (const [name, grad] of full.grads) {
        const scale = tf.tidy(() => tf.max(tf.abs(grad)).dataSync()[0]);
        expect(maxAbsDiff(grad, cached.grads.get(name) as tf.Tensor), name).toBeLessThanOrEqual(1e-5 + 1e-4 * scale);
      }
      disposeGradients(cached.grads);
      expect(tf.memory().numTensors).toBe(before);
    }
    // and the gradient is not trivially equal to something else: a different batch differs
    const shuffled = await contrastiveGradients(image, textTower, logitStore, [{ image: () => pre.stack(pixels), text: () => tf.reverse(tf.tensor2d(text, [8, 24]), 0) }]);
    expect(maxAbsDiff(shuffled.grads.get('adapter.proj.weight') as tf.Tensor, full.grads.get('adapter.proj.weight') as tf.Tensor)).toBeGreaterThan(1e-3);
    disposeGradients(shuffled.grads);
    disposeGradients(full.grads);
    vision.dispose();
    adapter.dispose();
    logitStore.dispose();
  });

  it('trains with micro-batches like with the whole batch, without leaking', async () => {
    const whole = await trainClip(options({ augment: true }));
    const counts: number[] = [];
    const micro = await trainClip(options({ augment: true, microBatchSize: 3, onProgress: (e) => e.unit === 'step' && e.task === 'stage2' && counts.push(tf.memory().numTensors) }));
    micro.losses.slice(0, 3).forEach((loss, i) => expect(loss).toBeCloseTo(whole.losses[i], 4));
    expect(new Set(counts.slice(1)).size).toBe(1);
    whole.model.dispose();
    micro.model.dispose();
  });
});

describe('resume with micro-batches', () => {
  it('continues bit-exactly from a checkpoint when steps are micro-batched', async () => {
    const run = (outDir: string, extra: Partial<TrainClipOptions> = {}): Promise<TrainClipResult> =>
      trainClip(options({ steps: 4, checkpointEvery: 2, outDir, augment: true, microBatchSize: 3, ...extra }));
    const straight = await run(await tempDir('mb-straight'));
    const dir = await tempDir('mb-interrupted');
    const controller = new AbortController();
    const first = await run(dir, { signal: controller.signal, onProgress: (e) => e.task === 'stage2' && e.done === 2 && controller.abort() });
    expect(first.steps).toBe(2);
    first.model.dispose();
    const resumed = await run(dir, { resume: true });
    expect(resumed.resumedFrom).toBe(2);
    expect(resumed.losses).toEqual(straight.losses.slice(2));
    expect(resumed.model.vision.fingerprint()).toBe(straight.model.vision.fingerprint());
    straight.model.dispose();
    resumed.model.dispose();
  });
});

describe('locking, evaluation and the cache check', () => {
  it('locks the vision tower by open_clip groups (only the fresh projection trains) and unlocks it afterwards', async () => {
    const vision = ClipVisionModel.create(TINY_VISION, new Rng(11));
    const before = vision.parameters.toHost();
    const result = await trainClip(options({ vision, lockImage: { unlockedGroups: 1 } }));
    const after = vision.parameters.toHost();
    for (const [name, tensor] of after) {
      const changed = Array.from(tensor.data).some((v, i) => v !== before.get(name)?.data[i]);
      if (name.startsWith('visual_projection.')) expect(changed, name).toBe(true);
      else expect(changed, name).toBe(false);
    }
    expect(vision.parameters.trainableNames()).toHaveLength(vision.parameters.names().length);
    result.model.dispose();

    const textLocked = await trainClip(options({ lockText: true }));
    if (textLocked.model.text.kind !== 'llm2clip') throw new Error('unexpected text side');
    const fresh = TextAdapter.create({ inputDim: 24, outputDim: 16, numBlocks: 2 }, new Rng(5).fork(1));
    expect(textLocked.model.text.adapter.fingerprint()).toBe(fresh.fingerprint());
    fresh.dispose();
    textLocked.model.dispose();
    await expect(trainClip(options({ lockImage: true, lockText: true, lockLogitScale: true }))).rejects.toMatchObject({ code: 'E_CONFIG' });
  });

  it('trains an EVA02 tower the same way, locked by its own groups, and saves and loads it', async () => {
    const vision = Eva02VisionModel.create({ image_size: 16, patch_size: 8, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, projection_dim: 16 }, new Rng(3));
    const before = vision.parameters.toHost();
    const result = await trainClip(options({ vision, steps: 2, microBatchSize: 4, lockImage: { unlockedGroups: 1 } }));
    expect(result.losses.every(Number.isFinite)).toBe(true);
    const changed = [...vision.parameters.toHost()].filter(([name, t]) => Array.from(t.data).some((v, i) => v !== before.get(name)?.data[i])).map(([name]) => name);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((name) => name.startsWith('head.'))).toBe(true);
    const dir = await tempDir('eva-saved');
    await result.model.save(dir);
    const loaded = await loadClipModel(dir);
    expect(loaded.vision).toBeInstanceOf(Eva02VisionModel);
    const images = samples.slice(0, 2).map((s) => s.image);
    expect(Array.from((await loaded.imageEmbedder().embed(images)).data)).toEqual(Array.from((await result.model.imageEmbedder().embed(images)).data));
    loaded.dispose();
    result.model.dispose();
  });

  it('evaluates periodically into metrics.jsonl, with ETA in the progress', async () => {
    const outDir = await tempDir('eval');
    const etas: Array<string | number | undefined> = [];
    const result = await trainClip(
      options({
        steps: 4,
        outDir,
        evalEvery: 2,
        evaluate: async (model, step) => {
          const rows = await model.imageEmbedder().embed([samples[0].image]);
          return { step_seen: step, dim: rows.dim };
        },
        onProgress: (e) => e.task === 'stage2' && etas.push(e.values?.eta),
      }),
    );
    expect(result.evaluations).toEqual([
      { step: 2, values: { step_seen: 2, dim: 16 } },
      { step: 4, values: { step_seen: 4, dim: 16 } },
    ]);
    const metrics = readMetricsJsonl(await readFile(join(outDir, 'metrics.jsonl'), 'utf8'));
    expect(metrics.filter((m) => m.phase === 'stage2-eval').map((m) => m.step)).toEqual([2, 4]);
    expect(metrics.filter((m) => m.phase === 'stage2').every((m) => typeof m.eta_s === 'number')).toBe(true);
    expect(etas.at(-1)).toBe('0s');
    result.model.dispose();
  });

  it('refuses a cache from another teacher before training', async () => {
    const steps: number[] = [];
    const error = await trainClip(options({ text: { kind: 'llm2clip', cache, teacherFingerprint: new BagOfWordsEmbedder(24, 9).describe().fingerprint }, onProgress: (e) => steps.push(e.done) })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_MISMATCH', field: 'embedder.fingerprint' });
    expect((error as Error).message).toContain(teacher.describe().fingerprint);
    expect(steps).toEqual([]);
  });
});
