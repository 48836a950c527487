import { readFile, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { IndexedSource, unreadableSource, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

/**
 * Reads an Urban-1k folder (`Urban1k/image/<name>.jpg` beside `Urban1k/caption/<name>.txt`, one long
 * caption per image, 1:1) into records in caption-file name order, keyed by `<name>`. A caption
 * with no image of the same stem points at `image/<name>.jpg` (skipped as `missing-image` when
 * read); an unreadable caption file gives a record without captions (`missing-captions`). Missing
 * `image/` or `caption/` directories throw `E_NOT_FOUND` at once.
 */
export async function readUrban1kIndex(dir: string, options: IndexedSourceOptions = {}): Promise<IndexRecord[]> {
  const captionDir = join(dir, 'caption');
  const imageDir = options.imageRoot ?? join(dir, 'image');
  let captionFiles: string[];
  let imageFiles: string[];
  try {
    captionFiles = (await readdir(captionDir)).filter((name) => name.endsWith('.txt')).sort();
  } catch (cause) {
    return unreadableSource(captionDir, cause, 'Urban-1k caption directory');
  }
  try {
    imageFiles = await readdir(imageDir);
  } catch (cause) {
    return unreadableSource(imageDir, cause, 'Urban-1k image directory');
  }
  const imageByStem = new Map<string, string>();
  for (const name of imageFiles) {
    const extension = extname(name);
    if (IMAGE_EXTENSIONS.includes(extension.toLowerCase())) imageByStem.set(name.slice(0, -extension.length), name);
  }
  const records: IndexRecord[] = [];
  for (const file of captionFiles) {
    const stem = file.slice(0, -4);
    let caption = '';
    try {
      caption = (await readFile(join(captionDir, file), 'utf8')).trim();
    } catch (cause) {
      options.skipReport?.add({ reason: 'missing-captions', key: stem, file: join(captionDir, file), detail: (cause as Error).message });
      continue;
    }
    records.push({
      key: stem,
      imagePath: join(imageDir, imageByStem.get(stem) ?? `${stem}.jpg`),
      captions: caption === '' ? [] : [caption],
      captionKinds: caption === '' ? [] : ['long'],
      meta: { captionFile: join(captionDir, file) },
    });
  }
  return records;
}

/**
 * A {@link IndexedSource} over Urban-1k (long-caption retrieval: 1,000 urban images, one long
 * caption each).
 *
 * @example
 * ```ts
 * const source = new Urban1kSource('data/Urban1k');
 * ```
 */
export class Urban1kSource extends IndexedSource {
  constructor(dir: string, options: IndexedSourceOptions = {}) {
    super(options.name ?? `urban1k:${dir}`, () => readUrban1kIndex(dir, options), options);
  }
}
