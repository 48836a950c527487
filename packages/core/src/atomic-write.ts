import { mkdir, rename, rm, writeFile, open } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Llm2ClipError } from './errors.js';

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Writes `data` to `path` atomically: into a temporary sibling first, fsynced, then renamed over
 * the target. A reader (or a restarted job) sees either the old file or the new one, never a part.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = tempSibling(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true });
    throw new Llm2ClipError('E_IO', 'atomic write failed', { path, cause });
  }
}

/** Writes `value` as pretty JSON to `path` atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Builds a directory atomically: `fill` writes into a temporary sibling directory, which is then
 * renamed to `path` (replacing an older `path` if present). A killed job leaves either the old
 * directory or the new one, plus at worst a stray `.tmp-` directory that is ignored.
 */
export async function writeDirectoryAtomic(path: string, fill: (tempDir: string) => Promise<void>): Promise<void> {
  const temp = tempSibling(path);
  try {
    await mkdir(temp, { recursive: true });
    await fill(temp);
    await rm(path, { recursive: true, force: true });
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { recursive: true, force: true });
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_IO', 'atomic directory write failed', { path, cause });
  }
}

/** Writes `data` to `path` directly (for files inside a directory that is itself written atomically). */
export async function writeFilePlain(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}
