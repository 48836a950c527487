import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { Llm2ClipError } from '@llm2clip/core';
import { openByteStream } from './open-stream.js';
import { DATA_LIMITS } from './limits.js';

/** One regular file inside a tar archive. */
export interface TarEntry {
  /** Member path inside the archive, e.g. `000123.png`. */
  readonly name: string;
  /** The member's bytes. */
  readonly data: Uint8Array;
}

/** Options of {@link writeTarAtomic}. */
export interface WriteTarOptions {
  /**
   * Modification time stored in every member header (default the Unix epoch), fixed so that the
   * same entries always give the same archive bytes.
   */
  mtime?: Date;
  /** Permission bits of every member (default `0o644`). */
  mode?: number;
}

/** Options of {@link readTarEntries}. */
export interface ReadTarOptions {
  /**
   * Require the end-of-archive marker (two zero blocks) that tar writers put at the end; an
   * archive cut at a member boundary lacks it and is reported as truncated (default true).
   */
  requireEndMarker?: boolean;
  /**
   * Largest member buffered (default {@link DATA_LIMITS}.maxTarEntryBytes); a member whose header
   * declares more is refused with `E_FORMAT` before any of it is read.
   */
  maxEntryBytes?: number;
}

const BLOCK = 512;

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Writes a tar archive (ustar, via tar-stream) of `entries` to `path` atomically: the archive is
 * streamed into a temporary sibling, fsynced and renamed over `path`, so readers never see a
 * partial shard. Headers carry fixed owner, mode and `mtime`, so equal entries give equal bytes.
 */
export async function writeTarAtomic(
  path: string,
  entries: Iterable<TarEntry> | AsyncIterable<TarEntry>,
  options: WriteTarOptions = {},
): Promise<void> {
  const mtime = options.mtime ?? new Date(0);
  const mode = options.mode ?? 0o644;
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dirname(path), { recursive: true });
    const pack = tar.pack();
    const written = pipeline(pack, createWriteStream(temp, { flush: true }));
    // a failed write must not leave the entry loop waiting forever
    written.catch(() => pack.destroy());
    for await (const entry of entries) {
      if (entry.name.length === 0) throw new Llm2ClipError('E_CONFIG', 'tar member name is empty', { path });
      await new Promise<void>((resolve, reject) => {
        pack.entry(
          { name: entry.name, size: entry.data.byteLength, mode, mtime, uid: 0, gid: 0, uname: '', gname: '', type: 'file' },
          asBuffer(entry.data),
          (error) => (error ? reject(error) : resolve()),
        );
      });
    }
    pack.finalize();
    await written;
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true });
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_IO', `could not write tar archive: ${(cause as Error).message}`, { path, cause });
  }
}

/**
 * Streams the regular files of the tar archive at `path` — a local file or an `http(s)://` URL —
 * one member at a time (only the current member is held in memory, at most `maxEntryBytes`). A
 * corrupt or truncated archive, an oversized member, a member whose size field does not decode, or a
 * directory member with data (tar-stream would wait forever on the last two) throws `E_FORMAT`
 * naming the file; a missing file (or HTTP 404) throws `E_NOT_FOUND`. Member names are returned
 * as data (webdataset keys) and never used as file-system paths.
 */
export async function* readTarEntries(path: string, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const requireEndMarker = options.requireEndMarker ?? true;
  const maxEntryBytes = options.maxEntryBytes ?? DATA_LIMITS.maxTarEntryBytes;
  const input = await openByteStream(path);
  const extract = tar.extract();
  // remember the last two blocks read to check the end-of-archive marker
  let tail: Buffer = Buffer.alloc(0);
  input.on('data', (chunk) => {
    const bytes = chunk as Buffer;
    tail = bytes.length >= 2 * BLOCK ? bytes.subarray(bytes.length - 2 * BLOCK) : Buffer.concat([tail, bytes]).subarray(-2 * BLOCK);
  });
  input.on('error', (error) => extract.destroy(error));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      const size = entry.header.size;
      // tar-stream hands out an entry with size null for a size field it cannot decode (a base-256
      // field not starting with 0x80/0xff) and then never ends that entry's stream: refuse it here
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new Llm2ClipError('E_FORMAT', `tar member ${JSON.stringify(entry.header.name.slice(0, 200))} has an invalid size field`, { path, field: entry.header.name.slice(0, 200) });
      }
      // tar-stream never ends the stream of a directory member that declares data: refuse it
      if (entry.header.type === 'directory' && size > 0) {
        throw new Llm2ClipError('E_FORMAT', `tar directory member ${JSON.stringify(entry.header.name.slice(0, 200))} declares ${size} data bytes`, { path, field: entry.header.name.slice(0, 200) });
      }
      if (size > maxEntryBytes) {
        throw new Llm2ClipError('E_FORMAT', `tar member ${JSON.stringify(entry.header.name.slice(0, 200))} declares ${size} bytes, over the ${maxEntryBytes}-byte limit`, { path, field: entry.header.name.slice(0, 200) });
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const type = entry.header.type ?? 'file';
      if (type === 'file' || type === 'contiguous-file') yield { name: entry.header.name, data: Buffer.concat(chunks) };
    }
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Llm2ClipError('E_NOT_FOUND', 'tar archive does not exist', { path, cause });
    if (code !== undefined && code.startsWith('E') && code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      throw new Llm2ClipError('E_IO', `could not read tar archive: ${(cause as Error).message}`, { path, cause });
    }
    throw new Llm2ClipError('E_FORMAT', `corrupt or truncated tar archive: ${(cause as Error).message}`, { path, cause });
  } finally {
    input.destroy();
    extract.destroy();
  }
  if (requireEndMarker && (tail.length < 2 * BLOCK || tail.some((byte) => byte !== 0))) {
    throw new Llm2ClipError('E_FORMAT', 'tar archive ends without the end-of-archive marker (truncated?)', { path });
  }
}
