import { dirname, join } from 'node:path';
import { IndexedSource, resolveImagePath, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';
import { readJsonLines } from './jsonl-source.js';

/** Options of {@link DocciSource}. */
export interface DocciSourceOptions extends IndexedSourceOptions {
  /** Keep only this split (`train`, `test`, `qual_dev`, `qual_test`); default all. */
  split?: string;
}

/**
 * Reads DOCCI's `docci_descriptions.jsonlines` (one object per line: `example_id`, `split`,
 * `image_file`, `description`) into one record per image with its one long description. Images are
 * looked up in `imageRoot`, by default the `images/` directory beside the file. Malformed lines are
 * skipped as `malformed-line`.
 */
export async function readDocciIndex(path: string, options: DocciSourceOptions = {}): Promise<IndexRecord[]> {
  const root = options.imageRoot ?? join(dirname(path), 'images');
  const records: IndexRecord[] = [];
  for await (const { line, value } of readJsonLines(path, options.skipReport)) {
    if (typeof value.image_file !== 'string' || (value.description !== undefined && typeof value.description !== 'string')) {
      options.skipReport?.add({ reason: 'malformed-line', key: `line ${line}`, file: path, detail: 'needs a string "image_file" and "description"' });
      continue;
    }
    if (options.split !== undefined && value.split !== options.split) continue;
    const description = typeof value.description === 'string' ? value.description.trim() : '';
    records.push({
      key: typeof value.example_id === 'string' ? value.example_id : value.image_file,
      imagePath: resolveImagePath(root, value.image_file),
      captions: description === '' ? [] : [description],
      captionKinds: description === '' ? [] : ['description'],
      meta: { split: value.split },
    });
  }
  return records;
}

/**
 * A {@link IndexedSource} over DOCCI (long, detailed descriptions, one per image).
 *
 * @example
 * ```ts
 * const test = new DocciSource('docci/docci_descriptions.jsonlines', { split: 'test' });
 * ```
 */
export class DocciSource extends IndexedSource {
  constructor(path: string, options: DocciSourceOptions = {}) {
    super(options.name ?? `docci:${path}${options.split !== undefined ? `[${options.split}]` : ''}`, () => readDocciIndex(path, options), options);
  }
}
