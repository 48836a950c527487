import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { BACKEND_PREFERENCE, isBackendName, type BackendName } from './backend-name.js';
import type { BackendInfo, SkippedBackend } from './backend-info.js';
import { loadNativeAddon, nativeAddonStatus } from './native-addon.js';
import { ensureGradientsRegistered } from './tfjs-gradients.js';
import { registerNativeBackend } from './native-backend.js';
import { NATIVE_TF_BACKEND } from './native-kernels.js';
import { ensureWasmTrainingKernels } from './wasm-training-kernels.js';

/** Environment variable that forces a backend (one of the {@link BackendName}s). */
export const BACKEND_ENV = 'LLM2CLIP_BACKEND';

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Use exactly this backend, failing with `E_BACKEND` when it is unavailable. Overrides the
   * `LLM2CLIP_BACKEND` environment variable. Default: the fastest available.
   */
  backend?: BackendName;
  /** OpenBLAS threads of the `native` backend. Default: the number of CPUs. */
  threads?: number;
  /**
   * Threads of the `native` backend's own C++ kernels (element-wise ops, reductions, layout),
   * the calling thread included. Default: 1 on machines with up to 2 CPUs, where OpenBLAS's
   * workers (which spin for a while after each product) already occupy the second core and a
   * second kernel thread measured slower (as PyTorch is fastest there with 1 intra-op thread
   * and 2 OpenBLAS threads); the CPU count on larger machines.
   */
  kernelThreads?: number;
  /** Receives the one line saying which backend was chosen and why faster ones were skipped. Default: stderr. */
  log?: (line: string) => void;
}

type Attempt = { ok: true; tfBackend: string; threads: number; detail: string } | { ok: false; reason: string };

interface Threads {
  blas: number;
  kernels: number;
}

const LOG_PREFIX = '[@llm2clip/tensor]';

let selection: Promise<BackendInfo> | undefined;
let chosen: BackendInfo | undefined;

function message(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}

async function tryTfjsNode(packageName: string): Promise<Attempt> {
  try {
    createRequire(import.meta.url).resolve(packageName);
  } catch {
    return { ok: false, reason: `${packageName} is not installed (optional peer dependency)` };
  }
  try {
    await import(packageName);
  } catch (error) {
    return { ok: false, reason: `${packageName} is installed but failed to load: ${message(error)}` };
  }
  if (!(await tf.setBackend('tensorflow'))) {
    return { ok: false, reason: `${packageName} loaded but its 'tensorflow' backend failed to initialise` };
  }
  // libtensorflow sizes its own thread pools from the CPU count.
  return { ok: true, tfBackend: 'tensorflow', threads: availableParallelism(), detail: packageName };
}

// The wasm and cpu backends are imported on demand: registering them at import time would make
// `wasm` tfjs's default for every importer of this package, before anyone awaited its setup.
async function initWasm(): Promise<string | undefined> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (error) {
    return `@tensorflow/tfjs-backend-wasm failed to load: ${message(error)}`;
  }
  if (!(await tf.setBackend('wasm'))) return 'the tfjs wasm backend failed to initialise (see the tfjs warning above)';
  return undefined;
}

async function tryNative(threads: Threads): Promise<Attempt> {
  const status = nativeAddonStatus();
  const addon = loadNativeAddon();
  if (!status.available || addon === undefined) return { ok: false, reason: status.reason ?? 'the native addon is unavailable' };
  try {
    await registerNativeBackend(addon);
  } catch (error) {
    return { ok: false, reason: `registering the native backend failed: ${message(error)}` };
  }
  if (!(await tf.setBackend(NATIVE_TF_BACKEND))) return { ok: false, reason: 'the native backend failed to initialise (see the tfjs warning above)' };
  addon.setNumThreads(threads.blas);
  addon.setPoolThreads(threads.kernels);
  const kernels = addon.getPoolThreads();
  return {
    ok: true,
    tfBackend: NATIVE_TF_BACKEND,
    threads: addon.getNumThreads(),
    detail: `C++ kernels on ${kernels} thread${kernels === 1 ? '' : 's'}, ${status.blasConfig ?? 'OpenBLAS'}`,
  };
}

async function tryWasm(): Promise<Attempt> {
  const wasmFailure = await initWasm();
  if (wasmFailure !== undefined) return { ok: false, reason: wasmFailure };
  await ensureWasmTrainingKernels();
  return { ok: true, tfBackend: 'wasm', threads: 1, detail: 'stock tfjs wasm kernels + UnsortedSegmentSum, Conv2DBackpropFilter for training' };
}

