import { Command, InvalidArgumentError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { Llm2ClipError, Rng, silentProgress, type ProgressCallback, type Sample } from '@llm2clip/core';
import { WebDatasetSource, openWebDataset } from '@llm2clip/data';
import { evaluateRetrieval } from '@llm2clip/eval';
import { barrier, finalizeDistributed, initDistributed } from '@llm2clip/distributed';
import { BACKEND_PREFERENCE, initBackend, type BackendName } from '@llm2clip/tensor';
import { ClipVisionModel, loadVisionTower, type ClipVisionConfigInput, type Eva02VisionModel } from '@llm2clip/vision';
import {
  CachedTeacherEmbedder,
  EmbeddingCache,
  TextAdapter,
  parseClipTrainConfig,
  readPretrainedLogitScale,
  trainClip,
  trainOptionsFromConfig,
  type ClipTrainConfig,
  type TrainClipResult,
} from '@llm2clip/clip-trainer';
import { createProgressRenderer } from '../progress-renderer.js';
import { resolveShardPaths } from './embed-sources.js';

async function openSource(data: { shards?: string | string[]; shardIndex?: string }): Promise<WebDatasetSource> {
  if (data.shardIndex !== undefined) return WebDatasetSource.fromShardIndex(data.shardIndex);
  const shards = typeof data.shards === 'string' ? [data.shards] : (data.shards ?? []);
  // sample counts from a shard-manifest.json / sizes.json when the dataset has one (never written here)
  return openWebDataset(await resolveShardPaths(shards, undefined), { countIfMissing: false });
}

async function collect(source: WebDatasetSource): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const sample of source.samples()) out.push(sample);
  return out;
}

/** What {@link runClipTrain} returns: the training result and where the model was exported. */
export interface ClipTrainRun {
  result: TrainClipResult;
  /** `<outDir>/model` (written by rank 0 only in a data-parallel run). */
  modelDir: string;
}

/**
 * Runs a parsed stage-2 config end to end: opens the data, the caches, the vision tower (with the
 * pretrained logit scale) and the adapter, trains with periodic retrieval evaluation on the held-out
 * split (text side replayed from its embedding cache), and exports the model to `<outDir>/model`.
 * The caller disposes `result.model`.
 *
 * Under `mpirun` / `srun` it runs data-parallel (`initDistributed()`; `batchSize` stays the global
 * batch): rank 0 evaluates, reports progress, writes checkpoints and exports the model, and every
 * rank returns once the export is on disk.
 */
export async function runClipTrain(config: ClipTrainConfig, onProgress: ProgressCallback): Promise<ClipTrainRun> {
  const group = initDistributed();
  const cache = await EmbeddingCache.open(config.data.cache);
  const source = await openSource(config.data);
  let vision: ClipVisionModel | Eva02VisionModel;
  let pretrainedLogitScale: number | undefined;
  if (config.vision.pretrained !== undefined) {
    vision = await loadVisionTower(config.vision.pretrained);
    pretrainedLogitScale = await readPretrainedLogitScale(config.vision.pretrained);
  } else {
    vision = ClipVisionModel.create(config.vision.config as ClipVisionConfigInput, new Rng(config.seed).fork(3));
  }
  const outputDim = config.projectionDim ?? vision.config.projection_dim;
  const adapter =
    config.adapter.from !== undefined
      ? await TextAdapter.load(config.adapter.from)
      : TextAdapter.create({ inputDim: cache.dim, outputDim, numBlocks: config.adapter.blocks, expansion: config.adapter.expansion, projBias: config.adapter.projBias }, new Rng(config.seed).fork(4));

  let evaluate: Parameters<typeof trainClip>[0]['evaluate'];
  if (config.eval !== undefined && group.isRoot) {
    const evalCache = await EmbeddingCache.open(config.eval.cache, { embedderFingerprint: cache.manifest.embedder.fingerprint });
    const evalSamples = await collect(await openSource(config.eval));
    const teacher = new CachedTeacherEmbedder(evalCache, evalSamples);
    const ks = config.eval.ks;
    evaluate = async (model) => {
      const { metrics } = await evaluateRetrieval({ textEmbedder: model.textEmbedder(teacher), imageEmbedder: model.imageEmbedder(), samples: evalSamples, ks });
      const values: Record<string, number> = {};
      for (const direction of ['i2t', 't2i'] as const) {
        for (const k of metrics.ks) values[`${direction}_r${k}`] = metrics[direction][`r${k}`];
        values[`${direction}_mean_rank`] = metrics[direction].meanRank;
      }
      return values;
    };
  }

  const trainOptions = trainOptionsFromConfig(config, pretrainedLogitScale);
  const result = await trainClip({
    ...trainOptions,
    source,
    vision,
    text: { kind: 'llm2clip', cache, adapter, teacherFingerprint: config.teacherFingerprint },
    evaluate,
    evalEvery: evaluate !== undefined ? trainOptions.evalEvery : undefined,
    onProgress: group.isRoot ? onProgress : silentProgress,
    processGroup: group,
  });
  const modelDir = join(config.outDir, 'model');
  if (group.isRoot) await result.model.save(modelDir);
  if (group.worldSize > 1) await barrier();
  return { result, modelDir };
}

