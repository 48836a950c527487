import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { compareReports, readReport, renderComparisonText, writeComparison, writeReport } from '@llm2clip/eval';

/** Where `eval` subcommands print (replaceable in tests). */
export interface EvalCommandIo {
  stdout: { write(text: string): unknown };
}

/**
 * `llm2clip eval compare <runA> <runB>`: pairs the results of two `report.json` files (a run
 * directory or the file), prints a difference table and writes `compare.md` / `compare.html`;
 * `llm2clip eval render <run>`: rewrites `report.md` and `report.html` from `report.json` (and the
 * run's `metrics.jsonl`).
 */
export function registerEvalCommand(program: Command, io: EvalCommandIo = { stdout: process.stdout }): void {
  const evalCommand = program.command('eval').description('Evaluation reports: compare two runs, re-render a report.');

  evalCommand
    .command('compare')
    .description('Compare two runs (directories holding report.json, or the files): print the differences and write compare.md and compare.html.')
    .argument('<runA>', 'the reference run (A)')
    .argument('<runB>', 'the run compared with it (B); differences are B − A')
    .option('--out <dir>', 'directory for compare.md and compare.html', '.')
    .option('--label-a <name>', 'name of run A in the tables (default: its run name)')
    .option('--label-b <name>', 'name of run B in the tables (default: its run name)')
    .action(async (runA: string, runB: string, options: { out: string; labelA?: string; labelB?: string }) => {
      const [a, b] = await Promise.all([readReport(resolve(runA)), readReport(resolve(runB))]);
      // Two reports of the same run name (e.g. both `demo`) are told apart by their paths.
      const sameName = a.run === b.run;
      const comparison = compareReports(a, b, {
        a: options.labelA ?? (sameName ? basename(resolve(runA)) : a.run),
        b: options.labelB ?? (sameName ? basename(resolve(runB)) : b.run),
      });
      io.stdout.write(renderComparisonText(comparison));
      const written = await writeComparison(resolve(options.out), comparison);
      io.stdout.write(`\nwrote ${written.markdown}\nwrote ${written.html}\n`);
    });

  evalCommand
    .command('render')
    .description("Rewrite a run's report.md and report.html from its report.json (training curves from the run's metrics.jsonl).")
    .argument('<run>', 'run directory holding report.json')
    .action(async (run: string) => {
      const dir = resolve(run);
      const written = await writeReport(dir, await readReport(dir));
      io.stdout.write(`wrote ${written.markdown}\nwrote ${written.html}\n`);
    });
}
