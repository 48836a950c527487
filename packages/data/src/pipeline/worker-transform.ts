import type { RawImage } from '@llm2clip/core';
import type sharp from 'sharp';

/** What a worker-side transform gets for one image. */
export interface WorkerTransformInput {
  /** The encoded image bytes. */
  bytes: Uint8Array;
  /** File extension, when known. */
  format?: string;
  /** Sample key. */
  key: string;
  /** The sample's own seed (see `sampleSeed`): draw crop boxes and flips from it. */
  seed: number;
  /** The `options` given with the transform module (plain JSON). */
  options: unknown;
  /** Decodes `bytes` to RGB with the loader's limits (sharp). */
  decode: () => Promise<RawImage>;
  /** The sharp library, for transforms that fuse decode and resize in one libvips pipeline. */
  sharp: typeof sharp;
  /**
   * The loader's pixel limit (decompression bombs), for transforms that decode with `sharp`
   * themselves: pass it as sharp's `limitInputPixels`, as `decode` does.
   */
  limitInputPixels?: number;
}

/**
 * A transform run inside the decode workers: the default export (or `exportName`) of an ES module
 * given by path or URL. It returns a structured-cloneable value; typed arrays in it travel back to
 * the main thread without a copy. The vision package's CLIP transforms plug in this way, or on the
 * main thread through the loader's `transform`.
 *
 * @example
 * ```ts
 * // crop.mjs
 * export default async function ({ bytes, seed, sharp }) {
 *   const { data, info } = await sharp(bytes).resize(224, 224, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
 *   return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data) };
 * }
 * ```
 */
export type WorkerTransform = (input: WorkerTransformInput) => unknown | Promise<unknown>;

/** Where the loader finds a {@link WorkerTransform}. */
export interface WorkerTransformSpec {
  /** Path or `file:` URL of the ES module. */
  module: string | URL;
  /** Export to call (default `default`). */
  exportName?: string;
  /** Plain-JSON options handed to every call. */
  options?: unknown;
}
