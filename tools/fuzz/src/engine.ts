import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Llm2ClipError, Rng } from '@llm2clip/core';
import { BlockCoverage } from './coverage.js';
import { dictionaryKeys, mutate, mutateJsonBytes } from './mutate.js';
import type { FuzzTarget } from './target.js';

/** Options of {@link fuzz}. */
export interface FuzzOptions {
  /** Time budget in seconds (the loop stops at the first execution past it). */
  seconds: number;
  /** Seed of the mutation generator (default 1). */
  seed?: number;
  /** Stop after this many executions (default: only the time budget). */
  maxRuns?: number;
  /** Directory of the target's saved corpus: read at start and, when `saveCorpus`, grown. */
  corpusDir?: string;
  /** Write inputs that reach new coverage into `corpusDir` (default false). */
  saveCorpus?: boolean;
  /** Where crash inputs are written (`crash-<sha1>`, `timeout-<sha1>`, `oom-<sha1>` plus a `.txt`). */
  crashesDir: string;
  /** Scratch directory for the target's files (emptied before each execution). */
  workDir: string;
  /** An execution running longer than this is a hang (default 5000 ms). */
  timeoutMs?: number;
  /** The process growing past this resident size is a huge allocation (default 2 GiB). */
  maxRssBytes?: number;
  /**
   * Keep inputs that reach new coverage (default true). `false` turns the loop into blind
   * mutation of the seeds — only useful to measure what the coverage feedback adds.
   */
  feedback?: boolean;
  /** Progress lines (default none). */
  log?: (line: string) => void;
}

/** One crash: an input that made the reader throw something other than `Llm2ClipError` (or hang). */
export interface FuzzCrash {
  kind: 'crash' | 'timeout';
  /** Where the input was written. */
  file: string;
  /** Error name and message. */
  message: string;
  /** Top frames of the stack, used to tell crashes apart. */
  signature: string;
}

/** What a {@link fuzz} run did. */
export interface FuzzResult {
  target: string;
  executions: number;
  seconds: number;
  /** Inputs kept because they reached new coverage (seeds included). */
  corpusSize: number;
  /** Distinct coverage features (block × hit bucket) reached. */
  features: number;
  /** Executions that ended with a typed error (expected for garbage input). */
  typedErrors: number;
  /** Typed errors by code. */
  errorCodes: Record<string, number>;
  crashes: FuzzCrash[];
}

function sha1(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex').slice(0, 16);
}

function signature(error: unknown): string {
  const stack = error instanceof Error ? (error.stack ?? '') : String(error);
  const frames = stack.split('\n').filter((line) => line.trim().startsWith('at ')).slice(0, 3).map((line) => line.trim().replace(/:\d+:\d+\)?$/, ''));
  return `${error instanceof Error ? error.name : typeof error}|${frames.join('|')}`;
}

