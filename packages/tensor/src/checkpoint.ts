import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Llm2ClipError, writeDirectoryAtomic, writeFilePlain, type RngState } from '@llm2clip/core';
import { readSafetensors, serializeSafetensors, type HostTensor } from './safetensors.js';
import type { AdamWState } from './optim/adamw.js';

/** `format` of `trainer.json` in a checkpoint directory. */
export const CHECKPOINT_FORMAT = 'llm2clip.checkpoint';
/** Current checkpoint layout version. */
export const CHECKPOINT_VERSION = 1;

/** Everything a trainer needs to continue exactly where it stopped. */
export interface CheckpointContent {
  /** Steps completed. */
  step: number;
  /** Model weights by name (trainable ones at least). */
  weights: Map<string, HostTensor>;
  /** Optimizer moments and step count. */
  optimizer?: AdamWState;
  /** Random generator state. */
  rng?: RngState;
  /** Data position (source-specific JSON). */
  cursor?: unknown;
  /** Trainer facts: phase, config, metrics so far. */
  trainer: Record<string, unknown>;
}

/** The content of `trainer.json`. */
export interface TrainerJson {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  optimizerStep?: number;
  rng?: RngState;
  cursor?: unknown;
  trainer: Record<string, unknown>;
  createdAt: string;
}

const STEP_DIR = /^step-(\d+)$/;

/** Name of the directory of step `step`. */
export function checkpointDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/**
 * Names an interrupted write leaves in a checkpoints directory: `.step-XXXXXXXX.tmp-<pid>-<hex>`
 * (a checkpoint being built, from `@llm2clip/core`'s `writeDirectoryAtomic`) and
 * `.step-XXXXXXXX.del-<pid>-<hex>` (a checkpoint being removed).
 */
const LEFTOVER = /^\.step-\d+\.(tmp|del)-(\d+)-[0-9a-f]+$/;

/** Saves of this process in progress, by checkpoints directory. */
const savesInFlight = new Map<string, number>();

/**
 * Whether the writer of a temporary directory may still be writing it. This process's own pid
 * counts as alive only while one of its saves into that directory is in progress: a job restarted
 * in a fresh container often gets the same pid (1) as the killed one.
 */
