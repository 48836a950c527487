import { open, rename, rm, mkdir, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Llm2ClipError, writeJsonAtomic } from '@llm2clip/core';
import { floatToBf16, floatToHalf } from './weight-source.js';

/** Storage types a model can be saved in. */
export type SaveDtype = 'F32' | 'F16' | 'BF16';

/** One tensor to write: its values are fetched only when its turn comes (one at a time). */
export interface TensorToWrite {
  name: string;
  shape: number[];
  /** Returns the float32 values (row-major). Called once, while the tensor is written. */
  values: () => Float32Array | Promise<Float32Array>;
}

/** Options of {@link writeSafetensorsModel}. */
export interface WriteModelOptions {
  /** Storage type of every tensor. Default `F32`. */
  dtype?: SaveDtype;
  /** Largest shard in bytes before the weights are split (`transformers` defaults to 5 GB). Default 5e9. */
  maxShardBytes?: number;
  /** `__metadata__` of every file. Default `{ format: 'pt' }`. */
  metadata?: Record<string, string>;
}

const BYTES: Record<SaveDtype, number> = { F32: 4, F16: 2, BF16: 2 };

function encode(values: Float32Array, dtype: SaveDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  const convert = dtype === 'F16' ? floatToHalf : floatToBf16;
  for (let i = 0; i < values.length; i++) out[i] = convert(values[i]);
  return new Uint8Array(out.buffer);
}

/** Writes one safetensors file tensor by tensor (temp file, fsync, rename). */
async function writeOne(path: string, tensors: readonly TensorToWrite[], dtype: SaveDtype, metadata: Record<string, string>): Promise<number> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // the header is padded with spaces to a multiple of 8 bytes, as the reference writer does
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(temp, 'w');
  try {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(headerBytes.length));
    await handle.write(prefix);
    await handle.write(headerBytes);
    for (const t of tensors) {
      const values = await t.values();
      const expected = t.shape.reduce((a, b) => a * b, 1);
      if (values.length !== expected) throw new Llm2ClipError('E_SHAPE', `expected ${expected} values, got ${values.length}`, { path, field: t.name });
      await handle.write(encode(values, dtype));
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (cause) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_IO', 'cannot write safetensors file', { path, cause });
  }
  return offset;
}

/**
 * Writes model weights as `transformers` saves them: `model.safetensors` when they fit in
 * `maxShardBytes`, else `model-0000k-of-0000n.safetensors` shards plus
 * `model.safetensors.index.json` (`metadata.total_size`, `weight_map`). Tensors are converted and
 * written one at a time; stale weight files from an earlier save in `dir` are removed.
 */
export async function writeSafetensorsModel(dir: string, tensors: readonly TensorToWrite[], options: WriteModelOptions = {}): Promise<string[]> {
  const dtype = options.dtype ?? 'F32';
  const maxShardBytes = options.maxShardBytes ?? 5e9;
  const metadata = options.metadata ?? { format: 'pt' };
  if (!(dtype in BYTES)) throw new Llm2ClipError('E_CONFIG', `cannot save weights as ${String(dtype)}; expected F32, F16 or BF16`, { field: 'dtype' });
  const shards: TensorToWrite[][] = [[]];
  let current = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    if (current > 0 && current + bytes > maxShardBytes) {
      shards.push([]);
      current = 0;
    }
    shards[shards.length - 1].push(t);
    current += bytes;
  }
  await mkdir(dir, { recursive: true });
  const stale = (await readdir(dir)).filter((f) => f === 'model.safetensors' || f === 'model.safetensors.index.json' || /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  const written: string[] = [];
  if (shards.length === 1) {
    await writeOne(join(dir, 'model.safetensors'), shards[0], dtype, metadata);
    written.push('model.safetensors');
  } else {
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (let i = 0; i < shards.length; i++) {
      const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      total += await writeOne(join(dir, file), shards[i], dtype, metadata);
      for (const t of shards[i]) weightMap[t.name] = file;
      written.push(file);
    }
    await writeJsonAtomic(join(dir, 'model.safetensors.index.json'), { metadata: { total_size: total }, weight_map: weightMap });
    written.push('model.safetensors.index.json');
  }
  for (const file of stale) if (!written.includes(file)) await rm(join(dir, file), { force: true });
  return written;
}
