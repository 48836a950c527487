import { open, readFile } from 'node:fs/promises';
import { Llm2ClipError, writeFileAtomic } from '@llm2clip/core';

/** Element types of the safetensors format that this reader understands. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Largest JSON header accepted (the reference implementation uses 100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** A tensor as stored in a file: float tensors are converted to float32, integer ones to int32. */
export interface HostTensor {
  /** Dimensions, outermost first. */
  shape: number[];
  /** `float32` for F64/F32/F16/BF16, `int32` for integer and bool types. */
  dtype: 'float32' | 'int32';
  /** The values, row-major. */
  data: Float32Array | Int32Array;
}

/** What a safetensors header says about one tensor. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section, end exclusive. */
  dataOffsets: [number, number];
}

/** The parsed header of a safetensors file. */
export interface SafetensorsHeader {
  /** Tensors in file order. */
  entries: SafetensorsEntry[];
  /** The string-to-string `__metadata__` map. */
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file. */
  dataStart: number;
}

function formatError(path: string, message: string, field?: string): Llm2ClipError {
  return new Llm2ClipError('E_FORMAT', message, { path, field });
}

/** Parses and validates the header of safetensors `bytes` (the whole file or at least its header). */
export function parseSafetensorsHeader(bytes: Uint8Array, path: string, fileSize = bytes.byteLength): SafetensorsHeader {
  if (bytes.byteLength < 8) throw formatError(path, 'file is shorter than the 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > SAFETENSORS_MAX_HEADER_BYTES) throw formatError(path, `header length ${headerLength} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`);
  if (8 + headerLength > fileSize) throw formatError(path, `header length ${headerLength} exceeds the file size ${fileSize}`);
  if (8 + headerLength > bytes.byteLength) throw formatError(path, 'header is not fully contained in the given bytes');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'header is not valid UTF-8 JSON', { path, cause });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw formatError(path, 'header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
        throw formatError(path, '__metadata__ must map strings to strings', '__metadata__');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info?.dtype !== 'string' || !(info.dtype in BYTES_PER_ELEMENT)) throw formatError(path, `unsupported dtype ${String(info?.dtype)}`, name);
    if (!Array.isArray(info.shape) || info.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw formatError(path, 'shape must be a list of non-negative integers', name);
    if (!Array.isArray(info.data_offsets) || info.data_offsets.length !== 2 || info.data_offsets.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw formatError(path, 'data_offsets must be two non-negative integers', name);
    }
    const dtype = info.dtype as SafetensorsDtype;
    const shape = info.shape as number[];
    const [begin, end] = info.data_offsets as [number, number];
    let count = 1;
    for (const d of shape) {
      count *= d;
      if (!Number.isSafeInteger(count)) throw formatError(path, 'element count overflows', name);
    }
    if (end < begin || end > dataSize) throw formatError(path, `data_offsets [${begin}, ${end}] fall outside the ${dataSize}-byte data section`, name);
    if (end - begin !== count * BYTES_PER_ELEMENT[dtype]) {
      throw formatError(path, `byte count ${end - begin} does not match shape [${shape}] of ${dtype}`, name);
    }
    entries.push({ name, dtype, shape, dataOffsets: [begin, end] });
  }
  const sorted = [...entries].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].dataOffsets[0] < sorted[i - 1].dataOffsets[1]) throw formatError(path, 'tensor data ranges overlap', sorted[i].name);
  }
  return { entries, metadata, dataStart };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function ownedBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
}

