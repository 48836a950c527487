#!/usr/bin/env node
// Runs publint (https://publint.dev) over every publishable workspace package — or over the
// package directories given as arguments — and lists what each would ship.
// Usage: node scripts/lint-publish.mjs [--strict] [pkgDir...]
// Exit code 1 when any package has an error (with --strict, also on warnings).
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Publishable package directories: `packages/*` and `examples/*` that are not private. */
export async function publishablePackages(root = ROOT) {
  const dirs = [];
  for (const group of ['packages', 'examples']) {
    for (const entry of await readdir(join(root, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(root, group, entry.name);
      let manifest;
      try {
        manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      if (manifest.private !== true) dirs.push(dir);
    }
  }
  return dirs.sort();
}

/** publint's result for one package directory, packed the way pnpm packs it. */
export async function lintPackage(pkgDir, { strict = false } = {}) {
  const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8'));
  const { messages } = await publint({ pkgDir, level: 'suggestion', strict, pack: 'pnpm' });
  return {
    name: manifest.name,
    dir: pkgDir,
    messages: messages.map((message) => ({ type: message.type, code: message.code, text: formatMessage(message, manifest) ?? message.code })),
  };
}

async function main(args) {
  const strict = args.includes('--strict');
  const given = args.filter((a) => a !== '--strict').map((a) => resolve(a));
  const dirs = given.length > 0 ? given : await publishablePackages();
  let errors = 0;
  let warnings = 0;
  for (const dir of dirs) {
    const result = await lintPackage(dir, { strict });
    const counts = { error: 0, warning: 0, suggestion: 0 };
    for (const message of result.messages) counts[message.type]++;
    errors += counts.error;
    warnings += counts.warning;
    console.log(`${result.name} (${relative(ROOT, dir)}): ${counts.error} errors, ${counts.warning} warnings, ${counts.suggestion} suggestions`);
    for (const message of result.messages) console.log(`  ${message.type} ${message.code}: ${message.text.replace(/\x1b\[[0-9;]*m/g, '')}`);
  }
  console.log(`publint: ${dirs.length} packages, ${errors} errors, ${warnings} warnings`);
  return errors > 0 || (strict && warnings > 0) ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
