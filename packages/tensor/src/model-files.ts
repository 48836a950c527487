import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';

/**
 * Checks on the files of a downloaded model directory that come before any weight is read, shared
 * by every model loader (`@llm2clip/llm`, `@llm2clip/vision`): pickle checkpoints are refused
 * (never unpickled) with a message on how to convert them, and `model.safetensors.index.json` is
 * validated with every shard confined to the model directory.
 */

/** Extensions of pickle-based PyTorch checkpoints, which this project never unpickles. */
export const PICKLE_EXTENSIONS = ['.bin', '.pt', '.pth', '.ckpt', '.pkl', '.pickle'] as const;

/** Largest `model.safetensors.index.json` read (64 MiB; real indexes are well under 1 MiB). */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Most tensors an index may list. */
export const MAX_INDEX_TENSORS = 1 << 20;
/** Longest tensor or shard name accepted in an index. */
export const MAX_INDEX_NAME_LENGTH = 1024;

/** True when `file` has a pickle checkpoint extension (`.bin`, `.pt`, `.pth`, `.ckpt`, `.pkl`, `.pickle`). */
export function isPickleCheckpoint(file: string): boolean {
  const lower = file.toLowerCase();
  return PICKLE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/**
 * The `E_FORMAT` error for a pickle checkpoint: why it is not loaded and how to convert it to
 * safetensors (`target` is the file name the converted weights should get).
 */
export function pickleCheckpointError(path: string, target = 'model.safetensors'): Llm2ClipError {
  const file = basename(path);
  return new Llm2ClipError(
    'E_FORMAT',
    `${file} is a pickle checkpoint; pickle files can run arbitrary code when loaded, so they are never unpickled here. ` +
      `Convert it to safetensors first, e.g. python -c "import torch; from safetensors.torch import save_file; ` +
      `save_file(torch.load('${file}', map_location='cpu', weights_only=True), '${target}')" ` +
      `(for a transformers model: from_pretrained(dir) then save_pretrained(dir, safe_serialization=True))`,
    { path },
  );
}

/** Throws {@link pickleCheckpointError} when `path` names a pickle checkpoint. */
export function refusePickleFile(path: string, target?: string): void {
  if (isPickleCheckpoint(path)) throw pickleCheckpointError(path, target);
}

/**
 * The pickle checkpoints in `dir` (sorted; `[]` when the directory cannot be listed), so that a
 * directory holding only `pytorch_model.bin` gets the conversion message instead of "not found".
 */
export async function pickleCheckpointsIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(isPickleCheckpoint).sort();
  } catch {
    return [];
  }
}

/**
 * For a loader that found no weights it can use in `dir`: throws {@link pickleCheckpointError}
 * (conversion to `target`) when `dir` holds pickle checkpoints and no `.safetensors` file at all,
 * naming the first of `preferred` present (e.g. `adapter_model.bin`), else the first pickle.
 * Returns quietly otherwise — also when some other safetensors file is there (an open_clip
 * directory with both `open_clip_model.safetensors` and `open_clip_pytorch_model.bin`), so the
 * caller raises its own `E_NOT_FOUND` or tries another layout.
 */
export async function refusePickleOnlyDirectory(dir: string, target?: string, preferred: readonly string[] = []): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  if (names.some((name) => name.toLowerCase().endsWith('.safetensors'))) return;
  const pickles = names.filter(isPickleCheckpoint).sort();
  if (pickles.length === 0) return;
  const file = preferred.find((name) => pickles.includes(name)) ?? pickles[0];
  throw pickleCheckpointError(join(dir, file), target);
}

/** A validated sharded-safetensors index. */
export interface SafetensorsIndex {
  /** Tensor name → shard file name (a plain name inside the model directory). */
  weightMap: Map<string, string>;
  /** Shard file names, in first-use order. */
  shards: string[];
}

/**
 * Reads and validates a `model.safetensors.index.json`: size-capped before reading, JSON, then
 * {@link parseSafetensorsIndex}. Every failure is `E_FORMAT` naming the index (and the field);
 * an unreadable index is `E_IO`.
 */
export async function readSafetensorsIndex(indexPath: string): Promise<SafetensorsIndex> {
  let size: number;
  try {
    size = (await stat(indexPath)).size;
  } catch (cause) {
    throw new Llm2ClipError('E_IO', 'cannot read the safetensors index', { path: indexPath, cause });
  }
  if (size > MAX_INDEX_BYTES) throw new Llm2ClipError('E_FORMAT', `index is ${size} bytes, over the ${MAX_INDEX_BYTES}-byte limit`, { path: indexPath });
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'cannot parse the safetensors index as JSON', { path: indexPath, cause });
  }
  return parseSafetensorsIndex(json, indexPath);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Why `name` is not a plain shard file name inside the model directory, or undefined when it is. */
function shardNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_INDEX_NAME_LENGTH) return `shard name must have 1 to ${MAX_INDEX_NAME_LENGTH} characters`;
  if (/[/\\\0]/.test(name) || name.startsWith('.') || isAbsolute(name)) return 'shard name must be a plain file name (no directory part, not hidden)';
  return undefined;
}

/**
 * Validates the parsed JSON of a `model.safetensors.index.json` as `transformers` writes it: an
 * object whose `weight_map` maps 1 to {@link MAX_INDEX_TENSORS} tensor names to plain shard file
 * names (no directory part, not hidden) ending in `.safetensors` — a pickle shard gets the
 * conversion message — and whose optional `metadata.total_size` is a non-negative integer.
 * `E_FORMAT` naming the index and the field.
 */
export function parseSafetensorsIndex(json: unknown, indexPath: string): SafetensorsIndex {
  const invalid = (message: string, field: string): Llm2ClipError => new Llm2ClipError('E_FORMAT', `invalid safetensors index: ${message}`, { path: indexPath, field });
  if (!isPlainObject(json)) throw invalid('expected an object', 'weight_map');
  const { metadata } = json;
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) throw invalid('metadata must be an object', 'metadata');
    const total = metadata.total_size;
    if (total !== undefined && (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0)) throw invalid('total_size must be a non-negative integer', 'metadata.total_size');
  }
  const weightMap = json.weight_map;
  if (!isPlainObject(weightMap)) throw invalid('weight_map must be an object of tensor name to shard file', 'weight_map');
  const entries = Object.entries(weightMap);
  if (entries.length === 0) throw new Llm2ClipError('E_FORMAT', 'weight_map lists no tensors', { path: indexPath, field: 'weight_map' });
  if (entries.length > MAX_INDEX_TENSORS) throw new Llm2ClipError('E_FORMAT', `weight_map lists ${entries.length} tensors, over the ${MAX_INDEX_TENSORS} limit`, { path: indexPath, field: 'weight_map' });
  const shards = new Set<string>();
  const map = new Map<string, string>();
  for (const [name, file] of entries) {
    const field = `weight_map.${name}`;
    if (name.length === 0 || name.length > MAX_INDEX_NAME_LENGTH) throw invalid(`tensor names must have 1 to ${MAX_INDEX_NAME_LENGTH} characters`, 'weight_map');
    if (typeof file !== 'string') throw invalid('shard must be a file name (a string)', field);
    const problem = shardNameProblem(file);
    if (problem !== undefined) throw invalid(problem, field);
    if (isPickleCheckpoint(file)) throw pickleCheckpointError(join(dirname(indexPath), file));
    if (!file.endsWith('.safetensors')) throw new Llm2ClipError('E_FORMAT', `shard ${JSON.stringify(file)} is not a .safetensors file`, { path: indexPath, field });
    shards.add(file);
    map.set(name, file);
  }
  return { weightMap: map, shards: [...shards] };
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The path of shard `file` of the model directory `dir`, after checking that it resolves
 * (symlinks followed, with `realpath`) inside `dir` — or, for a Hugging Face cache snapshot
 * (`models--org--name/snapshots/<commit>`), inside that repository's `blobs/`, where the hub's
 * symlinks point. `E_NOT_FOUND` when the shard is missing, `E_FORMAT` when it escapes.
 */
export async function resolveShard(dir: string, file: string, indexPath: string): Promise<string> {
  const path = join(dir, file);
  let real: string;
  let realDir: string;
  try {
    realDir = await realpath(dir);
    real = await realpath(path);
  } catch (cause) {
    throw new Llm2ClipError('E_NOT_FOUND', `shard ${file} listed in the index does not exist`, { path, field: 'weight_map', cause });
  }
  const roots = [realDir];
  const snapshots = dirname(realDir);
  if (basename(snapshots) === 'snapshots' && basename(dirname(snapshots)).startsWith('models--')) roots.push(join(dirname(snapshots), 'blobs'));
  if (!roots.some((root) => inside(root, real))) {
    throw new Llm2ClipError('E_FORMAT', `shard ${JSON.stringify(file)} resolves to ${real}, outside the model directory`, { path: indexPath, field: 'weight_map' });
  }
  return path;
}
