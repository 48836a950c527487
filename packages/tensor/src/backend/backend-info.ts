import type { BackendName } from './backend-name.js';

/** A faster backend that {@link initBackend} did not use, and why. */
export interface SkippedBackend {
  /** The backend that was passed over. */
  name: BackendName;
  /** Why: the package is not installed, the addon did not build, a forced choice, ... */
  reason: string;
}

/** What {@link initBackend} chose. */
export interface BackendInfo {
  /** The llm2clip backend in use. */
  name: BackendName;
  /** The name tfjs knows the backend by (`tf.getBackend()`): `tensorflow`, `native`, `wasm` or `cpu`. */
  tfBackend: string;
  /**
   * Compute threads the backend uses: the OpenBLAS threads for `native` (its C++ kernel threads
   * are in the log line), the CPU count for the
   * libtensorflow backends (which size their own pools), 1 for `wasm` and `cpu`.
   */
  threads: number;
  /** The faster backends that were not used, fastest first. */
  skipped: SkippedBackend[];
}
