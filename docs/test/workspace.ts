/**
 * A throwaway workspace for running guide blocks: `node_modules/@llm2clip/*` linked to the
 * built workspace packages (so `import '@llm2clip/data'` resolves to `dist/` exactly as for an
 * installed user), `@tensorflow/tfjs-core` linked to the copy the packages use, and
 * `bin/llm2clip` running the built CLI (`packages/cli/dist/bin.js`).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { CodeBlock } from './blocks.js';

/** The repository root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function workspacePackages(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const group of ['packages', 'examples']) {
    for (const entry of await readdir(join(REPO, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(REPO, group, entry.name);
      try {
        const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string };
        if (manifest.name !== undefined) found.set(manifest.name, dir);
      } catch {
        // not a package
      }
    }
  }
  return found;
}

/** Links the packages and the CLI into `dir`. */
export async function prepareWorkspace(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules', '@llm2clip'), { recursive: true });
  await mkdir(join(dir, 'node_modules', '@tensorflow'), { recursive: true });
  for (const [name, pkgDir] of await workspacePackages()) await symlink(pkgDir, join(dir, 'node_modules', name), 'dir');
  const tf = await realpath(join(REPO, 'packages', 'tensor', 'node_modules', '@tensorflow', 'tfjs-core'));
  await symlink(tf, join(dir, 'node_modules', '@tensorflow', 'tfjs-core'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'guide-workspace', private: true, type: 'module' }));
  await mkdir(join(dir, 'bin'), { recursive: true });
  const bin = join(dir, 'bin', 'llm2clip');
  await writeFile(bin, `#!/bin/sh\nexec node ${JSON.stringify(join(REPO, 'packages', 'cli', 'dist', 'bin.js'))} "$@"\n`);
  await chmod(bin, 0o755);
}

/** What a block printed. */
export interface BlockRun {
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string): Promise<BlockRun> {
  return new Promise((resolveRun, reject) => {
    execFile(
      command,
      args,
      { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, REPO, PATH: `${join(cwd, 'bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1', FORCE_COLOR: '0' } },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${command} ${args.join(' ')} failed (${error.code ?? error.signal}):\n${stdout}\n${stderr}`));
        else resolveRun({ stdout, stderr });
      },
    );
  });
}

/** Transpiles a TypeScript block to an ES module (types stripped, top-level await kept). */
export function transpile(code: string, fileName: string): string {
  const out = ts.transpileModule(code, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) throw new Error(`${fileName}: ${errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n')}`);
  return out.outputText;
}

/** Runs (or writes) one block inside the workspace `dir`. */
export async function runBlock(block: CodeBlock, dir: string, index: number): Promise<BlockRun> {
  const where = `${block.guide}:${block.line}`;
  if (block.lang === 'ts' || block.lang === 'typescript') {
    const base = block.file ?? `block-${index}.ts`;
    if (block.file !== undefined) await writeFile(join(dir, block.file), block.code);
    const jsFile = join(dir, base.replace(/\.ts$/, '') + '.mjs');
    await mkdir(dirname(jsFile), { recursive: true });
    await writeFile(jsFile, `// ${where}\n${transpile(block.code, base)}`);
    return run(process.execPath, [jsFile], dir);
  }
  if (block.lang === 'sh' || block.lang === 'bash') {
    return run('bash', ['-euo', 'pipefail', '-c', block.code], dir);
  }
  if (block.file !== undefined) {
    await mkdir(dirname(join(dir, block.file)), { recursive: true });
    await writeFile(join(dir, block.file), block.code);
    return { stdout: '', stderr: '' };
  }
  throw new Error(`${where}: a runnable ${block.lang} block needs file=<path>`);
}
