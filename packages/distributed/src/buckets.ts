import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { getCommunicator } from './process-group.js';
import { requireFloat32, requireMpiCount } from './host.js';
import { scaleInPlace } from './all-reduce.js';

/** Default bucket size of {@link allReduceBucketed}: 25 MiB, PyTorch DDP's `bucket_cap_mb`. */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

/** A run of consecutive tensors flattened into one buffer. */
export interface Bucket {
  /** Indices of the tensors, in order. */
  indices: number[];
  /** Element offset of each tensor inside the bucket. */
  offsets: number[];
  /** Elements in the bucket. */
  size: number;
}

/**
 * Groups consecutive tensors of the given element counts into buckets of at most
 * `bucketBytes` (float32); a tensor larger than a bucket gets a bucket of its own.
 */
export function planBuckets(sizes: readonly number[], bucketBytes: number = DEFAULT_BUCKET_BYTES): Bucket[] {
  if (!(bucketBytes >= 4) || !Number.isFinite(bucketBytes)) {
    throw new Llm2ClipError('E_CONFIG', `bucketBytes must be at least 4, got ${bucketBytes}`, { field: 'bucketBytes' });
  }
  const capacity = Math.floor(bucketBytes / 4);
  const buckets: Bucket[] = [];
  let current: Bucket = { indices: [], offsets: [], size: 0 };
  sizes.forEach((size, index) => {
    if (current.indices.length > 0 && current.size + size > capacity) {
      buckets.push(current);
      current = { indices: [], offsets: [], size: 0 };
    }
    current.indices.push(index);
    current.offsets.push(current.size);
    current.size += size;
  });
  if (current.indices.length > 0) buckets.push(current);
  return buckets;
}

/** Options of {@link allReduceBucketed}. */
export interface BucketedAllReduceOptions {
  /** `sum` or `mean` (gradient averaging). Default: `mean`. */
  op?: 'sum' | 'mean';
  /** Bucket size in bytes. Default: {@link DEFAULT_BUCKET_BYTES}. */
  bucketBytes?: number;
}

/**
 * All-reduces many tensors (a model's gradients) the way PyTorch DDP does: flattened into
 * buckets of ~25 MiB, one `MPI_Allreduce` per bucket, then cut back into tensors of the original
 * shapes. The bucket buffers are kept for the next call (see {@link releaseBucketBuffers}).
 * Accepts an array or a `Map` (e.g. `computeGradients(...).grads`) and returns new tensors in the
 * same structure; the inputs are left alone. Every rank must pass the same shapes in the same order.
 */
export async function allReduceBucketed(tensors: tf.Tensor[], options?: BucketedAllReduceOptions): Promise<tf.Tensor[]>;
export async function allReduceBucketed<K>(tensors: Map<K, tf.Tensor>, options?: BucketedAllReduceOptions): Promise<Map<K, tf.Tensor>>;
export async function allReduceBucketed<K>(
  tensors: tf.Tensor[] | Map<K, tf.Tensor>,
  options: BucketedAllReduceOptions = {},
): Promise<tf.Tensor[] | Map<K, tf.Tensor>> {
  const list = Array.isArray(tensors) ? tensors : [...tensors.values()];
  list.forEach((t, i) => requireFloat32(t, `allReduceBucketed (tensor ${i})`));
  const comm = getCommunicator();
  const op = options.op ?? 'mean';
  const buckets = planBuckets(
    list.map((t) => t.size),
    options.bucketBytes,
  );
  const pooled = !poolBusy;
  if (pooled) poolBusy = true;
  try {
    return await reduceInBuckets(tensors, list, buckets, pooled, op, comm.size, (buf) => comm.allReduce(buf, 'sum'));
  } finally {
    if (pooled) poolBusy = false;
  }
}

// Bucket buffers kept between calls: a fresh 100 MB array costs page faults on every step (the
// kernel zero-fills each page), a reused one does not. Only one call at a time uses the pool.
let pool: Float32Array[] = [];
let poolBusy = false;

/** Frees the bucket buffers {@link allReduceBucketed} keeps between calls (about the size of one set of gradients). */
export function releaseBucketBuffers(): void {
  pool = [];
}

async function reduceInBuckets<K>(
  tensors: tf.Tensor[] | Map<K, tf.Tensor>,
  list: tf.Tensor[],
  buckets: Bucket[],
  pooled: boolean,
  op: 'sum' | 'mean',
  worldSize: number,
  reduce: (buf: Float32Array) => Promise<void>,
): Promise<tf.Tensor[] | Map<K, tf.Tensor>> {
  const buffers: Float32Array[] = [];
  const reductions: Promise<void>[] = [];
  for (const [b, bucket] of buckets.entries()) {
    requireMpiCount(bucket.size, 'allReduceBucketed');
    let buf: Float32Array;
    if (pooled && pool[b]?.length === bucket.size) buf = pool[b];
    else {
      buf = new Float32Array(bucket.size);
      if (pooled) pool[b] = buf;
    }
    bucket.indices.forEach((index, k) => buf.set(list[index].dataSync() as Float32Array, bucket.offsets[k]));
    buffers.push(buf);
    reductions.push(reduce(buf));
  }
  if (pooled) pool.length = buckets.length;
  // Wait for every bucket, even after a failure, so that no pooled buffer is still in MPI's hands.
  // Unpacking starts only then: cutting bucket k while bucket k+1 is in MPI was measured slower
  // here (the copies compete with MPI's polling threads for the cores; see README, "Speed").
  const settled = await Promise.allSettled(reductions);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  const out: tf.Tensor[] = new Array<tf.Tensor>(list.length);
  buckets.forEach((bucket, b) => {
    const buf = buffers[b];
    if (op === 'mean') scaleInPlace(buf, 1 / worldSize);
    bucket.indices.forEach((index, k) => {
      const offset = bucket.offsets[k];
      out[index] = tf.tensor(buf.slice(offset, offset + list[index].size), list[index].shape, 'float32');
    });
  });
  if (Array.isArray(tensors)) return out;
  const keys = [...tensors.keys()];
  return new Map(keys.map((key, i) => [key, out[i]]));
}
