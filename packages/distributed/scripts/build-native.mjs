#!/usr/bin/env node
// Builds the optional MPI binding of @llm2clip/distributed (build/Release/llm2clip_mpi.node), with
// the node-gyp builder @llm2clip/tensor's addon uses (`@llm2clip/tensor/build-addon`).
//
//   node scripts/build-native.mjs               rebuild
//   node scripts/build-native.mjs --if-missing  build only when the .node file is absent or older
//                                               than native/* or binding.gyp
//
// Never fails: installing the repository must not depend on MPI or a C++ toolchain. On any
// failure it prints one warning line (why, and that only single-process runs will work), keeps
// the full compiler output in build/native-build.log, and exits 0.
// Set LLM2CLIP_SKIP_NATIVE=1 or LLM2CLIP_SKIP_MPI=1 to skip the build altogether.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon, run } from '@llm2clip/tensor/build-addon';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));

// MPI development files: pkg-config (OpenMPI's `ompi`, MPICH's `mpi`) or an `mpicc` wrapper.
function mpiMissing() {
  if (run('pkg-config', ['--exists', 'ompi'], packageDir).status === 0) return undefined;
  if (run('pkg-config', ['--exists', 'mpi'], packageDir).status === 0) return undefined;
  if (run('mpicc', ['--showme:compile'], packageDir).status === 0) return undefined;
  return 'MPI not found; on Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev';
}

buildAddon({
  packageDir,
  addon: 'llm2clip_mpi',
  tag: '[@llm2clip/distributed]',
  what: 'MPI binding',
  fallback: 'only single-process runs will work (multi-process runs fail with E_BACKEND)',
  skipEnv: ['LLM2CLIP_SKIP_NATIVE', 'LLM2CLIP_SKIP_MPI'],
  missingLibrary: mpiMissing,
  describe: (addon) => addon.libraryVersion,
});
