import { Llm2ClipError } from '@llm2clip/core';
import { DATA_LIMITS } from '../limits.js';
import type { SkipReport } from '../skip-report.js';
import { readTarEntries } from '../tar.js';

/** One member of a webdataset sample: its extension (lowercased, without the dot) and bytes. */
export interface SampleMember {
  readonly extension: string;
  readonly data: Uint8Array;
}

/** The members of one webdataset sample, as read from `shard`. */
export interface MemberGroup {
  readonly shard: string;
  readonly key: string;
  readonly members: SampleMember[];
}

/**
 * Splits a tar member name the webdataset way: the key is the path up to the first dot of the
 * basename (directory prefix kept), the extension is everything after that dot, lowercased.
 */
export function splitMemberName(name: string): { key: string; extension: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot < 0) return { key: name, extension: '' };
  return { key: name.slice(0, dot), extension: name.slice(dot + 1).toLowerCase() };
}

/** True when a tar read error says the archive ended early rather than being garbled. */
export function isTruncation(error: Llm2ClipError): boolean {
  return /truncated|unexpected end|premature/i.test(error.message);
}

/** What {@link readMemberGroups} does with a corrupt or truncated shard. */
export interface MemberGroupOptions {
  /** `throw` the `E_FORMAT` error, or `skip`: count it and end the shard (default `throw`). */
  onShardError?: 'throw' | 'skip';
  /** Where a skipped shard is counted. */
  skipReport?: SkipReport;
  /** Called when a shard is skipped (for legacy counters). */
  onSkippedShard?: (error: Llm2ClipError) => void;
  /** Most members one sample may collect (default {@link DATA_LIMITS}.maxSampleMembers). */
  maxSampleMembers?: number;
  /** Most bytes one sample may collect (default {@link DATA_LIMITS}.maxSampleBytes). */
  maxSampleBytes?: number;
}

/**
 * Streams the webdataset samples of one tar shard: runs of consecutive members sharing a key.
 * A missing shard always throws `E_NOT_FOUND`; a corrupt or truncated one throws `E_FORMAT` or,
 * with `onShardError: 'skip'`, is counted (`truncated-shard` / `corrupt-shard`) after the samples
 * read before the damage are yielded. A sample that collects more members or bytes than the
 * limits allow (a tar of many members under one key) is damage of the same kind (`E_FORMAT`), so
 * one shard cannot make the reader buffer without bound.
 */
export async function* readMemberGroups(shard: string, options: MemberGroupOptions = {}): AsyncGenerator<MemberGroup> {
  let key: string | undefined;
  let members: SampleMember[] = [];
  let bytes = 0;
  const maxMembers = options.maxSampleMembers ?? DATA_LIMITS.maxSampleMembers;
  const maxBytes = options.maxSampleBytes ?? DATA_LIMITS.maxSampleBytes;
  try {
    for await (const entry of readTarEntries(shard)) {
      const split = splitMemberName(entry.name);
      if (split.key !== key) {
        if (key !== undefined && members.length > 0) yield { shard, key, members };
        key = split.key;
        members = [];
        bytes = 0;
      }
      bytes += entry.data.byteLength;
      if (members.length + 1 > maxMembers || bytes > maxBytes) {
        const over = members.length + 1 > maxMembers ? `more than ${maxMembers} members` : `more than ${maxBytes} bytes`;
        members = [];
        throw new Llm2ClipError('E_FORMAT', `sample ${JSON.stringify(split.key)} collects ${over}`, { path: shard, key: split.key });
      }
      members.push({ extension: split.extension, data: entry.data });
    }
  } catch (error) {
    if (options.onShardError !== 'skip' || !(error instanceof Llm2ClipError) || error.code !== 'E_FORMAT') throw error;
    options.onSkippedShard?.(error);
    options.skipReport?.add({
      reason: isTruncation(error) ? 'truncated-shard' : 'corrupt-shard',
      file: shard,
      ...(key !== undefined ? { key: `after ${key}` } : {}),
      detail: error.message,
    });
  }
  if (key !== undefined && members.length > 0) yield { shard, key, members };
}
