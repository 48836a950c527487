import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Llm2ClipError, type EmbeddingManifest } from '@llm2clip/core';
import { sidecarPath, writeTarAtomic, type TarEntry } from '@llm2clip/data';
import { readSafetensors } from '@llm2clip/tensor';
import { EMBEDDINGS_TENSOR } from './embedding-cache.js';
import { SHARD_RECORD_SUFFIX, type EmbeddingShardRecord } from './sharded-embed.js';

/** LLM2CLIP's column names: `extract_embedding.py` writes `shortSV_captions` and `longSV_captions`. */
export const LLM2CLIP_CAPTION_FIELDS: Readonly<Record<string, string>> = { short: 'shortSV_captions', long: 'longSV_captions' };

/** Options of {@link writeLlm2ClipColumnTars}. */
export interface Llm2ClipColumnTarOptions {
  /** Caption kind → tar member extension. [{@link LLM2CLIP_CAPTION_FIELDS}] */
  fields?: Readonly<Record<string, string>>;
  /** Write the tars here instead of beside the input tars. */
  outDir?: string;
}

/**
 * Writes a merged sharded cache (see {@link mergeEmbeddingShards}) also in LLM2CLIP's own layout:
 * beside each input `x.tar` (or into `outDir`) an `x_text_embeddings.tar` whose samples, in the
 * input's order and with its keys, hold one member per field — `<key>.shortSV_captions`,
 * `<key>.longSV_captions` — with the raw little-endian float32 embedding of the first caption of
 * that kind (`tensor.numpy().tobytes()` in `llm2clip/data/extract_embedding.py`), so LLM2CLIP's
 * `add_column` reader can train on it. A sample without a caption of some field's kind is an
 * `E_DATA` naming it. Returns the paths written.
 */
export async function writeLlm2ClipColumnTars(cacheDir: string, options: Llm2ClipColumnTarOptions = {}): Promise<string[]> {
  const fields = Object.entries(options.fields ?? LLM2CLIP_CAPTION_FIELDS);
  if (fields.length === 0) throw new Llm2ClipError('E_CONFIG', 'no caption fields to write', { field: 'fields' });
  const manifestPath = join(cacheDir, 'manifest.json');
  let manifest: EmbeddingManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as EmbeddingManifest;
  } catch (cause) {
    throw new Llm2ClipError('E_NOT_FOUND', 'no merged manifest: run `embed merge` first', { path: manifestPath, cause });
  }
  const written: string[] = [];
  for (const shard of manifest.shards) {
    const recordPath = join(cacheDir, shard.file.replace(/\.safetensors$/, SHARD_RECORD_SUFFIX));
    let record: EmbeddingShardRecord;
    try {
      record = JSON.parse(await readFile(recordPath, 'utf8')) as EmbeddingShardRecord;
    } catch (cause) {
      throw new Llm2ClipError('E_NOT_FOUND', 'shard record missing: this cache was not written by embedShards', { path: recordPath, cause });
    }
    const path = join(cacheDir, shard.file);
    const file = await readSafetensors(path);
    const data = file.tensors.get(EMBEDDINGS_TENSOR)?.data as Float32Array | undefined;
    if (data === undefined) throw new Llm2ClipError('E_FORMAT', `shard has no "${EMBEDDINGS_TENSOR}" tensor`, { path });
    const keys = JSON.parse(file.metadata.keys ?? '[]') as string[];
    const offsets = JSON.parse(file.metadata.offsets ?? '[]') as number[];
    const kinds = JSON.parse(file.metadata.caption_kinds ?? 'null') as Array<string[] | null> | null;
    const dim = manifest.dim;
    const entries: TarEntry[] = [];
    keys.forEach((key, i) => {
      for (const [kind, extension] of fields) {
        const at = kinds?.[i]?.indexOf(kind) ?? -1;
        if (at < 0) throw new Llm2ClipError('E_DATA', `sample has no "${kind}" caption for the ${extension} column`, { path, key });
        const row = data.slice((offsets[i] + at) * dim, (offsets[i] + at + 1) * dim);
        entries.push({ name: `${key}.${extension}`, data: new Uint8Array(row.buffer, row.byteOffset, row.byteLength) });
      }
    });
    const name = `${basename(record.input.name).replace(/\.tar$/, '')}_text_embeddings.tar`;
    const out = options.outDir !== undefined ? join(options.outDir, name) : sidecarPath(record.input.name);
    await writeTarAtomic(out, entries);
    written.push(out);
  }
  return written;
}
