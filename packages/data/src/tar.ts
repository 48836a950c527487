import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { Llm2ClipError } from '@llm2clip/core';

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
 * Streams the regular files of the tar archive at `path`, one member at a time (only the current
 * member is held in memory). A corrupt or truncated archive throws `E_FORMAT` naming the file;
 * a missing file throws `E_NOT_FOUND`.
 */
export async function* readTarEntries(path: string, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const requireEndMarker = options.requireEndMarker ?? true;
  const input = createReadStream(path);
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
