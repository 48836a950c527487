import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fuzz tool's CLI (built by `pnpm build` with the rest of the workspace). */
export const FUZZ_CLI = fileURLToPath(new URL('../../../../tools/fuzz/dist/cli.js', import.meta.url));

/** Committed crash reproducers, replayed as part of the corpus of every run (`tools/fuzz/regressions/<target>`). */
export const REGRESSIONS = fileURLToPath(new URL('../../../../tools/fuzz/regressions', import.meta.url));

/** Seconds each fuzz target runs in `pnpm test` (env `FUZZ_CI_SECONDS`, default 3). */
export const CI_FUZZ_SECONDS = Number(process.env.FUZZ_CI_SECONDS ?? 3);

/** The JSON line `llm2clip-fuzz run --json` prints. */
export interface ChildFuzzResult {
  target: string;
  executions: number;
  seconds: number;
  corpusSize: number;
  features: number;
  typedErrors: number;
  errorCodes: Record<string, number>;
  crashes: Array<{ kind: string; file: string; message: string; signature: string }>;
}

/** Runs one fuzz target for `seconds` in a child process and returns its result (or the reason it has none). */
export function runFuzzTarget(target: string, seconds = CI_FUZZ_SECONDS): Promise<{ result?: ChildFuzzResult; output: string; code: number | null }> {
  if (!existsSync(FUZZ_CLI)) throw new Error(`the fuzz tool is not built (${FUZZ_CLI} missing): run \`pnpm build\` first`);
  const crashes = mkdtempSync(join(tmpdir(), `llm2clip-fuzz-ci-${target}-`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=2048', FUZZ_CLI, 'run', target, '--seconds', String(seconds), '--seed', '1', '--crashes', crashes, '--corpus', join(REGRESSIONS, target), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 90) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      // crash inputs are kept (the path is in the result) for a failing run; an empty folder is removed
      if (readdirSync(crashes).length === 0) rmSync(crashes, { recursive: true, force: true });
      const line = stdout.split('\n').find((l) => l.startsWith('{"target"'));
      resolve({ ...(line !== undefined ? { result: JSON.parse(line) as ChildFuzzResult } : {}), output: `${stdout}\n${stderr}`.slice(-4000), code });
    });
  });
}
