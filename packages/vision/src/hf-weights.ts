import { readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { readSafetensors, readSafetensorsIndex, refusePickleOnlyDirectory, resolveShard, type HostTensor } from '@llm2clip/tensor';

/** Reads and parses `dir/config.json`, naming the file on failure. */
export async function readConfigJson(dir: string, file = 'config.json'): Promise<unknown> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new Llm2ClipError('E_NOT_FOUND', `cannot read ${file}`, { path, cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', `${file} is not valid JSON`, { path, cause });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the weights of a Hugging Face model directory: `model.safetensors`, else the shards of a
 * validated `model.safetensors.index.json` (`@llm2clip/tensor`'s `readSafetensorsIndex`: size cap,
 * schema, plain `.safetensors` shard names; each shard confined to the directory by
 * `resolveShard`, and each holding exactly the tensors the index gives it). A directory with only
 * pickle checkpoints (`pytorch_model.bin`, `*.pt`, …) is `E_FORMAT` with the conversion message;
 * one with no weights is `E_NOT_FOUND`. Returns tensors by name and the file they came from (the
 * index for a sharded model).
 */
export async function readModelWeights(dir: string): Promise<{ tensors: Map<string, HostTensor>; path: string }> {
  const single = join(dir, 'model.safetensors');
  if (await exists(single)) return { tensors: (await readSafetensors(single)).tensors, path: single };
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!(await exists(indexPath))) {
    await refusePickleOnlyDirectory(dir);
    throw new Llm2ClipError('E_NOT_FOUND', 'no model.safetensors or model.safetensors.index.json', { path: dir });
  }
  const index = await readSafetensorsIndex(indexPath);
  const tensors = new Map<string, HostTensor>();
  for (const file of index.shards) {
    const shard = await resolveShard(dir, file, indexPath);
    for (const [name, tensor] of (await readSafetensors(shard)).tensors) {
      const listed = index.weightMap.get(name);
      if (listed !== file) throw new Llm2ClipError('E_MISMATCH', `tensor is in ${file} but the index says ${String(listed)}`, { path: shard, field: name });
      tensors.set(name, tensor);
    }
  }
  for (const name of index.weightMap.keys()) {
    if (!tensors.has(name)) throw new Llm2ClipError('E_NOT_FOUND', 'tensor listed in the index is absent from its shard', { path: indexPath, field: name });
  }
  return { tensors, path: indexPath };
}

/** True when `path` exists. */
export async function fileExists(path: string): Promise<boolean> {
  return exists(path);
}
