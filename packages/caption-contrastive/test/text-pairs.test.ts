import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { LlamaModel } from '@llm2clip/llm';
import { MixedBatchCursor, readTextPairsJsonl, trainCaptionContrastive, type TextPairSource } from '../src/index.js';
import { tinyConfig, tinySamples, tinyTokenizer } from './fixtures.js';

describe('readTextPairsJsonl', () => {
  it('reads query/positive/negative rows and skips and counts bad ones', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'pairs-')), 'pairs.jsonl');
    const rows = [
      JSON.stringify({ query: 'a red cube', positive: 'the image shows a red cube', negative: 'a blue ball' }),
      '{not json',
      '',
      JSON.stringify({ query: 'a ring', positive: 'a ring' }),
      JSON.stringify({ query: 'a star', positive: 'a yellow star', negative: 'a cone', extra: 1 }),
    ];
    await writeFile(path, `${rows.join('\n')}\n`);
    const result = await readTextPairsJsonl(path);
    expect(result.pairs).toEqual([
      { query: 'a red cube', positive: 'the image shows a red cube', negative: 'a blue ball' },
      { query: 'a star', positive: 'a yellow star', negative: 'a cone' },
    ]);
    expect(result.skipped).toBe(2);
    expect(result.skippedLines).toEqual([2, 4]);
    await expect(readTextPairsJsonl(join(tmpdir(), 'missing-pairs.jsonl'))).rejects.toThrow(/E_IO/);
  });
});

describe('MixedBatchCursor', () => {
  it('gives full single-source batches, every item once per epoch, and resumes exactly', () => {
    const cursor = new MixedBatchCursor([10, 7, 3], 3, 4);
    expect(cursor.batchesPerEpoch).toBe(3 + 2 + 1);
    const seen = new Map<number, number[]>();
    const sources: number[] = [];
    for (let i = 0; i < 6; i++) {
      const batch = cursor.next();
      expect(batch.indices).toHaveLength(3);
      sources.push(batch.source);
      seen.set(batch.source, [...(seen.get(batch.source) ?? []), ...batch.indices]);
    }
    expect([...sources].sort()).toEqual([0, 0, 0, 1, 1, 2]);
    expect(new Set(sources.slice(0, 3)).size).toBeGreaterThan(1); // sources are interleaved
    for (const [source, indices] of seen) {
      expect(new Set(indices).size).toBe(indices.length);
      expect(Math.max(...indices)).toBeLessThan([10, 7, 3][source]);
    }
    const state = cursor.state();
    const next = [cursor.next(), cursor.next(), cursor.next()];
    const resumed = new MixedBatchCursor([10, 7, 3], 3, 4, state);
    expect([resumed.next(), resumed.next(), resumed.next()]).toEqual(next);
    expect(() => new MixedBatchCursor([2, 1], 3, 0)).toThrow(/E_CONFIG/);
  });
});

describe('trainCaptionContrastive with text pairs', () => {
  it('mixes homogeneous caption and text-pair batches and records the source of each step', async () => {
    const tokenizer = tinyTokenizer();
    const pairs: TextPairSource = {
      name: 'pairs',
      instruction: 'retrieve caption :',
      pairs: Array.from({ length: 8 }, (_, i) => ({ query: `a red cube ${i % 2 ? 'left' : 'right'}`, positive: 'the image shows a red cube', negative: 'a blue ball near a star' })),
    };
    const records: Record<string, unknown>[] = [];
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const result = await trainCaptionContrastive({
      model,
      tokenizer,
      samples: tinySamples(8),
      textPairs: [pairs],
      steps: 4,
      batchSize: 4,
      maxLength: 24,
      lora: { r: 2, alpha: 4, dropout: 0 },
      metrics: { log: (r) => records.push(r) },
    });
    // 2 caption batches + 2 pair batches per epoch: 4 steps are one epoch
    expect(records.map((r) => r.source).sort()).toEqual(['captions', 'captions', 'pairs', 'pairs']);
    expect(result.losses.every(Number.isFinite)).toBe(true);
    result.embedder.dispose();
  });
  it('resumes a mixed-source run to bit-identical weights', async () => {
    const tokenizer = tinyTokenizer();
    const pairs: TextPairSource = {
      name: 'pairs',
      pairs: Array.from({ length: 8 }, (_, i) => ({ query: `a ${['red', 'blue'][i % 2]} cube`, positive: 'the image shows a cube', negative: 'a ball near a star' })),
    };
    const common = { tokenizer, samples: tinySamples(8), textPairs: [pairs], steps: 5, batchSize: 4, maxLength: 24, seed: 3, lora: { r: 2, alpha: 4, dropout: 0.1 } };
    const straight = await trainCaptionContrastive({ ...common, model: LlamaModel.create(tinyConfig(), new Rng(1)) });
    const runDir = await mkdtemp(join(tmpdir(), 'mixed-resume-'));
    const controller = new AbortController();
    const first = await trainCaptionContrastive({
      ...common,
      model: LlamaModel.create(tinyConfig(), new Rng(1)),
      runDir,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.done === 2) controller.abort();
      },
    });
    const resumed = await trainCaptionContrastive({ ...common, model: LlamaModel.create(tinyConfig(), new Rng(1)), runDir, resume: true });
    expect(resumed.startStep).toBe(2);
    expect(resumed.losses).toEqual(straight.losses.slice(2));
    const a = straight.lora.parameters.toHost();
    const b = resumed.lora.parameters.toHost();
    for (const [name, tensor] of a) expect(Buffer.from(b.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer))).toBe(true);
    // a checkpoint of a mixed run is refused by a run without the text pairs
    const plain = trainCaptionContrastive({ ...common, textPairs: [], model: LlamaModel.create(tinyConfig(), new Rng(1)), runDir, resume: true });
    await expect(plain).rejects.toThrow(/E_MISMATCH/);
    for (const r of [straight, first, resumed]) r.embedder.dispose();
  });
});