async function loadCorpus(dir: string | undefined): Promise<Uint8Array[]> {
  if (dir === undefined) return [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: Uint8Array[] = [];
  for (const name of names.sort()) out.push(new Uint8Array(await readFile(join(dir, name))));
  return out;
}

/**
 * Runs the coverage-guided fuzz loop on `target` for `options.seconds`: the seed corpus (the
 * target's valid files plus any saved corpus) is executed first, then inputs drawn from the corpus
 * are mutated (bit flips, interesting integers, deletions, insertions, splices, dictionary tokens,
 * number substitution, truncation, and the target's structure-aware JSON mutations) and executed; an input that reaches a block (or hit-count
 * bucket) of V8's precise block coverage not seen before joins the corpus. A thrown value that is
 * not an `Llm2ClipError` is a crash; an execution past `timeoutMs` a hang — an asynchronous one is
 * caught here, a synchronous one by the watchdog thread, which also kills the process when it
 * grows past `maxRssBytes`; an exception escaping the awaited call (uncaught, or an unhandled
 * rejection) saves the current input and ends the process with code 70. Crash inputs are written
 * to `crashesDir`.
 */
export async function fuzz(target: FuzzTarget, options: FuzzOptions): Promise<FuzzResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const rng = new Rng(options.seed ?? 1);
  const state = new Int32Array(new SharedArrayBuffer(12));
  const shared = new Uint8Array(new SharedArrayBuffer(Math.max(1, target.maxLength)));
  const watchdog = new Worker(new URL('./watchdog-worker.js', import.meta.url), {
    workerData: { state: state.buffer, input: shared.buffer, crashesDir: options.crashesDir, target: target.name, timeoutMs: timeoutMs * 2, maxRssBytes: options.maxRssBytes ?? 2 * 2 ** 30 },
  });
  watchdog.unref();
  const coverage = new BlockCoverage((url) => url.startsWith('file://') && !url.includes('/tools/fuzz/'));
  const seen = new Set<string>();
  const corpus: Uint8Array[] = [];
  const crashes: FuzzCrash[] = [];
  const crashSignatures = new Set<string>();
  const errorCodes: Record<string, number> = {};
  const dictionary = target.dictionary.map((token) => new TextEncoder().encode(token));
  let executions = 0;
  let typedErrors = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;

  const keys = dictionaryKeys(target.dictionary);
  const structure = target.structure === 'json' ? (input: Uint8Array) => mutateJsonBytes(input, rng, keys) : target.structure;
  /** A structure-aware mutation 40% of the time when the target has one, else (or when it declines) byte mutations. */
  const nextInput = (parent: Uint8Array): Uint8Array => {
    if (structure !== undefined && rng.bernoulli(0.4)) {
      let out: Uint8Array | undefined;
      try {
        out = structure(parent, rng, keys);
      } catch {
        // e.g. a JSON input nested too deeply to clone or serialise: mutate its bytes instead
        out = undefined;
      }
      if (out !== undefined) return out.length > target.maxLength ? out.subarray(0, target.maxLength) : out;
    }
    return mutate(parent, rng, { maxLength: target.maxLength, dictionary, corpus });
  };

  const execute = async (input: Uint8Array): Promise<boolean> => {
    const data = input.length > target.maxLength ? input.subarray(0, target.maxLength) : input;
    shared.set(data);
    Atomics.store(state, 1, data.length);
    Atomics.add(state, 0, 1);
    Atomics.store(state, 2, 1);
    await rm(options.workDir, { recursive: true, force: true });
    await mkdir(options.workDir, { recursive: true });
    executions++;
    let timer: NodeJS.Timeout | undefined;
    let failure: { kind: 'crash' | 'timeout'; error: unknown } | undefined;
    try {
      await Promise.race([
        target.run(data, options.workDir),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(`execution ran for more than ${timeoutMs} ms`), { fuzzTimeout: true })), timeoutMs))),
      ]);
    } catch (error) {
      if (error instanceof Llm2ClipError) {
        typedErrors++;
        errorCodes[error.code] = (errorCodes[error.code] ?? 0) + 1;
      } else {
        failure = { kind: (error as { fuzzTimeout?: boolean })?.fuzzTimeout === true ? 'timeout' : 'crash', error };
      }
    } finally {
      clearTimeout(timer);
      Atomics.store(state, 2, 0);
    }
    if (failure !== undefined) {
      const sig = failure.kind === 'timeout' ? 'timeout' : signature(failure.error);
      if (!crashSignatures.has(sig)) {
        crashSignatures.add(sig);
        const file = join(options.crashesDir, `${failure.kind}-${sha1(data)}`);
        const message = failure.error instanceof Error ? `${failure.error.name}: ${failure.error.message}` : String(failure.error);
        await mkdir(options.crashesDir, { recursive: true });
        await writeFile(file, data);
        await writeFile(`${file}.txt`, `${target.name}: ${failure.error instanceof Error ? (failure.error.stack ?? message) : message}\n`);
        crashes.push({ kind: failure.kind, file, message, signature: sig });
        options.log?.(`fuzz[${target.name}]: ${failure.kind} #${crashes.length}: ${message} (input ${file})`);
      }
    }
    let fresh = false;
    for (const feature of coverage.take()) {
      if (!seen.has(feature)) {
        seen.add(feature);
        fresh = true;
      }
    }
    return fresh;
  };

  // an exception thrown outside the awaited call (a stream 'error' nobody listens to, a rejected
  // promise left behind) would kill the process without a trace: save the current input first
  const uncaught = (error: unknown): void => {
    const bytes = shared.slice(0, Atomics.load(state, 1));
    const file = join(options.crashesDir, `crash-uncaught-${sha1(bytes)}`);
    mkdirSync(options.crashesDir, { recursive: true });
    writeFileSync(file, bytes);
    writeFileSync(`${file}.txt`, `${target.name}: uncaught ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.stderr.write(`fuzz[${target.name}]: uncaught exception: ${error instanceof Error ? error.message : String(error)}; input saved to ${file}\n`);
    process.exit(70);
  };
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);
  try {
    const initial = [...(await target.seeds()), ...(await loadCorpus(options.corpusDir))];
    for (const input of initial) {
      if (await execute(input)) corpus.push(input.slice(0, target.maxLength));
    }
    if (corpus.length === 0 && initial.length > 0) corpus.push(initial[0]);
    if (corpus.length === 0) corpus.push(new Uint8Array(0));
    let lastLog = performance.now();
    while (performance.now() < deadline && (options.maxRuns === undefined || executions < options.maxRuns)) {
      // favour recently added entries: they sit on the frontier of coverage
      const pick = rng.bernoulli(0.5) ? corpus.length - 1 - rng.int(0, Math.min(corpus.length - 1, 7)) : rng.int(0, corpus.length - 1);
      const input = nextInput(corpus[pick]);
      if ((await execute(input)) && options.feedback !== false) {
        corpus.push(input);
        if (options.saveCorpus === true && options.corpusDir !== undefined) {
          await mkdir(options.corpusDir, { recursive: true });
          await writeFile(join(options.corpusDir, sha1(input)), input);
        }
      }
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        options.log?.(`fuzz[${target.name}]: ${executions} executions, corpus ${corpus.length}, features ${seen.size}, crashes ${crashes.length}`);
      }
    }
  } finally {
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', uncaught);
    coverage.close();
    await watchdog.terminate();
    await rm(options.workDir, { recursive: true, force: true });
  }
  return {
    target: target.name,
    executions,
    seconds: (performance.now() - started) / 1000,
    corpusSize: corpus.length,
    features: seen.size,
    typedErrors,
    errorCodes,
    crashes,
  };
}

/**
 * Runs `target` once on each input (a crash reproducer or regression fixture) and returns, per
 * input, `ok`, the typed error code, or the unexpected error — what the regression tests assert.
 */
export async function replay(target: FuzzTarget, inputs: readonly Uint8Array[], workDir: string): Promise<Array<{ outcome: 'ok' | 'typed' | 'crash'; detail: string }>> {
  const out: Array<{ outcome: 'ok' | 'typed' | 'crash'; detail: string }> = [];
  for (const input of inputs) {
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    try {
      await target.run(input, workDir);
      out.push({ outcome: 'ok', detail: '' });
    } catch (error) {
      if (error instanceof Llm2ClipError) out.push({ outcome: 'typed', detail: error.code });
      else out.push({ outcome: 'crash', detail: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  }
  await rm(workDir, { recursive: true, force: true });
  return out;
}
