import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeAddonStatus } from '../src/backend/index.js';

// Runs scripts/decoder-forward.mjs (a generated Llama-style decoder on the native backend; it
// imports the built dist/, which the test task's build dependency provides). A small config
// always; the 1.26B-parameter config (5 GB of float32 weights, more than the 4 GB wasm heap can
// hold; needs ~6 GB free memory and a few minutes on 2 cores) only with LLM2CLIP_TEST_1B=1.
const status = nativeAddonStatus();
const skipNative = !status.available;
const suffix = skipNative ? ` — SKIPPED: native addon unavailable: ${status.reason}` : '';
const script = fileURLToPath(new URL('../scripts/decoder-forward.mjs', import.meta.url));
const big = process.env.LLM2CLIP_TEST_1B === '1';

interface Report {
  backend: string;
  parameters: number;
  weightGB: number;
  logitsShape: number[];
  logitsFinite: boolean;
  peakRssGB: number;
  forwardSeconds: number[];
}

function runScript(env: Record<string, string>, timeoutMs: number): Report {
  const stdout = execFileSync(process.execPath, [script], {
    env: { ...process.env, LLM2CLIP_BACKEND: 'native', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as Report;
}

/** Parameters of the script's decoder: embeddings, per layer q/k/v/o + gate/up/down + 2 norms, final norm, untied head. */
function parameterCount(c: { hidden: number; layers: number; intermediate: number; heads: number; kvHeads: number; vocab: number }): number {
  const kv = (c.kvHeads * c.hidden) / c.heads;
  const layer = 2 * c.hidden * c.hidden + 2 * kv * c.hidden + 3 * c.intermediate * c.hidden + 2 * c.hidden;
  return 2 * c.vocab * c.hidden + c.layers * layer + c.hidden;
}

describe(`generated Llama-style decoder forward on native${suffix}`, () => {
  it.skipIf(skipNative)('a small config runs with finite logits of the right shape', () => {
    const config = { hidden: 128, layers: 2, intermediate: 352, heads: 4, kvHeads: 2, vocab: 500 };
    const report = runScript(
      { HIDDEN: '128', LAYERS: '2', INTERMEDIATE: '352', HEADS: '4', KV_HEADS: '2', VOCAB: '500', SEQ: '16', BATCH: '2', RUNS: '1' },
      60_000,
    );
    expect(report.backend).toBe('native');
    expect(report.parameters).toBe(parameterCount(config));
    expect(report.logitsShape).toEqual([2, 16, 500]);
    expect(report.logitsFinite).toBe(true);
  }, 90_000);

  it.skipIf(skipNative || !big)('the 1.26B-parameter config (5 GB of weights) loads and runs (LLM2CLIP_TEST_1B=1)', () => {
    const report = runScript({ RUNS: '1' }, 900_000);
    expect(report.parameters).toBe(parameterCount({ hidden: 2048, layers: 22, intermediate: 5632, heads: 32, kvHeads: 32, vocab: 32000 }));
    expect(report.weightGB).toBeGreaterThan(4.3);
    expect(report.logitsShape).toEqual([1, 128, 32000]);
    expect(report.logitsFinite).toBe(true);
  }, 960_000);
});