function writerAlive(pid: number, checkpointsDir: string): boolean {
  if (pid === process.pid) return (savesInFlight.get(resolve(checkpointsDir)) ?? 0) > 0;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a checkpoint directory so that no half-deleted copy can ever be listed: it is first
 * renamed out of the `step-XXXXXXXX` namespace (atomic), then deleted. A job killed in between
 * leaves a `.step-….del-…` directory, which {@link removeCheckpointLeftovers} clears later.
 */
async function removeCheckpointDir(path: string): Promise<void> {
  const aside = join(dirname(path), `.${basename(path)}.del-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(path, aside);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Llm2ClipError('E_IO', 'cannot remove an old checkpoint', { path, cause });
  }
  await rm(aside, { recursive: true, force: true });
}

/**
 * Deletes what killed jobs left in `checkpointsDir`: temporary checkpoint directories whose
 * writing process is no longer alive (on this host; this process's own only when none of its
 * saves into the directory is in progress), and directories whose removal was interrupted. Each such temporary directory can be as large as a whole checkpoint, so without
 * this every kill during a checkpoint write would leak that much disk. {@link saveCheckpoint}
 * calls it before each write. Returns the names removed.
 */
export async function removeCheckpointLeftovers(checkpointsDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = LEFTOVER.exec(name);
    if (match === null) continue;
    if (match[1] === 'tmp' && writerAlive(Number(match[2]), checkpointsDir)) continue;
    await rm(join(checkpointsDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Writes a checkpoint to `checkpointsDir/step-XXXXXXXX/` atomically (built under a temporary name,
 * then renamed), so a killed job always leaves the previous checkpoint whole. Keeps the newest
 * `keep` checkpoints (default: all); older ones (and a same-step directory being replaced) are
 * renamed aside before they are deleted, so a kill during a removal never leaves a half-deleted
 * directory that still looks complete. Temporary directories of earlier killed jobs are removed
 * first ({@link removeCheckpointLeftovers}). Returns the directory written.
 */
export async function saveCheckpoint(checkpointsDir: string, content: CheckpointContent, options: { keep?: number } = {}): Promise<string> {
  const target = join(checkpointsDir, checkpointDirName(content.step));
  await removeCheckpointLeftovers(checkpointsDir);
  const key = resolve(checkpointsDir);
  savesInFlight.set(key, (savesInFlight.get(key) ?? 0) + 1);
  try {
    await removeCheckpointDir(target);
    await writeDirectoryAtomic(target, async (dir) => {
      await writeFilePlain(join(dir, 'model.safetensors'), serializeSafetensors(content.weights, { format: 'pt' }), { sync: true });
      if (content.optimizer !== undefined) {
        await writeFilePlain(join(dir, 'optimizer.safetensors'), serializeSafetensors(content.optimizer.tensors, { step: String(content.optimizer.step) }), { sync: true });
      }
      const trainer: TrainerJson = {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        step: content.step,
        optimizerStep: content.optimizer?.step,
        rng: content.rng,
        cursor: content.cursor,
        trainer: content.trainer,
        createdAt: new Date().toISOString(),
      };
      // trainer.json is written last: its presence marks a complete checkpoint
      await writeFilePlain(join(dir, 'trainer.json'), `${JSON.stringify(trainer, null, 2)}\n`, { sync: true });
    });
    if (options.keep !== undefined && options.keep > 0) {
      const all = await listCheckpoints(checkpointsDir);
      for (const old of all.slice(0, Math.max(0, all.length - options.keep))) await removeCheckpointDir(old.path);
    }
  } finally {
    const left = (savesInFlight.get(key) ?? 1) - 1;
    if (left > 0) savesInFlight.set(key, left);
    else savesInFlight.delete(key);
  }
  return target;
}

/** Complete checkpoints under `checkpointsDir`, oldest first. */
export async function listCheckpoints(checkpointsDir: string): Promise<Array<{ step: number; path: string }>> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir);
  } catch {
    return [];
  }
  const found: Array<{ step: number; path: string }> = [];
  for (const name of names) {
    const match = STEP_DIR.exec(name);
    if (match === null) continue;
    const path = join(checkpointsDir, name);
    try {
      await stat(join(path, 'trainer.json'));
      found.push({ step: Number(match[1]), path });
    } catch {
      // incomplete: ignored
    }
  }
  return found.sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint directory, or `undefined`. */
export async function latestCheckpoint(checkpointsDir: string): Promise<string | undefined> {
  const all = await listCheckpoints(checkpointsDir);
  return all.at(-1)?.path;
}

/** Largest `trainer.json` {@link loadCheckpoint} reads (64 MiB); a larger one is refused before it is read. */
export const CHECKPOINT_MAX_TRAINER_JSON_BYTES = 64 * 1024 * 1024;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Validates parsed `trainer.json` content: the format and version, `step` and `optimizerStep` as
 * non-negative safe integers, `rng` as a saved generator state, `trainer` as an object. Throws
 * `E_FORMAT` naming the file and the field.
 */
export function validateTrainerJson(json: unknown, path: string): TrainerJson {
  const fail = (message: string, field?: string): never => {
    throw new Llm2ClipError('E_FORMAT', message, { path, ...(field !== undefined ? { field } : {}) });
  };
  if (!isPlainObject(json)) return fail('trainer.json is not a JSON object');
  if (json.format !== CHECKPOINT_FORMAT || json.version !== CHECKPOINT_VERSION) {
    return fail(`expected ${CHECKPOINT_FORMAT} v${CHECKPOINT_VERSION}, found ${String(json.format).slice(0, 80)} v${String(json.version).slice(0, 20)}`, 'format');
  }
  if (!isCount(json.step)) return fail('step must be a non-negative integer', 'step');
  if (json.optimizerStep !== undefined && !isCount(json.optimizerStep)) return fail('optimizerStep must be a non-negative integer', 'optimizerStep');
  if (json.rng !== undefined) {
    const rng = json.rng as { algorithm?: unknown; state?: unknown };
    if (!isPlainObject(rng) || rng.algorithm !== 'xoroshiro128plus' || !Array.isArray(rng.state) || rng.state.length !== 4 || rng.state.some((v) => !Number.isInteger(v) || Math.abs(v as number) > 0xffffffff)) {
      return fail('rng must be a xoroshiro128plus state of four 32-bit integers', 'rng');
    }
  }
  if (!isPlainObject(json.trainer)) return fail('trainer must be a JSON object', 'trainer');
  return json as unknown as TrainerJson;
}

/**
 * Reads a checkpoint written by {@link saveCheckpoint}. Every part is validated before use:
 * `trainer.json` is size-capped ({@link CHECKPOINT_MAX_TRAINER_JSON_BYTES}) and checked by
 * {@link validateTrainerJson}, the safetensors files by the safetensors reader. A file that cannot
 * be read throws `E_IO` (`E_NOT_FOUND` when `trainer.json` is missing); malformed content `E_FORMAT`.
 */
export async function loadCheckpoint(path: string): Promise<CheckpointContent> {
  const trainerPath = join(path, 'trainer.json');
  let text: string;
  try {
    const { size } = await stat(trainerPath);
    if (size > CHECKPOINT_MAX_TRAINER_JSON_BYTES) {
      throw new Llm2ClipError('E_FORMAT', `trainer.json is ${size} bytes, over the ${CHECKPOINT_MAX_TRAINER_JSON_BYTES}-byte limit`, { path: trainerPath });
    }
    text = await readFile(trainerPath, 'utf8');
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO';
    throw new Llm2ClipError(code, 'cannot read checkpoint trainer.json', { path: trainerPath, cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', `checkpoint trainer.json is not valid JSON: ${(cause as Error).message}`, { path: trainerPath, cause });
  }
  const trainer = validateTrainerJson(json, trainerPath);
  const weights = (await readSafetensors(join(path, 'model.safetensors'))).tensors;
  let optimizer: AdamWState | undefined;
  if (trainer.optimizerStep !== undefined) {
    const file = await readSafetensors(join(path, 'optimizer.safetensors'));
    optimizer = { step: trainer.optimizerStep, tensors: file.tensors };
  }
  return { step: trainer.step, weights, optimizer, rng: trainer.rng, cursor: trainer.cursor, trainer: trainer.trainer };
}
