import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { refusePickleOnlyDirectory, type HostTensor } from '@llm2clip/tensor';
import { fileExists, readConfigJson, readModelWeights } from './hf-weights.js';

/**
 * Model-directory checks of the vision towers: the weight reader with sharded indexes, the
 * config size cap and the "config bigger than its weights" refusal. The pickle refusal and the
 * index/shard-containment checks live once in `@llm2clip/tensor` (shared with `@llm2clip/llm`) and
 * are re-exported here under their existing names.
 */
export {
  PICKLE_EXTENSIONS,
  MAX_INDEX_BYTES,
  MAX_INDEX_TENSORS,
  isPickleCheckpoint,
  pickleCheckpointError,
  refusePickleFile,
  pickleCheckpointsIn,
  readSafetensorsIndex,
  parseSafetensorsIndex,
  resolveShard,
  type SafetensorsIndex,
} from '@llm2clip/tensor';

/**
 * Reads the weights of a Hugging Face model directory with every check: `model.safetensors`, else
 * a validated `model.safetensors.index.json` whose shards stay inside the directory and hold
 * exactly the tensors it lists; a pickle-only directory gets the conversion message. (The same
 * function as `readModelWeights`, under the name the loaders use.)
 */
export const readCheckedModelWeights: (dir: string) => Promise<{ tensors: Map<string, HostTensor>; path: string }> = readModelWeights;

/**
 * The safetensors file `name` of `dir` (e.g. `open_clip_model.safetensors`). When it is absent
 * but a pickle checkpoint is there (`open_clip_pytorch_model.bin`, `*.pt`), `E_FORMAT` with the
 * conversion message (to `name`); with neither, `E_NOT_FOUND`.
 */
export async function requireSafetensorsFile(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  if (await fileExists(path)) return path;
  await refusePickleOnlyDirectory(dir, name);
  throw new Llm2ClipError('E_NOT_FOUND', `no ${name}`, { path: dir });
}

/**
 * Refuses (`E_MISMATCH`, before the model is allocated) a config that describes far more
 * parameters than the weights hold: `parameters` from the config, minus `fresh` parameters the
 * loader makes itself (a missing projection), over twice the elements of every loaded tensor.
 * This keeps an absurd-but-within-limits `config.json` next to a small weights file from
 * allocating; smaller disagreements reach the per-tensor name and shape checks, which name the
 * tensor.
 */
export function refuseUndersizedWeights(parameters: number, fresh: number, tensors: Map<string, HostTensor>, path: string, configPath?: string): void {
  let held = 0;
  for (const tensor of tensors.values()) held += tensor.data.length;
  if (parameters - fresh > 2 * held) {
    throw new Llm2ClipError('E_MISMATCH', `the config describes ${parameters - fresh} weights but ${path} holds ${held}`, { path: configPath ?? path, field: 'num_hidden_layers' });
  }
}

/** Largest model config read (`config.json`, `open_clip_config.json`; 1 MiB, real ones are a few KiB). */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * `dir/file` parsed as JSON like `readConfigJson`, after refusing (`E_FORMAT`) a file over
 * {@link MAX_CONFIG_BYTES} before reading it.
 */
export async function readModelConfigJson(dir: string, file = 'config.json'): Promise<unknown> {
  const path = join(dir, file);
  let bytes: number | undefined;
  try {
    bytes = (await stat(path)).size;
  } catch {
    // absent or unreadable: readConfigJson names it
  }
  if (bytes !== undefined && bytes > MAX_CONFIG_BYTES) throw new Llm2ClipError('E_FORMAT', `${file} is ${bytes} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`, { path });
  return readConfigJson(dir, file);
}
