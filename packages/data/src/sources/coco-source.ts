import { dirname } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { IndexedSource, readAnnotationJson, resolveImagePath, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';

/**
 * Reads a COCO captions file (`captions_train2017.json`: `images[]` with `id` and `file_name`,
 * `annotations[]` with `image_id` and `caption`) into one record per image with all its captions,
 * in `images` order, keyed by the image id. An annotation or image entry with the wrong types or
 * an unknown `image_id` is skipped as `malformed-line` (key `annotation N` / `image N`); a file
 * that is not JSON or lacks the two arrays throws `E_FORMAT`.
 */
export async function readCocoIndex(path: string, options: IndexedSourceOptions = {}): Promise<IndexRecord[]> {
  const json = (await readAnnotationJson(path, 'COCO captions file')) as { images?: unknown; annotations?: unknown };
  if (typeof json !== 'object' || json === null || !Array.isArray(json.images) || !Array.isArray(json.annotations)) {
    throw new Llm2ClipError('E_FORMAT', 'a COCO captions file needs "images" and "annotations" arrays', { path, field: 'images' });
  }
  const root = options.imageRoot ?? dirname(path);
  const byId = new Map<number, { file: string; captions: string[]; meta: Record<string, unknown> }>();
  json.images.forEach((image: { id?: unknown; file_name?: unknown } | null, i: number) => {
    if (typeof image?.id !== 'number' || typeof image.file_name !== 'string') {
      options.skipReport?.add({ reason: 'malformed-line', key: `image ${i}`, file: path, detail: 'needs a number "id" and a string "file_name"' });
      return;
    }
    const { file_name, ...rest } = image as Record<string, unknown> & { file_name: string };
    byId.set(image.id, { file: file_name, captions: [], meta: rest });
  });
  json.annotations.forEach((annotation: { image_id?: unknown; caption?: unknown } | null, i: number) => {
    const entry = typeof annotation?.image_id === 'number' ? byId.get(annotation.image_id) : undefined;
    if (entry === undefined || typeof annotation?.caption !== 'string') {
      options.skipReport?.add({ reason: 'malformed-line', key: `annotation ${i}`, file: path, detail: 'needs a known "image_id" and a string "caption"' });
      return;
    }
    if (annotation.caption.trim() !== '') entry.captions.push(annotation.caption.trim());
  });
  return [...byId].map(([id, entry]) => ({ key: String(id), imagePath: resolveImagePath(root, entry.file), captions: entry.captions, meta: entry.meta }));
}

/**
 * A {@link IndexedSource} over COCO captions annotations. Pass the image directory as `imageRoot`
 * (e.g. `coco/val2017` for `coco/annotations/captions_val2017.json`).
 *
 * @example
 * ```ts
 * const source = new CocoCaptionsSource('coco/annotations/captions_val2017.json', { imageRoot: 'coco/val2017' });
 * ```
 */
export class CocoCaptionsSource extends IndexedSource {
  constructor(path: string, options: IndexedSourceOptions = {}) {
    super(options.name ?? `coco:${path}`, () => readCocoIndex(path, options), options);
  }
}
