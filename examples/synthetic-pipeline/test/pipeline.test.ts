import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readMetricsJsonl } from '@llm2clip/core';
import { EmbeddingCache } from '@llm2clip/clip-trainer';
import { readReport } from '@llm2clip/eval';
import { PIPELINE_STEPS, resolvePipelineConfig, runSyntheticPipeline } from '../src/index.js';

describe('synthetic pipeline (tiny preset)', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'pipeline-'));
  const config = resolvePipelineConfig('tiny', { seed: 3 });

  it('runs every step end to end and writes the artifacts of a real run', async () => {
    const lines: string[] = [];
    const summary = await runSyntheticPipeline({ runDir, config, log: (l) => lines.push(l) });
    for (const path of [
      'data/dataset.json',
      'data/tokenizer.json',
      'llm-base/config.json',
      'llm-base/model.safetensors',
      'stage1/adapter/adapter_config.json',
      'stage1/adapter/adapter_model.safetensors',
      'embeddings/manifest.json',
      'llm2clip/model/config.json',
      'baseline/model/config.json',
      'metrics.jsonl',
      'report.json',
      'report.md',
    ]) {
      expect(existsSync(join(runDir, path)), path).toBe(true);
    }
    const cache = await EmbeddingCache.open(join(runDir, 'embeddings'));
    expect(cache.keys().length).toBe(config.data.trainSamples);
    expect(cache.dim).toBe(config.llm.hidden_size);
    // one cache shard per image shard, named after it
    const imageShards = readdirSync(join(runDir, 'data/train')).map((f) => f.replace(/\.tar$/, '.safetensors'));
    expect(readdirSync(join(runDir, 'embeddings')).filter((f) => f.endsWith('.safetensors')).sort()).toEqual(imageShards.sort());

    const report = await readReport(join(runDir, 'report.json'));
    expect(report.models.map((m) => m.id)).toEqual(['llm-before-stage1', 'llm-after-stage1', 'llm2clip', 'baseline']);
    for (const model of ['llm2clip', 'baseline']) {
      for (const task of ['retrieval:short', 'retrieval:long']) {
        for (const metric of ['i2t.r1', 'i2t.r5', 'i2t.r10', 't2i.r1', 't2i.r5', 't2i.r10']) {
          const row = report.results.find((r) => r.model === model && r.task === task && r.metric === metric);
          expect(row, `${model} ${task} ${metric}`).toBeDefined();
          expect(row!.value).toBeGreaterThanOrEqual(0);
          expect(row!.value).toBeLessThanOrEqual(1);
        }
      }
    }
    const phases = new Set(readMetricsJsonl(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).map((r) => r.phase));
    expect(phases.size).toBeGreaterThanOrEqual(4);
    expect(summary.markdown).toContain('| model | CRA |');
    expect(summary.headline).toHaveLength(4);
    expect(lines.some((l) => l.startsWith('[stage1] done'))).toBe(true);
  });

  it('resumes a finished run without redoing any step and without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const summary = await runSyntheticPipeline({ runDir, config, log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.includes('already complete'))).toHaveLength(7);
    expect(Object.keys(summary.stepSeconds)).toEqual([...PIPELINE_STEPS]);
    expect(summary.headline).toHaveLength(4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses to resume a run directory made with another configuration', async () => {
    await expect(runSyntheticPipeline({ runDir, config: { ...config, seed: 4 } })).rejects.toThrow(/E_MISMATCH/);
  });
});
