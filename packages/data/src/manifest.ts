import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Llm2ClipError, writeJsonAtomic, type ProgressCallback } from '@llm2clip/core';
import { expandBraces } from './expand-braces.js';
import { DATA_LIMITS, checkFileSize } from './limits.js';
import { isHttpUrl } from './open-stream.js';
import type { SkipReport } from './skip-report.js';
import { readMemberGroups } from './sources/tar-groups.js';
import { readTextLocation } from './sources/text-lines.js';
import { WebDatasetSource, type WebDatasetOptions } from './webdataset-source.js';

/** `format` of our shard manifest. */
export const SHARD_MANIFEST_FORMAT = 'llm2clip.shard-manifest';
/** `version` of our shard manifest. */
export const SHARD_MANIFEST_VERSION = 1;
/** File name of our shard manifest, beside the shards. */
export const SHARD_MANIFEST_FILE = 'shard-manifest.json';
/** File name of open_clip's shard size table (`{ "shard-0000.tar": 10000, … }`). */
export const SIZES_JSON_FILE = 'sizes.json';

/** Our shard manifest: sample counts per shard file of one directory. */
export interface ShardManifest {
  format: typeof SHARD_MANIFEST_FORMAT;
  version: number;
  /** Shard file names (no directory) and their sample counts, in the order counted. */
  shards: { file: string; samples: number; complete: boolean }[];
  /** Sum of `samples`. */
  total: number;
  createdAt: string;
}

async function readJsonIfPresent(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    await checkFileSize(path, DATA_LIMITS.maxTableBytes, 'shard size table');
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Llm2ClipError('E_IO', 'cannot read shard size table', { path, cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'shard size table is not valid JSON', { path, cause });
  }
}

/**
 * Reads the sample count of each shard without reading the shards: from our
 * `shard-manifest.json` (format `llm2clip.shard-manifest`) or open_clip's `sizes.json`, looked up
 * in each shard's directory by file name (for `http(s)://` shards, the `sizes.json` beside them).
 * Returns `undefined` when some shard is in neither; a table that is not valid throws `E_FORMAT`.
 */
export async function readShardSizes(shards: readonly string[]): Promise<number[] | undefined> {
  const tables = new Map<string, Map<string, number> | undefined>();
  const sizes: number[] = [];
  for (const shard of shards) {
    const dir = isHttpUrl(shard) ? shard.slice(0, shard.lastIndexOf('/')) : dirname(shard);
    if (!tables.has(dir)) tables.set(dir, await readSizeTable(dir));
    const size = tables.get(dir)?.get(basename(shard));
    if (size === undefined) return undefined;
    sizes.push(size);
  }
  return sizes;
}

async function readSizeTable(dir: string): Promise<Map<string, number> | undefined> {
  if (isHttpUrl(dir)) return readRemoteSizes(`${dir}/${SIZES_JSON_FILE}`);
  const ownPath = join(dir, SHARD_MANIFEST_FILE);
  const own = (await readJsonIfPresent(ownPath)) as ShardManifest | undefined;
  if (own !== undefined) {
    if (own?.format !== SHARD_MANIFEST_FORMAT || own.version !== SHARD_MANIFEST_VERSION || !Array.isArray(own.shards)) {
      throw new Llm2ClipError('E_FORMAT', `expected format "${SHARD_MANIFEST_FORMAT}" version ${SHARD_MANIFEST_VERSION}`, { path: ownPath, field: 'format' });
    }
    const table = new Map<string, number>();
    own.shards.forEach((entry, i) => {
      if (typeof entry?.file !== 'string' || !Number.isInteger(entry.samples) || entry.samples < 0) {
        throw new Llm2ClipError('E_FORMAT', 'shard entry needs a string "file" and a non-negative integer "samples"', { path: ownPath, field: `shards[${i}]` });
      }
      table.set(entry.file, entry.samples);
    });
    return table;
  }
  const sizesPath = join(dir, SIZES_JSON_FILE);
  return parseSizes(await readJsonIfPresent(sizesPath), sizesPath);
}

/** Fetches open_clip's `sizes.json` beside remote shards; absent (404) gives undefined. */
async function readRemoteSizes(url: string): Promise<Map<string, number> | undefined> {
  let text: string;
  try {
    text = await readTextLocation(url, 'sizes.json');
  } catch (error) {
    if (error instanceof Llm2ClipError && error.code === 'E_NOT_FOUND') return undefined;
    throw error;
  }
  try {
    return parseSizes(JSON.parse(text), url);
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_FORMAT', 'shard size table is not valid JSON', { path: url, cause });
  }
}

