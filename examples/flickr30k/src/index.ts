/**
 * Recipe: LLM2CLIP's stage 2 on Flickr30k. From the Karpathy split file and the image folder:
 * the `train` split is written as webdataset shards, every caption is embedded once by the
 * (stage-1) LLM (`llm2clip embed` + `embed merge`), a pretrained CLIP vision tower and the adapter
 * are post-trained against the cache (`llm2clip clip train`), and the result is evaluated on the
 * `test` split (R@1/5/10 both directions) into `report.json` / `report.md` / `report.html`.
 *
 * @packageDocumentation
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '@llm2clip/core';
import { runCli } from '@llm2clip/cli';
import { loadClipModel } from '@llm2clip/clip-trainer';
import { KarpathySplitSource, writeTarAtomic, type TarEntry } from '@llm2clip/data';
import { createReport, flickr30kKarpathySet, runBenchmarks, writeReport, type BenchmarkRun, type WrittenReport } from '@llm2clip/eval';
import { LlmEmbedder } from '@llm2clip/llm';
import { initBackend } from '@llm2clip/tensor';

/** Options of {@link runFlickr30kRecipe}. */
export interface Flickr30kRecipeOptions {
  /** `dataset_flickr30k.json` (Karpathy split). */
  karpathyJson: string;
  /** The `flickr30k-images/` folder. */
  images: string;
  /** The LLM (Hugging Face directory or hub id) that embeds the captions. */
  llm: string;
  /** Its stage-1 PEFT adapter, merged while embedding. */
  adapter?: string;
  /** The pretrained vision tower (CLIP, OpenCLIP or EVA02 directory). */
  vision: string;
  /** Run directory: shards/, cache/, stage2/, report.*. */
  out: string;
  /** Training steps (default: one epoch of the train split). */
  steps?: number;
  /** Images per step. Default 64. */
  batchSize?: number;
  /** Images per micro-batch (exact large batches in bounded memory). */
  microBatchSize?: number;
  /** Peak learning rate. Default 1e-5 (fine-tuning a pretrained tower). */
  lr?: number;
  /** Adapter blocks. Default 4 (LLM2CLIP's). */
  adapterBlocks?: number;
  /** Samples per webdataset shard. Default 1000. */
  samplesPerShard?: number;
  /** Captions per LLM forward pass. Default 32. */
  embedBatchSize?: number;
  /** Recall cut-offs of the report. Default [1, 5, 10]. */
  ks?: number[];
  /** Tensor backend for every step (default: fastest available). */
  backend?: string;
  seed?: number;
}

/** What the recipe produced. */
export interface Flickr30kRecipeResult {
  trainShards: string[];
  modelDir: string;
  run: BenchmarkRun;
  report: WrittenReport;
}

/**
 * Writes one split of a Karpathy file as webdataset shards: `<key>.jpg` + `<key>.json`
 * (`{"captions": [...]}`, the field the LLM2CLIP commands read by default). Returns the tar paths.
 */
export async function karpathySplitToShards(karpathyJson: string, images: string, split: string, outDir: string, samplesPerShard = 1000): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const source = new KarpathySplitSource(karpathyJson, { split, imageRoot: images });
  const paths: string[] = [];
  let entries: TarEntry[] = [];
  let count = 0;
  const flush = async (): Promise<void> => {
    if (count === 0) return;
    const path = join(outDir, `${split}-${String(paths.length).padStart(6, '0')}.tar`);
    await writeTarAtomic(path, entries);
    paths.push(path);
    entries = [];
    count = 0;
  };
  for await (const sample of source.samples()) {
    if (sample.image.kind !== 'encoded' || sample.captions.length === 0) continue;
    const key = sample.key.replace(/[^A-Za-z0-9_-]/g, '_');
    entries.push({ name: `${key}.${sample.image.format ?? 'jpg'}`, data: sample.image.bytes });
    entries.push({ name: `${key}.json`, data: new TextEncoder().encode(JSON.stringify({ captions: sample.captions })) });
    if (++count === samplesPerShard) await flush();
  }
  await flush();
  return paths;
}

/** Runs the whole recipe; every step keeps its outputs, so a rerun continues (embed skips finished shards). */
export async function runFlickr30kRecipe(options: Flickr30kRecipeOptions): Promise<Flickr30kRecipeResult> {
  const backend = options.backend !== undefined ? ['--backend', options.backend] : [];
  const cli = (...args: string[]): Promise<void> => runCli(['node', 'llm2clip', ...args]);

  // 1. the train split as webdataset shards
  const trainShards = await karpathySplitToShards(options.karpathyJson, options.images, 'train', join(options.out, 'shards'), options.samplesPerShard ?? 1000);
  if (trainShards.length === 0) throw new Error(`no train images in ${options.karpathyJson}`);

  // 2. embed every caption once with the frozen LLM
  const cache = join(options.out, 'cache');
  await cli('embed', '--model', options.llm, ...(options.adapter !== undefined ? ['--adapter', options.adapter] : []), '--shards', ...trainShards, '--out', cache, '--batch-size', String(options.embedBatchSize ?? 32), ...backend);
  await cli('embed', 'merge', cache);

  // 3. stage 2: the vision tower + adapter against the cache
  const stage2 = join(options.out, 'stage2');
  const config = join(options.out, 'clip-train.json');
  await writeJsonAtomic(config, {
    data: { shards: trainShards, cache },
    vision: { pretrained: options.vision },
    adapter: { blocks: options.adapterBlocks ?? 4 },
    outDir: stage2,
    seed: options.seed ?? 0,
    batchSize: options.batchSize ?? 64,
    lr: options.lr ?? 1e-5,
    ...(options.steps !== undefined ? { steps: options.steps } : {}),
    ...(options.microBatchSize !== undefined ? { microBatchSize: options.microBatchSize } : {}),
  });
  await cli('clip', 'train', '--config', config, ...backend);

  // 4. evaluation on the test split
  await initBackend(options.backend !== undefined ? { backend: options.backend as never } : {});
  const modelDir = join(stage2, 'model');
  const model = await loadClipModel(modelDir);
  const teacher = await LlmEmbedder.fromPretrained(options.llm, options.adapter !== undefined ? { adapter: options.adapter } : {});
  try {
    const source = new KarpathySplitSource(options.karpathyJson, { split: 'test', imageRoot: options.images });
    const set = await flickr30kKarpathySet(source);
    const run = await runBenchmarks({ id: 'llm2clip-flickr30k', textEmbedder: model.textEmbedder(teacher), imageEmbedder: model.imageEmbedder() }, [set], {
      cache: join(options.out, 'features'),
      ks: options.ks ?? [1, 5, 10],
      exampleQueries: 4,
    });
    const report = await writeReport(options.out, createReport({ run: 'llm2clip-flickr30k', models: [run.model], datasets: run.datasets, results: run.rows, notes: run.notes }), { examples: run.examples });
    return { trainShards, modelDir, run, report };
  } finally {
    teacher.dispose();
    model.dispose();
  }
}
