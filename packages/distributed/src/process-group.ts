import { Llm2ClipError } from '@llm2clip/core';
import { detectLauncher, type LauncherName } from './launcher.js';
import { loadMpiAddon, type MpiAddon } from './mpi-addon.js';
import { MpiCommunicator, SingleCommunicator, type Communicator } from './communicator.js';

/** Environment variable that chooses the backend: `auto` (default), `mpi` or `single`. */
export const DISTRIBUTED_ENV = 'LLM2CLIP_DISTRIBUTED';

/** How the processes talk: through MPI, or not at all (a world of one). */
export type DistributedBackend = 'mpi' | 'single';

/** The process group of this run, as {@link initDistributed} returns it. */
export interface ProcessGroup {
  /** Rank of this process, 0 … worldSize-1. */
  rank: number;
  /** Number of processes. */
  worldSize: number;
  /** Rank among the processes on this node (pick a device, split threads by it). */
  localRank: number;
  /** Number of processes on this node. */
  localWorldSize: number;
  /** `mpi` under a launcher, `single` otherwise. */
  backend: DistributedBackend;
  /** The launcher found in the environment. */
  launcher: LauncherName;
  /** True on rank 0 (the rank that logs and writes checkpoints). */
  isRoot: boolean;
  /** The MPI library, when the backend is `mpi`. */
  libraryVersion?: string;
}

/** Options of {@link initDistributed}. */
export interface InitDistributedOptions {
  /** `auto` (MPI when a launcher started this process), `mpi` (always), `single` (never). Default: `LLM2CLIP_DISTRIBUTED`, else `auto`. */
  backend?: 'auto' | DistributedBackend;
  /** Environment to read the launcher variables from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Path of the MPI binding. Default: `LLM2CLIP_MPI_PATH`, else this package's build. */
  addonPath?: string;
  /**
   * Call `MPI_Abort` when this process exits with a non-zero code (an uncaught error, a failed
   * assertion) so that the other ranks stop instead of waiting in a collective. Default: true.
   */
  abortOnError?: boolean;
}

interface State {
  group: ProcessGroup;
  comm: Communicator;
  addon?: MpiAddon;
  finalized: boolean;
}

let state: State | undefined;

const TAG = '[@llm2clip/distributed]';

function buildHelp(reason: string): string {
  return (
    `the MPI binding of @llm2clip/distributed is not available (${reason}). Install MPI (Debian/Ubuntu: ` +
    'apt-get install openmpi-bin libopenmpi-dev) and build the binding with `pnpm --filter @llm2clip/distributed build:native` ' +
    `(or reinstall), or set ${DISTRIBUTED_ENV}=single to run this process on its own`
  );
}

/**
 * Makes a failing rank stop the whole job: on exit with a non-zero code (an uncaught error, an
 * unhandled rejection, `process.exit(1)`) it calls `MPI_Abort`, after printing the error itself —
 * Node prints an uncaught error only after the `exit` event, by which time MPI_Abort has run.
 */
function installAbortHandler(addon: MpiAddon, rank: number): void {
  process.on('uncaughtExceptionMonitor', (error, origin) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${TAG} rank ${rank}: ${origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'}: ${text}\n`);
  });
  process.on('exit', (code) => {
    if (code === 0 || state === undefined || state.finalized || addon.finalized()) return;
    process.stderr.write(`${TAG} rank ${rank} is exiting with code ${code}; calling MPI_Abort so that the other ranks stop\n`);
    addon.abort(code);
  });
}

function chooseBackend(options: InitDistributedOptions, env: NodeJS.ProcessEnv): 'auto' | DistributedBackend {
  const choice = options.backend ?? env[DISTRIBUTED_ENV] ?? 'auto';
  if (choice !== 'auto' && choice !== 'mpi' && choice !== 'single') {
    throw new Llm2ClipError('E_CONFIG', `${DISTRIBUTED_ENV} must be auto, mpi or single, got ${JSON.stringify(choice)}`, { field: DISTRIBUTED_ENV });
  }
  return choice;
}

