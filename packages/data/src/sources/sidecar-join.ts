import { Llm2ClipError } from '@llm2clip/core';
import type { SkipReport } from '../skip-report.js';
import { readMemberGroups, type MemberGroup } from './tar-groups.js';

/** Options of the LLM2CLIP embedding sidecar join. */
export interface SidecarOptions {
  /** Suffix put before `.tar` to find the sidecar of a shard (default `_text_embeddings`, as LLM2CLIP). */
  suffix?: string;
  /** Sidecar fields to attach (default: every member of the sidecar sample), e.g. `['shortSV_captions', 'longSV_captions']`. */
  fields?: readonly string[];
  /** Sidecar samples to read ahead when a key is not next (default 64). */
  lookahead?: number;
}

/** The sidecar path of `shard` as LLM2CLIP derives it: `x.tar` → `x_text_embeddings.tar`. */
export function sidecarPath(shard: string, suffix = '_text_embeddings'): string {
  return shard.replace(/\.tar$/, `${suffix}.tar`);
}

/** Turns one sidecar member (raw little-endian float32, as `numpy().tobytes()` writes it) into a vector. */
export function decodeEmbedding(data: Uint8Array): Float32Array | undefined {
  if (data.byteLength === 0 || data.byteLength % 4 !== 0) return undefined;
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return new Float32Array(copy.buffer);
}

/**
 * Joins the samples of one shard with its LLM2CLIP sidecar (`x_text_embeddings.tar`, written by
 * LLM2CLIP's `extract_embedding.py`: per sample `<key>.shortSV_captions`, `<key>.longSV_captions`,
 * raw float32) on `__key__`. The joined group gets an `embeddings` map (field name lowercased, as
 * webdataset keys it → `Float32Array`). Both tars are read in step; keys out of order are found
 * within `lookahead` samples. A sample without a sidecar entry is skipped as `missing-embedding`; a
 * sidecar entry without a sample is counted as `key-mismatch`. A missing sidecar file skips the
 * shard's samples as `missing-embedding` (one line each, naming the sidecar).
 */
export async function* joinSidecar(
  groups: AsyncIterable<MemberGroup>,
  shard: string,
  options: SidecarOptions & { skipReport?: SkipReport; onShardError?: 'throw' | 'skip' },
): AsyncGenerator<MemberGroup & { embeddings: Record<string, Float32Array> }> {
  const path = sidecarPath(shard, options.suffix);
  const lookahead = options.lookahead ?? 64;
  const fields = options.fields?.map((field) => field.toLowerCase());
  const side = readMemberGroups(path, { onShardError: options.onShardError, skipReport: options.skipReport })[Symbol.asyncIterator]();
  const pending = new Map<string, MemberGroup>();
  let sideDone = false;
  let sideError: string | undefined;
  const pull = async (): Promise<void> => {
    try {
      const next = await side.next();
      if (next.done === true) sideDone = true;
      else pending.set(next.value.key, next.value);
    } catch (error) {
      if (!(error instanceof Llm2ClipError) || error.code !== 'E_NOT_FOUND' || options.onShardError === 'throw') throw error;
      sideDone = true;
      sideError = 'no sidecar file';
    }
  };
  for await (const group of groups) {
    let pulled = 0;
    while (!pending.has(group.key) && !sideDone && pulled < lookahead) {
      await pull();
      pulled++;
      if (pending.size > lookahead) {
        const [oldest] = pending.keys();
        pending.delete(oldest);
        options.skipReport?.add({ reason: 'key-mismatch', key: oldest, file: path, detail: 'embedding without an image sample' });
      }
    }
    const extra = pending.get(group.key);
    if (extra === undefined) {
      options.skipReport?.add({ reason: 'missing-embedding', key: group.key, file: path, detail: sideError ?? 'key not in sidecar' });
      continue;
    }
    pending.delete(group.key);
    const embeddings: Record<string, Float32Array> = {};
    let bad: string | undefined;
    for (const member of extra.members) {
      if (fields !== undefined && !fields.includes(member.extension)) continue;
      const vector = decodeEmbedding(member.data);
      if (vector === undefined) bad = `${member.extension} has ${member.data.byteLength} bytes, not a float32 vector`;
      else embeddings[member.extension] = vector;
    }
    const missing = fields?.filter((field) => embeddings[field] === undefined) ?? [];
    if (bad !== undefined || missing.length > 0 || Object.keys(embeddings).length === 0) {
      options.skipReport?.add({ reason: 'missing-embedding', key: group.key, file: path, detail: bad ?? `missing ${missing.join(', ') || 'every field'}` });
      continue;
    }
    yield { ...group, embeddings };
  }
  for (const key of pending.keys()) options.skipReport?.add({ reason: 'key-mismatch', key, file: path, detail: 'embedding without an image sample' });
  while (!sideDone) {
    pending.clear();
    await pull();
    for (const key of pending.keys()) options.skipReport?.add({ reason: 'key-mismatch', key, file: path, detail: 'embedding without an image sample' });
  }
}
