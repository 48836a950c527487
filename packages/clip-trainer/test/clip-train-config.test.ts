import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LOGIT_SCALE, parseClipTrainConfig, trainOptionsFromConfig } from '../src/index.js';

const minimal = { data: { shards: 'train-{0..3}.tar', cache: 'cache' }, vision: { pretrained: 'clip' }, outDir: 'runs/x' };

describe('ClipTrainConfig', () => {
  it("applies LLM2CLIP's defaults", () => {
    const config = parseClipTrainConfig(minimal);
    expect(config).toMatchObject({ format: 'llm2clip.clip-train-config', version: 1, batchSize: 64, weightDecay: 0.05, layerDecay: 0.85, gradClip: 5, betas: [0.9, 0.98], logitScaleInit: 'pretrained', adapter: { blocks: 4, expansion: 2, projBias: true } });
    expect(config.maxLogitScale).toBeCloseTo(Math.log(100), 12);
    const options = trainOptionsFromConfig(config, 4.6);
    expect(options.logitScaleInit).toBe(4.6);
    expect(trainOptionsFromConfig(config).logitScaleInit).toBe(DEFAULT_LOGIT_SCALE);
    expect(trainOptionsFromConfig(parseClipTrainConfig({ ...minimal, layerDecay: null })).layerDecay).toBeUndefined();
    expect(trainOptionsFromConfig(parseClipTrainConfig({ ...minimal, lockImage: { unlockedGroups: 2 } })).lockImage).toEqual({ unlockedGroups: 2 });
  });

  it('names the bad field, and refuses unknown fields and ambiguous sources', () => {
    expect(() => parseClipTrainConfig({ ...minimal, batchSize: 1 }, 'run.json')).toThrow(expect.objectContaining({ code: 'E_CONFIG', field: 'batchSize', path: 'run.json' }));
    expect(() => parseClipTrainConfig({ ...minimal, lr_max: 1 })).toThrow(/lr_max/);
    expect(() => parseClipTrainConfig({ ...minimal, data: { cache: 'c' } })).toThrow(/exactly one of shards or shardIndex/);
    expect(() => parseClipTrainConfig({ ...minimal, vision: {} })).toThrow(/exactly one of pretrained or config/);
    expect(() => parseClipTrainConfig({ ...minimal, version: 2 })).toThrow(expect.objectContaining({ field: 'version' }));
  });

  it('accepts the documented example (docs/recipes/clip-train.json)', async () => {
    const example = JSON.parse(await readFile(join(import.meta.dirname, '../../../docs/recipes/clip-train.json'), 'utf8'));
    const config = parseClipTrainConfig(example);
    expect(config.batchSize).toBe(4096);
    expect(trainOptionsFromConfig(config).microBatchSize).toBe(128);
  });
});
