/**
 * Example: evaluate an existing CLIP — a Hugging Face `CLIPModel` directory (`config.json` with
 * `vision_config` / `text_config`, `model.safetensors`, `tokenizer.json`, optional
 * `preprocessor_config.json`) — with `@llm2clip/eval` alone: retrieval on a Karpathy split
 * (Flickr30k or COCO), written as `report.json` / `report.md` / `report.html`.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { KarpathySplitSource } from '@llm2clip/data';
import { cocoKarpathySet, createReport, flickr30kKarpathySet, runBenchmarks, writeReport, type BenchmarkRun, type WrittenReport } from '@llm2clip/eval';
import { initBackend } from '@llm2clip/tensor';
import { ClipImageEmbedder, ClipTextEmbedder, ClipTextModel, ClipTextTokenizer, ClipVisionModel, ImagePreprocessor } from '@llm2clip/vision';

/** A loaded CLIP as the two embedders `@llm2clip/eval` takes. */
export interface LoadedClip {
  imageEmbedder: ClipImageEmbedder;
  textEmbedder: ClipTextEmbedder;
  /** Frees both towers. */
  dispose(): void;
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Llm2ClipError('E_FORMAT', `cannot read ${path} as JSON`, { path, cause: error });
  }
}

/** Loads both towers, the tokenizer and the image preprocessing of a Hugging Face CLIP directory. */
export async function loadHfClip(dir: string): Promise<LoadedClip> {
  await initBackend();
  const config = await readJson(join(dir, 'config.json'));
  if (config === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'not a Hugging Face model directory: config.json is missing', { path: dir });
  const vision = await ClipVisionModel.fromPretrained(dir);
  let text: ClipTextModel;
  try {
    text = await ClipTextModel.fromPretrained(dir);
  } catch (error) {
    vision.dispose();
    throw error;
  }
  const tokenizer = await ClipTextTokenizer.fromFile(join(dir, 'tokenizer.json'));
  const preprocessorConfig = await readJson(join(dir, 'preprocessor_config.json'));
  const imageSize = (config.vision_config as { image_size?: number } | undefined)?.image_size ?? 224;
  const preprocessor = preprocessorConfig !== undefined ? ImagePreprocessor.fromPreprocessorConfig(preprocessorConfig) : new ImagePreprocessor({ imageSize });
  return {
    imageEmbedder: new ClipImageEmbedder(vision, preprocessor),
    textEmbedder: new ClipTextEmbedder(text, tokenizer),
    dispose() {
      vision.dispose();
      text.dispose();
    },
  };
}

/** Options of {@link evaluateClip}. */
export interface EvaluateClipOptions {
  /** The Hugging Face CLIP directory. */
  model: string;
  /** Karpathy split file (`dataset_flickr30k.json` / `dataset_coco.json`). */
  karpathyJson: string;
  /** Folder holding the images the split file names. */
  images: string;
  /** `flickr30k` (1,000 test images, 5 captions) or `coco` (5,000). Default `flickr30k`. */
  benchmark?: 'flickr30k' | 'coco';
  /** Run directory for report.json / report.md / report.html and the feature cache. */
  out: string;
  /** Recall cut-offs. Default [1, 5, 10]. */
  ks?: number[];
  /** Model id in the report. Default: the directory name. */
  id?: string;
}

/** Evaluates the CLIP on the test split and writes the report; returns the run and the files written. */
export async function evaluateClip(options: EvaluateClipOptions): Promise<{ run: BenchmarkRun; report: WrittenReport }> {
  const clip = await loadHfClip(options.model);
  try {
    const source = new KarpathySplitSource(options.karpathyJson, { split: 'test', imageRoot: options.images });
    const set = options.benchmark === 'coco' ? await cocoKarpathySet(source) : await flickr30kKarpathySet(source);
    const id = options.id ?? options.model.split('/').filter(Boolean).pop() ?? 'clip';
    const run = await runBenchmarks({ id, textEmbedder: clip.textEmbedder, imageEmbedder: clip.imageEmbedder }, [set], {
      cache: join(options.out, 'features'),
      ks: options.ks ?? [1, 5, 10],
      exampleQueries: 4,
    });
    const report = await writeReport(
      options.out,
      createReport({ run: id, models: [run.model], datasets: run.datasets, results: run.rows, notes: run.notes }),
      { examples: run.examples },
    );
    return { run, report };
  } finally {
    clip.dispose();
  }
}
