// Builds an optional N-API addon with node-gyp, for the install scripts of @llm2clip/tensor (the
// OpenBLAS kernels) and @llm2clip/distributed (the MPI binding); exported as
// `@llm2clip/tensor/build-addon`.
//
// Never fails: installing the repository must not depend on a C++ toolchain or a system library.
// On any failure it prints one warning line (why, and what runs instead), keeps the full compiler
// output in build/native-build.log, and exits 0. With `--if-missing` on the command line it builds
// only when the .node file is absent or older than native/* or binding.gyp (a stale build from an
// older checkout would otherwise be refused at load time for its interface version).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Runs `command args` in `cwd`, capturing its output. */
export function run(command, args, cwd) {
  return spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

// node-gyp needs the Node headers. pnpm does not pass npm's `nodedir` setting on, and without
// it node-gyp tries to download them; use the headers installed next to this node binary.
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
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

function upToDate(packageDir, addonPath) {
  if (!existsSync(addonPath)) return false;
  const built = statSync(addonPath).mtimeMs;
  const sources = [join(packageDir, 'binding.gyp'), ...readdirSync(join(packageDir, 'native')).map((name) => join(packageDir, 'native', name))];
  return sources.every((source) => statSync(source).mtimeMs <= built);
}

/**
 * Builds `build/Release/<addon>.node` of the package at `packageDir`.
 *
 * @param {object} options
 * @param {string} options.packageDir the package (holding binding.gyp and native/)
 * @param {string} options.addon the .node file's base name
 * @param {string} options.tag the log prefix, e.g. `[@llm2clip/tensor]`
 * @param {string} options.what what is not built, e.g. `native OpenBLAS kernels`
 * @param {string} options.fallback what runs instead, e.g. `the tfjs wasm backend will be used instead`
 * @param {string[]} [options.skipEnv] environment variables that skip the build when set to `1`
 * @param {() => string | undefined} [options.missingLibrary] why the system library looks absent (a hint), else undefined
 * @param {(addon: any) => string} options.describe one line about the loaded addon
 */
export function buildAddon({ packageDir, addon, tag, what, fallback, skipEnv = ['LLM2CLIP_SKIP_NATIVE'], missingLibrary, describe }) {
  const addonPath = join(packageDir, 'build', 'Release', `${addon}.node`);
  const logPath = join(packageDir, 'build', 'native-build.log');
  const warn = (reason) => {
    console.warn(`${tag} warning: ${what} not built (${reason}); ${fallback}.`);
    process.exit(0);
  };

  for (const name of skipEnv) if (process.env[name] === '1') warn(`${name}=1`);
  if (process.argv.includes('--if-missing') && upToDate(packageDir, addonPath)) process.exit(0);
  if (process.platform === 'win32') warn(`the ${what} build is only set up for Linux and macOS`);

  let nodeGyp;
  try {
    nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    warn('node-gyp is not installed');
  }
  const missing = missingLibrary?.();
  if (missing !== undefined) warn(missing);

  const dir = nodeDir();
  const args = [nodeGyp, 'rebuild', ...(dir === undefined ? [] : [`--nodedir=${dir}`])];
  const result = run(process.execPath, args, packageDir);
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
    console.log(`${tag} ${what} built: ${describe(createRequire(import.meta.url)(addonPath))}`);
  } catch (error) {
    warn(`the built addon does not load: ${String(error?.message ?? error).split('\n')[0]}`);
  }
}
