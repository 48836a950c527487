#!/usr/bin/env node
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTargetInChild } from './child.js';
import { fuzz, replay } from './engine.js';
import { TARGETS, findTarget } from './targets/index.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const USAGE = `usage:
  llm2clip-fuzz fuzz [--seconds N] [--seed N] [target ...]   fuzz each target in its own process (default: all, 60 s each)
  llm2clip-fuzz run <target> [--seconds N] [--seed N] [--corpus DIR] [--save-corpus] [--crashes DIR] [--json] [--no-feedback]
  llm2clip-fuzz seed [--out DIR]                              write the seed corpus (valid files) per target
  llm2clip-fuzz replay <target> <file ...>                    run inputs once; exit 1 if any crashes
  llm2clip-fuzz list
targets: ${TARGETS.map((t) => t.name).join(', ')}
env: FUZZ_SECONDS sets the default seconds per target.`;

function parse(argv: string[]): { positional: string[]; flags: Map<string, string | true> } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') continue;
    if (arg.startsWith('--')) {
      const name = arg.slice(2);
      if (['json', 'save-corpus', 'no-feedback'].includes(name)) flags.set(name, true);
      else flags.set(name, argv[++i] ?? '');
    } else positional.push(arg);
  }
  return { positional, flags };
}

function numberFlag(flags: Map<string, string | true>, name: string, fallback: number): number {
  const value = flags.get(name);
  if (value === undefined || value === true) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number, got ${value}`);
  return n;
}

function targetOrDie(name: string | undefined) {
  const target = name !== undefined ? findTarget(name) : undefined;
  if (target === undefined) {
    process.stderr.write(`unknown target ${name ?? '(none)'}\n${USAGE}\n`);
    process.exit(2);
  }
  return target;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const { positional, flags } = parse(rest);
  const defaultSeconds = Number(process.env.FUZZ_SECONDS ?? 60);
  switch (command) {
    case 'run': {
      const target = targetOrDie(positional[0]);
      const result = await fuzz(target, {
        seconds: numberFlag(flags, 'seconds', defaultSeconds),
        seed: numberFlag(flags, 'seed', 1),
        corpusDir: typeof flags.get('corpus') === 'string' ? resolve(flags.get('corpus') as string) : undefined,
        saveCorpus: flags.get('save-corpus') === true,
        feedback: flags.get('no-feedback') !== true,
        crashesDir: resolve((flags.get('crashes') as string | undefined) ?? join(PACKAGE_DIR, 'crashes', target.name)),
        workDir: join(tmpdir(), `llm2clip-fuzz-${target.name}-${process.pid}`),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      if (flags.get('json') === true) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`${target.name}: ${result.executions} executions in ${result.seconds.toFixed(1)} s, corpus ${result.corpusSize}, features ${result.features}, crashes ${result.crashes.length}\n`);
      return result.crashes.length > 0 ? 1 : 0;
    }
    case 'fuzz': {
      const names = positional.length > 0 ? positional : TARGETS.map((t) => t.name);
      names.forEach((name) => targetOrDie(name));
      const seconds = numberFlag(flags, 'seconds', defaultSeconds);
      const rows: string[] = [];
      let failed = false;
      for (const name of names) {
        process.stderr.write(`fuzzing ${name} for ${seconds} s ...\n`);
        const run = await runTargetInChild(name, {
          seconds,
          seed: numberFlag(flags, 'seed', Date.now() % 1_000_000),
          corpusDir: join(PACKAGE_DIR, 'corpus', name),
          saveCorpus: true,
          crashesDir: join(PACKAGE_DIR, 'crashes', name),
        });
        if (run.result === undefined) {
          failed = true;
          rows.push(`| ${name} | - | - | - | died (exit ${run.exitCode}, signal ${run.signal}) — see crashes/${name}/ |`);
          process.stderr.write(run.stderr.slice(-4000));
          continue;
        }
        const r = run.result;
        if (r.crashes.length > 0) failed = true;
        rows.push(`| ${name} | ${r.executions} | ${(r.executions / r.seconds).toFixed(0)} | ${r.features} / ${r.corpusSize} | ${r.crashes.length === 0 ? '0' : r.crashes.map((c) => `${c.kind}: ${c.message} (${c.file})`).join('; ')} |`);
      }
      process.stdout.write(`| target | executions | exec/s | features / corpus | crashes |\n|---|---|---|---|---|\n${rows.join('\n')}\n`);
      return failed ? 1 : 0;
    }
    case 'seed': {
      const out = resolve((flags.get('out') as string | undefined) ?? join(PACKAGE_DIR, 'corpus'));
      for (const target of TARGETS) {
        const seeds = await target.seeds();
        await mkdir(join(out, target.name), { recursive: true });
        for (const [i, seed] of seeds.entries()) await writeFile(join(out, target.name, `seed-${i}`), seed);
        process.stdout.write(`${target.name}: ${seeds.length} seed file(s) in ${join(out, target.name)}\n`);
      }
      return 0;
    }
    case 'replay': {
      const target = targetOrDie(positional[0]);
      const inputs = await Promise.all(positional.slice(1).map(async (file) => new Uint8Array(await readFile(file))));
      const outcomes = await replay(target, inputs, join(tmpdir(), `llm2clip-fuzz-replay-${process.pid}`));
      outcomes.forEach((o, i) => process.stdout.write(`${positional[i + 1]}: ${o.outcome}${o.detail !== '' ? ` ${o.detail}` : ''}\n`));
      return outcomes.some((o) => o.outcome === 'crash') ? 1 : 0;
    }
    case 'list':
      for (const target of TARGETS) process.stdout.write(`${target.name}\t${target.description}\n`);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
