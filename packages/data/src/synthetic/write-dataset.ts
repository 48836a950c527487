import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError, Rng, fingerprint, writeJsonAtomic, type ProgressCallback } from '@llm2clip/core';
import { encodePng } from '../image-codec.js';
import { writeTarAtomic, type TarEntry } from '../tar.js';
import { buildTokenizerConfigJson, buildWordLevelTokenizerJson } from '../tokenizer-json.js';
import { WebDatasetSource, type WebDatasetOptions } from '../webdataset-source.js';
import { analyseLongCaption, summariseLongCaptions, type LongCaptionAnalysis, type LongCaptionStatistics } from './caption-statistics.js';
import { CAPTION_KINDS, sampleCaptions } from './captions.js';
import { DEFAULT_IMAGE_SIZE, renderScene } from './render.js';
import { generateScene, sceneSignature, type Scene, type SceneOptions } from './scene.js';
import { captionVocabulary } from './vocabulary.js';

/** `format` of `dataset.json`. */
export const SYNTHETIC_DATASET_FORMAT = 'llm2clip.synthetic-dataset';
/** `version` of `dataset.json`. */
export const SYNTHETIC_DATASET_VERSION = 1;
/**
 * Version of the generator's output (scenes, captions, rendering). Part of the settings
 * fingerprint, so a dataset written by an older generator is regenerated, not reused.
 */
export const SYNTHETIC_GENERATOR_VERSION = 1;

/** The two splits of the synthetic dataset. */
export type SyntheticSplit = 'train' | 'test';

/** Options of {@link writeSyntheticDataset}. */
export interface SyntheticDatasetOptions {
  /** Seed of everything drawn; train and test use disjoint streams derived from it. */
  seed: number;
  /** Number of training samples. */
  trainSamples: number;
  /** Number of test samples. */
  testSamples: number;
  /** Image side in pixels (default 64). */
  imageSize?: number;
  /** Samples per tar shard (default 512). */
  samplesPerShard?: number;
  /** Scene generator options (object counts, jitter). */
  sceneOptions?: SceneOptions;
  /** Anti-alias shape edges (default true). */
  antialias?: boolean;
  /** Images rendered and PNG-encoded at once (default 8). */
  concurrency?: number;
  /** Replace an existing dataset written with other settings instead of throwing `E_MISMATCH` (default false). */
  overwrite?: boolean;
  /** Progress after each shard (`task: 'synthetic-data'`, `unit: 'sample'`). */
  onProgress?: ProgressCallback;
}

/** One split in `dataset.json`. */
export interface SyntheticSplitInfo {
  /** Directory of the split, relative to the dataset directory. */
  dir: string;
  /** Shard file names inside `dir`, in order. */
  shards: string[];
  /** Samples per shard, aligned with `shards`. */
  shardSamples: number[];
  /** Samples in the split. */
  samples: number;
  /** Statistics of the split's first long caption per sample against CLIP's 77-token window. */
  longCaptions: LongCaptionStatistics;
}

/** Contents of `dataset.json`. */
export interface SyntheticDatasetManifest {
  format: typeof SYNTHETIC_DATASET_FORMAT;
  version: number;
  generatorVersion: number;
  /** Hash of the settings below; equal settings reuse the dataset. */
  fingerprint: string;
  seed: number;
  imageSize: number;
  samplesPerShard: number;
  antialias: boolean;
  sceneOptions: SceneOptions;
  /** Kinds of each sample's captions, in order. */
  captionKinds: string[];
  /** Tokenizer files, relative to the dataset directory. */
  tokenizer: { file: string; config: string; vocabularySize: number };
  splits: Record<SyntheticSplit, SyntheticSplitInfo>;
  createdAt: string;
}

/** What {@link writeSyntheticDataset} returns: the manifest, where it lives, and whether it was reused. */
export interface SyntheticDatasetInfo extends SyntheticDatasetManifest {
  /** The dataset directory. */
  outDir: string;
  /** True when an existing dataset with the same settings was found and nothing was written. */
  reused: boolean;
}

interface Progress {
  fingerprint: string;
  /** Completed shard path (relative) → its size in bytes. */
  shards: Record<string, number>;
}

const MANIFEST_FILE = 'dataset.json';
const PROGRESS_FILE = '.progress.json';
const SPLITS: readonly SyntheticSplit[] = ['train', 'test'];
const SPLIT_STREAM: Record<SyntheticSplit, number> = { train: 1, test: 2 };

function checkInteger(value: number, field: string, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new Llm2ClipError('E_CONFIG', `${field} must be an integer >= ${min}, got ${value}`, { field });
}

