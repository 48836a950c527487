import { join } from 'node:path';
import { Llm2ClipError, writeJsonAtomic } from '@llm2clip/core';
import { readSafetensors, writeSafetensors, type HostTensor } from '@llm2clip/tensor';
import { isPickleCheckpoint, pickleCheckpointError, readModelConfigJson } from './model-files.js';

/**
 * Named weights saved beside a tower, e.g. LLM2CLIP's text adapter: its own config and
 * safetensors (default `config.json` + `model.safetensors`) in a sub-directory `<tower dir>/<name>/`, so the tower directory stays a
 * plain Hugging Face checkpoint and the companion is a self-contained one.
 */
export interface Companion {
  /** Tensors by name (written as F32). */
  tensors: Map<string, HostTensor>;
  /** JSON config written as the companion's `config.json` (should carry `format` and `version`). */
  config: Record<string, unknown>;
  /** Config file name inside the companion directory. Default `config.json`. */
  configFile?: string;
  /** Weights file name inside the companion directory. Default `model.safetensors`. */
  weightsFile?: string;
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw new Llm2ClipError('E_CONFIG', `companion name "${name}" must be a plain directory name`, { field: 'name' });
  }
}

/** Writes `companion` into `dir/<name>/` (weights first, each file atomically). */
export async function saveCompanion(dir: string, name: string, companion: Companion): Promise<void> {
  checkName(name);
  const configFile = companion.configFile ?? 'config.json';
  const weightsFile = companion.weightsFile ?? 'model.safetensors';
  for (const file of [configFile, weightsFile]) checkName(file);
  await writeSafetensors(join(dir, name, weightsFile), companion.tensors, { format: 'pt' });
  await writeJsonAtomic(join(dir, name, configFile), companion.config);
}

/** Reads a companion written by {@link saveCompanion} (a pickle `weightsFile` such as `adapter.bin` is refused, `E_FORMAT`). */
export async function readCompanion(dir: string, name: string, files: { configFile?: string; weightsFile?: string } = {}): Promise<Companion> {
  checkName(name);
  const configFile = files.configFile ?? 'config.json';
  const weightsFile = files.weightsFile ?? 'model.safetensors';
  // a pickle weights file is refused by name, before anything is read
  if (isPickleCheckpoint(weightsFile)) throw pickleCheckpointError(join(dir, name, weightsFile));
  const config = await readModelConfigJson(join(dir, name), configFile);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new Llm2ClipError('E_FORMAT', `companion ${configFile} is not an object`, { path: join(dir, name, configFile) });
  }
  const { tensors } = await readSafetensors(join(dir, name, weightsFile));
  return { tensors, config: config as Record<string, unknown>, configFile, weightsFile };
}
