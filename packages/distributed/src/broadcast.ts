import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { getCommunicator } from './process-group.js';
import { requireFloat32 } from './host.js';
import { DEFAULT_BUCKET_BYTES, planBuckets } from './buckets.js';

/** Something that lists named variables, like `@llm2clip/tensor`'s `ParameterStore`. */
export interface NamedVariables {
  entries(): Array<[string, tf.Variable]>;
}

function requireRoot(root: number, size: number): void {
  if (!Number.isInteger(root) || root < 0 || root >= size) {
    throw new Llm2ClipError('E_CONFIG', `broadcast root ${root} is not a rank of a world of ${size}`, { field: 'root' });
  }
}

/** Broadcasts the values of `tensors` (bucketed) and returns the received float32 arrays. */
async function broadcastValues(tensors: readonly tf.Tensor[], root: number, bucketBytes: number): Promise<Float32Array[]> {
  const comm = getCommunicator();
  requireRoot(root, comm.size);
  tensors.forEach((t, i) => requireFloat32(t, `broadcast (tensor ${i})`));
  const buckets = planBuckets(
    tensors.map((t) => t.size),
    bucketBytes,
  );
  const buffers = buckets.map((bucket) => {
    const buf = new Float32Array(bucket.size);
    if (comm.rank === root) bucket.indices.forEach((index, k) => buf.set(tensors[index].dataSync() as Float32Array, bucket.offsets[k]));
    return buf;
  });
  await Promise.all(buffers.map((buf) => comm.broadcast(buf, root)));
  const out: Float32Array[] = new Array<Float32Array>(tensors.length);
  buckets.forEach((bucket, b) => {
    bucket.indices.forEach((index, k) => {
      out[index] = buffers[b].slice(bucket.offsets[k], bucket.offsets[k] + tensors[index].size);
    });
  });
  return out;
}

/** Checks that every rank holds the same names and shapes (gathers a digest of them). */
async function checkSameLayout(names: readonly string[], shapes: readonly number[][]): Promise<void> {
  const comm = getCommunicator();
  if (comm.size === 1) return;
  const text = names.map((name, i) => `${name}:${shapes[i].join('x')}`).join('|');
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  // Two 16-bit halves, exact in float32.
  const mine = new Float32Array([hash >>> 16, hash & 0xffff, names.length]);
  const all = new Float32Array(3 * comm.size);
  await comm.allGatherV(mine, all, new Array<number>(comm.size).fill(3));
  for (let r = 0; r < comm.size; r++) {
    if (all[3 * r] !== mine[0] || all[3 * r + 1] !== mine[1] || all[3 * r + 2] !== mine[2]) {
      throw new Llm2ClipError('E_MISMATCH', `rank ${r} holds other parameter names or shapes than rank ${comm.rank} (${all[3 * r + 2]} vs ${names.length} tensors)`);
    }
  }
}

/**
 * Broadcasts `root`'s tensors to every rank and returns them as new tensors (same shapes, in
 * order); the inputs are left alone. Every rank passes tensors of the same shapes.
 */
export async function broadcastTensors(tensors: readonly tf.Tensor[], root = 0, bucketBytes = DEFAULT_BUCKET_BYTES): Promise<tf.Tensor[]> {
  const values = await broadcastValues(tensors, root, bucketBytes);
  return values.map((v, i) => tf.tensor(v, tensors[i].shape, 'float32'));
}

/** Overwrites every rank's variables with `root`'s (in place, `variable.assign`). */
export async function broadcastVariables(variables: readonly tf.Variable[], root = 0, bucketBytes = DEFAULT_BUCKET_BYTES): Promise<void> {
  const values = await broadcastValues(variables, root, bucketBytes);
  values.forEach((v, i) => {
    const fresh = tf.tensor(v, variables[i].shape, 'float32');
    variables[i].assign(fresh);
    fresh.dispose();
  });
}

/**
 * Gives every rank `root`'s weights: the variables of a `ParameterStore` (or any
 * {@link NamedVariables}), in name order. First checks that all ranks hold the same names and
 * shapes (`E_MISMATCH` otherwise), so a wrong model config fails instead of mixing weights.
 */
export async function broadcastParameters(store: NamedVariables, root = 0, bucketBytes = DEFAULT_BUCKET_BYTES): Promise<void> {
  const entries = [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await checkSameLayout(
    entries.map(([name]) => name),
    entries.map(([, v]) => v.shape),
  );
  await broadcastVariables(
    entries.map(([, v]) => v),
    root,
    bucketBytes,
  );
}

/** Broadcasts a float32 array of known length from `root` (e.g. an RNG state or a data cursor). */
export async function broadcastArray(values: Float32Array, root = 0): Promise<Float32Array> {
  const comm = getCommunicator();
  requireRoot(root, comm.size);
  const buf = Float32Array.from(values);
  await comm.broadcast(buf, root);
  return buf;
}

