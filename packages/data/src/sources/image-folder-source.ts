import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { IndexedSource, unreadableSource, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';
import { readClassnames } from './text-lines.js';

/** Options of {@link ImageFolderSource}. */
export interface ImageFolderOptions extends IndexedSourceOptions {
  /**
   * Readable class names in label order (an array, or the path of a `classnames.txt`), aligned with
   * the sorted folder names; default: the folder names themselves.
   */
  classnames?: readonly string[] | string;
  /** Image file extensions taken (default `jpg`, `jpeg`, `png`, `webp`, any case). */
  extensions?: readonly string[];
}

/**
 * Reads an ImageNet-style class-folder tree (`root/<class folder>/<image>`) the way torchvision's
 * `ImageFolder` does: class folders sorted by name give labels `0 … n-1`, files sorted within each.
 * Each record's caption is its class name, `meta.label` the label, `meta.folder` the folder name.
 * A root that does not exist or has no class folders throws at once; a class-name list whose
 * length differs from the folder count throws `E_MISMATCH`.
 */
export async function readImageFolderIndex(root: string, options: ImageFolderOptions = {}): Promise<IndexRecord[]> {
  const extensions = (options.extensions ?? ['jpg', 'jpeg', 'png', 'webp']).map((e) => `.${e.toLowerCase()}`);
  let folders: string[];
  try {
    folders = (await readdir(root, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch (cause) {
    return unreadableSource(root, cause, 'image folder');
  }
  if (folders.length === 0) throw new Llm2ClipError('E_NOT_FOUND', 'no class folders in the image folder', { path: root });
  const classnames = typeof options.classnames === 'string' ? await readClassnames(options.classnames) : (options.classnames ?? folders);
  if (classnames.length !== folders.length) {
    throw new Llm2ClipError('E_MISMATCH', `${classnames.length} class names for ${folders.length} class folders`, {
      path: typeof options.classnames === 'string' ? options.classnames : root,
    });
  }
  const records: IndexRecord[] = [];
  for (const [label, folder] of folders.entries()) {
    const files = (await readdir(join(root, folder))).filter((name) => extensions.includes(extname(name).toLowerCase())).sort();
    for (const file of files) {
      records.push({
        key: `${folder}/${file.slice(0, file.length - extname(file).length)}`,
        imagePath: join(root, folder, file),
        captions: [classnames[label]],
        captionKinds: ['class'],
        meta: { label, className: classnames[label], folder },
      });
    }
  }
  return records;
}

/**
 * A {@link IndexedSource} over ImageNet-style class folders for zero-shot classification.
 *
 * @example
 * ```ts
 * const val = new ImageFolderSource('imagenet/val', { classnames: 'imagenet/classnames.txt' });
 * for await (const sample of val) console.log(sample.meta?.label, sample.captions[0]);
 * ```
 */
export class ImageFolderSource extends IndexedSource {
  constructor(root: string, options: ImageFolderOptions = {}) {
    super(options.name ?? `folder:${root}`, () => readImageFolderIndex(root, options), options);
  }
}
