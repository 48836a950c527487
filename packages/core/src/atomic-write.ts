import { mkdir, readdir, rename, rm, writeFile, open } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Llm2ClipError } from './errors.js';

/** Temporary siblings this process is writing right now (absolute paths). */
const inFlight = new Set<string>();

function tempSibling(path: string, kind: 'tmp' | 'old' = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True when process `pid` still runs on this host (another user's process counts as running). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes the temporary siblings of `path` that killed writers left behind:
 * `.<name>.tmp-<pid>-<hex>` (a write that never reached its rename) and `.<name>.old-<pid>-<hex>`
 * (a replaced directory whose deletion was interrupted). A sibling counts as abandoned when its
 * process no longer runs, or when it carries this process's pid but is not one of its writes in
 * progress (a job restarted in a fresh container often gets the pid of the killed one). Every
 * atomic write here calls it first, so repeated kills of a resumed job do not pile up partial
 * files next to its exports. Returns the names removed.
 */
export async function removeStaleTempSiblings(path: string): Promise<string[]> {
  const dir = dirname(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const pattern = new RegExp(`^\\.${escapeRegExp(basename(path))}\\.(tmp|old)-(\\d+)-[0-9a-f]{8}$`);
  const removed: string[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (match === null) continue;
    const full = join(dir, name);
    const pid = Number(match[2]);
    const abandoned = pid === process.pid ? !inFlight.has(full) : !processAlive(pid);
    if (!abandoned) continue;
    await rm(full, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Writes `data` to `path` atomically: into a temporary sibling first, fsynced, then renamed over
 * the target. A reader (or a restarted job) sees either the old file or the new one, never a part.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await removeStaleTempSiblings(path);
  const temp = tempSibling(path);
  inFlight.add(temp);
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
    await syncDirectory(dirname(path));
  } catch (cause) {
    await rm(temp, { force: true });
    throw new Llm2ClipError('E_IO', 'atomic write failed', { path, cause });
  } finally {
    inFlight.delete(temp);
  }
}

/** Writes `value` as pretty JSON to `path` atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Builds a directory atomically: `fill` writes into a temporary sibling directory, which is then
 * renamed to `path`. An older `path` is first renamed aside and deleted only after the new one is
 * in place, so a killed job leaves the old directory whole or the new one whole (at worst with no
 * directory at `path` for the instant between the two renames), never a half-deleted one; the
 * stray siblings it may leave are removed by the next write ({@link removeStaleTempSiblings}).
 */
export async function writeDirectoryAtomic(path: string, fill: (tempDir: string) => Promise<void>): Promise<void> {
  await removeStaleTempSiblings(path);
  const temp = tempSibling(path);
  const aside = tempSibling(path, 'old');
  inFlight.add(temp);
  inFlight.add(aside);
  try {
    await mkdir(temp, { recursive: true });
    await fill(temp);
    await syncDirectory(temp);
    let replaced = false;
    try {
      await rename(path, aside);
      replaced = true;
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    }
    await rename(temp, path);
    await syncDirectory(dirname(path));
    if (replaced) await rm(aside, { recursive: true, force: true });
  } catch (cause) {
    await rm(temp, { recursive: true, force: true });
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_IO', 'atomic directory write failed', { path, cause });
  } finally {
    inFlight.delete(temp);
    inFlight.delete(aside);
  }
}

/**
 * Writes `data` to `path` directly (for files inside a directory that is itself written
 * atomically). With `sync: true` the data is flushed to the disk (`fsync`) before this returns, so
 * a checkpoint renamed into place afterwards survives a power cut, not only a killed process.
 */
export async function writeFilePlain(path: string, data: string | Uint8Array, options: { sync?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  if (options.sync !== true) {
    await writeFile(path, data);
    return;
  }
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a directory's entries (new names, renames) to the disk; a no-op where directories cannot be opened (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    await handle.close();
  }
}
