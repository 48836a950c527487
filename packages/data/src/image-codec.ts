import sharp from 'sharp';
import { Llm2ClipError, type ImageRef, type RawImage } from '@llm2clip/core';

/** Options of {@link decodeImage}. */
export interface DecodeImageOptions {
  /**
   * Refuse images with more pixels than this (width × height), a guard against decompression
   * bombs in untrusted data (default 50 million).
   */
  limitInputPixels?: number;
  /** Sample key or file, named in the error when decoding fails. */
  key?: string;
}

/** Default {@link DecodeImageOptions.limitInputPixels}. */
export const DEFAULT_LIMIT_INPUT_PIXELS = 50_000_000;

/**
 * Decodes an image to interleaved 8-bit RGB with sharp (libvips): PNG, JPEG, WebP and the other
 * formats libvips reads; greyscale is expanded to RGB and alpha is dropped. A raw RGB image is
 * returned as is; raw RGBA loses its alpha channel. Undecodable bytes throw `E_DATA`.
 */
export async function decodeImage(ref: ImageRef, options: DecodeImageOptions = {}): Promise<RawImage> {
  if (ref.kind === 'raw') {
    if (ref.channels === 3) return ref;
    const pixels = ref.width * ref.height;
    const rgb = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) {
      rgb[i * 3] = ref.data[i * 4];
      rgb[i * 3 + 1] = ref.data[i * 4 + 1];
      rgb[i * 3 + 2] = ref.data[i * 4 + 2];
    }
    return { kind: 'raw', width: ref.width, height: ref.height, channels: 3, data: rgb };
  }
  try {
    const { data, info } = await sharp(ref.bytes, { limitInputPixels: options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new Llm2ClipError('E_DATA', `decoded image has ${info.channels} channels, expected 3`, { key: options.key });
    }
    return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_DATA', `cannot decode ${ref.format ?? 'image'} bytes: ${(cause as Error).message}`, { key: options.key, cause });
  }
}

/**
 * Encodes an RGB or RGBA image as PNG with sharp. libvips writes no timestamps, so equal pixels
 * give equal bytes.
 */
export async function encodePng(image: RawImage, options: { compressionLevel?: number } = {}): Promise<Uint8Array> {
  if (image.data.length !== image.width * image.height * image.channels) {
    throw new Llm2ClipError('E_SHAPE', `image of ${image.width}x${image.height}x${image.channels} needs ${image.width * image.height * image.channels} bytes, got ${image.data.length}`);
  }
  const buffer = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .png({ compressionLevel: options.compressionLevel ?? 6 })
    .toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
