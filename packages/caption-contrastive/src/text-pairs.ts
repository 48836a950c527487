import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Llm2ClipError } from '@llm2clip/core';

/** One text-pair training example (LLM2Vec's E5 JSONL rows: `query`, `positive`, `negative`). */
export interface TextPair {
  /** The query text (gets the source's instruction). */
  query: string;
  /** A text that matches the query. */
  positive: string;
  /** A hard negative: a text that looks related but does not match. */
  negative: string;
}

/** A named set of text pairs mixed into stage 1, batched on its own (homogeneous batches). */
export interface TextPairSource {
  /** Name shown in metrics (`source` field). */
  name: string;
  /** The pairs. */
  pairs: readonly TextPair[];
  /** Instruction put before every query of this source (excluded from pooling). Default none. */
  instruction?: string;
}

/** What {@link readTextPairsJsonl} returns. */
export interface ReadTextPairsResult {
  /** The valid rows, in file order. */
  pairs: TextPair[];
  /** Rows skipped because they were not JSON objects with three non-empty strings. */
  skipped: number;
  /** Line numbers (1-based) of the first few skipped rows, for messages. */
  skippedLines: number[];
}

/**
 * Reads a JSONL file of `{"query": …, "positive": …, "negative": …}` rows (the format of
 * LLM2Vec's E5 training files). Blank lines are ignored; a row that is not valid JSON or lacks a
 * non-empty string field is skipped and counted, so one bad line does not stop a long job.
 *
 * @throws Llm2ClipError `E_IO` when the file cannot be read, `E_DATA` when no row is valid.
 */
export async function readTextPairsJsonl(path: string): Promise<ReadTextPairsResult> {
  const pairs: TextPair[] = [];
  const skippedLines: number[] = [];
  let skipped = 0;
  let lineNumber = 0;
  try {
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      const pair = parseTextPair(line);
      if (pair === undefined) {
        skipped += 1;
        if (skippedLines.length < 10) skippedLines.push(lineNumber);
      } else {
        pairs.push(pair);
      }
    }
  } catch (cause) {
    throw new Llm2ClipError('E_IO', `cannot read text pairs: ${(cause as Error).message}`, { path, cause });
  }
  if (pairs.length === 0) throw new Llm2ClipError('E_DATA', `no valid {query, positive, negative} row (${skipped} skipped)`, { path });
  return { pairs, skipped, skippedLines };
}

function parseTextPair(line: string): TextPair | undefined {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof row !== 'object' || row === null) return undefined;
  const { query, positive, negative } = row as Record<string, unknown>;
  const ok = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';
  return ok(query) && ok(positive) && ok(negative) ? { query, positive, negative } : undefined;
}