function parseSizes(sizes: unknown, sizesPath: string): Map<string, number> | undefined {
  if (sizes === undefined) return undefined;
  if (typeof sizes !== 'object' || sizes === null || Array.isArray(sizes)) throw new Llm2ClipError('E_FORMAT', 'sizes.json must map shard file names to counts', { path: sizesPath });
  const table = new Map<string, number>();
  for (const [file, value] of Object.entries(sizes)) {
    // open_clip applies int() to the values, so "123" counts too
    const count = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (!Number.isInteger(count) || (count as number) < 0) throw new Llm2ClipError('E_FORMAT', `count of ${file} is not a non-negative integer`, { path: sizesPath, field: file });
    table.set(file, count as number);
  }
  return table;
}

/** Options of {@link countShardSamples}. */
export interface CountShardsOptions {
  /** Write `shard-manifest.json` into each shard directory (default true); written atomically. */
  write?: boolean;
  /** Also write open_clip's `sizes.json` so open_clip reads the counts too (default false). */
  writeSizesJson?: boolean;
  /** Truncated or corrupt shards are counted up to the damage and reported here (else they throw `E_FORMAT`). */
  skipReport?: SkipReport;
  /** Progress per shard (`task: 'count-shards'`, `unit: 'shard'`). */
  onProgress?: ProgressCallback;
}

/**
 * Counts the samples (runs of members sharing a key) of each shard in one pass over the tar headers
 * and members, and writes the counts as `shard-manifest.json` beside the shards (temp file + rename),
 * merged with the entries already there for other shards. Returns the counts in shard order.
 */
export async function countShardSamples(shards: readonly string[], options: CountShardsOptions = {}): Promise<number[]> {
  const counts: number[] = [];
  const complete: boolean[] = [];
  for (const [i, shard] of shards.entries()) {
    let count = 0;
    let ok = true;
    for await (const _ of readMemberGroups(shard, { onShardError: options.skipReport !== undefined ? 'skip' : 'throw', skipReport: options.skipReport, onSkippedShard: () => (ok = false) })) count++;
    counts.push(count);
    complete.push(ok);
    options.onProgress?.({ task: 'count-shards', done: i + 1, total: shards.length, unit: 'shard' });
  }
  if (options.write ?? true) {
    const byDir = new Map<string, number[]>();
    shards.forEach((shard, i) => {
      if (isHttpUrl(shard)) return;
      const list = byDir.get(dirname(shard)) ?? [];
      list.push(i);
      byDir.set(dirname(shard), list);
    });
    for (const [dir, indices] of byDir) {
      const existing = (await readJsonIfPresent(join(dir, SHARD_MANIFEST_FILE)).catch(() => undefined)) as ShardManifest | undefined;
      const entries = new Map<string, { file: string; samples: number; complete: boolean }>();
      if (existing?.format === SHARD_MANIFEST_FORMAT && Array.isArray(existing.shards)) for (const entry of existing.shards) entries.set(entry.file, entry);
      for (const i of indices) entries.set(basename(shards[i]), { file: basename(shards[i]), samples: counts[i], complete: complete[i] });
      const list = [...entries.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
      const manifest: ShardManifest = {
        format: SHARD_MANIFEST_FORMAT,
        version: SHARD_MANIFEST_VERSION,
        shards: list,
        total: list.reduce((sum, entry) => sum + entry.samples, 0),
        createdAt: new Date().toISOString(),
      };
      await writeJsonAtomic(join(dir, SHARD_MANIFEST_FILE), manifest);
      if (options.writeSizesJson ?? false) await writeJsonAtomic(join(dir, SIZES_JSON_FILE), Object.fromEntries(list.map((entry) => [entry.file, entry.samples])));
    }
  }
  return counts;
}

/** Options of {@link openWebDataset}. */
export interface OpenWebDatasetOptions extends WebDatasetOptions {
  /** Count shards without a size table in one pass and write the manifest (default true for local shards). */
  countIfMissing?: boolean;
}

/**
 * Opens webdataset shards with their sample counts known: from `shard-manifest.json` or
 * `sizes.json`, else (by default) counted once and written as `shard-manifest.json`, so the next
 * run knows them for progress and ETA without reading the data.
 *
 * @example
 * ```ts
 * const source = await openWebDataset('/data/cc3m/{00000..00331}.tar', { shuffleBuffer: 5000 });
 * console.log(source.size);
 * ```
 */
export async function openWebDataset(shards: string | readonly string[], options: OpenWebDatasetOptions = {}): Promise<WebDatasetSource> {
  const list = typeof shards === 'string' ? expandBraces(shards) : [...shards];
  const { countIfMissing, ...rest } = options;
  let sizes = rest.shardSizes !== undefined ? [...rest.shardSizes] : await readShardSizes(list);
  if (sizes === undefined && (countIfMissing ?? !list.some(isHttpUrl))) sizes = await countShardSamples(list, { skipReport: rest.skipReport });
  return new WebDatasetSource(list, { ...(typeof shards === 'string' ? { name: shards } : {}), ...rest, ...(sizes !== undefined ? { shardSizes: sizes } : {}) });
}
