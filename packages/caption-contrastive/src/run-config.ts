import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Llm2ClipError } from '@llm2clip/core';
import { MntpConfigSchema } from './mntp.js';
import { CaptionContrastiveConfigSchema, LLM2CLIP_CAPTION_INSTRUCTIONS } from './trainer.js';

/** `format` of a stage-1 run config file (optional in the file; checked when present). */
export const STAGE1_CONFIG_FORMAT = 'llm2clip.stage1-config';
/** `version` of the stage-1 run config schema. */
export const STAGE1_CONFIG_VERSION = 1;

/** Where captioned images come from: webdataset shards, or a split of a synthetic dataset. */
export const CaptionDataSchema = z.union([
  z.object({
    /** Shard path, brace pattern (`shard-{000000..000009}.tar`) or list of paths. */
    webdataset: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** JSON field holding the captions (default `captions`). */
    captionsField: z.string().optional(),
    /** JSON field holding the caption kinds (`short` / `long`; default `caption_kinds`). */
    captionKindsField: z.string().optional(),
  }),
  z.object({
    /** Directory of a dataset written by `@llm2clip/data`'s `writeSyntheticDataset`. */
    synthetic: z.string().min(1),
    /** Which split. */
    split: z.enum(['train', 'test']),
  }),
]);

/** A JSONL text-pair file mixed into training. */
export const TextPairFileSchema = z.object({
  /** Path of the JSONL file (`query`, `positive`, `negative` per line). */
  path: z.string().min(1),
  /** Name in metrics. Default: the file name. */
  name: z.string().min(1).optional(),
  /** Instruction before this source's queries. */
  instruction: z.string().optional(),
});

/**
 * A stage-1 run as a JSON or YAML file (what `llm2clip llm finetune --config` reads). Defaults
 * follow LLM2CLIP's released configuration (`train_configs/supervised/MetaLlama3_cc3m.json`):
 * LoRA r 16 / α 32 / dropout 0.05 on the seven Linear modules, lr 2e-4, 300 warm-up steps with
 * linear decay, scale 50, mean pooling over caption tokens, bidirectional attention, and its two
 * direction instructions for short↔long caption pairs.
 */
export const Stage1RunConfigSchema = z.object({
  /** Must be `llm2clip.stage1-config` when given. */
  format: z.literal(STAGE1_CONFIG_FORMAT).optional(),
  /** Must be 1 when given. */
  version: z.literal(STAGE1_CONFIG_VERSION).optional(),
  /** Base model directory in Hugging Face layout (`config.json`, safetensors, `tokenizer.json`). */
  model: z.string().min(1),
  /** Run directory: checkpoints, `metrics.jsonl`, `adapter/`, optional `merged/`. */
  output: z.string().min(1),
  /** Training captions, held-out CRA captions and optional text pairs. */
  data: z.object({
    /** Training images with at least two captions each. */
    train: CaptionDataSchema,
    /** Use at most this many training images (first in file order). */
    maxTrainSamples: z.number().int().positive().optional(),
    /** Held-out images for CRA (first two captions of each). */
    heldOut: CaptionDataSchema.optional(),
    /** Use at most this many held-out images. Default 1000. */
    maxHeldOutSamples: z.number().int().positive().default(1000),
    /** Text-pair files mixed in, each batched on its own. */
    textPairs: z.array(TextPairFileSchema).default([]),
  }),
  /** Optional MNTP phase before the contrastive phase (its adapter is merged into the base). */
  mntp: MntpConfigSchema.optional(),
  /** The contrastive phase (see `trainCaptionContrastive`). */
  train: CaptionContrastiveConfigSchema.extend({
    directionInstructions: z
      .object({ shortToLong: z.string().min(1), longToShort: z.string().min(1) })
      .nullable()
      .default({ ...LLM2CLIP_CAPTION_INSTRUCTIONS }),
  }),
  /** CRA on `data.heldOut` (skipped without it). */
  cra: z
    .object({
      /** Evaluate CRA every this many steps (and before the first and after the last). Default 100. */
      every: z.number().int().positive().default(100),
      /** Captions per embedding batch. Default 64. */
      batchSize: z.number().int().positive().default(64),
    })
    .default({ every: 100, batchSize: 64 }),
  /** Also write the base model with the adapter merged, in Hugging Face layout, to `output/merged`. Default false. */
  saveMerged: z.boolean().default(false),
});

