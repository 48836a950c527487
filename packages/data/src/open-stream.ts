import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Llm2ClipError } from '@llm2clip/core';
import { announcedDigest, type AnnouncedDigest } from './http-digest.js';

/** True when `location` is an `http://` or `https://` URL rather than a local path. */
export function isHttpUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

const MAX_REDIRECTS = 10;

/**
 * Opens a local file or an `http(s)://` URL as a byte stream. URLs are streamed with `fetch`
 * (nothing is buffered whole, no file is written); a 404 throws `E_NOT_FOUND`, another HTTP error
 * or a network failure before the body `E_IO`, each naming the URL. The body is checked as it
 * streams: one that ends before its `Content-Length` (or `X-Linked-Size`), or breaks off, fails
 * with `E_FORMAT` "truncated response" naming the URL and the byte counts; one longer than
 * announced with `E_FORMAT` too; and when the server announces a sha-256/sha-512 digest
 * (`Content-Digest`, `Repr-Digest`, `Digest`, or the hub's `X-Linked-Etag` on a redirect) a body
 * that does not match fails with `E_FORMAT` "checksum mismatch" at its end — after its bytes were
 * delivered, so a reader counts the shard as damaged (`truncated-shard` / `corrupt-shard`).
 * Local files open lazily: a missing one fails on the first read with the stream's `ENOENT` error.
 */
export async function openByteStream(
  location: string,
  /**
   * `signal` aborts the request (the stream then fails with the abort error, not counted as a bad
   * shard); `verifyDigest: false` skips the digest check (default true).
   */
  options: { signal?: AbortSignal; verifyDigest?: boolean } = {},
): Promise<Readable> {
  if (!isHttpUrl(location)) return createReadStream(location);
  let response: Response;
  let url = location;
  let linkedEtag: string | null = null;
  let linkedSize: string | null = null;
  try {
    // redirects are followed here so that the hub's X-Linked-Etag / X-Linked-Size are seen
    for (let hops = 0; ; hops++) {
      response = await fetch(url, { signal: options.signal, redirect: 'manual', headers: { 'Accept-Encoding': 'identity' } });
      linkedEtag = response.headers.get('x-linked-etag') ?? linkedEtag;
      linkedSize = response.headers.get('x-linked-size') ?? linkedSize;
      const next = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || next === null) break;
      await response.body?.cancel().catch(() => undefined);
      if (hops >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      url = new URL(next, url).toString();
      if (!isHttpUrl(url)) throw new Error(`redirect to a non-http URL ${url}`);
    }
  } catch (cause) {
    if (options.signal?.aborted) throw cause;
    throw new Llm2ClipError('E_IO', `cannot fetch: ${(cause as Error).message}`, { path: location, cause });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    throw new Llm2ClipError(response.status === 404 ? 'E_NOT_FOUND' : 'E_IO', `HTTP ${response.status} ${response.statusText}`, { path: location });
  }
  // lengths and digests describe the bytes only when no content coding was applied
  const encoding = (response.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  const plain = encoding === 'identity' || encoding === '';
  const lengthHeader = response.headers.get('content-length') ?? (response.status === 200 ? linkedSize : null);
  const expectedLength = plain && lengthHeader !== null && /^\s*\d{1,16}\s*$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const digest = plain && response.status === 200 && options.verifyDigest !== false ? announcedDigest(response.headers, linkedEtag) : undefined;
  return Readable.from(checkedBody(response.body, location, expectedLength, digest, options.signal), { objectMode: false });
}

/** Streams `body`, failing with a typed error when it is cut short, too long, or not the announced digest. */
async function* checkedBody(
  body: ReadableStream<Uint8Array>,
  location: string,
  expectedLength: number | undefined,
  digest: AnnouncedDigest | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer> {
  const reader = body.getReader();
  const hash = digest === undefined ? undefined : createHash(digest.algorithm);
  const of = expectedLength === undefined ? '' : ` of ${expectedLength}`;
  let received = 0;
  let finished = false;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        if (signal?.aborted) throw cause;
        throw new Llm2ClipError('E_FORMAT', `truncated response: the connection broke after ${received}${of} bytes (${(cause as Error).message})`, { path: location, cause });
      }
      if (chunk.done) break;
      received += chunk.value.byteLength;
      if (expectedLength !== undefined && received > expectedLength) {
        throw new Llm2ClipError('E_FORMAT', `response is longer than its announced ${expectedLength} bytes`, { path: location });
      }
      hash?.update(chunk.value);
      yield Buffer.from(chunk.value.buffer, chunk.value.byteOffset, chunk.value.byteLength);
    }
    finished = true;
  } finally {
    // the consumer stopped early or the body failed: close the connection
    if (!finished) await reader.cancel().catch(() => undefined);
  }
  if (expectedLength !== undefined && received < expectedLength) {
    throw new Llm2ClipError('E_FORMAT', `truncated response: ended after ${received}${of} bytes`, { path: location });
  }
  if (digest !== undefined && hash !== undefined) {
    const actual = hash.digest('hex');
    if (actual !== digest.hex) {
      throw new Llm2ClipError('E_FORMAT', `checksum mismatch: the body's ${digest.algorithm} is ${actual}, ${digest.header} says ${digest.hex}`, { path: location });
    }
  }
}