/**
 * Joins the process group. Under a launcher (`mpirun`, `srun`, see {@link detectLauncher}) it
 * initialises MPI through the binding (`MPI_Init_thread`, serialized) and checks that MPI sees
 * the world the launcher announced; without one it returns a world of one that needs neither
 * MPI nor the binding. Calling it again returns the same group.
 *
 * Throws `E_BACKEND` under a launcher when the binding is missing (the message says how to
 * build it) or when MPI's world disagrees with the launcher's (e.g. `srun` without `--mpi=pmix`).
 *
 * @example
 * ```ts
 * const { rank, worldSize } = initDistributed();
 * ```
 */
export function initDistributed(options: InitDistributedOptions = {}): ProcessGroup {
  if (state !== undefined) {
    if (state.finalized) throw new Llm2ClipError('E_STATE', 'the process group was finalized; MPI cannot be initialised twice in a process');
    return { ...state.group };
  }
  const env = options.env ?? process.env;
  const backend = chooseBackend(options, env);
  const launch = detectLauncher(env);
  if (backend === 'single' || (backend === 'auto' && launch.launcher === 'none')) {
    const group: ProcessGroup = { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, backend: 'single', launcher: launch.launcher, isRoot: true };
    state = { group, comm: new SingleCommunicator(), finalized: false };
    return { ...group };
  }
  const loaded = loadMpiAddon(options.addonPath);
  if (loaded.addon === undefined) {
    const where = launch.launcher === 'none' ? `${DISTRIBUTED_ENV}=mpi was asked for` : `this process was started by ${launch.launcher} (${launch.source})`;
    throw new Llm2ClipError('E_BACKEND', `${where}, but ${buildHelp(loaded.reason ?? 'unknown')}`, { path: loaded.path });
  }
  const addon = loaded.addon;
  let info;
  try {
    info = addon.init();
  } catch (error) {
    throw new Llm2ClipError('E_BACKEND', `MPI failed to initialise: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (launch.launcher !== 'none' && (info.size !== launch.worldSize || info.rank !== launch.rank)) {
    addon.finalize();
    throw new Llm2ClipError(
      'E_BACKEND',
      `the launcher (${launch.launcher}) announced rank ${launch.rank} of ${launch.worldSize}, but MPI sees rank ${info.rank} of ${info.size}: ` +
        'MPI could not reach the launcher (under srun use --mpi=pmix, and an MPI built with PMIx/SLURM support)',
    );
  }
  if (!info.threadSerialized) {
    addon.finalize();
    throw new Llm2ClipError('E_BACKEND', `MPI provides thread level ${info.threadLevel}; MPI_THREAD_SERIALIZED (2) or higher is needed`);
  }
  const group: ProcessGroup = {
    rank: info.rank,
    worldSize: info.size,
    localRank: info.localRank,
    localWorldSize: info.localSize,
    backend: 'mpi',
    launcher: launch.launcher,
    isRoot: info.rank === 0,
    libraryVersion: addon.libraryVersion.trim(),
  };
  state = { group, comm: new MpiCommunicator(addon, info.rank, info.size), addon, finalized: false };
  if (options.abortOnError ?? true) installAbortHandler(addon, info.rank);
  return { ...group };
}

/** The group {@link initDistributed} joined; throws `E_STATE` before it (or after {@link finalizeDistributed}). */
export function getProcessGroup(): ProcessGroup {
  return { ...active().group };
}

/** The float32 communicator of the group (for callers that manage their own buffers). */
export function getCommunicator(): Communicator {
  return active().comm;
}

function active(): State {
  if (state === undefined) throw new Llm2ClipError('E_STATE', 'call initDistributed() before using a collective');
  if (state.finalized) throw new Llm2ClipError('E_STATE', 'the process group was finalized');
  return state;
}

/** Returns once every rank has reached it (`MPI_Barrier`). */
export async function barrier(): Promise<void> {
  return active().comm.barrier();
}

/**
 * Leaves the process group: waits for this rank's collectives, then `MPI_Finalize` (collective:
 * every rank calls it). A world of one just closes. Collectives afterwards throw `E_STATE`.
 */
export async function finalizeDistributed(): Promise<void> {
  if (state === undefined || state.finalized) return;
  const current = state;
  await current.comm.barrier();
  current.finalized = true;
  current.addon?.finalize();
}