async function tryCpu(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-cpu');
  } catch (error) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-cpu failed to load: ${message(error)}` };
  }
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: 'the tfjs cpu backend failed to initialise' };
  return { ok: true, tfBackend: 'cpu', threads: 1, detail: 'pure JS' };
}

function attempt(name: BackendName, threads: Threads): Promise<Attempt> {
  switch (name) {
    case 'tensorflow-gpu':
      return tryTfjsNode('@tensorflow/tfjs-node-gpu');
    case 'tensorflow':
      return tryTfjsNode('@tensorflow/tfjs-node');
    case 'native':
      return tryNative(threads);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

interface Request {
  name: BackendName;
  source: string;
  field: string;
}

function requested(options: InitBackendOptions): Request | undefined {
  if (options.backend !== undefined) {
    if (!isBackendName(options.backend)) {
      throw new Llm2ClipError('E_CONFIG', `unknown backend '${String(options.backend)}'; expected one of ${BACKEND_PREFERENCE.join(', ')}`, {
        field: 'backend',
      });
    }
    return { name: options.backend, source: `backend: '${options.backend}'`, field: 'backend' };
  }
  const fromEnv = process.env[BACKEND_ENV];
  if (fromEnv === undefined || fromEnv === '') return undefined;
  if (!isBackendName(fromEnv)) {
    throw new Llm2ClipError('E_CONFIG', `${BACKEND_ENV}='${fromEnv}' is not a backend; expected one of ${BACKEND_PREFERENCE.join(', ')}`, {
      field: BACKEND_ENV,
    });
  }
  return { name: fromEnv, source: `${BACKEND_ENV}=${fromEnv}`, field: BACKEND_ENV };
}

function resolveThreads(threads: number | undefined, field: string, fallback: number): number {
  if (threads === undefined) return fallback;
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new Llm2ClipError('E_CONFIG', `${field} must be an integer in [1, 1024], got ${threads}`, { field });
  }
  return threads;
}

async function select(options: InitBackendOptions, request: Request | undefined): Promise<BackendInfo> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cpus = availableParallelism();
  const threads: Threads = {
    blas: resolveThreads(options.threads, 'threads', cpus),
    kernels: resolveThreads(options.kernelThreads, 'kernelThreads', cpus <= 2 ? 1 : cpus),
  };
  const skipped: SkippedBackend[] = [];
  let candidates: readonly BackendName[] = BACKEND_PREFERENCE;
  if (request !== undefined) {
    for (const name of BACKEND_PREFERENCE.slice(0, BACKEND_PREFERENCE.indexOf(request.name))) {
      skipped.push({ name, reason: `not tried: ${request.source}` });
    }
    candidates = [request.name];
  }
  for (const name of candidates) {
    const result = await attempt(name, threads);
    if (!result.ok) {
      if (request !== undefined) {
        throw new Llm2ClipError('E_BACKEND', `backend '${name}' was requested (${request.source}) but is unavailable: ${result.reason}`, {
          field: request.field,
        });
      }
      skipped.push({ name, reason: result.reason });
      continue;
    }
    await ensureGradientsRegistered();
    const info: BackendInfo = Object.freeze({
      name,
      tfBackend: result.tfBackend,
      threads: result.threads,
      skipped: Object.freeze(skipped.map((entry) => Object.freeze(entry))) as SkippedBackend[],
    });
    const why = skipped.map((entry) => `${entry.name}: ${entry.reason}`).join('; ');
    log(`${LOG_PREFIX} tensor backend: ${name} (${result.detail}, ${result.threads} ${name === 'native' ? 'BLAS ' : ''}thread${result.threads === 1 ? '' : 's'})${why === '' ? '' : `; skipped ${why}`}`);
    chosen = info;
    return info;
  }
  throw new Llm2ClipError('E_BACKEND', `no tensor backend could be initialised: ${skipped.map((entry) => `${entry.name}: ${entry.reason}`).join('; ')}`);
}

/**
 * Chooses and initialises the tfjs backend, fastest available first: `tensorflow-gpu`
 * (`@tensorflow/tfjs-node-gpu`), `tensorflow` (`@tensorflow/tfjs-node`), `native` (this
 * package's C++ kernels on tfjs-backend-cpu tensors: OpenBLAS matrix products, multi-threaded
 * element-wise ops, reductions and layout ops), `wasm`, `cpu`. `options.backend`, else the
 * `LLM2CLIP_BACKEND` environment variable, forces one; forcing an unavailable one fails with
 * `E_BACKEND` naming why. Also registers tfjs's gradient functions so training works. Logs one
 * line with the choice and the reason each faster backend was skipped.
 *
 * Idempotent: later calls return the same (frozen) {@link BackendInfo}; a later call that
 * forces a different backend fails with `E_STATE`.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const request = requested(options);
  if (selection !== undefined) {
    const current = await selection;
    if (request !== undefined && request.name !== current.name) {
      throw new Llm2ClipError(
        'E_STATE',
        `backend '${current.name}' is already initialised; cannot switch to '${request.name}' (${request.source}) in the same process`,
        { field: request.field },
      );
    }
    return current;
  }
  const pending = select(options, request);
  selection = pending;
  pending.catch(() => {
    if (selection === pending) selection = undefined;
  });
  return pending;
}

/** The backend {@link initBackend} chose, or `undefined` before it has finished. */
export function getBackendInfo(): BackendInfo | undefined {
  return chosen;
}
