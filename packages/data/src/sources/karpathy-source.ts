import { dirname, join } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { IndexedSource, readAnnotationJson, resolveImagePath, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';

/** Options of {@link KarpathySplitSource}. */
export interface KarpathySplitOptions extends IndexedSourceOptions {
  /** Keep only images of this split (`train`, `val`, `test`, `restval`); default all. */
  split?: string;
}

/**
 * Reads a Karpathy split file (`dataset_coco.json`, `dataset_flickr30k.json`: `images[]` with
 * `filename`, optional `filepath` (COCO's `val2014`), `split`, `sentences[].raw`, and `cocoid` or
 * `imgid`) into one record per image with its (usually five) captions. Keys are `cocoid`, else
 * `imgid`, else the file name. Malformed image entries are skipped as `malformed-line`.
 */
export async function readKarpathyIndex(path: string, options: KarpathySplitOptions = {}): Promise<IndexRecord[]> {
  const json = (await readAnnotationJson(path, 'Karpathy split file')) as { images?: unknown; dataset?: unknown };
  if (typeof json !== 'object' || json === null || !Array.isArray(json.images)) {
    throw new Llm2ClipError('E_FORMAT', 'a Karpathy split file needs an "images" array', { path, field: 'images' });
  }
  const root = options.imageRoot ?? dirname(path);
  const records: IndexRecord[] = [];
  json.images.forEach((image: Record<string, unknown> | null, i: number) => {
    if (typeof image?.filename !== 'string' || !Array.isArray(image.sentences) || (image.filepath !== undefined && typeof image.filepath !== 'string')) {
      options.skipReport?.add({ reason: 'malformed-line', key: `image ${i}`, file: path, detail: 'needs a string "filename" and a "sentences" array' });
      return;
    }
    if (options.split !== undefined && image.split !== options.split) return;
    const captions = image.sentences
      .map((sentence: { raw?: unknown } | null) => (typeof sentence?.raw === 'string' ? sentence.raw.trim() : ''))
      .filter((caption: string) => caption !== '');
    const id = image.cocoid ?? image.imgid;
    records.push({
      key: typeof id === 'number' || typeof id === 'string' ? String(id) : image.filename,
      imagePath: resolveImagePath(root, join((image.filepath as string | undefined) ?? '', image.filename)),
      captions,
      meta: { split: image.split, filename: image.filename, ...(json.dataset !== undefined ? { dataset: json.dataset } : {}) },
    });
  });
  return records;
}

/**
 * A {@link IndexedSource} over a Karpathy split file for Flickr30k or COCO retrieval. `imageRoot`
 * is the image directory (`flickr30k-images`, or the COCO root holding `val2014/`).
 *
 * @example
 * ```ts
 * const test = new KarpathySplitSource('flickr30k/dataset_flickr30k.json', { split: 'test', imageRoot: 'flickr30k/flickr30k-images' });
 * ```
 */
export class KarpathySplitSource extends IndexedSource {
  constructor(path: string, options: KarpathySplitOptions = {}) {
    super(options.name ?? `karpathy:${path}${options.split !== undefined ? `[${options.split}]` : ''}`, () => readKarpathyIndex(path, options), options);
  }
}
