import { open, type FileHandle } from 'node:fs/promises';
import { Llm2ClipError, writeFileAtomic } from '@llm2clip/core';
import { pickleCheckpointError } from './model-files.js';
import { elementCount, floatToHalf, halfToFloat, readExactly, readHalfFloats } from './weight-source.js';

/**
 * GGUF (llama.cpp's model file) reading and writing primitives, version 2 and 3: magic `GGUF`,
 * u32 version, u64 tensor count, u64 metadata count, typed key/value metadata, tensor infos
 * (`ne[0]` innermost), tensor data aligned to `general.alignment` (default 32).
 *
 * Every length and count is checked against the file size before anything is allocated.
 */

/** GGUF metadata value types (`gguf_type`). */
export const GGUF_VALUE_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** Tensor storage types this package reads and writes (`ggml_type` ids). */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
/** Name of a supported `ggml_type`. */
export type GgmlTypeName = keyof typeof GGML_TYPE;

const GGML_TYPE_NAMES: Record<number, GgmlTypeName> = { 0: 'F32', 1: 'F16', 8: 'Q8_0', 30: 'BF16' };
/** Elements per Q8_0 block (one f16 scale + 32 int8). */
export const Q8_0_BLOCK = 32;
const Q8_0_BLOCK_BYTES = 34;
const DEFAULT_ALIGNMENT = 32;
/** Elements converted per read while decoding a tensor (bounds the scratch buffer to 4 MiB). */
const CHUNK_ELEMENTS = 1 << 21;
const MAX_DIMS = 4;
/**
 * Limits of the GGUF header reader, each checked before the corresponding allocation (a
 * violation is `E_FORMAT` naming the file and the field). They are far above what llama.cpp's
 * converters write: the largest metadata string is a chat template of a few KiB, the largest
 * array a vocabulary or merge list of a few hundred thousand entries, headers are tens of MiB.
 */
export const GGUF_LIMITS = {
  /** Longest metadata string or tensor name, in bytes. */
  stringBytes: 16 * 1024 * 1024,
  /** Most elements of one metadata array. */
  arrayElements: 1 << 24,
  /** Most bytes of the header (metadata + tensor infos) read into memory. */
  headerBytes: 512 * 1024 * 1024,
} as const;

/** A metadata value: numbers (64-bit ints as bigint), strings, booleans, or arrays of them. */
export type GgufValue = number | bigint | string | boolean | GgufValue[];

/** One metadata entry with its GGUF type (needed to write it back). */
export interface GgufKeyValue {
  key: string;
  type: number;
  /** Element type of an array value. */
  arrayType?: number;
  value: GgufValue;
}

/** A tensor as described in the GGUF header. */
export interface GgufTensorInfo {
  name: string;
  /** `ne`: dimensions innermost first (a Linear weight `[out, in]` is `[in, out]` here). */
  dims: number[];
  /** `ggml_type` id. */
  type: number;
  /** Name of the type when supported (`F32`, `F16`, `Q8_0`, `BF16`), else `undefined`. */
  typeName: GgmlTypeName | undefined;
  /** Byte offset relative to the data section. */
  offset: number;
  /** Stored size in bytes. */
  byteLength: number;
}

/** A parsed GGUF header. */
export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufKeyValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the data section. */
  dataStart: number;
  fileSize: number;
}

class NeedMore extends Error {}

