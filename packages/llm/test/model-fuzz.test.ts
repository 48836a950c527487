// the fuzz tool's own runner (built with the workspace); a test-only path import, since the tool depends on this package
import { CI_FUZZ_SECONDS, fuzzRunProblems, runRegressionFuzz } from '../../../tools/fuzz/dist/child.js';
import { ggufHeaderFields, ggufSeeds, mutateGgufHeader } from '../../../tools/fuzz/dist/index.js';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';

describe('model readers under the fuzzer', () => {
  it('finds every integer field of a real GGUF header for the structure-aware mutator', async () => {
    const [seed] = await ggufSeeds();
    const fields = ggufHeaderFields(seed);
    // version, two counts, per key: length + type (+ array type + length), per tensor: name length, dims, ne…, type, offset
    expect(fields.filter((f) => f.kind === 'version')).toHaveLength(1);
    expect(fields.filter((f) => f.kind === 'offset').length).toBe(11);
    const mutated = mutateGgufHeader(seed, new Rng(3))!;
    expect(mutated.length).toBe(seed.length);
    expect(mutated).not.toEqual(seed);
  });

  // each target: the committed regressions first, then CI_FUZZ_SECONDS of coverage-guided fuzzing in a child process
  for (const target of ['gguf', 'shard-index', 'model-config', 'tokenizer-json']) {
    it(`${target}: no crash in ${CI_FUZZ_SECONDS} s of fuzzing`, async () => {
      expect(fuzzRunProblems(await runRegressionFuzz(target))).toEqual([]);
    }, (CI_FUZZ_SECONDS + 120) * 1000);
  }
});
