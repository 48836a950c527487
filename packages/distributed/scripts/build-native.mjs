#!/usr/bin/env node
// Builds the optional MPI binding of @llm2clip/distributed (build/Release/llm2clip_mpi.node).
//
//   node scripts/build-native.mjs               rebuild
//   node scripts/build-native.mjs --if-missing  build only when the .node file is absent
//
// Never fails: installing the repository must not depend on MPI or a C++ toolchain. On any
// failure it prints one warning line (why, and that only single-process runs will work), keeps
// the full compiler output in build/native-build.log, and exits 0.
// Set LLM2CLIP_SKIP_NATIVE=1 or LLM2CLIP_SKIP_MPI=1 to skip the build altogether.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const addonPath = join(packageDir, 'build', 'Release', 'llm2clip_mpi.node');
const logPath = join(packageDir, 'build', 'native-build.log');
const tag = '[@llm2clip/distributed]';

function warn(reason) {
  console.warn(`${tag} warning: MPI binding not built (${reason}); only single-process runs will work (multi-process runs fail with E_BACKEND).`);
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

// MPI development files: pkg-config (OpenMPI's `ompi`, MPICH's `mpi`) or an `mpicc` wrapper.
function mpiFound() {
  if (run('pkg-config', ['--exists', 'ompi']).status === 0) return true;
  if (run('pkg-config', ['--exists', 'mpi']).status === 0) return true;
  return run('mpicc', ['--showme:compile']).status === 0;
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
if (process.env.LLM2CLIP_SKIP_MPI === '1') warn('LLM2CLIP_SKIP_MPI=1');
if (process.argv.includes('--if-missing') && existsSync(addonPath)) process.exit(0);
if (process.platform === 'win32') warn('the MPI binding is only set up for Linux and macOS');

let nodeGyp;
try {
  nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  warn('node-gyp is not installed');
}
if (!mpiFound()) warn('MPI not found; on Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev');

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
  console.log(`${tag} MPI binding built: ${addon.libraryVersion}`);
} catch (error) {
  warn(`the built binding does not load: ${String(error?.message ?? error).split('\n')[0]}`);
}
