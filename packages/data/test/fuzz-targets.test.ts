import { describe, expect, it } from 'vitest';
// the fuzz tool's own runner (built with the workspace); a test-only path import, since the tool depends on this package
import { CI_FUZZ_SECONDS, fuzzRunProblems, runRegressionFuzz } from '../../../tools/fuzz/dist/child.js';

// Coverage-guided fuzzing of every data reader for a few seconds each (tools/fuzz, V8 block
// coverage): seeds are valid files from the project's writers; any throw other than a typed
// Llm2ClipError, a hang or a memory blow-up is a crash. `pnpm fuzz` runs the same targets longer.
const TARGETS = ['tar', 'webdataset', 'sidecar', 'csv', 'jsonl', 'coco', 'karpathy', 'sharegpt4v', 'docci', 'manifest', 'image'];

describe('fuzz: data readers (coverage-guided, bounded)', () => {
  for (const target of TARGETS) {
    it(`${target}: no crash in ${CI_FUZZ_SECONDS} s of fuzzing`, async () => {
      expect(fuzzRunProblems(await runRegressionFuzz(target))).toEqual([]);
    }, (CI_FUZZ_SECONDS + 120) * 1000);
  }
});
