import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Interface version the JS side expects of the binding (`kAbiVersion` in native/mpi.cc). */
export const MPI_ABI_VERSION = 1;

/** Environment variable that points the loader at another build of the binding. */
export const MPI_ADDON_PATH_ENV = 'LLM2CLIP_MPI_PATH';

/** What `init()` of the binding reports after `MPI_Init_thread`. */
export interface MpiInitResult {
  rank: number;
  size: number;
  /** Rank within `MPI_COMM_TYPE_SHARED` (the node). */
  localRank: number;
  localSize: number;
  /** The thread level MPI provided (0 single … 3 multiple). */
  threadLevel: number;
  /** True when the provided level allows calls from libuv's pool threads (≥ serialized). */
  threadSerialized: boolean;
}

/** Reduction codes of the binding's all-reduce. */
export const MPI_OPS = { sum: 0, max: 1, min: 2 } as const;

/** The functions of the compiled binding (`build/Release/llm2clip_mpi.node`, native/mpi.cc). */
export interface MpiAddon {
  readonly abiVersion: number;
  /** `MPI_Get_library_version`, first line. */
  readonly libraryVersion: string;
  init(): MpiInitResult;
  initialized(): boolean;
  finalized(): boolean;
  finalize(): void;
  abort(code: number): void;
  wtime(): number;
  allreduce(buf: Float32Array, op: number): Promise<void>;
  allreduceSync(buf: Float32Array, op: number): void;
  bcast(buf: Float32Array, root: number): Promise<void>;
  bcastSync(buf: Float32Array, root: number): void;
  allgatherv(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void>;
  allgathervSync(send: Float32Array, recv: Float32Array, counts: number[]): void;
  reduceScatter(send: Float32Array, recv: Float32Array, counts: number[]): Promise<void>;
  reduceScatterSync(send: Float32Array, recv: Float32Array, counts: number[]): void;
  barrier(): Promise<void>;
  barrierSync(): void;
}

/** Whether the MPI binding loads, and why not. */
export type MpiAddonStatus = { available: true; path: string; libraryVersion: string } | { available: false; path: string; reason: string };

let cached: { path: string; addon?: MpiAddon; reason?: string } | undefined;

/** Default location of the built binding inside this package. */
export function defaultMpiAddonPath(): string {
  return fileURLToPath(new URL('../build/Release/llm2clip_mpi.node', import.meta.url));
}

/** Loads the binding from `path` (default: `LLM2CLIP_MPI_PATH`, else this package's build), once. */
export function loadMpiAddon(path: string = process.env[MPI_ADDON_PATH_ENV] ?? defaultMpiAddonPath()): { addon?: MpiAddon; reason?: string; path: string } {
  if (cached !== undefined && cached.path === path) return cached;
  if (!existsSync(path)) {
    cached = { path, reason: `${path} does not exist` };
  } else {
    try {
      const addon = createRequire(import.meta.url)(path) as MpiAddon;
      cached =
        addon.abiVersion === MPI_ABI_VERSION
          ? { path, addon }
          : { path, reason: `${path} has interface version ${addon.abiVersion}, expected ${MPI_ABI_VERSION} (rebuild it)` };
    } catch (error) {
      cached = { path, reason: `${path} does not load: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
    }
  }
  return cached;
}

/** Reports whether the MPI binding is built and loads here (it does not initialise MPI). */
export function mpiAddonStatus(path?: string): MpiAddonStatus {
  const loaded = loadMpiAddon(path);
  return loaded.addon !== undefined
    ? { available: true, path: loaded.path, libraryVersion: loaded.addon.libraryVersion.trim() }
    : { available: false, path: loaded.path, reason: loaded.reason ?? 'unknown' };
}
