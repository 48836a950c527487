import sharp from 'sharp';
import { Llm2ClipError, type ImageRef } from '@llm2clip/core';

/** Options of {@link thumbnailDataUri}. */
export interface ThumbnailOptions {
  /** Longest side in pixels. Default 96. */
  size?: number;
  /** Names the image in errors. */
  key?: string;
}

/**
 * A small PNG of `image` as a `data:image/png;base64,…` URI, for self-contained HTML reports:
 * encoded images are decoded by sharp (libvips), raw RGB(A) pixels are wrapped as they are; the
 * result fits in `size × size` with its aspect ratio kept; nearest-neighbour scaling, so that
 * small synthetic images stay crisp when enlarged.
 *
 * @throws Llm2ClipError `E_DATA` naming the key when the image cannot be decoded.
 */
export async function thumbnailDataUri(image: ImageRef, options: ThumbnailOptions = {}): Promise<string> {
  const size = options.size ?? 96;
  if (!Number.isInteger(size) || size < 1) throw new Llm2ClipError('E_CONFIG', `thumbnail size must be a positive integer, got ${size}`, { field: 'size' });
  try {
    const input =
      image.kind === 'encoded'
        ? sharp(image.bytes, { failOn: 'error' })
        : sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
    const png = await input
      .resize(size, size, { fit: 'inside', kernel: sharp.kernel.nearest })
      .png()
      .toBuffer();
    return `data:image/png;base64,${png.toString('base64')}`;
  } catch (cause) {
    throw new Llm2ClipError('E_DATA', `cannot make a thumbnail: ${(cause as Error).message}`, { key: options.key, cause });
  }
}
