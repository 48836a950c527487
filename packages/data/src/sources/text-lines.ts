import { readFile } from 'node:fs/promises';
import { Llm2ClipError } from '@llm2clip/core';
import { isHttpUrl } from '../open-stream.js';
import { DATA_LIMITS, checkFileSize } from '../limits.js';
import { unreadableSource } from './indexed-source.js';

/**
 * Reads a small text file from a path or `http(s)://` URL, throwing `E_NOT_FOUND`/`E_IO` naming it,
 * or `E_FORMAT` when it is larger than `maxBytes` (default {@link DATA_LIMITS}.maxTableBytes): a
 * local file is measured before it is read, a download is cut off once it passes the limit.
 */
export async function readTextLocation(location: string, what = 'file', maxBytes: number = DATA_LIMITS.maxTableBytes): Promise<string> {
  if (isHttpUrl(location)) {
    let response: Response;
    try {
      response = await fetch(location);
    } catch (cause) {
      throw new Llm2ClipError('E_IO', `cannot fetch ${what}: ${(cause as Error).message}`, { path: location, cause });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new Llm2ClipError(response.status === 404 ? 'E_NOT_FOUND' : 'E_IO', `${what}: HTTP ${response.status}`, { path: location });
    }
    return readBoundedBody(response, location, what, maxBytes);
  }
  try {
    await checkFileSize(location, maxBytes, what);
    return await readFile(location, 'utf8');
  } catch (cause) {
    return unreadableSource(location, cause, what);
  }
}

/** The body of `response` as UTF-8, refused with `E_FORMAT` once it passes `maxBytes`. */
async function readBoundedBody(response: Response, location: string, what: string, maxBytes: number): Promise<string> {
  const tooLarge = (): Llm2ClipError => new Llm2ClipError('E_FORMAT', `${what} is over the ${maxBytes}-byte limit`, { path: location });
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.byteLength;
      if (length > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      parts.push(value);
    }
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_IO', `cannot download ${what}: ${(cause as Error).message}`, { path: location, cause });
  }
  return new TextDecoder().decode(Buffer.concat(parts));
}

/** The non-empty, trimmed lines of a text file (class names, templates). */
export async function readTextLines(location: string, what = 'file'): Promise<string[]> {
  return (await readTextLocation(location, what))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** Reads a `classnames.txt` (one class name per line, in label order), as CLIP_benchmark ships it. */
export function readClassnames(location: string): Promise<string[]> {
  return readTextLines(location, 'classnames file');
}

/**
 * Reads a `zeroshot_classification_templates.txt` (one prompt per line with `{c}` where the class
 * name goes, e.g. `a photo of a {c}.`). A template without `{c}` throws `E_FORMAT`.
 */
export async function readTemplates(location: string): Promise<string[]> {
  const templates = await readTextLines(location, 'templates file');
  const bad = templates.findIndex((template) => !template.includes('{c}'));
  if (bad >= 0) throw new Llm2ClipError('E_FORMAT', `template ${bad + 1} has no "{c}" placeholder: ${JSON.stringify(templates[bad])}`, { path: location, field: `line ${bad + 1}` });
  return templates;
}
