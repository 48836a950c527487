import { z } from 'zod';
import { Llm2ClipError } from '@llm2clip/core';
import { DEFAULT_LOGIT_SCALE } from './pretrained-logit-scale.js';
import type { TrainClipOptions } from './trainer.js';

/** `format` of a stage-2 run config file. */
export const CLIP_TRAIN_CONFIG_FORMAT = 'llm2clip.clip-train-config';
/** Current version of the stage-2 run config. */
export const CLIP_TRAIN_CONFIG_VERSION = 1;

const shardList = z.union([z.string(), z.array(z.string()).min(1)]);

const dataFields = z.object({
  /** Tar shards: `data/train-{000000..000099}.tar` or a list. */
  shards: shardList.optional(),
  /** A webdataset shard index (`{ "shardlist": [{ "url", "nsamples" }] }`), instead of `shards`. */
  shardIndex: z.string().optional(),
  /** Embedding cache directory of these samples (`llm2clip embed` + `embed merge`). */
  cache: z.string(),
});
const oneSource = (d: { shards?: unknown; shardIndex?: unknown }): boolean => (d.shards === undefined) !== (d.shardIndex === undefined);

/** Where samples come from: webdataset tars (a path, a brace pattern or a list) or a `wids` shard index, and their embedding cache. */
export const ClipDataConfig = dataFields.strict().refine(oneSource, { message: 'give exactly one of shards or shardIndex' });

/** Held-out data for periodic retrieval evaluation: {@link ClipDataConfig} plus `every` (steps) and recall `ks`. */
export const ClipEvalConfig = dataFields
  .extend({ every: z.number().int().positive(), ks: z.array(z.number().int().positive()).optional() })
  .strict()
  .refine(oneSource, { message: 'give exactly one of shards or shardIndex' });

/**
 * A stage-2 run (`llm2clip clip train --config run.json`): data, the vision tower, the adapter and
 * every hyper-parameter of {@link trainClip}. Defaults are LLM2CLIP's; CLI flags override fields.
 */
export const ClipTrainConfig = z
  .object({
    format: z.literal(CLIP_TRAIN_CONFIG_FORMAT).default(CLIP_TRAIN_CONFIG_FORMAT),
    version: z.literal(CLIP_TRAIN_CONFIG_VERSION).default(CLIP_TRAIN_CONFIG_VERSION),
    /** Training data and its embedding cache. */
    data: ClipDataConfig,
    /** Held-out data for periodic retrieval evaluation (through `@llm2clip/eval`). */
    eval: ClipEvalConfig.optional(),
    /** The vision tower: a pretrained CLIP or EVA02 directory (Hugging Face, open_clip or timm layout), or a CLIP ViT config for a fresh one. */
    vision: z
      .object({
        pretrained: z.string().optional(),
        config: z.record(z.string(), z.unknown()).optional(),
      })
      .strict()
      .refine((v) => (v.pretrained === undefined) !== (v.config === undefined), { message: 'give exactly one of pretrained or config' }),
    /** The adapter: a fresh one of this shape, or `resume` from a saved adapter directory. */
    adapter: z
      .object({ blocks: z.number().int().nonnegative().default(4), expansion: z.number().int().positive().default(2), projBias: z.boolean().default(true), from: z.string().optional() })
      .strict()
      .default({ blocks: 4, expansion: 2, projBias: true }),
    /** Required teacher fingerprint of the cache (refused otherwise). */
    teacherFingerprint: z.string().optional(),
    /** Run directory: checkpoints, `metrics.jsonl`, the exported `model/`. */
    outDir: z.string(),
    seed: z.number().int().default(0),
    steps: z.number().int().positive().optional(),
    epochs: z.number().int().positive().default(1),
    batchSize: z.number().int().min(2).default(64),
    /** Micro-batch for exact large batches (gradient caching). [batchSize] */
    microBatchSize: z.number().int().positive().optional(),
    lr: z.number().positive().default(5e-4),
    minLr: z.number().nonnegative().default(0),
    warmupSteps: z.number().int().nonnegative().optional(),
    weightDecay: z.number().nonnegative().default(0.05),
    betas: z.tuple([z.number(), z.number()]).default([0.9, 0.98]),
    eps: z.number().positive().default(1e-6),
    gradClip: z.number().positive().default(5),
    /** Layer-wise lr decay over the vision blocks; `null` turns it off. */
    layerDecay: z.number().positive().max(1).nullable().default(0.85),
    /** `pretrained`: the CLIP checkpoint's `logit_scale` (else ln(1/0.07)); or a number. */
    logitScaleInit: z.union([z.literal('pretrained'), z.number()]).default('pretrained'),
    maxLogitScale: z.number().positive().default(Math.log(100)),
    projectionDim: z.number().int().positive().optional(),
    augment: z.boolean().default(false),
    cacheImages: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    lockImage: z.union([z.boolean(), z.object({ unlockedGroups: z.number().int().nonnegative(), freezeNorms: z.boolean().optional() }).strict()]).default(false),
    lockText: z.boolean().default(false),
    checkpointEvery: z.number().int().positive().optional(),
    keepCheckpoints: z.number().int().positive().optional(),
    resume: z.boolean().default(false),
    logEvery: z.number().int().positive().default(1),
  })
  .strict();
/** A parsed {@link ClipTrainConfig}. */
export type ClipTrainConfig = z.infer<typeof ClipTrainConfig>;
/** What a config file may contain (defaults not yet applied). */
export type ClipTrainConfigInput = z.input<typeof ClipTrainConfig>;

/** Validates a stage-2 run config; `E_CONFIG` names the first bad field (and the file, if given). */
export function parseClipTrainConfig(value: unknown, path?: string): ClipTrainConfig {
  const result = ClipTrainConfig.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.join('.') || undefined;
    throw new Llm2ClipError('E_CONFIG', `invalid stage-2 config${field !== undefined ? ` at ${field}` : ''}: ${issue.message}`, { path, field });
  }
  return result.data;
}

/**
 * The hyper-parameter part of {@link TrainClipOptions} for a parsed config; the caller adds the
 * objects it opened (`source`, `vision`, `text`, `evaluate`). `pretrainedLogitScale` is the
 * checkpoint's value for `logitScaleInit: 'pretrained'`.
 */
export function trainOptionsFromConfig(config: ClipTrainConfig, pretrainedLogitScale?: number): Omit<TrainClipOptions, 'source' | 'vision' | 'text'> {
  return {
    seed: config.seed,
    steps: config.steps,
    epochs: config.epochs,
    batchSize: config.batchSize,
    microBatchSize: config.microBatchSize,
    lr: config.lr,
    minLr: config.minLr,
    warmupSteps: config.warmupSteps,
    weightDecay: config.weightDecay,
    betas: config.betas,
    eps: config.eps,
    gradClip: config.gradClip,
    layerDecay: config.layerDecay ?? undefined,
    logitScaleInit: config.logitScaleInit === 'pretrained' ? (pretrainedLogitScale ?? DEFAULT_LOGIT_SCALE) : config.logitScaleInit,
    maxLogitScale: config.maxLogitScale,
    projectionDim: config.projectionDim,
    augment: config.augment,
    cacheImages: config.cacheImages,
    lockImage: config.lockImage === false ? undefined : config.lockImage,
    lockText: config.lockText,
    outDir: config.outDir,
    checkpointEvery: config.checkpointEvery,
    keepCheckpoints: config.keepCheckpoints,
    resume: config.resume,
    logEvery: config.logEvery,
    evalEvery: config.eval?.every,
  };
}