/** Sequential little-endian reader over a prefix of the file; throws NeedMore past the prefix. */
class Cursor {
  position = 0;
  /** The key or tensor being read, named in errors. */
  field: string | undefined;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly bytes: Uint8Array, private readonly fileSize: number, private readonly path: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.position + n > this.fileSize) throw new Llm2ClipError('E_FORMAT', `${what} runs past the end of the file`, { path: this.path, field: this.field });
    if (this.position + n > this.bytes.byteLength) {
      if (this.bytes.byteLength >= GGUF_LIMITS.headerBytes) throw new Llm2ClipError('E_FORMAT', `header is larger than the ${GGUF_LIMITS.headerBytes}-byte limit`, { path: this.path, field: this.field });
      throw new NeedMore();
    }
  }

  u8(): number {
    this.need(1, 'value');
    return this.view.getUint8(this.position++);
  }
  u32(what = 'value'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.position, true);
    this.position += 4;
    return v;
  }
  /** A u64 that must fit a safe integer (counts, lengths, offsets). */
  size(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.position, true);
    this.position += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Llm2ClipError('E_FORMAT', `${what} ${v} is out of range`, { path: this.path, field: this.field });
    return Number(v);
  }
  remaining(): number {
    return this.fileSize - this.position;
  }
  string(what: string): string {
    const length = this.size(`${what} length`);
    if (length > this.remaining()) throw new Llm2ClipError('E_FORMAT', `${what} length ${length} exceeds the file`, { path: this.path, field: this.field });
    if (length > GGUF_LIMITS.stringBytes) throw new Llm2ClipError('E_FORMAT', `${what} length ${length} is over the ${GGUF_LIMITS.stringBytes}-byte limit`, { path: this.path, field: this.field });
    this.need(length, what);
    try {
      const s = this.decoder.decode(this.bytes.subarray(this.position, this.position + length));
      this.position += length;
      return s;
    } catch (cause) {
      throw new Llm2ClipError('E_FORMAT', `${what} is not valid UTF-8`, { path: this.path, field: this.field, cause });
    }
  }
  scalar(type: number, key: string): GgufValue {
    const at = (n: number): number => {
      this.need(n, `value of ${key}`);
      const p = this.position;
      this.position += n;
      return p;
    };
    switch (type) {
      case GGUF_VALUE_TYPE.UINT8: return this.view.getUint8(at(1));
      case GGUF_VALUE_TYPE.INT8: return this.view.getInt8(at(1));
      case GGUF_VALUE_TYPE.UINT16: return this.view.getUint16(at(2), true);
      case GGUF_VALUE_TYPE.INT16: return this.view.getInt16(at(2), true);
      case GGUF_VALUE_TYPE.UINT32: return this.view.getUint32(at(4), true);
      case GGUF_VALUE_TYPE.INT32: return this.view.getInt32(at(4), true);
      case GGUF_VALUE_TYPE.FLOAT32: return this.view.getFloat32(at(4), true);
      case GGUF_VALUE_TYPE.BOOL: {
        const b = this.view.getUint8(at(1));
        if (b > 1) throw new Llm2ClipError('E_FORMAT', `bool value ${b} is neither 0 nor 1`, { path: this.path, field: key });
        return b === 1;
      }
      case GGUF_VALUE_TYPE.STRING: return this.string(`value of ${key}`);
      case GGUF_VALUE_TYPE.UINT64: return this.view.getBigUint64(at(8), true);
      case GGUF_VALUE_TYPE.INT64: return this.view.getBigInt64(at(8), true);
      case GGUF_VALUE_TYPE.FLOAT64: return this.view.getFloat64(at(8), true);
      default:
        throw new Llm2ClipError('E_FORMAT', `unknown metadata value type ${type}`, { path: this.path, field: key });
    }
  }
}

const MIN_VALUE_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8 };

/** Bytes a tensor of `type` and `dims` occupies (`E_FORMAT` for unsupported types or bad block sizes). */
export function ggmlTensorBytes(type: number, dims: readonly number[], path: string, name: string): number {
  const count = elementCount(dims, path, name);
  switch (type) {
    case GGML_TYPE.F32: return count * 4;
    case GGML_TYPE.F16:
    case GGML_TYPE.BF16: return count * 2;
    case GGML_TYPE.Q8_0:
      if (dims[0] % Q8_0_BLOCK !== 0) throw new Llm2ClipError('E_FORMAT', `Q8_0 tensor's innermost dimension ${dims[0]} is not a multiple of 32`, { path, field: name });
      return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
    default:
      throw new Llm2ClipError('E_FORMAT', `unsupported ggml tensor type ${type}; this reader handles F32, F16, BF16 and Q8_0`, { path, field: name });
  }
}

