import type { FileHandle } from 'node:fs/promises';
import { Llm2ClipError } from '@llm2clip/core';

/** What a checkpoint says about one tensor before any of its data is read. */
export interface WeightInfo {
  /** Name in the file (safetensors) or after mapping to Hugging Face names (GGUF). */
  name: string;
  /** Dimensions, outermost first (`[out, in]` for Linear weights). */
  shape: number[];
  /** Storage type in the file (`F32`, `F16`, `BF16`, `Q8_0`, …). */
  dtype: string;
}

/**
 * A checkpoint read one tensor at a time: `list()` describes every tensor from the headers
 * alone (so names and shapes are checked before anything is allocated), `read()` converts one
 * tensor into a freshly allocated float32 buffer — the only full-size copy that is ever made.
 * Safetensors files (single or sharded) and GGUF files implement it.
 */
export interface WeightSource {
  /** File or directory the weights come from (for error messages). */
  readonly path: string;
  /** Every tensor of the checkpoint, in file order. */
  list(): WeightInfo[];
  /** The values of tensor `name` as float32, row-major. */
  read(name: string): Promise<Float32Array>;
  /** Releases open file handles. */
  close(): Promise<void>;
}

/** Product of a shape's dimensions, refusing counts beyond what a typed array can hold. */
export function elementCount(shape: readonly number[], path: string, name: string): number {
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Llm2ClipError('E_FORMAT', `invalid dimension ${d}`, { path, field: name });
    count *= d;
  }
  // a Float32Array of more than 2^32 elements cannot be allocated by V8
  if (count > 2 ** 32) throw new Llm2ClipError('E_FORMAT', `tensor of ${count} elements is too large to load`, { path, field: name });
  return count;
}

const HALF_TABLE = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) table[h] = sign * 2 ** -14 * (fraction / 1024);
    else if (exponent === 31) table[h] = fraction ? NaN : sign * Infinity;
    else table[h] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return table;
})();

/** IEEE half-precision bits → float32 (exact; table lookup). */
export function halfToFloat(bits: number): number {
  return HALF_TABLE[bits & 0xffff];
}

/** Converts little-endian F16 values in `src` into `dst` starting at `dstOffset`. */
export function convertF16(src: Uint16Array, dst: Float32Array, dstOffset: number): void {
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = HALF_TABLE[src[i]];
}

/** Converts little-endian BF16 values in `src` into `dst` (the upper half of a float32). */
export function convertBf16(src: Uint16Array, dst: Float32Array, dstOffset: number): void {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset + dstOffset * 4, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
}

/** Reads exactly `target.byteLength` bytes at `position`; a short file is `E_FORMAT` naming `path`. */
export async function readExactly(handle: FileHandle, target: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    // one fs read is limited to 2 GiB; large tensors are read in 1 GiB pieces
    const { bytesRead } = await handle.read(target, done, Math.min(target.byteLength - done, 1 << 30), position + done);
    if (bytesRead === 0) throw new Llm2ClipError('E_FORMAT', `file ends ${target.byteLength - done} bytes early`, { path });
    done += bytesRead;
  }
}

/**
 * Reads `out.length` F16 or BF16 values at `position` into `out` as float32, `chunkElements` at a
 * time, so only the final float32 buffer is tensor-sized.
 */
export async function readHalfFloats(handle: FileHandle, path: string, position: number, dtype: 'F16' | 'BF16', out: Float32Array, chunkElements: number): Promise<void> {
  const count = out.length;
  const scratch = new Uint16Array(Math.min(chunkElements, count));
  for (let done = 0; done < count; done += chunkElements) {
    const n = Math.min(chunkElements, count - done);
    const view = scratch.subarray(0, n);
    await readExactly(handle, new Uint8Array(view.buffer, 0, n * 2), position + done * 2, path);
    if (dtype === 'F16') convertF16(view, out, done);
    else convertBf16(view, out, done);
  }
}

const SCRATCH_F32 = new Float32Array(1);
const SCRATCH_U32 = new Uint32Array(SCRATCH_F32.buffer);

/** Float32 → IEEE half bits, round to nearest even (for writers of F16 / Q8_0 data). */
export function floatToHalf(value: number): number {
  SCRATCH_F32[0] = value;
  const x = SCRATCH_U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  e = half;
  return sign | e;
}

/** Float32 → BF16 bits, round to nearest even. */
export function floatToBf16(value: number): number {
  SCRATCH_F32[0] = value;
  const x = SCRATCH_U32[0];
  if (Number.isNaN(value)) return 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
