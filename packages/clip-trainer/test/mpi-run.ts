// Launching test fixtures under `mpirun` (the same conventions as packages/distributed/test).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mpiAddonStatus } from '@llm2clip/distributed';

/** The package directory (fixtures run from here). */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Flags every mpirun here needs: root in containers, more ranks than cores. */
export const MPIRUN_FLAGS = ['--allow-run-as-root', '--oversubscribe'];

/** True in CI, where a missing mpirun is a failure instead of a skip. */
export const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** Why world-size-2 tests cannot run here (no mpirun, or the MPI binding is not built), else undefined. */
export function mpiMissing(): string | undefined {
  const probe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)';
  const addon = mpiAddonStatus();
  if (!addon.available) return `the MPI binding of @llm2clip/distributed is not built (${addon.reason ?? 'unknown'})`;
  return undefined;
}

/** Throws unless `pnpm build` produced the dist the fixtures import. */
export function requireBuilt(): void {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('packages/clip-trainer/dist is missing: run `pnpm --filter @llm2clip/clip-trainer build` first');
  }
}

/** Outcome of one launched job. */
export interface JobResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  seconds: number;
  timedOut: boolean;
}

/** The environment of a child that must not look like it runs under a launcher itself. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(OMPI_|PMIX_|PMI_|SLURM_|LLM2CLIP_DISTRIBUTED|JOB_COMPLETION_INDEX)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs `command args` in `cwd` (default: the package), killing its whole process group after `timeoutMs`. */
export function runJob(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = cleanEnv(), cwd = packageDir): Promise<JobResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, seconds: (Date.now() - started) / 1000, timedOut });
    });
  });
}

/** `exit 1 signal null after 3.2 s` and the output, for assertion messages. */
export function describeJob(job: JobResult): string {
  return `exit ${job.code} signal ${job.signal} after ${job.seconds.toFixed(1)} s${job.timedOut ? ' (timed out)' : ''}\n${job.output}`;
}
