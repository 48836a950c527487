import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyFile, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@llm2clip/core';
import { writeSyntheticDataset } from '@llm2clip/data';
import { LlamaModel, LlmTokenizer } from '@llm2clip/llm';
import { initBackend } from '@llm2clip/tensor';
import { EmbeddingCache } from '@llm2clip/clip-trainer';
import { buildProgram } from '../src/program.js';

/** A synthetic webdataset (3 train tars of 4 samples) and a tiny Llama with its tokenizer. */
async function fixture(): Promise<{ root: string; tars: string[]; llmDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'llm2clip-cli-embed-'));
  const dataDir = join(root, 'data');
  const info = await writeSyntheticDataset(dataDir, { seed: 0, trainSamples: 12, testSamples: 4, imageSize: 16, samplesPerShard: 4 });
  const tars = info.splits.train.shards.map((file) => join(dataDir, info.splits.train.dir, file));
  const tokenizer = await LlmTokenizer.fromDirectory(dataDir);
  const llmDir = join(root, 'llm');
  const model = LlamaModel.create(
    { architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: tokenizer.vocabSize, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId, pad_token_id: tokenizer.padTokenId, tie_word_embeddings: true },
    new Rng(1),
  );
  await model.save(llmDir);
  model.dispose();
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(dataDir, file), join(llmDir, file));
  return { root, tars, llmDir };
}

async function cli(...args: string[]): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'llm2clip', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: () => {} });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('llm2clip embed', () => {
  it('splits the work over a SLURM array, refuses to merge early, and merges to the single-run cache', async () => {
    const { root, tars, llmDir } = await fixture();
    const common = ['--model', llmDir, '--shards', ...tars, '--backend', 'cpu', '--batch-size', '8'];
    const single = join(root, 'single');
    await cli('embed', ...common, '--out', single);
    await cli('embed', 'merge', single);

    const split = join(root, 'split');
    vi.stubEnv('SLURM_ARRAY_TASK_ID', '1');
    vi.stubEnv('SLURM_ARRAY_TASK_MIN', '0');
    vi.stubEnv('SLURM_ARRAY_TASK_COUNT', '2');
    expect(await cli('embed', ...common, '--out', split, '--shard', 'auto')).toMatch(/part 1\/2: embedded 1 shard/);
    await expect(cli('embed', 'verify', split)).rejects.toThrow(/2 of 3 input shards are not embedded yet: #0, #2/);
    vi.stubEnv('SLURM_ARRAY_TASK_ID', '0');
    expect(await cli('embed', ...common, '--out', split, '--shard', 'auto')).toMatch(/part 0\/2: embedded 2 shard/);
    // rerunning a finished part redoes nothing
    expect(await cli('embed', ...common, '--out', split, '--shard', 'auto')).toMatch(/embedded 0 shard\(s\) \(0 captions\), kept 2/);
    expect(await cli('embed', 'verify', split)).toMatch(/verified: 3\/3 shards, 12 samples/);
    expect((await readdir(split)).includes('manifest.json')).toBe(false);
    expect(await cli('embed', 'merge', split)).toMatch(/merged: 3\/3 shards, 12 samples, \d+ caption rows, dim 16, mean pooling/);

    const a = await EmbeddingCache.open(single);
    const b = await EmbeddingCache.open(split);
    expect(b.keys()).toEqual(a.keys());
    for (const key of a.keys()) expect(Array.from(b.get(key)?.embeddings.data ?? [])).toEqual(Array.from(a.get(key)?.embeddings.data ?? []));
    const manifest = JSON.parse(await readFile(join(split, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'llm2clip.embeddings', version: 1, dim: 16, dtype: 'float32', inputs: { count: 3 } });
    await expect(cli('embed', 'verify', split, '--expect-fingerprint', 'something-else')).rejects.toMatchObject({ code: 'E_MISMATCH' });
    expect(await cli('embed', 'export-llm2clip', split, '--out-dir', split)).toMatch(/wrote 3 LLM2CLIP column tar\(s\), e\.g\. .*shard-000000_text_embeddings\.tar/);
  });
});
