import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
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

interface TrainerJson {
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
 * Writes a checkpoint to `checkpointsDir/step-XXXXXXXX/` atomically (built under a temporary name,
 * then renamed), so a killed job always leaves the previous checkpoint whole. Keeps the newest
 * `keep` checkpoints (default: all). Returns the directory written.
 */
export async function saveCheckpoint(checkpointsDir: string, content: CheckpointContent, options: { keep?: number } = {}): Promise<string> {
  const target = join(checkpointsDir, checkpointDirName(content.step));
  await writeDirectoryAtomic(target, async (dir) => {
    await writeFilePlain(join(dir, 'model.safetensors'), serializeSafetensors(content.weights, { format: 'pt' }));
    if (content.optimizer !== undefined) {
      await writeFilePlain(join(dir, 'optimizer.safetensors'), serializeSafetensors(content.optimizer.tensors, { step: String(content.optimizer.step) }));
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
    await writeFilePlain(join(dir, 'trainer.json'), `${JSON.stringify(trainer, null, 2)}\n`);
  });
  if (options.keep !== undefined && options.keep > 0) {
    const all = await listCheckpoints(checkpointsDir);
    for (const old of all.slice(0, Math.max(0, all.length - options.keep))) await rm(old.path, { recursive: true, force: true });
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

/** Reads a checkpoint written by {@link saveCheckpoint}. */
export async function loadCheckpoint(path: string): Promise<CheckpointContent> {
  let trainer: TrainerJson;
  const trainerPath = join(path, 'trainer.json');
  try {
    trainer = JSON.parse(await readFile(trainerPath, 'utf8')) as TrainerJson;
  } catch (cause) {
    throw new Llm2ClipError('E_IO', 'cannot read checkpoint trainer.json', { path: trainerPath, cause });
  }
  if (trainer.format !== CHECKPOINT_FORMAT || trainer.version !== CHECKPOINT_VERSION) {
    throw new Llm2ClipError('E_FORMAT', `expected ${CHECKPOINT_FORMAT} v${CHECKPOINT_VERSION}, found ${trainer.format} v${trainer.version}`, { path: trainerPath });
  }
  const weights = (await readSafetensors(join(path, 'model.safetensors'))).tensors;
  let optimizer: AdamWState | undefined;
  if (trainer.optimizerStep !== undefined) {
    const file = await readSafetensors(join(path, 'optimizer.safetensors'));
    optimizer = { step: trainer.optimizerStep, tensors: file.tensors };
  }
  return { step: trainer.step, weights, optimizer, rng: trainer.rng, cursor: trainer.cursor, trainer: trainer.trainer };
}