function parseHeader(bytes: Uint8Array, fileSize: number, path: string): GgufHeader {
  const c = new Cursor(bytes, fileSize, path);
  const magic = c.u32('magic');
  if (magic !== 0x46554747) {
    // a PyTorch checkpoint (zip container or bare pickle) gets the conversion message
    if (magic === 0x04034b50 || ((magic & 0xff) === 0x80 && ((magic >> 8) & 0xff) >= 2 && ((magic >> 8) & 0xff) <= 5)) throw pickleCheckpointError(path);
    throw new Llm2ClipError('E_FORMAT', 'not a GGUF file (magic is not "GGUF")', { path, field: 'magic' });
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw new Llm2ClipError('E_FORMAT', `unsupported GGUF version ${version}; expected 2 or 3`, { path, field: 'version' });
  const tensorCount = c.size('tensor count');
  const kvCount = c.size('metadata count');
  // each metadata entry needs ≥ 8 (key length) + 4 (type) + 1 bytes; each tensor info ≥ 8 + 4 + 4 + 8 + 8
  // (divisions, not products: the counts may be near 2^53)
  if (kvCount > c.remaining() / 13) throw new Llm2ClipError('E_FORMAT', `metadata count ${kvCount} exceeds the file size`, { path, field: 'metadata count' });
  if (tensorCount > c.remaining() / 32) throw new Llm2ClipError('E_FORMAT', `tensor count ${tensorCount} exceeds the file size`, { path, field: 'tensor count' });
  const metadata = new Map<string, GgufKeyValue>();
  for (let i = 0; i < kvCount; i++) {
    c.field = `metadata ${i}`;
    const key = c.string('metadata key');
    if (metadata.has(key)) throw new Llm2ClipError('E_FORMAT', 'metadata key appears twice', { path, field: key });
    c.field = key;
    const type = c.u32(`type of ${key}`);
    if (type === GGUF_VALUE_TYPE.ARRAY) {
      const arrayType = c.u32(`array type of ${key}`);
      if (arrayType === GGUF_VALUE_TYPE.ARRAY || !(arrayType in MIN_VALUE_BYTES)) throw new Llm2ClipError('E_FORMAT', `unsupported array element type ${arrayType}`, { path, field: key });
      const length = c.size(`array length of ${key}`);
      if (length > c.remaining() / MIN_VALUE_BYTES[arrayType]) throw new Llm2ClipError('E_FORMAT', `array of ${length} elements exceeds the file`, { path, field: key });
      if (length > GGUF_LIMITS.arrayElements) throw new Llm2ClipError('E_FORMAT', `array of ${length} elements is over the ${GGUF_LIMITS.arrayElements}-element limit`, { path, field: key });
      const values: GgufValue[] = new Array<GgufValue>(length);
      for (let j = 0; j < length; j++) values[j] = c.scalar(arrayType, key);
      metadata.set(key, { key, type, arrayType, value: values });
    } else {
      metadata.set(key, { key, type, value: c.scalar(type, key) });
    }
  }
  const alignmentValue = metadata.get('general.alignment')?.value ?? DEFAULT_ALIGNMENT;
  if (typeof alignmentValue !== 'number' || alignmentValue < 1 || (alignmentValue & (alignmentValue - 1)) !== 0) {
    throw new Llm2ClipError('E_FORMAT', `general.alignment ${String(alignmentValue)} is not a power of two`, { path, field: 'general.alignment' });
  }
  const alignment = alignmentValue;
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    c.field = `tensor ${i}`;
    const name = c.string('tensor name');
    c.field = name;
    const nDims = c.u32(`dimension count of ${name}`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new Llm2ClipError('E_FORMAT', `tensor has ${nDims} dimensions; GGUF allows 1 to ${MAX_DIMS}`, { path, field: name });
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.size(`dimension of ${name}`));
    const type = c.u32(`type of ${name}`);
    const offset = c.size(`offset of ${name}`);
    if (offset % alignment !== 0) throw new Llm2ClipError('E_FORMAT', `tensor offset ${offset} is not aligned to ${alignment}`, { path, field: name });
    const typeName = GGML_TYPE_NAMES[type];
    const byteLength = typeName === undefined ? 0 : ggmlTensorBytes(type, dims, path, name);
    tensors.push({ name, dims, type, typeName, offset, byteLength });
  }
  const dataStart = Math.ceil(c.position / alignment) * alignment;
  const dataSize = fileSize - dataStart;
  if (dataSize < 0 && tensors.length > 0) throw new Llm2ClipError('E_FORMAT', `the data section starts at ${dataStart}, past the end of the ${fileSize}-byte file`, { path });
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Llm2ClipError('E_FORMAT', 'tensor name appears twice', { path, field: t.name });
    seen.add(t.name);
    // compare without adding: offset + byteLength may pass 2^53
    if (t.byteLength > dataSize || t.offset > dataSize - t.byteLength) throw new Llm2ClipError('E_FORMAT', `tensor data [${t.offset}, ${t.offset} + ${t.byteLength}) falls outside the ${dataSize}-byte data section`, { path, field: t.name });
  }
  const ranges = tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < ranges.length; i++) {
    const before = ranges[i - 1];
    if (ranges[i].offset < before.offset + before.byteLength) throw new Llm2ClipError('E_FORMAT', `tensor data overlaps that of ${before.name}`, { path, field: ranges[i].name });
  }
  return { version, metadata, tensors, alignment, dataStart, fileSize };
}

/**
 * An open GGUF file: the parsed header, and tensors decoded to float32 one at a time (F32 read
 * directly, F16/BF16 converted, Q8_0 dequantized block by block as `ggml` does: `d · q`).
 */
