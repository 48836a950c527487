import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Rng } from '@llm2clip/core';
import { readTarEntries, writeFlickrLikeSplit, writeSyntheticDataset } from '@llm2clip/data';
import { readReport } from '@llm2clip/eval';
import { LlamaModel, LlmTokenizer } from '@llm2clip/llm';
import { initBackend } from '@llm2clip/tensor';
import { ClipVisionModel } from '@llm2clip/vision';
import { karpathySplitToShards, runFlickr30kRecipe } from '../src/index.js';

// CI runs the recipe on a miniature of the real layout: `writeFlickrLikeSplit` writes
// `dataset_flickr30k.json` (Karpathy format) + `flickr30k-images/*.jpg`; a tiny random Llama and
// CLIP vision tower in the Hugging Face layout stand in for the real checkpoints.

let root: string;
let flickr: string;
let llmDir: string;
let visionDir: string;

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: () => {} });
  root = await mkdtemp(join(tmpdir(), 'flickr30k-recipe-'));
  flickr = join(root, 'flickr30k');
  await writeFlickrLikeSplit(flickr, { seed: 0, testImages: 6, trainImages: 8, imageSize: 32 });
  // the synthetic dataset's word-level tokenizer covers the miniature's caption vocabulary
  await writeSyntheticDataset(join(root, 'vocab'), { seed: 0, trainSamples: 1, testSamples: 1, imageSize: 16 });
  const tokenizer = await LlmTokenizer.fromDirectory(join(root, 'vocab'));
  llmDir = join(root, 'llm');
  const llm = LlamaModel.create(
    { architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: tokenizer.vocabSize, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId, pad_token_id: tokenizer.padTokenId, tie_word_embeddings: true },
    new Rng(1),
  );
  await llm.save(llmDir);
  llm.dispose();
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(root, 'vocab', file), join(llmDir, file));
  visionDir = join(root, 'clip');
  const vision = ClipVisionModel.create({ image_size: 32, patch_size: 8, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, projection_dim: 16 }, new Rng(7));
  await vision.save(visionDir);
  vision.dispose();
});

afterAll(async () => {
  vi.restoreAllMocks();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('the Flickr30k recipe', () => {
  it('writes the train split as webdataset shards with all five captions', async () => {
    const shards = await karpathySplitToShards(join(flickr, 'dataset_flickr30k.json'), join(flickr, 'flickr30k-images'), 'train', join(root, 'shards-only'), 3);
    expect(shards).toHaveLength(3); // 8 images, 3 per shard
    const entries = [];
    for await (const entry of readTarEntries(shards[0]!)) entries.push(entry);
    const json = entries.filter((e) => e.name.endsWith('.json'));
    expect(json).toHaveLength(3);
    expect((JSON.parse(new TextDecoder().decode(json[0]!.data)) as { captions: string[] }).captions).toHaveLength(5);
    expect(entries.filter((e) => e.name.endsWith('.jpg'))).toHaveLength(3);
  });

  it('embeds, trains stage 2 and reports retrieval on the test split', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out = join(root, 'run');
    const result = await runFlickr30kRecipe({
      karpathyJson: join(flickr, 'dataset_flickr30k.json'), images: join(flickr, 'flickr30k-images'),
      llm: llmDir, vision: visionDir, out, steps: 2, batchSize: 4, lr: 1e-3, adapterBlocks: 1, samplesPerShard: 4, embedBatchSize: 16, ks: [1, 5], backend: 'cpu',
    });
    vi.restoreAllMocks();
    expect(result.trainShards).toHaveLength(2);
    const manifest = JSON.parse(await readFile(join(out, 'cache', 'manifest.json'), 'utf8')) as { format: string; count?: number };
    expect(manifest.format).toBe('llm2clip.embeddings');
    expect(JSON.parse(await readFile(join(result.modelDir, 'config.json'), 'utf8'))).toMatchObject({ architectures: ['CLIPVisionModelWithProjection'] });
    expect(await readdir(join(out, 'stage2'))).toEqual(expect.arrayContaining(['metrics.jsonl', 'model']));
    const report = await readReport(result.report.json);
    expect(report.results.length).toBeGreaterThan(0);
    expect(new Set(report.results.map((r) => r.dataset))).toEqual(new Set(['flickr30k-karpathy-test']));
    for (const row of report.results.filter((r) => /r\d/i.test(r.metric) && (r.unit ?? 'fraction') === 'fraction')) {
      expect(row.value).toBeGreaterThanOrEqual(0);
      expect(row.value).toBeLessThanOrEqual(1);
    }
    expect(await readFile(result.report.markdown, 'utf8')).toMatch(/flickr30k-karpathy-test/);
  });
});
