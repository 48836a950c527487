import { Buffer, constants } from 'node:buffer';
import type { DataType } from '@tensorflow/tfjs-core';

/** The typed arrays the native backend keeps numeric tensors in. */
export type TensorArray = Float32Array | Int32Array | Uint8Array;

// Largest buffer Buffer.allocUnsafeSlow can make; bigger ones are ordinary (zeroed) typed arrays.
const UNSAFE_MAX_BYTES = Math.min(constants.MAX_LENGTH, 2 ** 31);

function view(buffer: ArrayBuffer, dtype: DataType, size: number): TensorArray {
  if (dtype === 'float32') return new Float32Array(buffer, 0, size);
  if (dtype === 'int32') return new Int32Array(buffer, 0, size);
  return new Uint8Array(buffer, 0, size);
}

function bytesOf(dtype: DataType, size: number): number {
  return size * (dtype === 'float32' || dtype === 'int32' ? 4 : 1);
}

/**
 * The size class a request of `bytes` is served from: 2^k, 1.25·2^k, 1.5·2^k or 1.75·2^k bytes
 * (at most 25% unused), at least 64. Shapes that vary from batch to batch (sequence lengths) then
 * still reuse each other's buffers.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 64) return 64;
  const power = 2 ** Math.floor(Math.log2(bytes));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const candidate = Math.ceil(power * step);
    if (candidate >= bytes) return candidate;
  }
  return 2 * power;
}

/**
 * Recycles the ArrayBuffers of kernel outputs. Without it every output is a fresh allocation that
 * only V8's garbage collector frees: a training step allocating gigabytes triggers hundreds of
 * full collections and page-faults fresh memory in, where the wasm heap reuses its memory. The
 * backend counts the live tensors that hold each buffer (views included) and returns a buffer
 * here when the last one is disposed; `allocate` hands back a free buffer of the same size.
 * Buffers come uninitialised (`Buffer.allocUnsafeSlow`): kernels overwrite their outputs whole.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly owned = new WeakSet<ArrayBuffer>();
  private readonly users = new Map<ArrayBuffer, number>();
  private freeBytes = 0;

  /** @param capacityBytes The most bytes kept free for reuse; beyond that buffers are left to the GC. */
  constructor(readonly capacityBytes: number) {}

  /** A typed array of `size` elements for a kernel output, recycled when possible, contents undefined. */
  allocate(dtype: DataType, size: number): TensorArray {
    const needed = bytesOf(dtype, size);
    const bytes = sizeClass(needed);
    if (size === 0 || bytes > UNSAFE_MAX_BYTES) return view(new ArrayBuffer(needed), dtype, size);
    const list = this.free.get(bytes);
    const reused = list?.pop();
    if (reused !== undefined) {
      this.freeBytes -= bytes;
      return view(reused, dtype, size);
    }
    const buffer = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
    this.owned.add(buffer);
    return view(buffer, dtype, size);
  }

  /** True when `values` lives in a buffer of this pool (so readers must get a copy). */
  owns(values: unknown): boolean {
    return ArrayBuffer.isView(values) && this.owned.has(values.buffer as ArrayBuffer);
  }

  /** A tensor now holds `values` (called for every tensor the backend stores). */
  retain(values: unknown): void {
    if (!this.owns(values)) return;
    const buffer = (values as TensorArray).buffer as ArrayBuffer;
    this.users.set(buffer, (this.users.get(buffer) ?? 0) + 1);
  }

  /** A tensor holding `values` was freed; its buffer is recycled when no tensor holds it any more. */
  release(values: unknown): void {
    if (!this.owns(values)) return;
    const buffer = (values as TensorArray).buffer as ArrayBuffer;
    const users = (this.users.get(buffer) ?? 1) - 1;
    if (users > 0) {
      this.users.set(buffer, users);
      return;
    }
    this.users.delete(buffer);
    if (this.freeBytes + buffer.byteLength > this.capacityBytes) return;
    const list = this.free.get(buffer.byteLength);
    if (list === undefined) this.free.set(buffer.byteLength, [buffer]);
    else list.push(buffer);
    this.freeBytes += buffer.byteLength;
  }

  /** Bytes held free for reuse. */
  get pooledBytes(): number {
    return this.freeBytes;
  }

  /** Drops every free buffer (the GC reclaims them). */
  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }
}