/** Decodes the raw little-endian bytes of one tensor into a {@link HostTensor}. */
export function decodeTensorBytes(entry: SafetensorsEntry, bytes: Uint8Array, path = '<memory>'): HostTensor {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (entry.dtype) {
    case 'F32':
      // little-endian hosts (x86, ARM) can view the bytes directly once they are 4-byte aligned
      return { shape: entry.shape, dtype: 'float32', data: new Float32Array(ownedBuffer(bytes), 0, count) };
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return { shape: entry.shape, dtype: 'float32', data: out };
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return { shape: entry.shape, dtype: 'float32', data: out };
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift it into place
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return { shape: entry.shape, dtype: 'float32', data: new Float32Array(bits.buffer) };
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const value = view.getBigInt64(i * 8, true);
        if (value > 2147483647n || value < -2147483648n) throw formatError(path, `int64 value ${value} does not fit int32`, entry.name);
        out[i] = Number(value);
      }
      return { shape: entry.shape, dtype: 'int32', data: out };
    }
    case 'I32':
      return { shape: entry.shape, dtype: 'int32', data: new Int32Array(ownedBuffer(bytes), 0, count) };
    case 'I16': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
      return { shape: entry.shape, dtype: 'int32', data: out };
    }
    case 'I8': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return { shape: entry.shape, dtype: 'int32', data: out };
    }
    case 'U8':
    case 'BOOL': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes[i];
      return { shape: entry.shape, dtype: 'int32', data: out };
    }
  }
}

/** A safetensors file read into memory: tensors by name (file order kept) and metadata. */
export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/**
 * Reads a whole safetensors file, converting F16/BF16/F64 to float32 and integer types to int32.
 * Each tensor is read and converted on its own, so peak memory is the float32 result plus one
 * tensor's raw bytes.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new Llm2ClipError('E_IO', 'cannot open safetensors file', { path, cause });
  }
  try {
    const { size } = await handle.stat();
    const lengthBytes = new Uint8Array(8);
    await handle.read(lengthBytes, 0, 8, 0);
    if (size < 8) throw formatError(path, 'file is shorter than the 8-byte header length');
    const headerLength = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
    if (headerLength > SAFETENSORS_MAX_HEADER_BYTES || 8 + headerLength > size) {
      throw formatError(path, `header length ${headerLength} is invalid for a ${size}-byte file`);
    }
    const headerBytes = new Uint8Array(8 + headerLength);
    await handle.read(headerBytes, 0, headerBytes.byteLength, 0);
    const header = parseSafetensorsHeader(headerBytes, path, size);
    const tensors = new Map<string, HostTensor>();
    for (const entry of header.entries) {
      const length = entry.dataOffsets[1] - entry.dataOffsets[0];
      const raw = new Uint8Array(length);
      if (length > 0) await handle.read(raw, 0, length, header.dataStart + entry.dataOffsets[0]);
      tensors.set(entry.name, decodeTensorBytes(entry, raw, path));
    }
    return { tensors, metadata: header.metadata };
  } finally {
    await handle.close();
  }
}

/** Parses safetensors bytes already in memory. */
export function parseSafetensors(bytes: Uint8Array, path = '<memory>'): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, path);
  const tensors = new Map<string, HostTensor>();
  for (const entry of header.entries) {
    const start = header.dataStart + entry.dataOffsets[0];
    tensors.set(entry.name, decodeTensorBytes(entry, bytes.subarray(start, header.dataStart + entry.dataOffsets[1]), path));
  }
  return { tensors, metadata: header.metadata };
}

/** Serialises tensors (float32 → F32, int32 → I32) and metadata into safetensors bytes. */
export function serializeSafetensors(tensors: Map<string, HostTensor> | Record<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of list) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new Llm2ClipError('E_SHAPE', `shape [${tensor.shape}] needs ${count} values, got ${tensor.data.length}`, { field: name });
    }
    const bytes = tensor.data.length * 4;
    header[name] = { dtype: tensor.dtype === 'float32' ? 'F32' : 'I32', shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.byteLength;
  for (const [, tensor] of list) {
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    out.set(bytes, cursor);
    cursor += bytes.byteLength;
  }
  return out;
}

/** Writes tensors to a safetensors file atomically (temp file, then rename). */
export async function writeSafetensors(path: string, tensors: Map<string, HostTensor> | Record<string, HostTensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** Reads a file fully; a small wrapper that turns fs errors into `E_IO`. */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new Llm2ClipError('E_IO', 'cannot read file', { path, cause });
  }
}