async function readJson(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Llm2ClipError('E_IO', 'cannot read file', { path, cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'invalid JSON', { path, cause });
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** Runs `task` over `items` with at most `limit` in flight; results keep the input order. */
async function mapConcurrent<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function shardName(index: number): string {
  return `shard-${String(index).padStart(6, '0')}.tar`;
}

/** Reads and checks `dataset.json` of a synthetic dataset directory. */
export async function readSyntheticDatasetManifest(outDir: string): Promise<SyntheticDatasetManifest> {
  const path = join(outDir, MANIFEST_FILE);
  const manifest = (await readJson(path)) as SyntheticDatasetManifest | undefined;
  if (manifest === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'no synthetic dataset here (dataset.json missing)', { path });
  if (manifest?.format !== SYNTHETIC_DATASET_FORMAT) {
    throw new Llm2ClipError('E_FORMAT', `expected format "${SYNTHETIC_DATASET_FORMAT}", got ${JSON.stringify(manifest?.format)}`, { path, field: 'format' });
  }
  if (manifest.version !== SYNTHETIC_DATASET_VERSION) {
    throw new Llm2ClipError('E_FORMAT', `unsupported version ${manifest.version}, expected ${SYNTHETIC_DATASET_VERSION}`, { path, field: 'version' });
  }
  for (const split of SPLITS) {
    const info = manifest.splits?.[split];
    if (!Array.isArray(info?.shards) || !Array.isArray(info.shardSamples) || info.shards.length !== info.shardSamples.length) {
      throw new Llm2ClipError('E_FORMAT', `split "${split}" needs "shards" and "shardSamples" of equal length`, { path, field: `splits.${split}` });
    }
  }
  return manifest;
}

/**
 * Opens one split of a synthetic dataset as a {@link WebDatasetSource} — the same reader any
 * webdataset goes through — with its size and per-shard sizes from `dataset.json`.
 */
export async function openSyntheticSplit(outDir: string, split: SyntheticSplit, options: WebDatasetOptions = {}): Promise<WebDatasetSource> {
  const manifest = await readSyntheticDatasetManifest(outDir);
  const info = manifest.splits[split];
  if (info.shards.length === 0) throw new Llm2ClipError('E_NOT_FOUND', `split "${split}" has no samples`, { path: join(outDir, MANIFEST_FILE), field: `splits.${split}` });
  return new WebDatasetSource(
    info.shards.map((file) => join(outDir, info.dir, file)),
    { name: join(outDir, info.dir), ...options, shardSizes: info.shardSamples },
  );
}

interface PlannedSample {
  key: string;
  scene: Scene;
  captions: readonly string[];
}

/**
 * Generates the synthetic LLM2CLIP dataset in webdataset format:
 *
 * - `outDir/train/shard-000000.tar …` and `outDir/test/shard-…` — per sample `<key>.png` (sharp
 *   PNG) and `<key>.json` (`captions` = `[short, long, shortParaphrase, longParaphrase]`,
 *   `caption_kinds`, and the `scene` it was drawn from);
 * - `outDir/tokenizer.json` and `tokenizer_config.json` — a word-level tokenizer over the closed
 *   caption vocabulary;
 * - `outDir/dataset.json` — written last: format, settings, shard lists and counts, and the
 *   measured long-caption statistics.
 *
 * Train and test come from disjoint Rng streams of `seed`, and no test scene repeats a training
 * scene. The output is byte-identical for the same settings. With `dataset.json` present and equal
 * settings nothing is written; an interrupted run resumes, keeping the shards it completed.
 *
 * @example
 * ```ts
 * const info = await writeSyntheticDataset('data/synthetic', { seed: 0, trainSamples: 4000, testSamples: 500 });
 * const test = await openSyntheticSplit('data/synthetic', 'test');
 * ```
 */
export async function writeSyntheticDataset(outDir: string, options: SyntheticDatasetOptions): Promise<SyntheticDatasetInfo> {
  const imageSize = options.imageSize ?? DEFAULT_IMAGE_SIZE;
  const samplesPerShard = options.samplesPerShard ?? 512;
  const antialias = options.antialias ?? true;
  const concurrency = options.concurrency ?? 8;
  const sceneOptions = options.sceneOptions ?? {};
  if (!Number.isFinite(options.seed)) throw new Llm2ClipError('E_CONFIG', `seed must be a finite number, got ${options.seed}`, { field: 'seed' });
  checkInteger(options.trainSamples, 'trainSamples', 0);
  checkInteger(options.testSamples, 'testSamples', 0);
  checkInteger(imageSize, 'imageSize', 8);
  checkInteger(samplesPerShard, 'samplesPerShard', 1);
  checkInteger(concurrency, 'concurrency', 1);
  // validates the scene options before any work
  generateScene(new Rng(0), sceneOptions);

  const settings = {
    generatorVersion: SYNTHETIC_GENERATOR_VERSION,
    seed: options.seed,
    trainSamples: options.trainSamples,
    testSamples: options.testSamples,
    imageSize,
    samplesPerShard,
    antialias,
    sceneOptions,
  };
  const settingsFingerprint = fingerprint(settings);
  const manifestPath = join(outDir, MANIFEST_FILE);

  const existing = (await readJson(manifestPath)) as SyntheticDatasetManifest | undefined;
  if (existing !== undefined) {
    if (existing.format === SYNTHETIC_DATASET_FORMAT && existing.fingerprint === settingsFingerprint) {
      const manifest = await readSyntheticDatasetManifest(outDir);
      const missing: string[] = [];
      for (const split of SPLITS) {
        for (const file of manifest.splits[split].shards) {
          if ((await fileSize(join(outDir, manifest.splits[split].dir, file))) === undefined) missing.push(`${split}/${file}`);
        }
      }
      if (missing.length === 0) return { ...manifest, outDir, reused: true };
      // shards were deleted: fall through and regenerate them
    } else if (!(options.overwrite ?? false)) {
      throw new Llm2ClipError(
        'E_MISMATCH',
        'a synthetic dataset with other settings already exists here; pass overwrite: true to replace it or choose another directory',
        { path: manifestPath },
      );
    }
    await rm(manifestPath, { force: true });
  }

  const progressPath = join(outDir, PROGRESS_FILE);
  const savedProgress = (await readJson(progressPath).catch(() => undefined)) as Progress | undefined;
  const progress: Progress =
    savedProgress?.fingerprint === settingsFingerprint && typeof savedProgress.shards === 'object'
      ? savedProgress
      : { fingerprint: settingsFingerprint, shards: {} };

  const total = options.trainSamples + options.testSamples;
  let done = 0;
  options.onProgress?.({ task: 'synthetic-data', done, total, unit: 'sample' });

  const trainSignatures = new Set<string>();
  const splits = {} as Record<SyntheticSplit, SyntheticSplitInfo>;
  const root = new Rng(options.seed);
  for (const split of SPLITS) {
    const rng = root.fork(SPLIT_STREAM[split]);
    const count = split === 'train' ? options.trainSamples : options.testSamples;
    const shards: string[] = [];
    const shardSamples: number[] = [];
    const analyses: LongCaptionAnalysis[] = [];
    for (let start = 0, shardIndex = 0; start < count; start += samplesPerShard, shardIndex++) {
      // scenes and captions are drawn in sample order even for shards that are reused, so the
      // Rng stream (and the train/test overlap check) does not depend on what was resumed
      const planned: PlannedSample[] = [];
      for (let index = start; index < Math.min(count, start + samplesPerShard); index++) {
        let scene = generateScene(rng, sceneOptions);
        if (split === 'train') trainSignatures.add(sceneSignature(scene));
        else while (trainSignatures.has(sceneSignature(scene))) scene = generateScene(rng, sceneOptions);
        const { captions } = sampleCaptions(scene, rng);
        analyses.push(analyseLongCaption(scene, captions[1]));
        planned.push({ key: `${split}-${String(index).padStart(6, '0')}`, scene, captions });
      }
      const file = shardName(shardIndex);
      const relative = `${split}/${file}`;
      const path = join(outDir, split, file);
      const recorded = progress.shards[relative];
      if (recorded === undefined || (await fileSize(path)) !== recorded) {
        const encoded = await mapConcurrent(planned, concurrency, async (sample) =>
          encodePng(renderScene(sample.scene, imageSize, { antialias })),
        );
        const entries: TarEntry[] = planned.flatMap((sample, i) => [
          { name: `${sample.key}.png`, data: encoded[i] },
          {
            name: `${sample.key}.json`,
            data: Buffer.from(JSON.stringify({ captions: sample.captions, caption_kinds: CAPTION_KINDS, scene: sample.scene })),
          },
        ]);
        await writeTarAtomic(path, entries);
        progress.shards[relative] = (await fileSize(path)) ?? 0;
        await writeJsonAtomic(progressPath, progress);
      }
      shards.push(file);
      shardSamples.push(planned.length);
      done += planned.length;
      options.onProgress?.({ task: 'synthetic-data', done, total, unit: 'sample', values: { split, shard: relative } });
    }
    await removeStaleShards(join(outDir, split), new Set(shards));
    splits[split] = { dir: split, shards, shardSamples, samples: count, longCaptions: summariseLongCaptions(analyses) };
  }

  const vocabulary = captionVocabulary();
  await writeJsonAtomic(join(outDir, 'tokenizer.json'), buildWordLevelTokenizerJson(vocabulary));
  await writeJsonAtomic(join(outDir, 'tokenizer_config.json'), buildTokenizerConfigJson());
  const manifest: SyntheticDatasetManifest = {
    format: SYNTHETIC_DATASET_FORMAT,
    version: SYNTHETIC_DATASET_VERSION,
    generatorVersion: SYNTHETIC_GENERATOR_VERSION,
    fingerprint: settingsFingerprint,
    seed: options.seed,
    imageSize,
    samplesPerShard,
    antialias,
    sceneOptions,
    captionKinds: [...CAPTION_KINDS],
    tokenizer: { file: 'tokenizer.json', config: 'tokenizer_config.json', vocabularySize: vocabulary.length + 5 },
    splits,
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(manifestPath, manifest);
  await rm(progressPath, { force: true });
  return { ...manifest, outDir, reused: false };
}

/** Deletes `shard-NNNNNN.tar` files in `dir` that the current dataset does not list (left by larger earlier runs). */
async function removeStaleShards(dir: string, keep: ReadonlySet<string>): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (/^shard-\d{6}\.tar$/.test(name) && !keep.has(name)) await rm(join(dir, name), { force: true });
  }
}
