import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, readMetricsJsonl } from '@llm2clip/core';
import { writeSyntheticDataset } from '@llm2clip/data';
import { LlamaModel, LlmTokenizer } from '@llm2clip/llm';
import { initBackend, readSafetensors, writeSafetensors } from '@llm2clip/tensor';
import { ClipVisionModel } from '@llm2clip/vision';
import { loadClipModel } from '@llm2clip/clip-trainer';
import { buildProgram } from '../src/program.js';
import { threadsPerRank } from '../src/commands/clip-train.js';

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

const VISION = { image_size: 16, patch_size: 8, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, projection_dim: 16 };

let root: string;
let trainTars: string[];
let testTars: string[];
let pretrainedDir: string;

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: () => {} });
  root = await mkdtemp(join(tmpdir(), 'llm2clip-cli-clip-'));
  const dataDir = join(root, 'data');
  const info = await writeSyntheticDataset(dataDir, { seed: 0, trainSamples: 8, testSamples: 4, imageSize: 16, samplesPerShard: 4 });
  trainTars = info.splits.train.shards.map((file) => join(dataDir, info.splits.train.dir, file));
  testTars = info.splits.test.shards.map((file) => join(dataDir, info.splits.test.dir, file));
  const tokenizer = await LlmTokenizer.fromDirectory(dataDir);
  const llmDir = join(root, 'llm');
  const llm = LlamaModel.create(
    { architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: tokenizer.vocabSize, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId, pad_token_id: tokenizer.padTokenId, tie_word_embeddings: true },
    new Rng(1),
  );
  await llm.save(llmDir);
  llm.dispose();
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(dataDir, file), join(llmDir, file));
  for (const [name, tars] of [['train', trainTars], ['test', testTars]] as const) {
    await cli('embed', '--model', llmDir, '--shards', ...tars, '--out', join(root, `cache-${name}`), '--backend', 'cpu');
    await cli('embed', 'merge', join(root, `cache-${name}`));
  }
  // a "pretrained CLIP": vision weights plus the CLIPModel's learned logit_scale
  pretrainedDir = join(root, 'pretrained');
  const vision = ClipVisionModel.create(VISION, new Rng(7));
  await vision.save(pretrainedDir);
  vision.dispose();
  const weights = (await readSafetensors(join(pretrainedDir, 'model.safetensors'))).tensors;
  weights.set('logit_scale', { shape: [], dtype: 'float32', data: Float32Array.of(3) });
  await writeSafetensors(join(pretrainedDir, 'model.safetensors'), weights, { format: 'pt' });
});

afterEach(() => vi.restoreAllMocks());

async function writeConfig(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(root, `${name}.json`);
  const config = {
    data: { shards: trainTars, cache: join(root, 'cache-train') },
    eval: { shards: testTars, cache: join(root, 'cache-test'), every: 2, ks: [1, 2] },
    vision: { pretrained: pretrainedDir },
    adapter: { blocks: 2 },
    outDir: join(root, 'runs', name),
    steps: 4,
    batchSize: 4,
    microBatchSize: 2,
    lr: 1e-3,
    warmupSteps: 0,
    checkpointEvery: 2,
    ...extra,
  };
  await writeFile(path, JSON.stringify(config));
  return path;
}

describe('llm2clip clip train', () => {
  it('trains from a config with flag overrides, evaluates, checkpoints, resumes and exports', async () => {
    const config = await writeConfig('run');
    const first = await cli('clip', 'train', '--config', config, '--steps', '2', '--backend', 'cpu');
    expect(first).toMatch(/trained 2\/2 steps/);
    const outDir = join(root, 'runs', 'run');
    const metrics = readMetricsJsonl(await readFile(join(outDir, 'metrics.jsonl'), 'utf8'));
    // the temperature starts from the pretrained checkpoint's logit_scale (3), not ln(1/0.07)
    expect(metrics[0].logit_scale as number).toBeCloseTo(Math.exp(3), 0);
    const evals = metrics.filter((m) => m.phase === 'stage2-eval');
    expect(evals).toHaveLength(1);
    for (const key of ['i2t_r1', 'i2t_r2', 'i2t_mean_rank', 't2i_r1', 't2i_r2', 't2i_mean_rank']) expect(typeof evals[0][key], key).toBe('number');
    expect(evals[0].step).toBe(2);
    expect(evals[0].t2i_r2 as number).toBeGreaterThanOrEqual(evals[0].t2i_r1 as number);

    // a longer run of the same schedule resumes from its checkpoint
    const resumedDir = join(root, 'runs', 'resumed');
    const resumedConfig = await writeConfig('resumed');
    await cli('clip', 'train', '--config', resumedConfig, '--backend', 'cpu', '--steps', '4');
    const again = await cli('clip', 'train', '--config', resumedConfig, '--backend', 'cpu', '--steps', '4', '--resume');
    expect(again).toMatch(/trained 4\/4 steps \(resumed from 4\)/);
    expect((await readdir(join(resumedDir, 'checkpoints'))).length).toBeGreaterThan(0);

    // the export: HF CLIP vision layout + adapter (ours and LLM2CLIP's names), loadable back
    const modelDir = join(outDir, 'model');
    const files = await readdir(modelDir);
    expect(files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'preprocessor_config.json', 'llm2clip.json', 'adapter']));
    expect(await readdir(join(modelDir, 'adapter'))).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter.safetensors', 'llm2clip_text_proj.safetensors']));
    const hf = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8'));
    expect(hf.architectures).toEqual(['CLIPVisionModelWithProjection']);
    const loaded = await loadClipModel(modelDir);
    expect(loaded.vision.dim).toBe(16);
    loaded.dispose();
  });

  it('refuses a cache from another teacher, and a bad config, before training', async () => {
    const wrong = await writeConfig('wrong-teacher', { teacherFingerprint: 'not-the-teacher' });
    await expect(cli('clip', 'train', '--config', wrong, '--backend', 'cpu')).rejects.toMatchObject({ code: 'E_MISMATCH', field: 'embedder.fingerprint' });
    await expect(readdir(join(root, 'runs', 'wrong-teacher'))).rejects.toThrow();
    const bad = await writeConfig('bad', { batchSize: 1 });
    await expect(cli('clip', 'train', '--config', bad, '--backend', 'cpu')).rejects.toMatchObject({ code: 'E_CONFIG', field: 'batchSize' });
    const fresh = await writeConfig('fresh-vision', { vision: { config: VISION }, eval: undefined, lockImage: { unlockedGroups: 1 } });
    expect(await cli('clip', 'train', '--config', fresh, '--backend', 'cpu', '--steps', '1')).toMatch(/trained 1\/1 steps/);
    const typo = await writeConfig('typo', { learningRate: 1 });
    await expect(cli('clip', 'train', '--config', typo, '--backend', 'cpu')).rejects.toThrow(/learningRate/);
  });
});

describe('clip train under a launcher', () => {
  it('gives each rank of a node its share of the cores (or the cores the launcher bound it to)', () => {
    const allowed = availableParallelism();
    const total = cpus().length;
    if (allowed < total) {
      // this process is bound to a subset: that subset is its share
      expect(threadsPerRank(2)).toBe(allowed);
    } else {
      expect(threadsPerRank(1)).toBe(total);
      expect(threadsPerRank(2)).toBe(Math.max(1, Math.floor(total / 2)));
      expect(threadsPerRank(total * 4)).toBe(1);
    }
  });
});
