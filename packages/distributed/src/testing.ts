/**
 * `@llm2clip/distributed/testing`: launching programs under `mpirun` from a test (or a script)
 * without hanging it. A job runs in its own process group, which is killed whole (mpirun and every
 * rank) when it overruns its time; its output, exit code and time come back for assertions. Used by
 * the world-size-2 tests of this package, both trainers, the CLI and the docs' recipes.
 *
 * @packageDocumentation
 */
import { spawn, spawnSync } from 'node:child_process';
import { mpiAddonStatus } from './mpi-addon.js';

/**
 * Flags an `mpirun` started from a test needs in a container: running as root is allowed, and
 * more ranks than cores may start.
 */
export const MPIRUN_FLAGS: readonly string[] = ['--allow-run-as-root', '--oversubscribe'];

/** True under CI (`CI` set and not `false`), where a missing `mpirun` must fail a test, not skip it. */
export const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * Why a world-size-2 run cannot happen here — `mpirun` is not on `PATH`, or (with
 * `{ addon: true }`) this package's MPI binding is not built — or `undefined` when it can.
 */
export function mpiUnavailable(options: { addon?: boolean } = {}): string | undefined {
  const probe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)';
  if (options.addon === true) {
    const addon = mpiAddonStatus();
    if (!addon.available) return `the MPI binding of @llm2clip/distributed is not built (${addon.reason ?? 'unknown'})`;
  }
  return undefined;
}

/**
 * This process's environment without what would make a child believe it already runs under a
 * launcher (`OMPI_*`, `PMIX_*`, `PMI_*`, `SLURM_*`, `JOB_COMPLETION_INDEX`, `LLM2CLIP_DISTRIBUTED*`),
 * plus `extra`.
 */
export function launcherFreeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(OMPI_|PMIX_|PMI_|SLURM_|JOB_COMPLETION_INDEX|LLM2CLIP_DISTRIBUTED)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Outcome of one {@link runJob}. */
export interface JobResult {
  /** Exit code (`null` when a signal ended it). */
  code: number | null;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  /** Standard output and error, interleaved as they arrived. */
  output: string;
  /** Standard output alone. */
  stdout: string;
  /** Standard error alone. */
  stderr: string;
  /** Wall time in seconds. */
  seconds: number;
  /** True when it overran `timeoutMs` and its process group was killed. */
  timedOut: boolean;
}

/** Options of {@link runJob}. */
export interface RunJobOptions {
  /** Kill the whole process group after this many milliseconds. */
  timeoutMs: number;
  /** Working directory (default: this process's). */
  cwd?: string;
  /** Environment (default: {@link launcherFreeEnv}()). */
  env?: NodeJS.ProcessEnv;
  /** Called with the child's pid (its process group id) once started, e.g. to signal it later. */
  onSpawn?: (pid: number) => void;
}

/**
 * Runs `command args` in a new process group (for `mpirun`: the launcher and every rank), killing
 * the group with SIGKILL after `timeoutMs`, so a hung collective cannot hang the caller.
 */
export function runJob(command: string, args: readonly string[], options: RunJobOptions): Promise<JobResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? launcherFreeEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      stderr += chunk.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, options.timeoutMs);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, stdout, stderr, seconds: (Date.now() - started) / 1000, timedOut });
    });
  });
}

/** `exit 1 signal null after 3.2 s` and the output, for assertion messages. */
export function describeJob(job: JobResult): string {
  return `exit ${job.code} signal ${job.signal} after ${job.seconds.toFixed(1)} s${job.timedOut ? ' (timed out)' : ''}\n${job.output}`;
}