/** A stage-1 run config as written in a file. */
export type Stage1RunConfigInput = z.input<typeof Stage1RunConfigSchema>;
/** A validated stage-1 run config with defaults applied. */
export type Stage1RunConfig = z.output<typeof Stage1RunConfigSchema>;

/**
 * Sets `value` at a dotted `path` (`train.lora.r`) of a plain object, creating objects on the
 * way; returns a new object (the input is not changed). The CLI applies its flags this way.
 */
export function setConfigField(config: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  if (keys.some((key) => key === '' || key === '__proto__' || key === 'constructor' || key === 'prototype')) {
    throw new Llm2ClipError('E_CONFIG', `invalid config field path ${JSON.stringify(path)}`, { field: path });
  }
  const [head, ...rest] = keys;
  const current = config[head];
  if (rest.length === 0) return { ...config, [head]: value };
  const child = typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as Record<string, unknown>) : {};
  return { ...config, [head]: setConfigField(child, rest.join('.'), value) };
}

/**
 * Validates a stage-1 run config. Paths (model, output, data) that are relative are resolved
 * against `baseDir` (the config file's directory).
 *
 * @throws Llm2ClipError `E_CONFIG` naming the first invalid field.
 */
export function parseStage1RunConfig(raw: unknown, options: { baseDir?: string; path?: string } = {}): Stage1RunConfig {
  const parsed = Stage1RunConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Llm2ClipError('E_CONFIG', `invalid stage-1 config: ${issue.message}`, { path: options.path, field: issue.path.map(String).join('.') });
  }
  const config = parsed.data;
  const baseDir = options.baseDir ?? process.cwd();
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const data = (source: z.output<typeof CaptionDataSchema>): z.output<typeof CaptionDataSchema> =>
    'synthetic' in source
      ? { ...source, synthetic: at(source.synthetic) }
      : { ...source, webdataset: typeof source.webdataset === 'string' ? at(source.webdataset) : source.webdataset.map(at) };
  return {
    ...config,
    model: at(config.model),
    output: at(config.output),
    data: {
      ...config.data,
      train: data(config.data.train),
      heldOut: config.data.heldOut !== undefined ? data(config.data.heldOut) : undefined,
      textPairs: config.data.textPairs.map((file) => ({ ...file, path: at(file.path) })),
    },
  };
}

/**
 * Reads a stage-1 run config from a `.json`, `.yaml` or `.yml` file, applies `overrides`
 * (dotted field path → value, e.g. from command-line flags) and validates it
 * ({@link parseStage1RunConfig}); relative paths are resolved against the file's directory.
 *
 * @throws Llm2ClipError `E_IO` when unreadable, `E_FORMAT` when not JSON/YAML, `E_CONFIG` when invalid.
 */
export async function loadStage1RunConfig(path: string, overrides: Readonly<Record<string, unknown>> = {}): Promise<Stage1RunConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new Llm2ClipError('E_IO', `cannot read the config file: ${(cause as Error).message}`, { path, cause });
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', `config file is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(cause as Error).message}`, { path, cause });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Llm2ClipError('E_FORMAT', 'config file must hold an object', { path });
  let merged = raw as Record<string, unknown>;
  for (const [field, value] of Object.entries(overrides)) if (value !== undefined) merged = setConfigField(merged, field, value);
  return parseStage1RunConfig(merged, { baseDir: dirname(resolve(path)), path });
}
