import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import type { ParameterStore } from '@llm2clip/tensor';
import { allReduce, allReduceBucketed, broadcastParameters, initDistributed, requireSameOnAllRanks, type ProcessGroup } from '@llm2clip/distributed';

/*
 * How the stage-1 trainers split one global batch over the ranks of a data-parallel run:
 *
 * - every rank builds the same global batch (same cursor, same caption triples, same random
 *   draws), so the run's random stream, cursor and checkpoints do not depend on the world size;
 * - the global batch's forward passes (the length-sorted passes of `lengthGroups`, one dropout
 *   seed each, drawn in the same order as a one-process run) are dealt to the ranks whole
 *   ({@link assignPasses}); a rank embeds only the rows of its passes, with the very dropout masks
 *   the one-process run uses for them;
 * - weight gradients are summed over ranks ({@link allReduceGradients}), loss values too.
 *
 * This module holds those pieces; the trainers use them only when the world has more than one rank,
 * so a world of one runs exactly the one-process code.
 */

/** What the trainers need of the process group: this rank, the world size, and whether it is rank 0. */
export type DataParallelGroup = Pick<ProcessGroup, 'rank' | 'worldSize' | 'isRoot'>;

/** The process group of this run (`initDistributed()`: a world of one without a launcher). */
export function dataParallelGroup(): DataParallelGroup {
  const { rank, worldSize, isRoot } = initDistributed();
  return { rank, worldSize, isRoot };
}

/**
 * Deals passes to ranks, balancing their cost (padded tokens): largest pass first, each to the
 * least loaded rank (lowest rank on ties). Deterministic, so every rank computes the same plan.
 * Returns, per rank, its pass indices in ascending order. With fewer passes than ranks some ranks
 * get none (they still take part in every collective).
 */
export function assignPasses(costs: readonly number[], worldSize: number): number[][] {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new Llm2ClipError('E_CONFIG', `world size must be a positive integer, got ${worldSize}`, { field: 'worldSize' });
  const load = new Array<number>(worldSize).fill(0);
  const owned: number[][] = Array.from({ length: worldSize }, () => []);
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a] || a - b);
  for (const pass of order) {
    let best = 0;
    for (let r = 1; r < worldSize; r++) if (load[r] < load[best]) best = r;
    owned[best].push(pass);
    load[best] += costs[pass];
  }
  return owned.map((passes) => passes.sort((a, b) => a - b));
}

/**
 * The contiguous block of `count` rows that `rank` owns, as open_clip's `local_loss` splits a
 * global batch: the first `count mod world` ranks get one row more.
 */
export function rowBlock(count: number, rank: number, worldSize: number): { start: number; count: number } {
  const base = Math.floor(count / worldSize);
  const extra = count % worldSize;
  return { start: rank * base + Math.min(rank, extra), count: base + (rank < extra ? 1 : 0) };
}

/**
 * Sums this rank's weight gradients over all ranks (bucketed all-reduce). Every trainable weight
 * of `store` is included, in the store's order, with zeros for weights this rank has no gradient
 * of (a rank without passes), so every rank passes the same shapes. Disposes `grads`; returns the
 * summed gradients (the caller disposes them).
 */
export async function allReduceGradients(store: ParameterStore, grads: Map<string, tf.Tensor>): Promise<Map<string, tf.Tensor>> {
  const full = new Map<string, tf.Tensor>();
  for (const [name, variable] of store.entries()) {
    if (!variable.trainable) continue;
    full.set(name, grads.get(name) ?? tf.zeros(variable.shape));
  }
  for (const [name, grad] of grads) if (!full.has(name)) grad.dispose();
  try {
    return await allReduceBucketed(full, { op: 'sum' });
  } finally {
    tf.dispose([...full.values()]);
  }
}

/**
 * Sums per-rank values over the ranks (one small all-reduce). The trainers send
 * `[loss part, stop requested]` after each step, so that the logged loss is the global one and
 * every rank stops after the same step when any of them was asked to (an abort signal reaches
 * ranks at different times).
 */
export async function sumOverRanks(values: readonly number[]): Promise<number[]> {
  const local = tf.tensor1d(Float32Array.from(values), 'float32');
  const summed = await allReduce(local, 'sum');
  const out = Array.from(summed.dataSync());
  tf.dispose([local, summed]);
  return out;
}

/**
 * Checks that every rank starts at the same step (each rank reads the checkpoint itself, so the
 * run directory must be one that every rank sees, e.g. a shared file system) and throws
 * `E_MISMATCH` on every rank otherwise, instead of letting ranks train on different states.
 */
export async function requireSameStartStep(step: number, path: string | undefined): Promise<void> {
  await requireSameOnAllRanks([step], 'the step to start from', { ...(path !== undefined ? { path } : {}), field: 'resume' });
}

/** Gives every rank rank 0's weights of `store` (LoRA initialisation, or a resumed state). */
export async function broadcastFromRoot(store: ParameterStore): Promise<void> {
  await broadcastParameters(store, 0);
}
