import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { getCommunicator } from './process-group.js';
import type { Communicator } from './communicator.js';
import { hostCopy, requireFloat32, requireMpiCount } from './host.js';

/** Rows of every rank and the per-row element count, checked to agree. */
interface GatherLayout {
  rows: number[];
  rowSize: number;
}

function rowSizeOf(x: tf.Tensor): number {
  return x.shape.slice(1).reduce((a, b) => a * b, 1);
}

function layoutFromGathered(all: Float32Array, size: number, x: tf.Tensor, what: string): GatherLayout {
  const rowSize = rowSizeOf(x);
  const rows: number[] = [];
  for (let r = 0; r < size; r++) {
    if (all[2 * r + 1] !== rowSize) {
      throw new Llm2ClipError('E_SHAPE', `${what}: rank ${r} has rows of ${all[2 * r + 1]} elements, this rank [${x.shape.slice(1).join(', ')}] (${rowSize})`);
    }
    rows.push(all[2 * r]);
  }
  return { rows, rowSize };
}

function layoutInput(x: tf.Tensor, comm: Communicator, what: string): { mine: Float32Array; all: Float32Array; counts: number[] } {
  requireFloat32(x, what);
  if (x.rank < 1) throw new Llm2ClipError('E_SHAPE', `${what}: needs a tensor of rank ≥ 1 (rows on axis 0), got a scalar`);
  if (x.shape[0] > 2 ** 24 || rowSizeOf(x) > 2 ** 24) throw new Llm2ClipError('E_SHAPE', `${what}: more than 2^24 rows or row elements`);
  return { mine: new Float32Array([x.shape[0], rowSizeOf(x)]), all: new Float32Array(2 * comm.size), counts: new Array<number>(comm.size).fill(2) };
}

function gatheredShape(x: tf.Tensor, layout: GatherLayout): number[] {
  return [layout.rows.reduce((a, b) => a + b, 0), ...x.shape.slice(1)];
}

/**
 * Concatenates every rank's `x` along axis 0, in rank order (ranks may hold different row
 * counts; the other dims must agree, else `E_SHAPE`). No gradient flows through it; use
 * {@link allGatherWithGrad} inside a loss.
 */
export async function allGather(x: tf.Tensor): Promise<tf.Tensor> {
  const comm = getCommunicator();
  const probe = layoutInput(x, comm, 'allGather');
  await comm.allGatherV(probe.mine, probe.all, probe.counts);
  const layout = layoutFromGathered(probe.all, comm.size, x, 'allGather');
  const shape = gatheredShape(x, layout);
  requireMpiCount(shape[0] * layout.rowSize, 'allGather');
  const recv = new Float32Array(shape[0] * layout.rowSize);
  await comm.allGatherV(
    hostCopy(x),
    recv,
    layout.rows.map((r) => r * layout.rowSize),
  );
  return tf.tensor(recv, shape, 'float32');
}

/**
 * All-gather with a gradient, as open_clip's `gather_with_grad` (torch.distributed.nn.all_gather):
 * forward concatenates every rank's rows along axis 0; backward sums the incoming gradient over
 * ranks and keeps this rank's rows (a reduce-scatter). With each rank's loss computed from its
 * local rows against the gathered columns, the gradient on rank r equals the single-process
 * gradient of the sum of all ranks' losses with respect to rank r's rows.
 *
 * Synchronous (blocks the JS thread during MPI calls) because tfjs runs custom gradients
 * synchronously; throws `E_STATE` if an asynchronous collective is still in flight. Every rank
 * must run the backward pass too (the reduce-scatter is collective).
 */
export function allGatherWithGrad(x: tf.Tensor): tf.Tensor {
  const comm = getCommunicator();
  const probe = layoutInput(x, comm, 'allGatherWithGrad');
  comm.allGatherVSync(probe.mine, probe.all, probe.counts);
  const layout = layoutFromGathered(probe.all, comm.size, x, 'allGatherWithGrad');
  const shape = gatheredShape(x, layout);
  requireMpiCount(shape[0] * layout.rowSize, 'allGatherWithGrad');
  const counts = layout.rows.map((r) => r * layout.rowSize);
  const gather = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    const recv = new Float32Array(shape[0] * layout.rowSize);
    comm.allGatherVSync(hostCopy(input), recv, counts);
    return {
      value: tf.tensor(recv, shape, 'float32'),
      gradFunc: (dy: tf.Tensor) => {
        const mine = new Float32Array(counts[comm.rank]);
        comm.reduceScatterSync(hostCopy(dy), mine, counts);
        return tf.tensor(mine, input.shape, 'float32');
      },
    };
  });
  return gather(x);
}
