import { pathToFileURL } from 'node:url';
import { Llm2ClipError } from '@llm2clip/core';
import sharp from 'sharp';
import { DEFAULT_LIMIT_INPUT_PIXELS, decodeImage } from '../image-codec.js';
import type { WorkerTransform, WorkerTransformSpec } from './worker-transform.js';

/** One image for the decode workers. */
export interface DecodeJob {
  bytes: Uint8Array;
  format?: string;
  key: string;
  seed: number;
}

/** Settings shared by every decode job of a loader. */
export interface DecodeSettings {
  /** Refuse images with more pixels than this (decompression bombs). */
  limitInputPixels?: number;
  /** Transform run after (or instead of) the plain decode. */
  workerTransform?: WorkerTransformSpec;
}

/** Loads the transform function of a {@link WorkerTransformSpec}; a missing export throws `E_CONFIG`. */
export async function loadWorkerTransform(spec: WorkerTransformSpec): Promise<WorkerTransform> {
  const url = spec.module instanceof URL ? spec.module.href : /^[a-z]+:/i.test(spec.module) ? spec.module : pathToFileURL(spec.module).href;
  const module = (await import(url)) as Record<string, unknown>;
  const fn = module[spec.exportName ?? 'default'];
  if (typeof fn !== 'function') throw new Llm2ClipError('E_CONFIG', `module has no function export "${spec.exportName ?? 'default'}"`, { path: String(spec.module), field: 'workerTransform' });
  return fn as WorkerTransform;
}

/** Runs one decode job: the worker transform when given, else a plain RGB decode. */
export async function runDecodeJob(job: DecodeJob, settings: DecodeSettings, transform: WorkerTransform | undefined): Promise<unknown> {
  const decode = () => decodeImage({ kind: 'encoded', bytes: job.bytes, format: job.format }, { key: job.key, limitInputPixels: settings.limitInputPixels });
  if (transform === undefined) return decode();
  const limitInputPixels = settings.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  return transform({ bytes: job.bytes, format: job.format, key: job.key, seed: job.seed, options: settings.workerTransform?.options, decode, sharp, limitInputPixels });
}

/** The ArrayBuffers of the typed arrays at the top level (and one level down) of a result, to transfer. */
export function transferables(value: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (item: unknown, depth: number): void => {
    if (ArrayBuffer.isView(item)) {
      if (item.buffer instanceof ArrayBuffer && item.byteOffset === 0 && item.byteLength === item.buffer.byteLength) out.add(item.buffer);
    } else if (depth < 2 && typeof item === 'object' && item !== null) {
      for (const child of Object.values(item)) visit(child, depth + 1);
    }
  };
  visit(value, 0);
  return [...out];
}