function number(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return parsed;
}

/** Flags of `clip train` that override config fields (undefined: keep the file's value). */
interface ClipTrainFlags {
  config: string;
  outDir?: string;
  steps?: number;
  batchSize?: number;
  microBatchSize?: number;
  lr?: number;
  seed?: number;
  checkpointEvery?: number;
  resume?: boolean;
  cache?: string;
  backend?: BackendName;
}

/** Reads a config file and applies the CLI overrides, then validates it. */
export async function loadClipTrainConfig(path: string, overrides: Omit<ClipTrainFlags, 'config' | 'backend'> = {}): Promise<ClipTrainConfig> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new Llm2ClipError('E_CONFIG', 'cannot read the config file as JSON', { path, cause });
  }
  const { cache, ...flat } = overrides;
  for (const [field, value] of Object.entries(flat)) if (value !== undefined) raw[field] = value;
  if (cache !== undefined) raw.data = { ...(raw.data as object), cache };
  return parseClipTrainConfig(raw, path);
}

/**
 * Compute threads for one of `ranksOnNode` ranks on this node: the CPUs this process may use when
 * the launcher bound it to a subset (`srun --cpu-bind`, `mpirun`'s default binding), else an equal
 * share of the node's CPUs (`mpirun --bind-to none`).
 */
export function threadsPerRank(ranksOnNode: number): number {
  const allowed = availableParallelism();
  const total = cpus().length;
  return allowed < total ? allowed : Math.max(1, Math.floor(total / Math.max(1, ranksOnNode)));
}

/** `llm2clip clip train --config run.json [overrides]`. */
export function registerClipCommand(program: Command): void {
  const clip = program.command('clip').description('Stage 2: CLIP post-training against cached LLM caption embeddings');
  clip
    .command('train')
    .description('Train the vision tower (fresh projection) and the LLM2CLIP adapter from a JSON config (schema: ClipTrainConfig of @llm2clip/clip-trainer); flags override config fields. Exports <outDir>/model in the Hugging Face CLIP layout.')
    .requiredOption('--config <file>', 'run config (JSON)')
    .option('--out-dir <dir>', 'override outDir')
    .option('--steps <n>', 'override steps', number)
    .option('--batch-size <n>', 'override batchSize', number)
    .option('--micro-batch-size <n>', 'override microBatchSize (exact large batches)', number)
    .option('--lr <x>', 'override lr', number)
    .option('--seed <n>', 'override seed', number)
    .option('--checkpoint-every <n>', 'override checkpointEvery', number)
    .option('--resume', 'continue from the newest checkpoint in <outDir>/checkpoints')
    .option('--cache <dir>', 'override data.cache')
    .addOption(new Option('--backend <name>', 'tensor backend (default: fastest available)').choices([...BACKEND_PREFERENCE]))
    .action(async (flags: ClipTrainFlags) => {
      const { config: path, backend, ...overrides } = flags;
      const config = await loadClipTrainConfig(path, overrides);
      // under mpirun / srun: one process per rank, each with its share of this node's cores
      const group = initDistributed();
      const parallel = group.worldSize > 1;
      const threads = parallel ? threadsPerRank(group.localWorldSize) : undefined;
      await initBackend({
        backend,
        threads,
        kernelThreads: threads,
        log: (line) => group.isRoot && process.stderr.write(`${line}\n`),
      });
      if (parallel && group.isRoot) process.stderr.write(`data-parallel: ${group.worldSize} ranks (${group.launcher}), global batch ${config.batchSize}, ${config.batchSize / group.worldSize} per rank, ${threads} threads per rank\n`);
      const { result, modelDir } = await runClipTrain(config, group.isRoot ? createProgressRenderer() : silentProgress);
      result.model.dispose();
      if (parallel) await finalizeDistributed();
      if (!group.isRoot) return;
      const last = result.evaluations.at(-1);
      process.stdout.write(
        `trained ${result.steps}/${result.totalSteps} steps${result.resumedFrom !== undefined ? ` (resumed from ${result.resumedFrom})` : ''}, ${result.imagesPerSecond.toFixed(1)} images/s, final loss ${result.losses.at(-1)?.toFixed(4) ?? '-'}\n` +
          (last !== undefined ? `eval at step ${last.step}: ${JSON.stringify(last.values)}\n` : '') +
          `model: ${modelDir}\n`,
      );
    });
}
