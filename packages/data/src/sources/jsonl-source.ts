import { createReadStream } from 'node:fs';
import { dirname } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import type { SkipReport } from '../skip-report.js';
import { DATA_LIMITS } from '../limits.js';
import { readCappedLines } from './capped-lines.js';
import { uniqueKey } from './csv-source.js';
import { IndexedSource, resolveImagePath, unreadableSource, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';

/** Options of {@link JsonlSource}. */
export interface JsonlSourceOptions extends IndexedSourceOptions {
  /** Field of the image path (default `image`). */
  imageKey?: string;
  /** Caption field(s), each a string or an array of strings (default `['caption']`). */
  captionKeys?: readonly string[];
  /** Field of the sample key (default: the image path without extension). */
  keyField?: string;
  /** Keep only records whose `split` field equals this. */
  split?: string;
}

/**
 * Streams the JSON objects of a JSON Lines file, one per line, with their 1-based line numbers.
 * A line that is not a JSON object, or longer than `maxLineBytes` (default
 * {@link DATA_LIMITS}.maxLineBytes, never buffered whole), is counted as `malformed-line`
 * (key `line N`) and skipped; a file with no valid line but some malformed ones throws `E_FORMAT`
 * naming it.
 */
export async function* readJsonLines(path: string, skipReport?: SkipReport, maxLineBytes: number = DATA_LIMITS.maxLineBytes): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  const input = createReadStream(path);
  let line = 0;
  let good = 0;
  let bad = 0;
  try {
    for await (const entry of readCappedLines(input as AsyncIterable<Buffer>, maxLineBytes)) {
      line++;
      if (entry.oversized !== undefined) {
        bad++;
        skipReport?.add({ reason: 'malformed-line', key: `line ${line}`, file: path, detail: `line of ${entry.oversized} bytes exceeds the ${maxLineBytes}-byte limit` });
        continue;
      }
      const text = entry.text;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        bad++;
        skipReport?.add({ reason: 'malformed-line', key: `line ${line}`, file: path, detail: (error as Error).message });
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        bad++;
        skipReport?.add({ reason: 'malformed-line', key: `line ${line}`, file: path, detail: 'not a JSON object' });
        continue;
      }
      good++;
      yield { line, value: value as Record<string, unknown> };
    }
  } catch (cause) {
    unreadableSource(path, cause, 'JSON Lines file');
  } finally {
    input.destroy();
  }
  if (good === 0 && bad > 0) throw new Llm2ClipError('E_FORMAT', `no valid JSON line (${bad} malformed)`, { path });
}

/** The strings of a caption field: a string, or the strings of an array. */
export function captionStrings(value: unknown): string[] {
  if (typeof value === 'string') return value.trim() === '' ? [] : [value.trim()];
  if (Array.isArray(value)) return value.filter((c): c is string => typeof c === 'string' && c.trim() !== '').map((c) => c.trim());
  return [];
}

/** Reads a JSON Lines index into records; see {@link JsonlSource}. */
export async function readJsonlIndex(path: string, options: JsonlSourceOptions = {}): Promise<IndexRecord[]> {
  const imageKey = options.imageKey ?? 'image';
  const captionKeys = options.captionKeys ?? ['caption'];
  const root = options.imageRoot ?? dirname(path);
  const seen = new Map<string, number>();
  const records: IndexRecord[] = [];
  for await (const { line, value } of readJsonLines(path, options.skipReport)) {
    if (options.split !== undefined && value.split !== options.split) continue;
    const image = value[imageKey];
    if (typeof image !== 'string' || image === '') {
      options.skipReport?.add({ reason: 'missing-image', key: `line ${line}`, file: path, detail: `no string "${imageKey}"` });
      continue;
    }
    const captions: string[] = [];
    const kinds: string[] = [];
    for (const key of captionKeys) {
      for (const caption of captionStrings(value[key])) {
        captions.push(caption);
        kinds.push(key);
      }
    }
    const keyValue = options.keyField !== undefined ? value[options.keyField] : undefined;
    const meta = Object.fromEntries(Object.entries(value).filter(([field]) => field !== imageKey && !captionKeys.includes(field)));
    records.push({
      key: typeof keyValue === 'string' || typeof keyValue === 'number' ? String(keyValue) : uniqueKey(image, seen),
      imagePath: resolveImagePath(root, image),
      captions,
      captionKinds: kinds,
      meta,
    });
  }
  return records;
}

/**
 * A {@link IndexedSource} over a JSON Lines file: one object per line with an image path field
 * and one or more caption fields; other fields go to `meta`.
 *
 * @example
 * ```ts
 * const source = new JsonlSource('captions.jsonl', { imageKey: 'image', captionKeys: ['short', 'long'] });
 * ```
 */
export class JsonlSource extends IndexedSource {
  constructor(path: string, options: JsonlSourceOptions = {}) {
    super(options.name ?? `jsonl:${path}`, () => readJsonlIndex(path, options), options);
  }
}
