import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { allReduce } from './all-reduce.js';
import { getProcessGroup } from './process-group.js';

/** Where a disagreement was found, for the error: the file (e.g. the checkpoint) and field. */
export interface AgreementContext {
  path?: string;
  field?: string;
}

/**
 * Checks that every rank holds the same `values` (e.g. the step and data cursor a run resumes
 * from: each rank reads the checkpoint itself): an all-reduce of max and of min must agree. Throws
 * `E_MISMATCH` on every rank when they do not, so no rank is left waiting in a later collective
 * while the others train on another state. A world of one returns at once.
 */
export async function requireSameOnAllRanks(values: readonly number[], what: string, context: AgreementContext = {}): Promise<void> {
  const group = getProcessGroup();
  if (group.worldSize === 1) return;
  const local = tf.tensor1d(values.map(Number), 'float32');
  const high = await allReduce(local, 'max');
  const low = await allReduce(local, 'min');
  const [hi, lo] = [Array.from(high.dataSync()), Array.from(low.dataSync())];
  tf.dispose([local, high, low]);
  if (hi.every((value, i) => value === lo[i])) return;
  throw new Llm2ClipError(
    'E_MISMATCH',
    `${what} differs between ranks (rank ${group.rank} has ${values.join(', ')}; the ranks range from ${lo.join(', ')} to ${hi.join(', ')}): every rank must see the same checkpoints (put the run directory on a file system all nodes share)`,
    context,
  );
}

/**
 * True on every rank when any rank passes true (an all-reduce of max), e.g. "stop after this
 * step": a signal reaches the ranks at different moments, and all must stop after the same step. A
 * world of one returns `flag`.
 */
export async function anyRank(flag: boolean): Promise<boolean> {
  if (getProcessGroup().worldSize === 1) return flag;
  const local = tf.scalar(flag ? 1 : 0, 'float32');
  const reduced = await allReduce(local, 'max');
  const result = reduced.dataSync()[0] > 0;
  tf.dispose([local, reduced]);
  return result;
}
