#!/usr/bin/env node
// Builds the optional native OpenBLAS addon of @llm2clip/tensor (build/Release/llm2clip_blas.node).
//
//   node scripts/build-native.mjs               rebuild
//   node scripts/build-native.mjs --if-missing  build only when the .node file is absent or older
//                                               than native/* or binding.gyp
//
// Never fails (see build-addon.mjs): on any failure it prints one warning line, keeps the compiler
// output in build/native-build.log, and the wasm backend is used instead.
// Set LLM2CLIP_SKIP_NATIVE=1 to skip the build altogether.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon, run } from './build-addon.mjs';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));

// OpenBLAS headers: pkg-config first, then the Debian/Ubuntu locations binding.gyp falls back to.
function openBlasMissing() {
  if (run('pkg-config', ['--exists', 'openblas'], packageDir).status === 0) return undefined;
  const headers = ['/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/cblas.h', '/usr/include/openblas/cblas.h'];
  return headers.some((header) => existsSync(header)) ? undefined : 'OpenBLAS not found; on Debian/Ubuntu: apt-get install libopenblas-dev pkg-config';
}

buildAddon({
  packageDir,
  addon: 'llm2clip_blas',
  tag: '[@llm2clip/tensor]',
  what: 'native OpenBLAS kernels',
  fallback: 'the tfjs wasm backend will be used instead',
  missingLibrary: openBlasMissing,
  describe: (addon) => addon.blasConfig,
});
