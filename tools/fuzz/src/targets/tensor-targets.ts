import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@llm2clip/core';
import { loadCheckpoint, parseSafetensors, readSafetensors, saveCheckpoint, serializeSafetensors, type HostTensor } from '@llm2clip/tensor';
import { mutateJsonBytes } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

/**
 * Structure-aware mutation of safetensors bytes: the JSON header is mutated as JSON and the file
 * rebuilt with the right header length, so mutations reach the offset/shape/dtype checks instead
 * of stopping at the length prefix. `undefined` when the header is not JSON.
 */
export function mutateSafetensorsHeader(input: Uint8Array, rng: Rng, keys: readonly string[]): Uint8Array | undefined {
  if (input.length < 8) return undefined;
  const length = Number(new DataView(input.buffer, input.byteOffset, 8).getBigUint64(0, true));
  if (length > input.length - 8) return undefined;
  const header = mutateJsonBytes(input.subarray(8, 8 + length), rng, keys);
  if (header === undefined) return undefined;
  const data = input.subarray(8 + length);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

const SAFETENSORS_TOKENS = ['{', '}', '[', ']', '"', ':', ',', '"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '"F32"', '"F16"', '"BF16"', '"F64"', '"I64"', '"I32"', '"I16"', '"I8"', '"U8"', '"BOOL"', '"F8_E4M3"', '9007199254740993', '4294967296', '-1', '1e20'];

function tensors(seed: number): Record<string, HostTensor> {
  const rng = new Rng(seed);
  const weight = Float32Array.from({ length: 6 }, () => rng.normal());
  return {
    'model.layers.0.weight': { shape: [2, 3], dtype: 'float32', data: weight },
    'model.layers.0.bias': { shape: [3], dtype: 'float32', data: Float32Array.of(0.5, -1, 2) },
    'model.ids': { shape: [2], dtype: 'int32', data: Int32Array.of(7, -3) },
    'model.empty': { shape: [0, 4], dtype: 'float32', data: new Float32Array(0) },
  };
}

/** A safetensors file with its tensors retyped as `dtype` (data resized to match), for seeds of the other dtypes. */
function retyped(dtype: string, bytesPerElement: number): Uint8Array {
  const header = { __metadata__: { format: 'pt' }, a: { dtype, shape: [2, 2], data_offsets: [0, 4 * bytesPerElement] }, b: { dtype, shape: [3], data_offsets: [4 * bytesPerElement, 7 * bytesPerElement] } };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(8 + json.length + 7 * bytesPerElement);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  for (let i = 8 + json.length; i < out.length; i++) out[i] = (i * 37) & 0x3f;
  return out;
}

/** Safetensors header parsing and tensor decoding, from memory and from a file. */
export const safetensorsTarget: FuzzTarget = {
  name: 'safetensors',
  description: 'parseSafetensors (in memory) and readSafetensors (file, positioned reads)',
  maxLength: 16 * 1024,
  dictionary: SAFETENSORS_TOKENS,
  structure: mutateSafetensorsHeader,
  async seeds() {
    return [
      serializeSafetensors(tensors(1), { format: 'pt' }),
      serializeSafetensors({ x: { shape: [1], dtype: 'float32', data: Float32Array.of(1) } }),
      retyped('F16', 2),
      retyped('BF16', 2),
      retyped('F64', 8),
      retyped('I64', 8),
      retyped('I8', 1),
    ];
  },
  async run(input, dir) {
    parseSafetensors(input, 'fuzz.safetensors');
    const path = join(dir, 'model.safetensors');
    await writeFile(path, input);
    await readSafetensors(path);
  },
};

/** Splits a checkpoint input: `u32 length` + `trainer.json`, `u32 length` + `model.safetensors`, rest `optimizer.safetensors`. */
export function splitCheckpointInput(input: Uint8Array): { trainer: Uint8Array; model: Uint8Array; optimizer: Uint8Array } {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  let at = 0;
  const take = (): Uint8Array => {
    if (at + 4 > input.length) {
      at = input.length;
      return new Uint8Array(0);
    }
    const length = Math.min(view.getUint32(at, true), input.length - at - 4);
    const part = input.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return part;
  };
  const trainer = take();
  const model = take();
  return { trainer, model, optimizer: input.subarray(at) };
}

/** Joins the parts of a checkpoint input (see {@link splitCheckpointInput}). */
export function joinCheckpointInput(trainer: Uint8Array, model: Uint8Array, optimizer: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + trainer.length + model.length + optimizer.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, trainer.length, true);
  out.set(trainer, 4);
  view.setUint32(4 + trainer.length, model.length, true);
  out.set(model, 8 + trainer.length);
  out.set(optimizer, 8 + trainer.length + model.length);
  return out;
}

/** The checkpoint reader: `trainer.json` plus the weight and optimizer safetensors of one step directory. */
export const checkpointTarget: FuzzTarget = {
  name: 'checkpoint',
  description: 'loadCheckpoint over a step directory (trainer.json, model.safetensors, optimizer.safetensors)',
  maxLength: 16 * 1024,
  dictionary: [...SAFETENSORS_TOKENS, '"format"', '"llm2clip.checkpoint"', '"version"', '"step"', '"optimizerStep"', '"rng"', '"state"', '"algorithm"', '"xoroshiro128plus"', '"cursor"', '"trainer"', 'null'],
  structure(input, rng, keys) {
    const parts = splitCheckpointInput(input);
    const which = rng.int(0, 3);
    if (which <= 1) {
      const trainer = mutateJsonBytes(parts.trainer, rng, keys);
      return trainer === undefined ? undefined : joinCheckpointInput(trainer, parts.model, parts.optimizer);
    }
    if (which === 2) {
      const model = mutateSafetensorsHeader(parts.model, rng, keys);
      return model === undefined ? undefined : joinCheckpointInput(parts.trainer, model, parts.optimizer);
    }
    const optimizer = mutateSafetensorsHeader(parts.optimizer, rng, keys);
    return optimizer === undefined ? undefined : joinCheckpointInput(parts.trainer, parts.model, optimizer);
  },
  async seeds() {
    const dir = await mkdtemp(join(tmpdir(), 'llm2clip-fuzz-seed-'));
    try {
      const weights = new Map(Object.entries(tensors(2)));
      const moments = new Map<string, HostTensor>([
        ['model.layers.0.bias.exp_avg', { shape: [3], dtype: 'float32', data: Float32Array.of(0.1, 0.2, 0.3) }],
        ['model.layers.0.bias.exp_avg_sq', { shape: [3], dtype: 'float32', data: Float32Array.of(0.01, 0.02, 0.03) }],
      ]);
      const seeds: Uint8Array[] = [];
      for (const [step, optimizer] of [[3, true], [0, false]] as const) {
        const path = await saveCheckpoint(dir, {
          step,
          weights,
          ...(optimizer ? { optimizer: { step, tensors: moments } } : {}),
          rng: new Rng(step).getState(),
          cursor: { format: 'llm2clip.data-cursor', version: 1, epoch: 0, position: step },
          trainer: { phase: 'stage1', loss: [1.5, 1.2] },
        });
        const files = new Set(await readdir(path));
        const read = async (name: string): Promise<Uint8Array> => (files.has(name) ? new Uint8Array(await readFile(join(path, name))) : new Uint8Array(0));
        seeds.push(joinCheckpointInput(await read('trainer.json'), await read('model.safetensors'), await read('optimizer.safetensors')));
      }
      return seeds;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  async run(input, dir) {
    const parts = splitCheckpointInput(input);
    const step = join(dir, 'step-00000003');
    await mkdir(step, { recursive: true });
    await writeFile(join(step, 'trainer.json'), parts.trainer);
    await writeFile(join(step, 'model.safetensors'), parts.model);
    if (parts.optimizer.length > 0) await writeFile(join(step, 'optimizer.safetensors'), parts.optimizer);
    await loadCheckpoint(step);
  },
};
