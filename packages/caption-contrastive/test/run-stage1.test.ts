import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetricsJsonl, type TextEmbedder } from '@llm2clip/core';
import { writeSyntheticDataset } from '@llm2clip/data';
import { LlmEmbedder } from '@llm2clip/llm';
import { loadCaptionedSamples, loadStage1RunConfig, runStage1, setConfigField } from '../src/index.js';
import { tinySamples, writeStage1Fixtures } from './fixtures.js';

describe('setConfigField', () => {
  it('sets a dotted path without touching the input', () => {
    const input = { train: { steps: 3, lora: { r: 4 } } };
    expect(setConfigField(input, 'train.lora.r', 8)).toEqual({ train: { steps: 3, lora: { r: 8 } } });
    expect(input.train.lora.r).toBe(4);
    expect(() => setConfigField(input, 'train.__proto__.x', 1)).toThrow(/E_CONFIG/);
  });
});

describe('runStage1', () => {
  it('runs MNTP then stage 1 from a YAML config, evaluates CRA, writes adapter + merged model, and resumes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'run-stage1-'));
    await writeStage1Fixtures(root);
    const yaml = [
      'format: llm2clip.stage1-config',
      'version: 1',
      'model: base',
      'output: run',
      'data:',
      '  train: { webdataset: "data/train-{000000..000001}.tar" }',
      '  heldOut: { webdataset: data/held-out.tar }',
      'mntp: { steps: 2, batchSize: 8, maskToken: "<mask>", maxLength: 24, lora: { r: 2, alpha: 4 } }',
      'train:',
      '  steps: 99',
      '  batchSize: 4',
      '  maxLength: 24',
      '  warmupSteps: 1',
      '  checkpointEvery: 2',
      '  lora: { r: 2, alpha: 4, dropout: 0.05 }',
      'cra: { every: 2 }',
      'saveMerged: true',
    ].join('\n');
    await writeFile(join(root, 'stage1.yaml'), yaml);
    const config = await loadStage1RunConfig(join(root, 'stage1.yaml'), { 'train.steps': 3 });
    expect(config.train).toMatchObject({ steps: 3, warmupSteps: 1, lr: 2e-4, scale: 50, pooling: 'mean' });
    expect(config.train.directionInstructions?.shortToLong).toMatch(/detailed/);
    const pairsSeen: (readonly [string, string])[][] = [];
    const evaluateCra = async (embedder: TextEmbedder, pairs: readonly (readonly [string, string])[]) => {
      pairsSeen.push([...pairs]);
      const m = await embedder.embed(pairs.map((p) => p[0]));
      return m.rows === pairs.length ? 42 : 0;
    };
    const lines: string[] = [];
    const result = await runStage1(config, { evaluateCra, log: (l) => lines.push(l) });
    expect(result.trainSamples).toBe(16);
    expect(result.endStep).toBe(3);
    expect(result.cra.map((c) => c.step)).toEqual([0, 2, 3]);
    const heldOut = tinySamples(6, 3);
    expect(pairsSeen[0]).toEqual(heldOut.map((s) => [s.captions[0], s.captions[1]]));
    const run = join(root, 'run');
    expect((await readdir(join(run, 'adapter'))).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'llm2clip_embedder.json', 'llm2vec_config.json']);
    expect(JSON.parse(await readFile(join(run, 'adapter', 'llm2clip_embedder.json'), 'utf8'))).toMatchObject({ mntpMerged: true, baseModelNameOrPath: join(root, 'base') });
    expect(await readdir(join(run, 'mntp', 'adapter'))).toContain('adapter_model.safetensors');
    const merged = await readdir(join(run, 'merged'));
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'llm2vec_config.json']) expect(merged).toContain(file);
    const records = readMetricsJsonl(await readFile(join(run, 'metrics.jsonl'), 'utf8'));
    expect(records.filter((r) => r.phase === 'mntp')).toHaveLength(2);
    expect(records.filter((r) => r.phase === 'stage1').map((r) => r.step)).toEqual([1, 2, 3]);
    expect(JSON.parse(await readFile(join(run, 'run-config.json'), 'utf8'))).toMatchObject({ format: 'llm2clip.stage1-config', version: 1 });

    // the merged model embeds like nothing else than itself: the adapter was folded in (different from base)
    const mergedEmbedder = await LlmEmbedder.fromPretrained(join(run, 'merged'), { maxLength: 24 });
    const baseEmbedder = await LlmEmbedder.fromPretrained(join(root, 'base'), { maxLength: 24 });
    const a = (await mergedEmbedder.embed(['a red cube'])).data;
    const b = (await baseEmbedder.embed(['a red cube'])).data;
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i])))).toBeGreaterThan(1e-5);
    mergedEmbedder.dispose();
    baseEmbedder.dispose();

    // more steps with --resume: MNTP is reused, training continues from step 3
    const more = await loadStage1RunConfig(join(root, 'stage1.yaml'), { 'train.steps': 4, saveMerged: false });
    const resumed = await runStage1(more, { evaluateCra, resume: true, log: (l) => lines.push(l) });
    expect(resumed.startStep).toBe(3);
    expect(resumed.endStep).toBe(4);
    expect(lines.some((l) => l.includes('reused the MNTP adapter'))).toBe(true);
  });

  it('names the bad field of an invalid config', async () => {
    const root = await mkdtemp(join(tmpdir(), 'run-stage1-bad-'));
    await writeFile(join(root, 'bad.json'), JSON.stringify({ model: 'm', output: 'o', data: { train: { webdataset: 'x.tar' } }, train: { steps: -1 } }));
    await expect(loadStage1RunConfig(join(root, 'bad.json'))).rejects.toThrow(/E_CONFIG.*field train\.steps/);
    await writeFile(join(root, 'bad.yaml'), 'model: [unclosed');
    await expect(loadStage1RunConfig(join(root, 'bad.yaml'))).rejects.toThrow(/E_FORMAT/);
  });
  it('reads the captions of a synthetic dataset split, with their short/long kinds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stage1-synthetic-'));
    await writeSyntheticDataset(dir, { seed: 1, trainSamples: 5, testSamples: 3, imageSize: 16, samplesPerShard: 4 });
    const { samples, skipped } = await loadCaptionedSamples({ synthetic: dir, split: 'train' });
    expect(samples).toHaveLength(5);
    expect(skipped).toBe(0);
    expect(samples[0].captions.length).toBeGreaterThanOrEqual(2);
    expect(samples[0].captionKinds).toContain('short');
    expect(samples[0].captionKinds).toContain('long');
    expect((await loadCaptionedSamples({ synthetic: dir, split: 'test' }, 2)).samples).toHaveLength(2);
  });
});
