import { stat } from 'node:fs/promises';
import { Llm2ClipError } from '@llm2clip/core';

/**
 * Size limits the data readers enforce on untrusted files, so that a malformed or malicious
 * dataset ends in a typed error or a counted skip instead of an out-of-memory kill. Every limit
 * is checked before the bytes are buffered.
 */
export const DATA_LIMITS = {
  /**
   * Whole-file JSON annotations (COCO, Karpathy, ShareGPT4V): 512 MiB, about the longest string
   * V8 can hold. Larger annotation sets should be JSON Lines, which stream.
   */
  maxAnnotationBytes: 512 * 1024 * 1024,
  /** Small tables and text files (sizes.json, shard-manifest.json, wids index, classnames, templates, nshards): 64 MiB. */
  maxTableBytes: 64 * 1024 * 1024,
  /** One JSON Lines line: 16 MiB; a longer line is skipped and counted as `malformed-line`. */
  maxLineBytes: 16 * 1024 * 1024,
  /** One CSV/TSV record: 16 MiB; a longer record is skipped and counted as `malformed-line`. */
  maxCsvRecordBytes: 16 * 1024 * 1024,
  /** One tar member buffered in memory: 256 MiB; a larger member is refused (`E_FORMAT`). */
  maxTarEntryBytes: 256 * 1024 * 1024,
  /** Members one webdataset sample (a run of tar members sharing a key) may collect: 256; more is refused (`E_FORMAT`). */
  maxSampleMembers: 256,
  /** Bytes one webdataset sample may collect over all its members: 512 MiB; more is refused (`E_FORMAT`). */
  maxSampleBytes: 512 * 1024 * 1024,
  /** One image file of an index source: 256 MiB; a larger file is skipped as `corrupt-image`. */
  maxImageFileBytes: 256 * 1024 * 1024,
} as const;

/**
 * Throws `E_FORMAT` naming `path` when the file is larger than `limit` bytes; returns its size.
 * File-system errors propagate unchanged (callers map them to `E_NOT_FOUND` / `E_IO`).
 */
export async function checkFileSize(path: string, limit: number, what: string): Promise<number> {
  const { size } = await stat(path);
  if (size > limit) throw new Llm2ClipError('E_FORMAT', `${what} is ${size} bytes, over the ${limit}-byte limit`, { path });
  return size;
}
