/** One line from {@link readCappedLines}: its text, or the byte length of a line over the cap (not buffered). */
export type CappedLine = { readonly text: string; readonly oversized?: undefined } | { readonly text?: undefined; readonly oversized: number };

/**
 * Splits a byte stream into UTF-8 lines (`\n` or `\r\n`), holding at most `maxLineBytes` of one
 * line in memory: a longer line is not kept — it is reported as `{ oversized: bytes }` once its
 * end is reached, so a file without newlines cannot exhaust memory.
 */
export async function* readCappedLines(chunks: AsyncIterable<Buffer | Uint8Array>, maxLineBytes: number): AsyncGenerator<CappedLine> {
  const decoder = new TextDecoder('utf-8');
  let parts: Uint8Array[] = [];
  let length = 0;
  let oversized = false;
  const finish = (): CappedLine => {
    const line: CappedLine = oversized ? { oversized: length } : { text: decoder.decode(concat(parts, length)).replace(/\r$/, '') };
    parts = [];
    length = 0;
    oversized = false;
    return line;
  };
  for await (const chunk of chunks) {
    let start = 0;
    while (start <= chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      const piece = chunk.subarray(start, end);
      length += piece.length;
      if (!oversized && length > maxLineBytes) {
        oversized = true;
        parts = [];
      }
      if (!oversized && piece.length > 0) parts.push(piece);
      if (newline < 0) break;
      yield finish();
      start = newline + 1;
    }
  }
  if (length > 0 || oversized) yield finish();
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
