import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '@llm2clip/core';
import { writeSyntheticDataset } from '@llm2clip/data';
import { LlamaModel, LlmTokenizer } from '@llm2clip/llm';
import { initBackend } from '@llm2clip/tensor';
import { runCliChild } from './child.js';

/** Which training stage a harness run drives. */
export type Stage = 1 | 2;

/** A prepared stage: the command line of one run, given its run directory. */
export interface StageFixture {
  /** 1 (`llm finetune`) or 2 (`clip train`). */
  stage: Stage;
  /** Total training steps of every run. */
  steps: number;
  /** Checkpoint interval in steps. */
  checkpointEvery: number;
  /** CLI arguments (after `node bin.js`) of a run writing into `runDir`; `resume` adds `--resume`. */
  args(runDir: string, resume: boolean): string[];
  /** Where a run keeps its checkpoints. */
  checkpointsDir(runDir: string): string;
  /** The directories holding the finished run's exported weights (adapter or model; stage 1 with MNTP also its MNTP adapter). */
  exportDirs(runDir: string): string[];
  /** The step a finished run says (on stdout) it started from: 0 for a fresh run. */
  startStep(stdout: string): number | undefined;
  /** `phase` of the per-step records in `<runDir>/metrics.jsonl` (all compared with the reference). */
  phases: string[];
}

/** Size knobs of the generated fixtures (defaults: tiny, a few hundred ms per step on 2 cores). */
export interface FixtureOptions {
  /** Training steps of every run. Default 6. */
  steps?: number;
  /** Checkpoint interval. Default 1 (every step, so kills land in writes often). */
  checkpointEvery?: number;
  /** Seed of the data, the model and the run. Default 0. */
  seed?: number;
  /** Stage 1 only: run an MNTP phase of this many steps first (default none). */
  mntpSteps?: number;
}

const LLM = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 256 };
const VISION = { image_size: 16, patch_size: 8, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, projection_dim: 16 };

/** A tiny Llama (random weights, seeded) with the synthetic dataset's tokenizer, in Hugging Face layout. */
async function writeTinyLlm(datasetDir: string, dir: string, seed: number): Promise<void> {
  const tokenizer = await LlmTokenizer.fromDirectory(datasetDir);
  const model = LlamaModel.create(
    {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: tokenizer.vocabSize,
      ...LLM,
      bos_token_id: tokenizer.bosTokenId,
      eos_token_id: tokenizer.eosTokenId,
      pad_token_id: tokenizer.padTokenId,
      tie_word_embeddings: true,
    },
    new Rng(seed + 1),
  );
  try {
    await model.save(dir);
  } finally {
    model.dispose();
  }
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(datasetDir, file), join(dir, file));
}

/**
 * Writes the inputs of a stage-1 run under `root` — a synthetic dataset (`@llm2clip/data`'s
 * generator: 12 training images with four captions each) and a tiny Llama with its tokenizer — and
 * a run config exercising every piece of resumable state: LoRA dropout (RNG), caption swaps (RNG),
 * several epochs over the data (cursor), AdamW moments, warm-up and decay (schedule), pruning of old
 * checkpoints (`keepCheckpoints: 2`). With `mntpSteps`, an MNTP phase (masked next-token
 * prediction, merged into the base) runs first.
 */
