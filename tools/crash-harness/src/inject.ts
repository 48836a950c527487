/**
 * Preload module (`node --import <this file>`) that makes a training process SIGKILL itself at an
 * exact file-system operation — so a kill can be placed inside a checkpoint write (after the model
 * file, before `trainer.json`, between removing an old directory and renaming the new one, …)
 * deterministically instead of by luck.
 *
 * It wraps the writing functions of `node:fs/promises` and `node:fs` (and refreshes the ES module
 * bindings with `syncBuiltinESMExports`, so `import { writeFile } from 'node:fs/promises'` sees the
 * wrapper). Only operations on paths under `LLM2CLIP_CRASH_DIR` are counted. Environment:
 *
 * - `LLM2CLIP_CRASH_DIR`: the run directory to watch (required; without it nothing is wrapped);
 * - `LLM2CLIP_CRASH_MATCH`: a regular expression tested against `"<op> <path> [<path>]"` (paths
 *   relative to the run directory, e.g. `rename checkpoints/.step-00000003.tmp-81-9f2c checkpoints/step-00000003`);
 *   absent: only count;
 * - `LLM2CLIP_CRASH_NTH`: kill at the n-th matching operation (default 1);
 * - `LLM2CLIP_CRASH_WHEN`: `before` (default) or `after` that operation;
 * - `LLM2CLIP_CRASH_REPORT`: a file that receives, as JSON, the operation killed at (or, when only
 *   counting, every counted operation at exit).
 *
 * The process is killed with `process.kill(process.pid, 'SIGKILL')`: no handler, `finally` block
 * or exit hook runs, exactly as when another process sends SIGKILL at that instant.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { relative, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';

/** One counted file-system operation. */
export interface FsOperation {
  /** 1-based index among the counted operations of the process. */
  index: number;
  /** Function name (`writeFile`, `rename`, `rm`, `appendFileSync`, …). */
  op: string;
  /** Path(s) relative to the watched directory. */
  paths: string[];
  /** Milliseconds since the process started. */
  ms: number;
}

const dir = process.env.LLM2CLIP_CRASH_DIR;
const match = process.env.LLM2CLIP_CRASH_MATCH !== undefined ? new RegExp(process.env.LLM2CLIP_CRASH_MATCH) : undefined;
const nth = Number(process.env.LLM2CLIP_CRASH_NTH ?? '1');
const when = process.env.LLM2CLIP_CRASH_WHEN === 'after' ? 'after' : 'before';
const report = process.env.LLM2CLIP_CRASH_REPORT;
// the unwrapped writer, for the report (a report write is never counted)
const writeReport = fs.writeFileSync;

// worker threads inherit `--import`; only the main thread counts (a kill from any thread ends the whole process anyway)
if (dir !== undefined && isMainThread) {
  const root = resolve(dir);
  const seen: FsOperation[] = [];
  let count = 0;
  let matched = 0;
  const watched = (arg: unknown): string | undefined => {
    const path = typeof arg === 'string' ? arg : arg instanceof URL ? arg.pathname : Buffer.isBuffer(arg) ? arg.toString() : undefined;
    if (path === undefined) return undefined;
    const rel = relative(root, resolve(path));
    return rel.startsWith('..') ? undefined : rel;
  };
  const die = (operation: FsOperation): never => {
    if (report !== undefined) writeReport(report, `${JSON.stringify({ killedAt: operation, when })}\n`);
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL cannot be caught; this line is never reached
    throw new Error('unreachable');
  };
  /** The operation, when it is under the watched directory; `kill` when it is the one to die at. */
  const counted = (op: string, args: unknown[], pathArgs: number): { operation: FsOperation; kill: boolean } | undefined => {
    const paths = args.slice(0, pathArgs).map(watched);
    if (paths.every((path) => path === undefined)) return undefined;
    count += 1;
    const operation = { index: count, op, paths: paths.filter((path): path is string => path !== undefined), ms: Math.round(performance.now()) };
    if (match === undefined) {
      if (report !== undefined) seen.push(operation);
      return { operation, kill: false };
    }
    if (!match.test(`${op} ${operation.paths.join(' ')}`)) return { operation, kill: false };
    matched += 1;
    return { operation, kill: matched === nth };
  };
  const wrapAsync = (target: Record<string, unknown>, op: string, pathArgs: number): void => {
    const original = target[op] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (typeof original !== 'function') return;
    target[op] = async function wrapped(this: unknown, ...args: unknown[]): Promise<unknown> {
      const hit = counted(op, args, pathArgs);
      if (hit?.kill === true && when === 'before') die(hit.operation);
      const result = await original.apply(this, args);
      if (hit?.kill === true && when === 'after') die(hit.operation);
      return result;
    };
  };
  const wrapSync = (target: Record<string, unknown>, op: string, pathArgs: number): void => {
    const original = target[op] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof original !== 'function') return;
    target[op] = function wrapped(this: unknown, ...args: unknown[]): unknown {
      const hit = counted(op, args, pathArgs);
      if (hit?.kill === true && when === 'before') die(hit.operation);
      const result = original.apply(this, args);
      if (hit?.kill === true && when === 'after') die(hit.operation);
      return result;
    };
  };
  const promises = fs.promises as unknown as Record<string, unknown>;
  for (const op of ['writeFile', 'appendFile', 'open', 'mkdir', 'rm', 'rmdir', 'unlink', 'truncate']) wrapAsync(promises, op, 1);
  for (const op of ['rename', 'copyFile', 'cp']) wrapAsync(promises, op, 2);
  const sync = fs as unknown as Record<string, unknown>;
  for (const op of ['writeFileSync', 'appendFileSync', 'openSync', 'mkdirSync', 'rmSync', 'unlinkSync']) wrapSync(sync, op, 1);
  for (const op of ['renameSync', 'copyFileSync']) wrapSync(sync, op, 2);
  syncBuiltinESMExports();
  if (match === undefined && report !== undefined) {
    process.on('exit', () => writeReport(report, `${JSON.stringify({ operations: seen })}\n`));
  }
}
