import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXECUTABLE_LANGS, extractBlocks, type CodeBlock } from './blocks.js';
import { prepareWorkspace, REPO, runBlock } from './workspace.js';

// Every guide's runnable blocks run, in order, in a fresh copy of the tiny workspace that the
// quickstart's `setup` block builds (tiny synthetic webdataset, random HF-layout Llama and CLIP
// vision tower, a Flickr30k-like split). ts blocks run as ES modules against the built `dist/`
// of the packages; sh blocks run with `llm2clip` = the built CLI.

const GUIDES_DIR = join(REPO, 'docs', 'guides');
const guideFiles = (await readdir(GUIDES_DIR)).filter((f) => f.endsWith('.md')).sort();
const guides = new Map<string, CodeBlock[]>();
for (const file of guideFiles) guides.set(file, extractBlocks(`docs/guides/${file}`, await readFile(join(GUIDES_DIR, file), 'utf8')));
const all = [...guides.values()].flat();

let root: string;
let template: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'llm2clip-guides-'));
  template = join(root, 'template');
  await prepareWorkspace(template);
  const setup = all.filter((b) => b.setup);
  for (const [i, block] of setup.entries()) await runBlock(block, template, i);
});

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('guide code blocks', () => {
  it('tags every executable block runnable or not-runnable with a reason, and keeps the excused ones few', () => {
    const untagged = all.filter((b) => EXECUTABLE_LANGS.has(b.lang) && !b.runnable && b.notRunnableReason === undefined);
    expect(untagged.map((b) => `${b.guide}:${b.line}`)).toEqual([]);
    const excused = all.filter((b) => b.notRunnableReason !== undefined);
    const runnable = all.filter((b) => b.runnable);
    expect(runnable.length).toBeGreaterThan(3 * excused.length);
    expect(all.filter((b) => b.setup)).toHaveLength(1);
  });

  it('type-checks every ts block against the packages\' declarations (strict)', async () => {
    const dir = join(root, 'typecheck');
    await cp(template, dir, { recursive: true, verbatimSymlinks: true });
    await mkdir(join(dir, 'node_modules', '@types'), { recursive: true });
    await symlink(join(REPO, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
    const files: string[] = [];
    for (const [i, block] of all.entries()) {
      if (!(block.lang === 'ts' && block.runnable)) continue;
      const name = `check/${block.guide.replace(/[^A-Za-z0-9]/g, '_')}_${block.line}_${i}.mts`;
      await mkdir(join(dir, 'check'), { recursive: true });
      await writeFile(join(dir, name), `${block.code}\nexport {};\n`);
      files.push(name);
    }
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'], strict: true, noEmit: true, skipLibCheck: true, esModuleInterop: true },
      files,
    }));
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(() => '', (error: { stdout?: string }) => error.stdout ?? String(error));
    expect(result).toBe('');
  });

  for (const [file, blocks] of guides) {
    const runnable = blocks.filter((b) => b.runnable && !b.setup);
    if (runnable.length === 0) continue;
    it(`runs ${file} (${runnable.length} blocks)`, async () => {
      const dir = join(root, file.replace(/\.md$/, ''));
      await cp(template, dir, { recursive: true, verbatimSymlinks: true });
      for (const [i, block] of runnable.entries()) {
        const out = await runBlock(block, dir, i);
        // a block can state what it must print: a comment line `# expect: <regex>` / `// expect: <regex>`
        for (const match of block.code.matchAll(/^\s*(?:#|\/\/) expect: (.+)$/gm)) {
          expect(out.stdout, `${block.guide}:${block.line} prints /${match[1]}/`).toMatch(new RegExp(match[1]!));
        }
      }
    });
  }
});

describe('formats guide', () => {
  it('lists every format the code writes (format constants and `format:` literals)', async () => {
    const { execFileSync } = await import('node:child_process');
    const grep = (pattern: string, ...includes: string[]): string => {
      try {
        return execFileSync('grep', ['-rhoE', pattern, 'packages', 'examples', ...includes.map((i) => `--include=${i}`), '--exclude-dir=node_modules', '--exclude-dir=dist', '--exclude-dir=test', '--exclude-dir=fixtures'], { cwd: REPO, encoding: 'utf8' });
      } catch (error) {
        if ((error as { status?: number }).status === 1) return ''; // no match
        throw error;
      }
    };
    const found = grep("[A-Z0-9_]+_FORMAT = '[^']+'", '*.ts') + grep(`format["']?: ?["']llm2clip\\.[a-z0-9.-]+["']`, '*.ts', '*.mjs', '*.py');
    const formats = [...new Set([...found.matchAll(/["']?(llm2clip\.[a-z0-9.-]+)["']/g)].map((m) => m[1]!))];
    expect(formats.length).toBeGreaterThan(10);
    const guide = await readFile(join(GUIDES_DIR, 'formats.md'), 'utf8');
    expect(formats.filter((f) => !guide.includes(`\`${f}\``))).toEqual([]);
  });
});
