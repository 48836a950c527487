import { dirname } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { IndexedSource, readAnnotationJson, resolveImagePath, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';

/**
 * Reads a ShareGPT4V caption file (`share-captioner_coco_lcs_sam_1246k_1107.json`, a JSON array of
 * `{ id, image, conversations: [{ from: 'human', value }, { from: 'gpt', value }] }`): the image path
 * is `image`, the captions are the `gpt` turns. Keys are `id` (else the image path). Entries with
 * the wrong types are skipped as `malformed-line`; entries without a gpt turn as `missing-captions`.
 */
export async function readShareGpt4vIndex(path: string, options: IndexedSourceOptions = {}): Promise<IndexRecord[]> {
  const json = await readAnnotationJson(path, 'ShareGPT4V file');
  if (!Array.isArray(json)) throw new Llm2ClipError('E_FORMAT', 'a ShareGPT4V file is a JSON array of conversations', { path });
  const root = options.imageRoot ?? dirname(path);
  const records: IndexRecord[] = [];
  json.forEach((entry: { id?: unknown; image?: unknown; conversations?: unknown } | null, i: number) => {
    if (typeof entry?.image !== 'string' || !Array.isArray(entry.conversations)) {
      options.skipReport?.add({ reason: 'malformed-line', key: `record ${i}`, file: path, detail: 'needs a string "image" and a "conversations" array' });
      return;
    }
    const captions = entry.conversations
      .filter((turn: { from?: unknown; value?: unknown } | null) => turn?.from === 'gpt' && typeof turn.value === 'string')
      .map((turn: { value: string }) => turn.value.trim())
      .filter((caption: string) => caption !== '');
    records.push({
      key: typeof entry.id === 'string' || typeof entry.id === 'number' ? String(entry.id) : entry.image,
      imagePath: resolveImagePath(root, entry.image),
      captions,
      captionKinds: captions.map(() => 'gpt'),
      meta: { image: entry.image },
    });
  });
  return records;
}

/**
 * A {@link IndexedSource} over ShareGPT4V-style caption JSON. `imageRoot` is the directory the
 * `image` paths are relative to (ShareGPT4V's `data/`).
 *
 * @example
 * ```ts
 * const source = new ShareGpt4vSource('sharegpt4v/share-captioner_coco_lcs_sam_1246k_1107.json', { imageRoot: 'sharegpt4v/data' });
 * ```
 */
export class ShareGpt4vSource extends IndexedSource {
  constructor(path: string, options: IndexedSourceOptions = {}) {
    super(options.name ?? `sharegpt4v:${path}`, () => readShareGpt4vIndex(path, options), options);
  }
}
