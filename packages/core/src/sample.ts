/**
 * An image as a source hands it out: either encoded bytes (PNG/JPEG/WebP, decoded later by the
 * consumer) or already-decoded RGB pixels.
 */
export type ImageRef = EncodedImage | RawImage;

/** Encoded image bytes, e.g. the `.png` member of a webdataset sample. */
export interface EncodedImage {
  readonly kind: 'encoded';
  /** The file's bytes. */
  readonly bytes: Uint8Array;
  /** File extension without the dot (`png`, `jpg`), when known. */
  readonly format?: string;
}

/** Decoded interleaved pixels, row-major, `height × width × channels` bytes. */
export interface RawImage {
  readonly kind: 'raw';
  readonly width: number;
  readonly height: number;
  /** 3 (RGB) or 4 (RGBA). */
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

/** One training or evaluation example: an image and its captions. */
export interface Sample {
  /** Unique key within the dataset (the webdataset `__key__`). */
  readonly key: string;
  /** The image. */
  readonly image: ImageRef;
  /** Captions of the image, at least one. */
  readonly captions: readonly string[];
  /**
   * What each caption is (`short`, `long`, a source field name), aligned with `captions`.
   * Absent when the source does not know.
   */
  readonly captionKinds?: readonly string[];
  /** Anything else the source knows (class label, shard name, original record). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** Options for one pass over a {@link SampleSource}. */
export interface SampleIterationOptions {
  /** Seed for shuffling; with the same seed and epoch the order is the same. Omit for file order. */
  seed?: number;
  /** Epoch number, mixed into the shuffle seed. */
  epoch?: number;
}

/**
 * A dataset as a stream of samples. Order is deterministic for a given seed; `shard(i, n)`
 * returns the i-th of n disjoint parts (for several processes or machines).
 */
export interface SampleSource extends AsyncIterable<Sample> {
  /** Short description, e.g. the shard pattern. */
  readonly name: string;
  /** Number of samples when known without reading the data. */
  readonly size?: number;
  /** Iterates the samples once. */
  samples(options?: SampleIterationOptions): AsyncIterable<Sample>;
  /** The `index`-th of `count` disjoint parts of this source. */
  shard(index: number, count: number): SampleSource;
}
