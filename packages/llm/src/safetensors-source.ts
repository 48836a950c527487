import { open, stat, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { SAFETENSORS_MAX_HEADER_BYTES, parseSafetensorsHeader, type SafetensorsEntry } from '@llm2clip/tensor';
import { pickleCheckpointError, pickleCheckpointsIn, readSafetensorsIndex, refusePickleFile, resolveShard } from './model-files.js';
import { elementCount, readExactly, readHalfFloats, type WeightInfo, type WeightSource } from './weight-source.js';

/** Bytes read per `fs.read` call while converting a tensor (bounds the scratch buffer). */
const CHUNK_BYTES = 8 * 1024 * 1024;

interface OpenShard {
  path: string;
  handle: FileHandle;
  dataStart: number;
}

interface Located {
  shard: OpenShard;
  entry: SafetensorsEntry;
}

/** Opens a safetensors file and parses its header (bounds-checked before the header is allocated). */
async function openShard(path: string): Promise<{ shard: OpenShard; entries: SafetensorsEntry[] }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new Llm2ClipError('E_IO', 'cannot open safetensors file', { path, cause });
  }
  try {
    const size = (await handle.stat()).size;
    if (size < 8) throw new Llm2ClipError('E_FORMAT', 'file is shorter than the 8-byte header length', { path });
    const lengthBytes = new Uint8Array(8);
    await readExactly(handle, lengthBytes, 0, path);
    const headerLength = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
    if (headerLength > SAFETENSORS_MAX_HEADER_BYTES || 8 + headerLength > size) {
      throw new Llm2ClipError('E_FORMAT', `header length ${headerLength} exceeds the file size ${size} or the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`, { path });
    }
    const headerBytes = new Uint8Array(8 + headerLength);
    await readExactly(handle, headerBytes, 0, path);
    const header = parseSafetensorsHeader(headerBytes, path, size);
    return { shard: { path, handle, dataStart: header.dataStart }, entries: header.entries };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Safetensors weights (one file, or the shards of `model.safetensors.index.json`) read one tensor
 * at a time: F32 bytes land directly in the final buffer; F16/BF16/F64 are read in chunks of at
 * most 8 MiB and converted into it, so loading needs the final float32 size plus one chunk.
 */
export class SafetensorsSource implements WeightSource {
  readonly path: string;
  private readonly located: Map<string, Located>;
  private readonly shards: OpenShard[];

  private constructor(path: string, shards: OpenShard[], located: Map<string, Located>) {
    this.path = path;
    this.shards = shards;
    this.located = located;
  }

  /** Opens one safetensors file (a pickle checkpoint path is refused with the conversion message). */
  static async open(path: string): Promise<SafetensorsSource> {
    refusePickleFile(path);
    const { shard, entries } = await openShard(path);
    return new SafetensorsSource(path, [shard], new Map(entries.map((entry) => [entry.name, { shard, entry }])));
  }

  /**
   * Opens the shards listed in an index (`weight_map`: tensor name → file next to the index),
   * checking that every shard holds exactly the tensors the index assigns to it. The index is
   * validated by schema and every shard must resolve inside `dir` (see `readSafetensorsIndex`,
   * `resolveShard`).
   */
  static async openIndex(indexPath: string, dir: string): Promise<SafetensorsSource> {
    const index = await readSafetensorsIndex(indexPath);
    const shards: OpenShard[] = [];
    const located = new Map<string, Located>();
    try {
      for (const file of index.shards) {
        const { shard, entries } = await openShard(await resolveShard(dir, file, indexPath));
        shards.push(shard);
        for (const entry of entries) {
          const listed = index.weightMap.get(entry.name);
          if (listed !== file) {
            throw new Llm2ClipError('E_MISMATCH', `tensor is in ${file} but the index says ${String(listed)}`, { path: shard.path, field: entry.name });
          }
          located.set(entry.name, { shard, entry });
        }
      }
      for (const name of index.weightMap.keys()) {
        if (!located.has(name)) throw new Llm2ClipError('E_NOT_FOUND', 'tensor listed in the index is absent from its shard', { path: indexPath, field: name });
      }
    } catch (error) {
      await Promise.all(shards.map((s) => s.handle.close()));
      throw error;
    }
    return new SafetensorsSource(dir, shards, located);
  }

  /**
   * Opens the weights of a Hugging Face model directory: `model.safetensors`, else the shards of
   * `model.safetensors.index.json`. A directory with neither but a pickle checkpoint
   * (`pytorch_model.bin`, `*.pt`, …) is `E_FORMAT` saying how to convert it (pickles are never
   * unpickled); one with no weights at all is `E_NOT_FOUND` naming both paths.
   */
  static async openDirectory(dir: string): Promise<SafetensorsSource> {
    const single = join(dir, 'model.safetensors');
    if (await isFile(single)) return SafetensorsSource.open(single);
    const indexPath = join(dir, 'model.safetensors.index.json');
    if (await isFile(indexPath)) return SafetensorsSource.openIndex(indexPath, dir);
    const pickles = await pickleCheckpointsIn(dir);
    if (pickles.length > 0) throw pickleCheckpointError(join(dir, pickles[0]));
    throw new Llm2ClipError('E_NOT_FOUND', `no model.safetensors or model.safetensors.index.json (looked for ${single} and ${indexPath})`, { path: dir });
  }

  list(): WeightInfo[] {
    return [...this.located.values()].map(({ entry }) => ({ name: entry.name, shape: entry.shape, dtype: entry.dtype }));
  }

  async read(name: string): Promise<Float32Array> {
    const found = this.located.get(name);
    if (found === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'no such tensor', { path: this.path, field: name });
    const { shard, entry } = found;
    if (endianness() !== 'LE') throw new Llm2ClipError('E_BACKEND', 'safetensors data is little-endian; this host is big-endian', { path: shard.path });
    const count = elementCount(entry.shape, shard.path, name);
    const start = shard.dataStart + entry.dataOffsets[0];
    const out = new Float32Array(count);
    switch (entry.dtype) {
      case 'F32':
        await readExactly(shard.handle, new Uint8Array(out.buffer), start, shard.path);
        return out;
      case 'F16':
      case 'BF16':
        await readHalfFloats(shard.handle, shard.path, start, entry.dtype, out, CHUNK_BYTES / 2);
        return out;
      case 'F64': {
        const perChunk = CHUNK_BYTES / 8;
        const scratch = new Float64Array(Math.min(perChunk, count));
        for (let done = 0; done < count; done += perChunk) {
          const n = Math.min(perChunk, count - done);
          await readExactly(shard.handle, new Uint8Array(scratch.buffer, 0, n * 8), start + done * 8, shard.path);
          for (let i = 0; i < n; i++) out[done + i] = scratch[i];
        }
        return out;
      }
      default:
        throw new Llm2ClipError('E_FORMAT', `tensor of type ${entry.dtype} is not a floating-point weight`, { path: shard.path, field: name });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((shard) => shard.handle.close()));
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