export class GgufFile {
  private constructor(readonly path: string, readonly header: GgufHeader, private readonly handle: FileHandle) {}

  /** Opens `path` and parses its header (reading only as much of the file as the header needs). */
  static async open(path: string): Promise<GgufFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (cause) {
      throw new Llm2ClipError('E_IO', 'cannot open GGUF file', { path, cause });
    }
    try {
      const fileSize = (await handle.stat()).size;
      let window = Math.min(fileSize, 16 * 1024 * 1024);
      for (;;) {
        const bytes = new Uint8Array(window);
        await readExactly(handle, bytes, 0, path);
        try {
          return new GgufFile(path, parseHeader(bytes, fileSize, path), handle);
        } catch (error) {
          if (!(error instanceof NeedMore)) throw error;
          // grows up to the header limit, where Cursor.need refuses instead of asking for more
          window = Math.min(fileSize, window * 4, GGUF_LIMITS.headerBytes);
        }
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** A metadata value, or `undefined`. */
  get(key: string): GgufValue | undefined {
    return this.header.metadata.get(key)?.value;
  }

  /** The tensor info of `name` (`E_NOT_FOUND` naming it when absent). */
  tensor(name: string): GgufTensorInfo {
    const info = this.header.tensors.find((t) => t.name === name);
    if (info === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'no such tensor in the GGUF file', { path: this.path, field: name });
    return info;
  }

  /** Decodes tensor `name` to float32 (row-major with `ne[0]` innermost). */
  async read(name: string): Promise<Float32Array> {
    const info = this.tensor(name);
    const count = elementCount(info.dims, this.path, name);
    const start = this.header.dataStart + info.offset;
    const out = new Float32Array(count);
    switch (info.typeName) {
      case 'F32':
        await readExactly(this.handle, new Uint8Array(out.buffer), start, this.path);
        return out;
      case 'F16':
      case 'BF16':
        await readHalfFloats(this.handle, this.path, start, info.typeName, out, CHUNK_ELEMENTS);
        return out;
      case 'Q8_0': {
        const blocksPerChunk = CHUNK_ELEMENTS / Q8_0_BLOCK;
        const totalBlocks = count / Q8_0_BLOCK;
        const raw = new Uint8Array(Math.min(blocksPerChunk, totalBlocks) * Q8_0_BLOCK_BYTES);
        for (let block = 0; block < totalBlocks; block += blocksPerChunk) {
          const n = Math.min(blocksPerChunk, totalBlocks - block);
          const view = raw.subarray(0, n * Q8_0_BLOCK_BYTES);
          await readExactly(this.handle, view, start + block * Q8_0_BLOCK_BYTES, this.path);
          dequantizeQ8_0(view, out.subarray(block * Q8_0_BLOCK, (block + n) * Q8_0_BLOCK));
        }
        return out;
      }
      default:
        throw new Llm2ClipError('E_FORMAT', `unsupported ggml tensor type ${info.type}; this reader handles F32, F16, BF16 and Q8_0`, { path: this.path, field: name });
    }
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Q8_0 blocks (f16 scale `d`, 32 × int8 `q`) → float32 `d · q`, as `dequantize_row_q8_0`. */
export function dequantizeQ8_0(raw: Uint8Array, out: Float32Array): void {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const blocks = out.length / Q8_0_BLOCK;
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK_BYTES;
    const d = halfToFloat(view.getUint16(base, true));
    for (let i = 0; i < Q8_0_BLOCK; i++) out[b * Q8_0_BLOCK + i] = d * view.getInt8(base + 2 + i);
  }
}

/** float32 → Q8_0 blocks as `quantize_row_q8_0_ref`: `d = amax/127`, `q = round(x/d)`. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % Q8_0_BLOCK !== 0) throw new Llm2ClipError('E_SHAPE', `Q8_0 needs a multiple of 32 values, got ${values.length}`);
  const blocks = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(values[b * Q8_0_BLOCK + i]));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    view.setUint16(b * Q8_0_BLOCK_BYTES, floatToHalf(d), true);
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      // roundf rounds half away from zero
      const x = Math.fround(values[b * Q8_0_BLOCK + i] * id);
      view.setInt8(b * Q8_0_BLOCK_BYTES + 2 + i, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
  return out;
}

/** A tensor to write into a GGUF file. */
export interface GgufTensorToWrite {
  name: string;
  /** `ne`, innermost first. */
  dims: number[];
  type: GgmlTypeName;
  /** float32 values (row-major, `ne[0]` innermost), encoded to `type` when written. */
  values: Float32Array;
}

/** A growable little-endian byte buffer for the GGUF header. */
class ByteSink {
  private static readonly encoder = new TextEncoder();
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  length = 0;
  private reserve(n: number): number {
    if (this.length + n > this.bytes.byteLength) {
      let size = this.bytes.byteLength * 2;
      while (size < this.length + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  push(bytes: Uint8Array): void {
    const at = this.reserve(bytes.byteLength);
    this.bytes.set(bytes, at);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  u64(v: number | bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  string(s: string): void {
    const bytes = ByteSink.encoder.encode(s);
    this.u64(bytes.byteLength);
    this.push(bytes);
  }
  scalar(type: number, value: GgufValue): void {
    const width: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    if (type === GGUF_VALUE_TYPE.STRING) return this.string(String(value));
    if (width[type] === undefined) throw new Llm2ClipError('E_CONFIG', `unknown GGUF value type ${type}`);
    // reserve first: it may replace the buffer and its view
    const at = this.reserve(width[type]);
    const v = this.view;
    switch (type) {
      case GGUF_VALUE_TYPE.UINT8: return v.setUint8(at, Number(value));
      case GGUF_VALUE_TYPE.INT8: return v.setInt8(at, Number(value));
      case GGUF_VALUE_TYPE.UINT16: return v.setUint16(at, Number(value), true);
      case GGUF_VALUE_TYPE.INT16: return v.setInt16(at, Number(value), true);
      case GGUF_VALUE_TYPE.UINT32: return v.setUint32(at, Number(value), true);
      case GGUF_VALUE_TYPE.INT32: return v.setInt32(at, Number(value), true);
      case GGUF_VALUE_TYPE.FLOAT32: return v.setFloat32(at, Number(value), true);
      case GGUF_VALUE_TYPE.BOOL: return v.setUint8(at, value === true ? 1 : 0);
      case GGUF_VALUE_TYPE.UINT64: return v.setBigUint64(at, BigInt(value as number | bigint), true);
      case GGUF_VALUE_TYPE.INT64: return v.setBigInt64(at, BigInt(value as number | bigint), true);
      default: return v.setFloat64(at, Number(value), true);
    }
  }
  pad(alignment: number): void {
    this.reserve((alignment - (this.length % alignment)) % alignment);
  }
  concat(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

function encodeTensor(t: GgufTensorToWrite): Uint8Array {
  switch (t.type) {
    case 'F32': return new Uint8Array(t.values.buffer.slice(t.values.byteOffset, t.values.byteOffset + t.values.byteLength));
    case 'F16': return new Uint8Array(Uint16Array.from(t.values, (x) => floatToHalf(x)).buffer);
    case 'BF16': {
      const bits = new Uint32Array(Float32Array.from(t.values).buffer);
      return new Uint8Array(Uint16Array.from(bits, (b) => ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff).buffer);
    }
    case 'Q8_0': return quantizeQ8_0(t.values);
  }
}

/**
 * Writes a GGUF v3 file (metadata in the given order, tensors aligned to `general.alignment` or
 * 32), atomically. Used to export models for llama.cpp and by the tests that check the reader
 * against files laid out exactly as llama.cpp's converter writes them.
 */
export async function writeGguf(path: string, metadata: readonly GgufKeyValue[], tensors: readonly GgufTensorToWrite[]): Promise<void> {
  const alignmentEntry = metadata.find((kv) => kv.key === 'general.alignment');
  const alignment = typeof alignmentEntry?.value === 'number' ? alignmentEntry.value : DEFAULT_ALIGNMENT;
  const sink = new ByteSink();
  sink.u32(0x46554747);
  sink.u32(3);
  sink.u64(tensors.length);
  sink.u64(metadata.length);
  for (const kv of metadata) {
    sink.string(kv.key);
    sink.u32(kv.type);
    if (kv.type === GGUF_VALUE_TYPE.ARRAY) {
      const values = kv.value as GgufValue[];
      if (kv.arrayType === undefined) throw new Llm2ClipError('E_CONFIG', 'array metadata needs arrayType', { field: kv.key });
      sink.u32(kv.arrayType);
      sink.u64(values.length);
      for (const v of values) sink.scalar(kv.arrayType, v);
    } else {
      sink.scalar(kv.type, kv.value);
    }
  }
  const encoded = tensors.map(encodeTensor);
  let offset = 0;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    sink.string(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(GGML_TYPE[t.type]);
    sink.u64(offset);
    offset += Math.ceil(encoded[i].byteLength / alignment) * alignment;
  }
  sink.pad(alignment);
  for (const bytes of encoded) {
    sink.push(bytes);
    sink.pad(alignment);
  }
  await writeFileAtomic(path, sink.concat());
}
