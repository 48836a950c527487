import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Llm2ClipError } from '@llm2clip/core';

/** True when `location` is an `http://` or `https://` URL rather than a local path. */
export function isHttpUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/**
 * Opens a local file or an `http(s)://` URL as a byte stream. URLs are streamed with `fetch`
 * (nothing is buffered whole); a 404 throws `E_NOT_FOUND`, another HTTP error or a network
 * failure `E_IO`, each naming the URL. Local files open lazily: a missing one fails on the first
 * read with the stream's `ENOENT` error.
 */
export async function openByteStream(location: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
  if (!isHttpUrl(location)) return createReadStream(location);
  let response: Response;
  try {
    response = await fetch(location, { signal: options.signal });
  } catch (cause) {
    throw new Llm2ClipError('E_IO', `cannot fetch: ${(cause as Error).message}`, { path: location, cause });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    throw new Llm2ClipError(response.status === 404 ? 'E_NOT_FOUND' : 'E_IO', `HTTP ${response.status} ${response.statusText}`, { path: location });
  }
  return Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
}
