import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, it } from 'vitest';
import { REPO } from './workspace.js';

// publint on every publishable package (errors fail; the message text is shown), and the packed
// file list: only what users need.

const { publishablePackages } = (await import(join(REPO, 'scripts', 'lint-publish.mjs'))) as { publishablePackages: () => Promise<string[]> };
const dirs = await publishablePackages();
const run = promisify(execFile);

/** Packages whose native addon is compiled at install: they also ship sources and the build script. */
const NATIVE = new Set(['@llm2clip/tensor', '@llm2clip/distributed']);
const ALWAYS = [/^package\.json$/, /^README\.md$/, /^CHANGELOG\.md$/, /^LICENSE(\.md)?$/, /^dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map|wasm|json)$/];
const NATIVE_EXTRA = [/^binding\.gyp$/, /^native\/[^/]+\.(cc|h|c|cpp)$/, /^scripts\/[^/]+\.mjs$/, /^examples\/[^/]+\.mjs$/];

describe('publishing', () => {
  it('finds the packages', () => {
    expect(dirs.map((d) => relative(REPO, d))).toEqual(expect.arrayContaining(['packages/core', 'packages/cli', 'packages/distributed', 'packages/tensor']));
  });

  for (const dir of dirs) {
    const short = relative(REPO, dir);
    it(`${short}: publint has no errors and the tarball holds only what users need`, async () => {
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name: string; main?: string };
      const { messages } = await publint({ pkgDir: dir, level: 'warning', pack: 'pnpm' });
      const errors = messages.filter((m) => m.type === 'error').map((m) => `${m.code}: ${formatMessage(m, manifest) ?? ''}`);
      expect(errors).toEqual([]);

      const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
      const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
      const allowed = NATIVE.has(manifest.name) ? [...ALWAYS, ...NATIVE_EXTRA] : ALWAYS;
      expect(files.filter((f) => !allowed.some((re) => re.test(f)))).toEqual([]);
      expect(files.filter((f) => /(^|\/)(test|tests|__tests__|fixtures|bench)\//.test(f) || f.endsWith('.tsbuildinfo'))).toEqual([]);
      expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts']));
      if (NATIVE.has(manifest.name)) expect(files).toEqual(expect.arrayContaining(['binding.gyp', 'scripts/build-native.mjs']));
      // the node-gyp builder both native packages' install scripts import (`@llm2clip/tensor/build-addon`)
      if (manifest.name === '@llm2clip/tensor') expect(files).toContain('scripts/build-addon.mjs');
    });
  }
});
