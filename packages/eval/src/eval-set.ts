import { createHash, type Hash } from 'node:crypto';
import { Llm2ClipError, type ImageRef, type Sample, type SampleSource } from '@llm2clip/core';

/** Where an eval set reads its samples: a `SampleSource` (read in file order) or samples in memory. */
export type EvalSampleInput = SampleSource | readonly Sample[];

/**
 * An image–text retrieval benchmark: a gallery of images, captions with the image each describes.
 * Images are not held: {@link images} reads them again from the source, in gallery order.
 */
export interface RetrievalEvalSet {
  readonly task: 'retrieval';
  /** Benchmark name used in reports, e.g. `flickr30k-karpathy-test`, `urban-1k`. */
  readonly name: string;
  /**
   * `multi-caption` (Flickr30k/COCO: several captions per image) or `one-to-one` (long-caption
   * benchmarks: exactly one caption per image, so both directions have one correct item).
   */
  readonly protocol: 'multi-caption' | 'one-to-one';
  /** Keys of the gallery images, in row order. */
  readonly imageKeys: readonly string[];
  /** The captions (text queries / text gallery), in sample order then caption order. */
  readonly captions: readonly string[];
  /** Per caption, the gallery row of its image. */
  readonly captionImage: Int32Array;
  /** Hash of the names, captions, and image bytes: the cache key of the set's embeddings. */
  readonly fingerprint: string;
  /** Remarks about the set (e.g. a size other than the benchmark's usual one). */
  readonly notes: readonly string[];
  /** Samples of the source left out (filtered, or without a usable caption). */
  readonly skipped: number;
  /** The gallery images, read again from the source, in `imageKeys` order. */
  images(): AsyncIterable<ImageRef>;
}

/** A classification benchmark (zero-shot or linear probe): images with class labels. */
export interface ClassificationEvalSet {
  readonly task: 'classification';
  /** Benchmark name, e.g. `imagenet-1k-val`, `cifar10`. */
  readonly name: string;
  /** Class names in label order (what zero-shot prompts say). */
  readonly classNames: readonly string[];
  /** Zero-shot prompt templates with `{c}` for the class name. */
  readonly templates: readonly string[];
  /** Keys of the images, in row order. */
  readonly imageKeys: readonly string[];
  /** Per image, its class index. */
  readonly labels: Int32Array;
  /** Hash of the names, labels and image bytes. */
  readonly fingerprint: string;
  /** Remarks about the set. */
  readonly notes: readonly string[];
  /** Samples left out (filtered, or without a label). */
  readonly skipped: number;
  /** The images, read again from the source, in `imageKeys` order. */
  images(): AsyncIterable<ImageRef>;
}

/** Any benchmark this package runs. */
export type EvalSet = RetrievalEvalSet | ClassificationEvalSet;

/** Iterates an {@link EvalSampleInput} once, in file order. @internal */
export function iterateSamples(input: EvalSampleInput): AsyncIterable<Sample> | Iterable<Sample> {
  return Array.isArray(input) ? (input as readonly Sample[]) : (input as SampleSource).samples();
}

/** Feeds the bytes of an image into a hash (encoded bytes, or the raw header and pixels). @internal */
export function hashImage(hash: Hash, image: ImageRef): void {
  if (image.kind === 'encoded') {
    hash.update(`encoded:${image.format ?? ''}:${image.bytes.length}:`);
    hash.update(image.bytes);
  } else {
    hash.update(`raw:${image.width}x${image.height}x${image.channels}:`);
    hash.update(image.data);
  }
  hash.update('\u0000');
}

/**
 * An `images()` function that reads `input` again and yields the images of `keys` in order. The
 * source must give the same keys in the same order as the first pass (`E_MISMATCH` otherwise).
 * @internal
 */
export function reReadImages(input: EvalSampleInput, keys: readonly string[], setName: string): () => AsyncIterable<ImageRef> {
  const wanted = new Set(keys);
  return async function* images(): AsyncGenerator<ImageRef> {
    let position = 0;
    for await (const sample of iterateSamples(input)) {
      if (!wanted.has(sample.key)) continue;
      if (sample.key !== keys[position]) {
        throw new Llm2ClipError(
          'E_MISMATCH',
          `eval set '${setName}': the source gave sample '${sample.key}' where '${keys[position]}' was read before; it changed between passes`,
          { key: sample.key },
        );
      }
      position++;
      yield sample.image;
      if (position === keys.length) return;
    }
    if (position !== keys.length) {
      throw new Llm2ClipError('E_MISMATCH', `eval set '${setName}': the source ended after ${position} of ${keys.length} images`, {
        key: keys[position],
      });
    }
  };
}

/** A fresh sha256 hash seeded with a set's kind and name. @internal */
export function setHash(kind: string, name: string): Hash {
  return createHash('sha256').update(`llm2clip.eval-set:${kind}:${name}\u0000`);
}
