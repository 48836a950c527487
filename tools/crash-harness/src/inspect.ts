import { readdir } from 'node:fs/promises';
import { listCheckpoints, loadCheckpoint } from '@llm2clip/tensor';

/** What a checkpoints directory holds after a kill. */
export interface CheckpointInspection {
  /** Steps of the complete checkpoints (`trainer.json` present), oldest first. */
  steps: number[];
  /** The newest complete step (what `--resume` continues from), if any. */
  latest?: number;
  /** Complete checkpoints that do not load (`loadCheckpoint` threw), with the error. */
  broken: Array<{ step: number; error: string }>;
  /** Leftover directories of interrupted writes (`.step-….tmp-<pid>-…`) and removals (`.step-….del-<pid>-…`). */
  temps: string[];
}

/**
 * Lists every complete checkpoint under `checkpointsDir` the way a resuming trainer does
 * (`@llm2clip/tensor`'s `listCheckpoints`) and loads each one fully (`loadCheckpoint`: `trainer.json`
 * validated, both safetensors files parsed), so a torn or half-deleted checkpoint shows up as broken.
 */
export async function inspectCheckpoints(checkpointsDir: string): Promise<CheckpointInspection> {
  const complete = await listCheckpoints(checkpointsDir);
  const broken: CheckpointInspection['broken'] = [];
  for (const { step, path } of complete) {
    try {
      const content = await loadCheckpoint(path);
      if (content.step !== step) broken.push({ step, error: `trainer.json says step ${content.step}` });
    } catch (error) {
      broken.push({ step, error: (error as Error).message });
    }
  }
  let names: string[] = [];
  try {
    names = await readdir(checkpointsDir);
  } catch {
    // no directory yet: nothing written
  }
  const steps = complete.map((c) => c.step);
  return { steps, latest: steps.at(-1), broken, temps: names.filter((name) => /^\.step-\d+\.(tmp|del)-/.test(name)).sort() };
}

/**
 * Who left a leftover checkpoint directory and doing what: `.step-00000003.tmp-<pid>-<hex>` is a
 * write, `.step-00000003.del-<pid>-<hex>` a removal, by process `pid`.
 */
export function tempOwner(name: string): { pid: number; kind: 'write' | 'removal' } | undefined {
  const match = /\.(tmp|del)-(\d+)-/.exec(name);
  return match === null ? undefined : { pid: Number(match[2]), kind: match[1] === 'tmp' ? 'write' : 'removal' };
}
