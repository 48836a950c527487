import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzResult } from './engine.js';

/** Options of {@link runTargetInChild}. */
export interface ChildRunOptions {
  seconds: number;
  seed?: number;
  /** Saved corpus directory (read; grown when `saveCorpus`). */
  corpusDir?: string;
  saveCorpus?: boolean;
  crashesDir: string;
  /** Heap limit of the child in MiB (default 2048). */
  maxOldSpaceMb?: number;
}

/** What a child run reported, plus how the process ended. */
export interface ChildRunResult {
  /** The child's result, absent when it died (watchdog kill on a hang or memory blow-up, or a native crash). */
  result?: FuzzResult;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Fuzzes one target in a fresh Node process (`cli.js run --json`), so that a hang or an
 * out-of-memory kill ends only that process, and each target's coverage starts clean. The
 * parent gives the child its budget plus a minute before killing it.
 */
export function runTargetInChild(target: string, options: ChildRunOptions): Promise<ChildRunResult> {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  const args = [
    `--max-old-space-size=${options.maxOldSpaceMb ?? 2048}`,
    cli,
    'run',
    target,
    '--seconds',
    String(options.seconds),
    '--seed',
    String(options.seed ?? 1),
    '--crashes',
    options.crashesDir,
    '--json',
    ...(options.corpusDir !== undefined ? ['--corpus', options.corpusDir] : []),
    ...(options.saveCorpus === true ? ['--save-corpus'] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 60) * 1000);
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      clearTimeout(killer);
      const line = stdout.split('\n').find((l) => l.startsWith('{"target"'));
      resolve({ ...(line !== undefined ? { result: JSON.parse(line) as FuzzResult } : {}), exitCode, signal, stderr });
    });
  });
}

/** Seconds each fuzz target runs inside `pnpm test` (env `FUZZ_CI_SECONDS`, default 3). */
export const CI_FUZZ_SECONDS = Number(process.env.FUZZ_CI_SECONDS ?? 3);

/**
 * The bounded run the packages' tests do per target: {@link runTargetInChild} with the committed
 * crash reproducers (`tools/fuzz/regressions/<target>`) as the corpus and a temporary crash
 * directory, removed when nothing was saved in it (kept, and named in the result, otherwise).
 * Returns the child's result and the tail of its output for an assertion message.
 */
export async function runRegressionFuzz(target: string, seconds = CI_FUZZ_SECONDS): Promise<{ result?: FuzzResult; output: string }> {
  if (!existsSync(fileURLToPath(new URL('./cli.js', import.meta.url)))) {
    throw new Error('the fuzz tool is not built (tools/fuzz/dist/cli.js missing): run `pnpm build` first');
  }
  const crashesDir = mkdtempSync(join(tmpdir(), `llm2clip-fuzz-ci-${target}-`));
  const corpusDir = fileURLToPath(new URL(`../regressions/${target}`, import.meta.url));
  const run = await runTargetInChild(target, { seconds, seed: 1, crashesDir, corpusDir });
  if (readdirSync(crashesDir).length === 0) rmSync(crashesDir, { recursive: true, force: true });
  return { ...(run.result !== undefined ? { result: run.result } : {}), output: `exit ${String(run.exitCode)} ${String(run.signal)}\n${run.stderr}`.slice(-4000) };
}

/**
 * What is wrong with a CI fuzz run of {@link runRegressionFuzz}, one line each (empty when it is
 * clean): the fuzzer process died, a crash was found, it ran 10 executions or fewer, or coverage
 * feedback did not work (the corpus never grew past the seeds, or 20 features or fewer were
 * reached). The packages' tests assert that this is empty.
 */
export function fuzzRunProblems(run: { result?: FuzzResult; output: string }): string[] {
  const { result, output } = run;
  if (result === undefined) return [`the fuzzer process died:\n${output}`];
  const problems: string[] = [];
  if (result.crashes.length > 0) problems.push(`crashes: ${JSON.stringify(result.crashes, null, 2)}`);
  if (!(result.executions > 10)) problems.push(`only ${result.executions} executions`);
  // coverage feedback works: mutated inputs reached blocks the seeds did not
  if (!(result.corpusSize > 1)) problems.push(`the corpus did not grow (${result.corpusSize} inputs)`);
  if (!(result.features > 20)) problems.push(`only ${result.features} coverage features`);
  return problems;
}
