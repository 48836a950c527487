import { Llm2ClipError } from '@llm2clip/core';
import type { SkipReport } from '../skip-report.js';
import { WebDatasetSource, type WebDatasetOptions } from '../webdataset-source.js';
import { readClassnames, readTemplates, readTextLocation } from './text-lines.js';

/** Options of {@link openClipBenchmarkDataset}. */
export interface ClipBenchmarkOptions extends Omit<WebDatasetOptions, 'labelExtension' | 'classnames'> {
  /** Split directory (default `test`). */
  split?: string;
  /** Counts and logs skipped samples. */
  skipReport?: SkipReport;
}

/** A CLIP_benchmark webdataset dataset: the sample source and its zero-shot metadata. */
export interface ClipBenchmarkDataset {
  /** `classification` when `classnames.txt` is there, else `retrieval` (`dataset_type.txt` wins when present). */
  type: 'classification' | 'retrieval';
  /** Class names in label order (classification). */
  classnames?: string[];
  /** Zero-shot prompt templates with `{c}` (classification). */
  templates?: string[];
  /** The samples: image (`webp`, `png`, `jpg`, `jpeg`), `meta.label` from `.cls`, captions from `.txt` or the class name. */
  source: WebDatasetSource;
}

async function optional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof Llm2ClipError && error.code === 'E_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * Opens a dataset in CLIP_benchmark's webdataset layout (local directory or `http(s)://` base URL):
 *
 * ```
 * dir/classnames.txt  zeroshot_classification_templates.txt  dataset_type.txt (optional)
 * dir/test/nshards.txt  dir/test/0.tar  dir/test/1.tar …      (s0000000.webp + s0000000.cls | .txt)
 * ```
 *
 * A missing `nshards.txt` throws `E_NOT_FOUND` naming it.
 */
export async function openClipBenchmarkDataset(dir: string, options: ClipBenchmarkOptions = {}): Promise<ClipBenchmarkDataset> {
  const base = dir.replace(/\/+$/, '');
  const split = options.split ?? 'test';
  const nshardsPath = `${base}/${split}/nshards.txt`;
  const text = (await readTextLocation(nshardsPath, 'nshards.txt')).trim();
  const nshards = Number(text);
  if (!/^\d+$/.test(text) || nshards < 1) throw new Llm2ClipError('E_FORMAT', `expected a positive shard count, got ${JSON.stringify(text.slice(0, 40))}`, { path: nshardsPath });
  const classnames = await optional(() => readClassnames(`${base}/classnames.txt`));
  const templates = classnames !== undefined ? await optional(() => readTemplates(`${base}/zeroshot_classification_templates.txt`)) : undefined;
  const declared = (await optional(() => readTextLocation(`${base}/dataset_type.txt`, 'dataset_type.txt')))?.trim().toLowerCase();
  const type = declared === 'retrieval' || (declared === undefined && classnames === undefined) ? 'retrieval' : 'classification';
  const { split: _split, ...webdataset } = options;
  const source = new WebDatasetSource(`${base}/${split}/{0..${nshards - 1}}.tar`, {
    imageExtensions: ['webp', 'png', 'jpg', 'jpeg'],
    ...webdataset,
    labelExtension: 'cls',
    ...(type === 'classification' && classnames !== undefined ? { classnames } : {}),
  });
  return { type, ...(classnames !== undefined ? { classnames } : {}), ...(templates !== undefined ? { templates } : {}), source };
}
