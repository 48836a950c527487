import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, writeJsonAtomic } from '@llm2clip/core';
import { writeFlickrLikeSplit, writeSyntheticDataset } from '@llm2clip/data';
import { readReport } from '@llm2clip/eval';
import { initBackend, readSafetensors, writeSafetensors } from '@llm2clip/tensor';
import { ClipTextModel, ClipTextTokenizer, ClipVisionModel } from '@llm2clip/vision';
import { evaluateClip, loadHfClip } from '../src/index.js';

// A tiny random CLIPModel written in the Hugging Face layout: one config.json with vision_config
// and text_config, one model.safetensors with vision_model.* / text_model.* / projections /
// logit_scale, and a tokenizer.json; plus a Flickr30k-like Karpathy split.

let root: string;
let clipDir: string;
let flickr: string;

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: () => {} });
  root = await mkdtemp(join(tmpdir(), 'eval-clip-example-'));
  await writeSyntheticDataset(join(root, 'synthetic'), { seed: 0, trainSamples: 1, testSamples: 1, imageSize: 16 });
  const tokenizerPath = join(root, 'synthetic', 'tokenizer.json');
  const tokenizer = await ClipTextTokenizer.fromFile(tokenizerPath);
  const vision = ClipVisionModel.create({ image_size: 32, patch_size: 8, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, projection_dim: 16 }, new Rng(1));
  const text = ClipTextModel.create({ ...tokenizer.configFields(), hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, projection_dim: 16 }, new Rng(2));
  await vision.save(join(root, 'v'));
  await text.save(join(root, 't'));
  vision.dispose();
  text.dispose();
  clipDir = join(root, 'clip-tiny');
  const tensors = new Map([...(await readSafetensors(join(root, 'v', 'model.safetensors'))).tensors, ...(await readSafetensors(join(root, 't', 'model.safetensors'))).tensors]);
  tensors.set('logit_scale', { shape: [], dtype: 'float32', data: Float32Array.of(Math.log(1 / 0.07)) });
  await writeSafetensors(join(clipDir, 'model.safetensors'), tensors, { format: 'pt' });
  const strip = ({ architectures: _a, ...rest }: Record<string, unknown>) => rest;
  const visionConfig = JSON.parse(await readFile(join(root, 'v', 'config.json'), 'utf8')) as Record<string, unknown>;
  const textConfig = JSON.parse(await readFile(join(root, 't', 'config.json'), 'utf8')) as Record<string, unknown>;
  await writeJsonAtomic(join(clipDir, 'config.json'), {
    architectures: ['CLIPModel'], model_type: 'clip', projection_dim: 16, logit_scale_init_value: 2.6592,
    vision_config: strip(visionConfig), text_config: strip(textConfig),
  });
  await copyFile(tokenizerPath, join(clipDir, 'tokenizer.json'));
  flickr = join(root, 'flickr30k');
  await writeFlickrLikeSplit(flickr, { seed: 0, testImages: 6, trainImages: 2, imageSize: 32 });
});

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('evaluating an existing Hugging Face CLIP with @llm2clip/eval', () => {
  it('loads both towers from one CLIPModel directory into a shared space', async () => {
    const clip = await loadHfClip(clipDir);
    try {
      expect(clip.imageEmbedder.dim).toBe(16);
      expect(clip.textEmbedder.dim).toBe(16);
      const texts = await clip.textEmbedder.embed(['a red circle', 'a blue square']);
      expect(texts.rows).toBe(2);
      expect(Array.from(texts.data).every(Number.isFinite)).toBe(true);
    } finally {
      clip.dispose();
    }
  });

  it('writes a retrieval report on the test split, and a second run reads the feature cache', async () => {
    const options = { model: clipDir, karpathyJson: join(flickr, 'dataset_flickr30k.json'), images: join(flickr, 'flickr30k-images'), out: join(root, 'run'), ks: [1, 5] };
    const first = await evaluateClip(options);
    const report = await readReport(first.report.json);
    expect(report.format).toBe('llm2clip.report');
    const metrics = new Map(report.results.map((r) => [r.metric, r.value]));
    for (const k of ['t2i_r1', 't2i_r5', 'i2t_r1', 'i2t_r5']) {
      const value = [...metrics].find(([name]) => name.replace(/[^a-z0-9]/gi, '').toLowerCase() === k.replace(/_/g, ''))?.[1];
      expect(value, k).toBeGreaterThanOrEqual(0);
      expect(value, k).toBeLessThanOrEqual(1);
    }
    expect(report.results.every((r) => r.dataset === 'flickr30k-karpathy-test')).toBe(true);
    expect(await readFile(first.report.markdown, 'utf8')).toMatch(/flickr30k-karpathy-test/);
    const cached = await readdir(join(root, 'run', 'features'));
    expect(cached.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThanOrEqual(2);

    const second = await evaluateClip(options);
    expect(second.run.rows).toEqual(first.run.rows);
  });

  it('refuses a directory that is not a model', async () => {
    await expect(loadHfClip(join(root, 'flickr30k'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('runs as a command', async () => {
    const bin = resolve(import.meta.dirname, '../dist/cli.js');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--model', clipDir, '--karpathy', join(flickr, 'dataset_flickr30k.json'), '--images', join(flickr, 'flickr30k-images'), '--out', join(root, 'cli-run')], { env: { ...process.env, LLM2CLIP_BACKEND: 'cpu' } });
    expect(stdout).toMatch(/flickr30k-karpathy-test/);
    expect(stdout).toMatch(/report: .*report\.md/);
  });
});
