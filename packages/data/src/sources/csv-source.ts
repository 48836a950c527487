import { createReadStream } from 'node:fs';
import { dirname, extname } from 'node:path';
import { parse } from 'csv-parse';
import { Llm2ClipError } from '@llm2clip/core';
import { DATA_LIMITS } from '../limits.js';
import { IndexedSource, resolveImagePath, unreadableSource, type IndexRecord, type IndexedSourceOptions } from './indexed-source.js';

/** Options of {@link CsvSource}, named like open_clip's `--csv-*` flags. */
export interface CsvSourceOptions extends IndexedSourceOptions {
  /** Column of the image path (open_clip `--csv-img-key`, default `filepath`). */
  imageKey?: string;
  /** Column(s) of the caption (open_clip `--csv-caption-key`, default `title`); several give several captions. */
  captionKey?: string | readonly string[];
  /** Field separator (open_clip `--csv-separator`, default tab, as open_clip). */
  separator?: string;
  /** Longest record accepted (default {@link DATA_LIMITS}.maxCsvRecordBytes). */
  maxRecordBytes?: number;
}

/** Builds a unique sample key from an image path: the path without extension, `#n` added on repeats. */
export function uniqueKey(path: string, seen: Map<string, number>): string {
  const base = path.slice(0, path.length - extname(path).length);
  const count = seen.get(base) ?? 0;
  seen.set(base, count + 1);
  return count === 0 ? base : `${base}#${count}`;
}

/**
 * Reads an open_clip CSV/TSV index (a header row, then one image path and caption per row; fields
 * quoted the CSV way, parsed by `csv-parse`). A row with the wrong number of fields, a broken
 * quote is skipped as `malformed-line`; a record over `maxRecordBytes` ends the read there (counted, with
 * what was read before kept); a header without the image or caption column throws
 * `E_FORMAT` at once naming the file and the columns it has.
 */
export async function readCsvIndex(path: string, options: CsvSourceOptions = {}): Promise<IndexRecord[]> {
  const imageKey = options.imageKey ?? 'filepath';
  const captionKeys = typeof options.captionKey === 'string' ? [options.captionKey] : (options.captionKey ?? ['title']);
  const root = options.imageRoot ?? dirname(path);
  const records: IndexRecord[] = [];
  const seen = new Map<string, number>();
  let malformed = 0;
  let oversized = false;
  const parser = parse({
    delimiter: options.separator ?? '\t',
    columns: (header: string[]) => {
      const missing = [imageKey, ...captionKeys].filter((column) => !header.includes(column));
      if (missing.length > 0) {
        throw new Llm2ClipError('E_FORMAT', `CSV header lacks column(s) ${missing.join(', ')}; it has ${header.slice(0, 10).map((h) => JSON.stringify(h)).join(', ')}`, { path, field: missing[0] });
      }
      return header;
    },
    bom: true,
    // a record longer than this is an error that skip_records_with_error turns into a counted skip
    max_record_size: options.maxRecordBytes ?? DATA_LIMITS.maxCsvRecordBytes,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (error) => {
      malformed++;
      if ((error as { code?: string } | undefined)?.code === 'CSV_MAX_RECORD_SIZE') oversized = true;
      options.skipReport?.add({ reason: 'malformed-line', key: error !== undefined ? `line ${(error as { lines?: number }).lines ?? '?'}` : undefined, file: path, detail: error?.message });
    },
  });
  const input = createReadStream(path);
  input.on('error', (error) => parser.destroy(error));
  try {
    for await (const row of input.pipe(parser) as AsyncIterable<Record<string, string>>) {
      const imagePath = row[imageKey] ?? '';
      const captions = captionKeys.map((key) => (row[key] ?? '').trim()).filter((caption) => caption !== '');
      if (imagePath.trim() === '') {
        malformed++;
        options.skipReport?.add({ reason: 'missing-image', key: `record ${records.length + malformed}`, file: path, detail: `empty ${imageKey}` });
        continue;
      }
      records.push({
        key: uniqueKey(imagePath, seen),
        imagePath: resolveImagePath(root, imagePath),
        captions,
        captionKinds: captionKeys.filter((key) => (row[key] ?? '').trim() !== ''),
      });
    }
  } catch (cause) {
    unreadableSource(path, cause, 'CSV file');
  }
  if (oversized) {
    // csv-parse does not resynchronise after an oversized record: what follows it is not read
    options.skipReport?.add({ reason: 'malformed-line', key: `after record ${records.length + malformed}`, file: path, detail: `a record exceeds the ${options.maxRecordBytes ?? DATA_LIMITS.maxCsvRecordBytes}-byte limit; the rest of the file was not read` });
  }
  if (records.length === 0 && malformed > 0) throw new Llm2ClipError('E_FORMAT', `no readable row in the CSV (${malformed} malformed)`, { path });
  return records;
}

/**
 * A {@link IndexedSource} over an open_clip CSV/TSV: `filepath` and `title` columns, tab-separated
 * by default, image paths relative to the CSV's directory (or `imageRoot`).
 *
 * @example
 * ```ts
 * const source = new CsvSource('cc3m/train.csv', { separator: ',', imageKey: 'filepath', captionKey: 'title' });
 * ```
 */
export class CsvSource extends IndexedSource {
  constructor(path: string, options: CsvSourceOptions = {}) {
    super(options.name ?? `csv:${path}`, () => readCsvIndex(path, options), options);
  }
}
