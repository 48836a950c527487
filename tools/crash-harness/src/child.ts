import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FsOperation } from './inject.js';

/**
 * How a run is killed:
 * - `timer`: SIGKILL from this process `delayMs` after the start;
 * - `watch`: SIGKILL from this process `delayMs` after the `nth` checkpoint temp directory
 *   (`.step-….tmp-…`) appears in `dir` (inotify through `fs.watch`), aiming inside the write;
 * - `inject`: the run kills itself at the `nth` file-system operation under `dir` whose
 *   `"<op> <paths>"` matches `match`, `before` or `after` it (see `inject.ts`).
 */
export type KillPlan =
  | { mode: 'timer'; delayMs: number }
  | { mode: 'watch'; dir: string; nth: number; delayMs: number }
  | { mode: 'inject'; dir: string; match: string; nth: number; when: 'before' | 'after' };

/** Options of {@link runCliChild}. */
export interface RunCliOptions {
  /** Working directory. */
  cwd?: string;
  /** Kill the run this way (none: let it finish). */
  kill?: KillPlan;
  /** Count the file-system operations under this directory and return them (no kill). */
  countOperationsIn?: string;
  /** Kill the run and report a hang after this long. Default 300 s. */
  timeoutMs?: number;
}

/** How a child run ended. */
export interface ChildResult {
  /** Process id. */
  pid: number;
  /** Exit code (`null` when killed by a signal). */
  code: number | null;
  /** Signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  /** Whether the kill plan fired (the run did not end on its own). */
  killed: boolean;
  /** Whether the run overran `timeoutMs`. */
  timedOut: boolean;
  /** Wall time in milliseconds. */
  ms: number;
  /** Captured standard output and error (the error stream's last 64 kB). */
  stdout: string;
  stderr: string;
  /** For `inject` plans that fired: the operation killed at. */
  injectedAt?: FsOperation;
  /** With `countOperationsIn`: every counted operation of the run. */
  operations?: FsOperation[];
}

/** Path of the `llm2clip` executable script of the built `@llm2clip/cli` package. */
export function cliBinPath(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('@llm2clip/cli/package.json');
  const manifest = JSON.parse(require('node:fs').readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifestPath), manifest.bin.llm2clip);
}

// the compiled preload, whether this module runs from dist/ or (under vitest) from src/
const INJECT_MODULE = fileURLToPath(new URL('../dist/inject.js', import.meta.url));
const STDERR_LIMIT = 64 * 1024;
let reportCounter = 0;

/**
 * Runs `node <llm2clip bin> ...args` as a child process and, with a {@link KillPlan}, SIGKILLs it
 * (or has it kill itself) at the planned moment. Resolves when the process has ended and been reaped.
 */
export async function runCliChild(args: string[], options: RunCliOptions = {}): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  const nodeArgs: string[] = [];
  let reportPath: string | undefined;
  const injectDir = options.kill?.mode === 'inject' ? options.kill.dir : options.countOperationsIn;
  if (injectDir !== undefined) {
    reportCounter += 1;
    reportPath = join(dirname(injectDir), `.crash-report-${process.pid}-${reportCounter}.json`);
    await rm(reportPath, { force: true });
    nodeArgs.push('--import', pathToFileURL(INJECT_MODULE).href);
    env.LLM2CLIP_CRASH_DIR = injectDir;
    env.LLM2CLIP_CRASH_REPORT = reportPath;
    if (options.kill?.mode === 'inject') {
      env.LLM2CLIP_CRASH_MATCH = options.kill.match;
      env.LLM2CLIP_CRASH_NTH = String(options.kill.nth);
      env.LLM2CLIP_CRASH_WHEN = options.kill.when;
    }
  }
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, cliBinPath(), ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 2 * STDERR_LIMIT) stderr = stderr.slice(-STDERR_LIMIT);
  });
  let killed = false;
  let timedOut = false;
  const sigkill = (): void => {
    if (child.exitCode === null && child.signalCode === null) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  const timers: NodeJS.Timeout[] = [];
  let watcher: FSWatcher | undefined;
  const plan = options.kill;
  if (plan?.mode === 'timer') timers.push(setTimeout(sigkill, plan.delayMs));
  if (plan?.mode === 'watch') {
    let seen = 0;
    const names = new Set<string>();
    watcher = watch(plan.dir, (_event, name) => {
      if (name === null || !/^\.step-\d+\.tmp-/.test(name) || names.has(name)) return;
      names.add(name);
      seen += 1;
      if (seen !== plan.nth) return;
      if (plan.delayMs <= 0) sigkill();
      else timers.push(setTimeout(sigkill, plan.delayMs));
    });
  }
  timers.push(
    setTimeout(() => {
      timedOut = true;
      sigkill();
    }, options.timeoutMs ?? 300_000),
  );
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolveExit, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode, exitSignal) => resolveExit([exitCode, exitSignal]));
  });
  for (const timer of timers) clearTimeout(timer);
  watcher?.close();
  const result: ChildResult = { pid: child.pid as number, code, signal, killed, timedOut, ms: performance.now() - started, stdout, stderr: stderr.slice(-STDERR_LIMIT) };
  if (reportPath !== undefined) {
    let text: string | undefined;
    try {
      text = await readFile(reportPath, 'utf8');
    } catch {
      // no report: the planned operation was never reached
    }
    await rm(reportPath, { force: true });
    if (text !== undefined) {
      const parsed = JSON.parse(text) as { killedAt?: FsOperation; operations?: FsOperation[] };
      if (parsed.killedAt !== undefined && signal === 'SIGKILL') {
        result.injectedAt = parsed.killedAt;
        result.killed = true;
      }
      if (parsed.operations !== undefined) result.operations = parsed.operations;
    }
  }
  return result;
}
