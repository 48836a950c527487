import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Llm2ClipError, type ErrorCode } from '@llm2clip/core';
import { loadWorkerTransform, runDecodeJob, type DecodeJob, type DecodeSettings } from './decode-job.js';
import type { WorkerTransform } from './worker-transform.js';

/** Options of {@link DecodePool}. */
export interface DecodePoolOptions extends DecodeSettings {
  /** Worker threads (default 2); 0 decodes on the calling thread (sharp still runs off the JS thread). */
  workers?: number;
  /**
   * libvips threads per image (`sharp.concurrency`) inside each worker (default 1: the workers are
   * the parallelism). Like libvips' operation cache, which the workers turn off, this setting is
   * per process: it applies to sharp on the calling thread too.
   */
  sharpConcurrency?: number;
  /**
   * Jobs each worker runs at once (default 2: one image decoding in libvips while the previous one
   * is transformed on the worker's thread); further jobs queue in the worker. More only adds
   * threads competing for the same cores.
   */
  jobsPerWorker?: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * Where the compiled worker entry lives. From the built package it sits beside this module; from
 * the TypeScript sources (tests) it is the built copy in `dist/`, so build the package first.
 */
function workerScript(): URL {
  const beside = new URL('./decode-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../../dist/pipeline/decode-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Llm2ClipError('E_STATE', 'decode worker script not found; build @llm2clip/data first (pnpm build)', { path: fileURLToPath(beside) });
}

/**
 * A small pool of `worker_threads` that decode images with sharp and run an optional worker-side
 * transform (see {@link WorkerTransform}). Jobs go to the least busy worker; results come back in
 * the order asked for by whoever awaits them. A failed job rejects with a typed error (`E_DATA` for
 * an undecodable image); a worker that crashes fails its jobs and is replaced.
 *
 * @example
 * ```ts
 * const pool = new DecodePool({ workers: 2 });
 * const image = await pool.run({ bytes, key: '000123', seed: 0 });
 * await pool.close();
 * ```
 */
export class DecodePool {
  private readonly options: DecodePoolOptions;
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private inline: Promise<WorkerTransform | undefined> | undefined;
  private closed = false;

  constructor(options: DecodePoolOptions = {}) {
    const workers = options.workers ?? 2;
    if (!Number.isInteger(workers) || workers < 0) throw new Llm2ClipError('E_CONFIG', `workers must be a non-negative integer, got ${workers}`, { field: 'workers' });
    const jobs = options.jobsPerWorker ?? 2;
    if (!Number.isInteger(jobs) || jobs < 1) throw new Llm2ClipError('E_CONFIG', `jobsPerWorker must be a positive integer, got ${jobs}`, { field: 'jobsPerWorker' });
    this.options = options;
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn());
  }

  /** Number of worker threads (0 = decoding on the calling thread). */
  get workers(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const worker = new Worker(workerScript(), {
      workerData: { limitInputPixels: this.options.limitInputPixels, workerTransform: this.serialisableTransform(), sharpConcurrency: this.options.sharpConcurrency ?? 1, jobsPerWorker: this.options.jobsPerWorker ?? 2 },
    });
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (message: { id: number; ok: boolean; value?: unknown; code?: ErrorCode; message?: string }) => {
      const pending = slot.pending.get(message.id);
      if (pending === undefined) return;
      slot.pending.delete(message.id);
      if (slot.pending.size === 0) worker.unref();
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Llm2ClipError(message.code ?? 'E_DATA', message.message ?? 'decode failed'));
    });
    const fail = (error: Error): void => {
      for (const pending of slot.pending.values()) pending.reject(new Llm2ClipError('E_DATA', `decode worker failed: ${error.message}`, { cause: error }));
      slot.pending.clear();
      const index = this.slots.indexOf(slot);
      if (index >= 0 && !this.closed) this.slots[index] = this.spawn();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed && code !== 0) fail(new Error(`exited with code ${code}`));
    });
    worker.unref();
    return slot;
  }

  private serialisableTransform(): DecodeSettings['workerTransform'] {
    const spec = this.options.workerTransform;
    if (spec === undefined) return undefined;
    return { ...spec, module: spec.module instanceof URL ? spec.module.href : spec.module };
  }

  /** Decodes (and transforms) one image. */
  run(job: DecodeJob): Promise<unknown> {
    if (this.closed) return Promise.reject(new Llm2ClipError('E_STATE', 'decode pool is closed'));
    if (this.slots.length === 0) {
      this.inline ??= this.options.workerTransform !== undefined ? loadWorkerTransform(this.options.workerTransform) : Promise.resolve(undefined);
      return this.inline.then((transform) => runDecodeJob(job, this.options, transform));
    }
    let slot = this.slots[0];
    for (const candidate of this.slots) if (candidate.pending.size < slot.pending.size) slot = candidate;
    const id = this.nextId++;
    // copy into an own buffer: tar members are often views of a larger pooled buffer
    const bytes = new Uint8Array(job.bytes);
    return new Promise((resolve, reject) => {
      // an idle pool must not keep the process alive, a busy one must (the awaited results need it)
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, bytes, format: job.format, key: job.key, seed: job.seed }, [bytes.buffer as ArrayBuffer]);
    });
  }

  /** Stops the workers; jobs still running are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        for (const pending of slot.pending.values()) pending.reject(new Llm2ClipError('E_STATE', 'decode pool closed'));
        slot.pending.clear();
        await slot.worker.terminate();
      }),
    );
  }
}
