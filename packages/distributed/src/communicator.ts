import { Llm2ClipError } from '@llm2clip/core';
import { MPI_OPS, type MpiAddon } from './mpi-addon.js';

/** Element-wise reductions of {@link Communicator.allReduce}. */
export type ReduceOp = keyof typeof MPI_OPS;

/**
 * Collectives on float32 arrays, the layer under the tensor collectives. Every rank must call
 * the same collectives in the same order. Async calls run one at a time, in call order; a sync
 * call while an async one is in flight throws `E_STATE` (MPI is used at the serialized thread level).
 */
export interface Communicator {
  /** Rank of this process. */
  readonly rank: number;
  /** Number of processes. */
  readonly size: number;
  /** In-place element-wise reduction over all ranks. */
  allReduce(buf: Float32Array, op?: ReduceOp): Promise<void>;
  /** {@link allReduce}, blocking the JS thread. */
  allReduceSync(buf: Float32Array, op?: ReduceOp): void;
  /** Overwrites `buf` on every rank with `root`'s. */
  broadcast(buf: Float32Array, root: number): Promise<void>;
  /** Concatenates each rank's `send` (of `counts[rank]` elements) into `recv`, in rank order. */
  allGatherV(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void>;
  /** {@link allGatherV}, blocking the JS thread. */
  allGatherVSync(send: Float32Array, recv: Float32Array, counts: number[]): void;
  /** Sums `send` over ranks and keeps this rank's block (`counts[rank]` elements, blocks in rank order). */
  reduceScatter(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void>;
  /** {@link reduceScatter}, blocking the JS thread. */
  reduceScatterSync(send: Float32Array, recv: Float32Array, counts: number[]): void;
  /** Returns once every rank has called it. */
  barrier(): Promise<void>;
}

/** The world of one: every collective is the identity. */
export class SingleCommunicator implements Communicator {
  readonly rank = 0;
  readonly size = 1;
  async allReduce(): Promise<void> {}
  allReduceSync(): void {}
  async broadcast(_buf: Float32Array, root: number): Promise<void> {
    if (root !== 0) throw new Llm2ClipError('E_CONFIG', `broadcast root ${root} is not a rank of a world of 1`, { field: 'root' });
  }
  async allGatherV(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void> {
    this.allGatherVSync(send, recv, counts);
  }
  allGatherVSync(send: Float32Array, recv: Float32Array, _counts?: number[]): void {
    recv.set(send);
  }
  async reduceScatter(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void> {
    this.reduceScatterSync(send, recv, counts);
  }
  reduceScatterSync(send: Float32Array, recv: Float32Array, _counts?: number[]): void {
    recv.set(send);
  }
  async barrier(): Promise<void> {}
}

/** Collectives through the MPI binding, serialised so that at most one MPI call is in flight. */
export class MpiCommunicator implements Communicator {
  private pending = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly addon: MpiAddon,
    readonly rank: number,
    readonly size: number,
  ) {}

  /** Runs `call` now when MPI is idle, else after the calls before it. */
  private enqueue(call: () => Promise<void>): Promise<void> {
    const start = (): Promise<void> => {
      try {
        return call();
      } catch (error) {
        return Promise.reject(error);
      }
    };
    const promise = this.pending === 0 ? start() : this.tail.then(start);
    this.pending++;
    const settled = promise.finally(() => {
      this.pending--;
    });
    this.tail = settled.catch(() => undefined);
    return settled;
  }

  private assertIdle(what: string): void {
    if (this.pending > 0) {
      throw new Llm2ClipError('E_STATE', `${what} is synchronous but ${this.pending} asynchronous collective(s) are still in flight; await them first`);
    }
  }

  allReduce(buf: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    return this.enqueue(() => this.addon.allreduce(buf, MPI_OPS[op]));
  }

  allReduceSync(buf: Float32Array, op: ReduceOp = 'sum'): void {
    this.assertIdle('allReduceSync');
    this.addon.allreduceSync(buf, MPI_OPS[op]);
  }

  broadcast(buf: Float32Array, root: number): Promise<void> {
    return this.enqueue(() => this.addon.bcast(buf, root));
  }

  allGatherV(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void> {
    return this.enqueue(() => this.addon.allgatherv(send, recv, counts));
  }

  allGatherVSync(send: Float32Array, recv: Float32Array, counts: number[]): void {
    this.assertIdle('allGatherVSync');
    this.addon.allgathervSync(send, recv, counts);
  }

  reduceScatter(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void> {
    return this.enqueue(() => this.addon.reduceScatter(send, recv, counts));
  }

  reduceScatterSync(send: Float32Array, recv: Float32Array, counts: number[]): void {
    this.assertIdle('reduceScatterSync');
    this.addon.reduceScatterSync(send, recv, counts);
  }

  barrier(): Promise<void> {
    return this.enqueue(() => this.addon.barrier());
  }
}
