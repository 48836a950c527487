import { access, copyFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { JsonlMetricsLogger, Llm2ClipError, writeJsonAtomic, type ProgressCallback, type TextEmbedder } from '@llm2clip/core';
import { openSyntheticSplit, WebDatasetSource } from '@llm2clip/data';
import { LlamaModel, LlmTokenizer, LoraAdapter } from '@llm2clip/llm';
import { writeEmbedderConfig } from './llm2vec-config.js';
import { trainMntp } from './mntp.js';
import type { CaptionedSample } from './pairs.js';
import { STAGE1_CONFIG_FORMAT, STAGE1_CONFIG_VERSION, type CaptionDataSchema, type Stage1RunConfig } from './run-config.js';
import { readTextPairsJsonl, type TextPairSource } from './text-pairs.js';
import { trainCaptionContrastive } from './trainer.js';
import { barrier, finalizeDistributed } from '@llm2clip/distributed';
import { dataParallelGroup, sumOverRanks, type DataParallelGroup } from './data-parallel.js';
import type { z } from 'zod';

/** Scores a text embedder on CRA caption pairs (e.g. `@llm2clip/eval`'s `evaluateCra`). */
export type CraEvaluator = (embedder: TextEmbedder, pairs: readonly (readonly [string, string])[]) => Promise<number | { cra: number }>;

/** Callbacks and switches of {@link runStage1}. */
export interface RunStage1Options {
  /** Continue from the newest checkpoint in the output directory (and reuse a finished MNTP adapter). */
  resume?: boolean;
  /** Progress of MNTP and stage-1 steps. */
  onProgress?: ProgressCallback;
  /** Receives plain log lines (data counts, outputs). Default: none. */
  log?: (line: string) => void;
  /** CRA on the held-out set; required when the config has `data.heldOut`. */
  evaluateCra?: CraEvaluator;
  /** Stop after the current step (a checkpoint is written). */
  signal?: AbortSignal;
  /** Called on every rank after each contrastive step (see `trainCaptionContrastive`'s `onStep`). */
  onStep?: (step: number, group: DataParallelGroup) => void | Promise<void>;
  /**
   * Leave the MPI process group when done (`finalizeDistributed`), as a program that ends after
   * the run must (the CLI sets it). Only under MPI; a world of one is left as it is. Default false.
   */
  finalizeDistributed?: boolean;
}

/** What {@link runStage1} returns. */
export interface Stage1RunResult {
  /** The PEFT adapter directory (when the run finished). */
  adapterDir?: string;
  /** The merged model directory (when `saveMerged` and finished). */
  mergedDir?: string;
  /** The MNTP adapter directory, when an MNTP phase ran or was reused. */
  mntpAdapterDir?: string;
  /** Steps done before this call (non-zero when resumed). */
  startStep: number;
  /** Steps done when this call returned (`train.steps` unless stopped). */
  endStep: number;
  /** Contrastive loss per step run in this call. */
  losses: number[];
  /** Training images used. */
  trainSamples: number;
  /** Training images skipped for having fewer than two captions. */
  skippedSamples: number;
  /** CRA scores (percent) by step, as logged (rank 0; empty on other ranks). */
  cra: { step: number; cra: number }[];
  /** Rank and world size of the run; only rank 0 logs and writes files. */
  group: DataParallelGroup;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the captions of a webdataset (or synthetic split) in file order: images are not decoded
 * or kept. Images with fewer than two captions are skipped and counted.
 */
export async function loadCaptionedSamples(
  data: z.output<typeof CaptionDataSchema>,
  limit = Number.POSITIVE_INFINITY,
): Promise<{ samples: CaptionedSample[]; skipped: number }> {
  const source =
    'synthetic' in data
      ? await openSyntheticSplit(data.synthetic, data.split)
      : new WebDatasetSource(data.webdataset, { captionsField: data.captionsField, captionKindsField: data.captionKindsField });
  const samples: CaptionedSample[] = [];
  let skipped = 0;
  for await (const sample of source.samples()) {
    if (sample.captions.length < 2) skipped += 1;
    else samples.push({ key: sample.key, captions: sample.captions, captionKinds: sample.captionKinds });
    if (samples.length >= limit) break;
  }
  if (samples.length === 0) throw new Llm2ClipError('E_DATA', `no image with two or more captions (${skipped} skipped)`, { path: source.name });
  return { samples, skipped };
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

/**
 * A whole stage-1 run from a {@link Stage1RunConfig} — what `llm2clip llm finetune` does:
 *
 * 1. loads the base model and tokenizer (Hugging Face directory), the training captions
 *    (webdataset), the held-out CRA pairs (first two captions of each image) and text-pair files;
 * 2. optionally runs MNTP ({@link trainMntp}), writes its adapter to `output/mntp/adapter` and
 *    merges it into the base (a resumed run reloads and merges that adapter instead);
 * 3. runs {@link trainCaptionContrastive} with checkpoints under `output/checkpoints`,
 *    `output/metrics.jsonl`, CRA before training, every `cra.every` steps and at the end;
 * 4. writes `output/adapter` (PEFT + `llm2vec_config.json` + `llm2clip_embedder.json`) and, with
 *    `saveMerged`, `output/merged` (the base with the adapter folded in, Hugging Face layout, with
 *    the tokenizer files and the embedder configs).
 *
 * The resolved config is written to `output/run-config.json`.
 *
 * Under an MPI launcher every rank calls it with the same config (data-parallel; see
 * `trainCaptionContrastive`): every rank reads the data, the model and, on resume, the checkpoint
 * (the output directory must be visible to every rank); only rank 0 logs and writes files.
 */
export async function runStage1(config: Stage1RunConfig, options: RunStage1Options = {}): Promise<Stage1RunResult> {
  const group = dataParallelGroup();
  const distributed = group.worldSize > 1;
  const log = group.isRoot ? (options.log ?? (() => {})) : () => {};
  const result = await runStage1InGroup(config, options, group, log);
  // only after success: a failing rank must not wait in MPI_Finalize's barrier (it exits, and
  // @llm2clip/distributed's exit handler aborts the job)
  if (distributed && options.finalizeDistributed === true) await finalizeDistributed();
  return result;
}

async function runStage1InGroup(config: Stage1RunConfig, options: RunStage1Options, group: DataParallelGroup, log: (line: string) => void): Promise<Stage1RunResult> {
  const resume = options.resume ?? false;
  const distributed = group.worldSize > 1;
  if (config.data.heldOut !== undefined && options.evaluateCra === undefined) {
    throw new Llm2ClipError('E_CONFIG', 'data.heldOut is set but no CRA evaluator was given', { field: 'data.heldOut' });
  }
  if (group.isRoot) await writeJsonAtomic(join(config.output, 'run-config.json'), { ...config, format: STAGE1_CONFIG_FORMAT, version: STAGE1_CONFIG_VERSION });

  const train = await loadCaptionedSamples(config.data.train, config.data.maxTrainSamples);
  log(`stage 1: ${train.samples.length} training images (${train.skipped} skipped: fewer than two captions)`);
  const textPairs: TextPairSource[] = [];
  for (const file of config.data.textPairs) {
    const read = await readTextPairsJsonl(file.path);
    textPairs.push({ name: file.name ?? basename(file.path), pairs: read.pairs, instruction: file.instruction });
    log(`stage 1: ${read.pairs.length} text pairs from ${file.path} (${read.skipped} bad rows skipped)`);
  }
  let craPairs: [string, string][] | undefined;
  if (config.data.heldOut !== undefined) {
    const heldOut = await loadCaptionedSamples(config.data.heldOut, config.data.maxHeldOutSamples);
    craPairs = heldOut.samples.map((s) => [s.captions[0], s.captions[1]]);
    log(`stage 1: CRA on ${craPairs.length} held-out images (caption 1 → caption 2 and back)`);
  }

  const [model, tokenizer] = await Promise.all([LlamaModel.fromPretrained(config.model), LlmTokenizer.fromDirectory(config.model)]);
  let disposed = false;
  try {
    let mntpAdapterDir: string | undefined;
    if (config.mntp !== undefined) {
      mntpAdapterDir = join(config.output, 'mntp', 'adapter');
      let reuse = resume && (await exists(join(mntpAdapterDir, 'adapter_config.json')));
      if (distributed) {
        const [ranksWithAdapter] = await sumOverRanks([reuse ? 1 : 0]);
        if (ranksWithAdapter !== 0 && ranksWithAdapter !== group.worldSize) {
          throw new Llm2ClipError('E_MISMATCH', `${ranksWithAdapter} of ${group.worldSize} ranks see the MNTP adapter: every rank must see the output directory (a shared file system)`, {
            path: mntpAdapterDir,
          });
        }
        reuse = ranksWithAdapter > 0;
      }
      if (reuse) {
        (await LoraAdapter.loadAdapter(model, mntpAdapterDir)).merge();
        log(`stage 1: reused the MNTP adapter ${mntpAdapterDir} (merged)`);
      } else {
        const texts = train.samples.flatMap((s) => s.captions);
        await trainMntp({
          ...config.mntp,
          model,
          tokenizer,
          texts,
          adapterDir: mntpAdapterDir,
          baseModelNameOrPath: config.model,
          merge: true,
          onProgress: options.onProgress,
          metrics: group.isRoot ? new JsonlMetricsLogger(join(config.output, 'metrics.jsonl')) : undefined,
          group,
        });
        log(`stage 1: MNTP done; adapter ${mntpAdapterDir} merged into the base`);
      }
    }
    const cra: { step: number; cra: number }[] = [];
    const metrics = group.isRoot ? new JsonlMetricsLogger(join(config.output, 'metrics.jsonl')) : undefined;
    const { directionInstructions, ...trainConfig } = config.train;
    const evaluateCra = options.evaluateCra;
    const result = await trainCaptionContrastive({
      ...trainConfig,
      directionInstructions: directionInstructions ?? undefined,
      baseModelNameOrPath: trainConfig.baseModelNameOrPath !== '' ? trainConfig.baseModelNameOrPath : config.model,
      model,
      tokenizer,
      samples: train.samples,
      textPairs,
      runDir: config.output,
      resume,
      signal: options.signal,
      onProgress: options.onProgress,
      onStep: options.onStep,
      group,
      metrics,
      mntpMerged: config.mntp !== undefined,
      craEval:
        craPairs !== undefined && evaluateCra !== undefined
          ? {
              every: config.cra.every,
              before: true,
              evaluate: async (embedder, step) => {
                const score = await evaluateCra(embedder, craPairs);
                const value = typeof score === 'number' ? score : score.cra;
                cra.push({ step, cra: value });
                log(`stage 1: CRA ${value.toFixed(2)} at step ${step}`);
                return value;
              },
            }
          : undefined,
    });
    let mergedDir: string | undefined;
    if (config.saveMerged && result.adapterDir !== undefined) {
      mergedDir = join(config.output, 'merged');
      result.lora.merge();
      if (group.isRoot) await writeMerged(mergedDir);
      if (distributed) await barrier();
      log(`stage 1: merged model written to ${mergedDir}`);
    }
    async function writeMerged(mergedDir: string): Promise<void> {
      await model.save(mergedDir);
      for (const file of TOKENIZER_FILES) if (await exists(join(config.model, file))) await copyFile(join(config.model, file), join(mergedDir, file));
      await writeEmbedderConfig(mergedDir, {
        pooling: config.train.pooling,
        maxLength: config.train.maxLength,
        bidirectional: true,
        instruction: config.train.instruction ?? null,
        directionInstructions: directionInstructions ?? null,
        baseModelNameOrPath: config.model,
        mntpMerged: config.mntp !== undefined,
      });
    }
    if (!result.lora.isMerged) result.lora.dispose();
    result.embedder.dispose();
    disposed = true;
    if (result.adapterDir !== undefined) log(`stage 1: adapter written to ${result.adapterDir}`);
    return {
      adapterDir: result.adapterDir,
      mergedDir,
      mntpAdapterDir,
      startStep: result.startStep,
      endStep: result.endStep,
      losses: result.losses,
      trainSamples: train.samples.length,
      skippedSamples: train.skipped,
      cra,
      group,
    };
  } finally {
    if (!disposed) model.dispose();
  }
}
