// One-off scaffolding used when the repository was created; kept so a new package gets the same shape.
// Usage: node scripts/scaffold-package.mjs <dir> <name> <description> [dep,dep]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
const [dir, name, description, deps = ''] = process.argv.slice(2);
const internal = deps.split(',').filter(Boolean);
mkdirSync(join(dir, 'src'), { recursive: true });
mkdirSync(join(dir, 'test'), { recursive: true });
const pkg = {
  name, version: '0.1.0', description, type: 'module', license: 'MIT',
  main: './dist/index.js', types: './dist/index.d.ts',
  exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' },
  files: ['dist', 'README.md', 'CHANGELOG.md'],
  scripts: { build: 'tsc -b', typecheck: 'tsc -b', test: 'vitest run', lint: 'tsc -b' },
  dependencies: Object.fromEntries(internal.map((d) => [`@llm2clip/${d}`, 'workspace:^'])),
};
if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
const rel = dir.startsWith('examples') ? '../../packages/' : '../';
writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
  extends: '../../tsconfig.base.json',
  compilerOptions: { outDir: 'dist', rootDir: 'src', tsBuildInfoFile: 'dist/.tsbuildinfo' },
  include: ['src'],
  references: internal.map((d) => ({ path: `${rel}${d}` })),
}, null, 2) + '\n');
writeFileSync(join(dir, 'vitest.config.ts'), `import { defineProject } from 'vitest/config';\n\nexport default defineProject({\n  test: {\n    name: '${name.replace('@llm2clip/', '')}',\n    include: ['test/**/*.test.ts'],\n    testTimeout: 120_000,\n    hookTimeout: 120_000,\n  },\n});\n`);
writeFileSync(join(dir, 'typedoc.json'), JSON.stringify({ $schema: 'https://typedoc.org/schema.json', entryPoints: ['src/index.ts'], readme: 'README.md' }, null, 2) + '\n');