export async function prepareStage1(root: string, options: FixtureOptions = {}): Promise<StageFixture> {
  const steps = options.steps ?? 6;
  const checkpointEvery = options.checkpointEvery ?? 1;
  const seed = options.seed ?? 0;
  await initBackend({ backend: 'cpu', log: () => {} });
  const dataDir = join(root, 'data');
  await writeSyntheticDataset(dataDir, { seed, trainSamples: 12, testSamples: 4, imageSize: 16, samplesPerShard: 6 });
  const modelDir = join(root, 'llm');
  await writeTinyLlm(dataDir, modelDir, seed);
  const config = {
    model: modelDir,
    output: join(root, 'unused-output'),
    data: { train: { synthetic: dataDir, split: 'train' } },
    train: {
      steps,
      batchSize: 4,
      maxLength: 32,
      lr: 1e-3,
      warmupSteps: 2,
      seed,
      checkpointEvery,
      keepCheckpoints: 2,
      swapProbability: 0.5,
      lora: { r: 2, alpha: 4, dropout: 0.1 },
    },
    ...(options.mntpSteps !== undefined && options.mntpSteps > 0
      ? { mntp: { steps: options.mntpSteps, batchSize: 4, maxLength: 32, lr: 1e-3, maskToken: '<mask>', seed, lora: { r: 2, alpha: 4, dropout: 0.1 } } }
      : {}),
  };
  const configPath = join(root, 'stage1.json');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return {
    stage: 1,
    steps,
    checkpointEvery,
    args: (runDir, resume) => ['llm', 'finetune', '--config', configPath, '--output', runDir, '--backend', 'cpu', ...(resume ? ['--resume'] : [])],
    checkpointsDir: (runDir) => join(runDir, 'checkpoints'),
    exportDirs: (runDir) => [join(runDir, 'adapter'), ...(options.mntpSteps !== undefined && options.mntpSteps > 0 ? [join(runDir, 'mntp', 'adapter')] : [])],
    // `steps 4 → 6 of 6`
    startStep: (stdout) => {
      const match = /steps (\d+) → \d+ of \d+/.exec(stdout);
      return match === null ? undefined : Number(match[1]);
    },
    phases: ['stage1', ...(options.mntpSteps !== undefined && options.mntpSteps > 0 ? ['mntp'] : [])],
  };
}

/**
 * Writes the inputs of a stage-2 run under `root`: a synthetic dataset (8 training images of
 * 16×16), a tiny Llama, the caption-embedding cache made by the real `llm2clip embed` and
 * `embed merge` commands, and a run config with a fresh tiny ViT, the LLM2CLIP adapter, gradient
 * caching (micro-batches of 2), image augmentation (RNG), several epochs (cursor), layer-wise lr
 * decay, the learned logit scale and pruning of old checkpoints.
 */
export async function prepareStage2(root: string, options: FixtureOptions = {}): Promise<StageFixture> {
  const steps = options.steps ?? 6;
  const checkpointEvery = options.checkpointEvery ?? 1;
  const seed = options.seed ?? 0;
  await initBackend({ backend: 'cpu', log: () => {} });
  const dataDir = join(root, 'data');
  const info = await writeSyntheticDataset(dataDir, { seed, trainSamples: 8, testSamples: 4, imageSize: 16, samplesPerShard: 4 });
  const shards = info.splits.train.shards.map((file) => join(dataDir, info.splits.train.dir, file));
  const modelDir = join(root, 'llm');
  await writeTinyLlm(dataDir, modelDir, seed);
  const cacheDir = join(root, 'cache');
  for (const args of [
    ['embed', '--model', modelDir, '--shards', ...shards, '--out', cacheDir, '--backend', 'cpu', '--max-length', '64'],
    ['embed', 'merge', cacheDir],
  ]) {
    const result = await runCliChild(args, { cwd: root });
    if (result.code !== 0) throw new Error(`llm2clip ${args.slice(0, 2).join(' ')} failed (exit ${String(result.code)}):\n${result.stderr}`);
  }
  await mkdir(join(root, 'configs'), { recursive: true });
  const config = {
    data: { shards, cache: cacheDir },
    vision: { config: VISION },
    adapter: { blocks: 1, expansion: 2 },
    outDir: join(root, 'unused-output'),
    seed,
    steps,
    batchSize: 4,
    microBatchSize: 2,
    lr: 1e-3,
    warmupSteps: 2,
    augment: true,
    checkpointEvery,
    keepCheckpoints: 2,
  };
  const configPath = join(root, 'configs', 'stage2.json');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return {
    stage: 2,
    steps,
    checkpointEvery,
    args: (runDir, resume) => ['clip', 'train', '--config', configPath, '--out-dir', runDir, '--backend', 'cpu', ...(resume ? ['--resume'] : [])],
    checkpointsDir: (runDir) => join(runDir, 'checkpoints'),
    exportDirs: (runDir) => [join(runDir, 'model')],
    // `trained 6/6 steps (resumed from 4), …`
    startStep: (stdout) => {
      if (!/trained \d+\/\d+ steps/.test(stdout)) return undefined;
      const match = /\(resumed from (\d+)\)/.exec(stdout);
      return match === null ? 0 : Number(match[1]);
    },
    phases: ['stage2'],
  };
}

/** Prepares `stage` under `root` ({@link prepareStage1} or {@link prepareStage2}). */
export function prepareStage(stage: Stage, root: string, options: FixtureOptions = {}): Promise<StageFixture> {
  return stage === 1 ? prepareStage1(root, options) : prepareStage2(root, options);
}
