#!/usr/bin/env node
// Builds the optional native OpenBLAS addon of @llm2clip/tensor (build/Release/llm2clip_blas.node).
//
//   node scripts/build-native.mjs               rebuild
//   node scripts/build-native.mjs --if-missing  build only when the .node file is absent or older
//                                               than native/* or binding.gyp
//
// Never fails: installing the repository must not depend on a C++ toolchain or OpenBLAS. On
// any failure it prints one warning line (why, and that the wasm backend will be used instead),
// keeps the full compiler output in build/native-build.log, and exits 0.
// Set LLM2CLIP_SKIP_NATIVE=1 to skip the build altogether.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const addonPath = join(packageDir, 'build', 'Release', 'llm2clip_blas.node');
const logPath = join(packageDir, 'build', 'native-build.log');
const tag = '[@llm2clip/tensor]';

function warn(reason) {
  console.warn(`${tag} warning: native OpenBLAS kernels not built (${reason}); the tfjs wasm backend will be used instead.`);
  process.exit(0);
}

function run(command, args) {
  return spawnSync(command, args, { cwd: packageDir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

// node-gyp needs the Node headers. pnpm does not pass npm's `nodedir` setting on, and without
// it node-gyp tries to download them; use the headers installed next to this node binary.
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

// OpenBLAS headers: pkg-config first, then the Debian/Ubuntu locations binding.gyp falls back to.
function openBlasFound() {
  if (run('pkg-config', ['--exists', 'openblas']).status === 0) return true;
  return ['/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/cblas.h', '/usr/include/openblas/cblas.h'].some(
    (header) => existsSync(header),
  );
}

// The most telling line of a failed build: a compiler error, a gyp error, else node-gyp's summary.
function firstError(output) {
  const lines = output.split('\n').map((line) => line.trim());
  const patterns = [/: (fatal )?error: /, /^gyp: /, /^gyp ERR! stack Error: /, /error/i];
  for (const pattern of patterns) {
    const hit = lines.find((line) => pattern.test(line));
    if (hit !== undefined) return hit.replace(/^gyp ERR! stack /, '').slice(0, 240);
  }
  return 'node-gyp failed';
}

if (process.env.LLM2CLIP_SKIP_NATIVE === '1') warn('LLM2CLIP_SKIP_NATIVE=1');
// Up to date: the addon exists and is newer than every source (a stale build from an older
// checkout would otherwise be refused at load time for its interface version).
function upToDate() {
  if (!existsSync(addonPath)) return false;
  const built = statSync(addonPath).mtimeMs;
  const sources = [join(packageDir, 'binding.gyp'), ...readdirSync(join(packageDir, 'native')).map((name) => join(packageDir, 'native', name))];
  return sources.every((source) => statSync(source).mtimeMs <= built);
}
if (process.argv.includes('--if-missing') && upToDate()) process.exit(0);
if (process.platform === 'win32') warn('the addon build is only set up for Linux and macOS');

let nodeGyp;
try {
  nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  warn('node-gyp is not installed');
}
if (!openBlasFound()) warn('OpenBLAS not found; on Debian/Ubuntu: apt-get install libopenblas-dev pkg-config');

const dir = nodeDir();
const args = [nodeGyp, 'rebuild', ...(dir === undefined ? [] : [`--nodedir=${dir}`])];
const result = run(process.execPath, args);
const output = `$ node ${args.join(' ')}\n${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`;
try {
  mkdirSync(dirname(logPath), { recursive: true });
  writeFileSync(logPath, output);
} catch {
  // The log is a convenience; a read-only install location must not fail the install.
}
if (result.status !== 0 || !existsSync(addonPath)) {
  warn(`${result.error ? result.error.message : firstError(output)}; full output in ${logPath}`);
}

// A library that is present at build time but not at run time shows up only when loading.
try {
  const addon = createRequire(import.meta.url)(addonPath);
  console.log(`${tag} native OpenBLAS kernels built: ${addon.blasConfig}`);
} catch (error) {
  warn(`the built addon does not load: ${String(error?.message ?? error).split('\n')[0]}`);
}
