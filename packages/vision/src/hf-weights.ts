import { readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { readSafetensors, type HostTensor } from '@llm2clip/tensor';

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
 * Reads the weights of a Hugging Face model directory: `model.safetensors`, or the shards listed
 * by `model.safetensors.index.json`. Returns tensors by name and the file(s) they came from.
 */
export async function readModelWeights(dir: string): Promise<{ tensors: Map<string, HostTensor>; path: string }> {
  const single = join(dir, 'model.safetensors');
  if (await exists(single)) return { tensors: (await readSafetensors(single)).tensors, path: single };
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!(await exists(indexPath))) {
    throw new Llm2ClipError('E_NOT_FOUND', 'no model.safetensors or model.safetensors.index.json', { path: dir });
  }
  const index = (await readConfigJson(dir, 'model.safetensors.index.json')) as { weight_map?: Record<string, string> };
  if (typeof index.weight_map !== 'object' || index.weight_map === null) {
    throw new Llm2ClipError('E_FORMAT', 'index has no weight_map', { path: indexPath, field: 'weight_map' });
  }
  const tensors = new Map<string, HostTensor>();
  for (const file of new Set(Object.values(index.weight_map))) {
    for (const [name, tensor] of (await readSafetensors(join(dir, file))).tensors) tensors.set(name, tensor);
  }
  return { tensors, path: indexPath };
}

/** True when `path` exists. */
export async function fileExists(path: string): Promise<boolean> {
  return exists(path);
}
