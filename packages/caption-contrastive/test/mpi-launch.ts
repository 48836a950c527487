import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package directory (fixture scripts run from here). */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Why mpirun tests cannot run here, or undefined when `mpirun` is on PATH. */
export function mpirunMissing(): string | undefined {
  const probe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  return probe.error !== undefined || probe.status !== 0 ? 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev); the world-size-2 tests are skipped' : undefined;
}

/** True under CI (where a missing mpirun is a failure, not a skip). */
export const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** Throws unless `pnpm build` produced the dist the fixture script imports. */
export function requireBuilt(): void {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('packages/caption-contrastive/dist is missing: run `pnpm --filter @llm2clip/caption-contrastive build` first');
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

/** Flags every mpirun here needs: root in containers, more ranks than cores. */
export const MPIRUN_FLAGS = ['--allow-run-as-root', '--oversubscribe'];

/** Runs `command args` from the package directory, killing its process group after `timeoutMs`. */
export function runJob(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<JobResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd: packageDir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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

/** The environment of a child that must not look like it runs under a launcher itself. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(OMPI_|PMIX_|PMI_|SLURM_|LLM2CLIP_DISTRIBUTED)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Exit status, time and output of a job, for assertion messages. */
export function describeJob(job: JobResult): string {
  return `exit ${job.code} signal ${job.signal} after ${job.seconds.toFixed(1)} s${job.timedOut ? ' (timed out)' : ''}\n${job.output}`;
}
