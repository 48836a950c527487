import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, type HostTensor } from '@llm2clip/tensor';
import { describe, expect, it } from 'vitest';
import type { TextEmbedder } from '@llm2clip/core';
import { LlamaModel, LlmEmbedder, LlmTokenizer, LoraAdapter, POOLING_MODES, poolHiddenStates, readModelWeights } from '../src/index.js';
import { tinyTokenizerConfig, tinyTokenizerJson } from './fixtures.js';

const PARITY = fileURLToPath(new URL('./fixtures/parity/', import.meta.url));
const FIXTURES = ['llama3', 'llama2-linear', 'mistral', 'qwen2'] as const;
const MODES = ['causal', 'bidirectional'] as const;

/** max|actual − expected| over the compared entries divided by max|expected| (≤ 1e-4 required). */
function relativeError(actual: Float32Array, expected: Float32Array, keep: (i: number) => boolean = () => true): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!keep(i)) continue;
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

async function loadReference(name: string): Promise<Map<string, HostTensor>> {
  return (await readSafetensors(join(PARITY, name, 'reference.safetensors'))).tensors;
}

function checkOutputs(model: LlamaModel, reference: Map<string, HostTensor>, variant: 'base' | 'lora'): void {
  const ids = reference.get('input_ids')!;
  const [batch, seq] = ids.shape;
  const mask = reference.get('attention_mask')!;
  const embed = reference.get('embed_mask')!;
  const inputIds = tf.tensor2d(ids.data as Int32Array, [batch, seq], 'int32');
  const attentionMask = tf.tensor2d(mask.data as Int32Array, [batch, seq], 'int32');
  const embedMask = tf.tensor2d(embed.data as Int32Array, [batch, seq], 'int32');
  const hiddenSize = model.config.hidden_size;
  const vocab = model.config.vocab_size;
  for (const mode of MODES) {
    const hidden = model.forward(inputIds, attentionMask, { bidirectional: mode === 'bidirectional' });
    const logits = model.logits(hidden);
    const real = (width: number) => (i: number) => mask.data[Math.floor(i / width)] === 1;
    const expectedHidden = reference.get(`${mode}.${variant}.last_hidden_state`)!.data as Float32Array;
    expect(relativeError(hidden.dataSync() as Float32Array, expectedHidden, real(hiddenSize)), `${mode} ${variant} hidden`).toBeLessThanOrEqual(1e-4);
    const expectedLogits = reference.get(`${mode}.${variant}.logits`)!.data as Float32Array;
    expect(relativeError(logits.dataSync() as Float32Array, expectedLogits, real(vocab)), `${mode} ${variant} logits`).toBeLessThanOrEqual(1e-4);
    for (const pooling of POOLING_MODES) {
      const pooled = poolHiddenStates(hidden, attentionMask, embedMask, pooling);
      const expected = reference.get(`${mode}.${variant}.pooled.${pooling}`)!.data as Float32Array;
      expect(relativeError(pooled.dataSync() as Float32Array, expected), `${mode} ${variant} ${pooling}`).toBeLessThanOrEqual(1e-4);
      pooled.dispose();
    }
    hidden.dispose();
    logits.dispose();
  }
  tf.dispose([inputIds, attentionMask, embedMask]);
}

describe('parity with the PyTorch reference (scripts/make_parity_fixtures.py)', () => {
  for (const name of FIXTURES) {
    it(`${name}: hidden states, logits and poolings match in causal and bidirectional mode, with and without LoRA`, async () => {
      const dir = join(PARITY, name);
      const reference = await loadReference(name);
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { torch_dtype: string };
      const model = await LlamaModel.fromPretrained(dir);
      const before = tf.memory().numTensors;
      checkOutputs(model, reference, 'base');
      const lora = await LoraAdapter.loadAdapter(model, join(dir, 'adapter'));
      checkOutputs(model, reference, 'lora');
      lora.merge({ keepAdapter: true });
      checkOutputs(model, reference, 'lora');
      lora.unmerge();
      lora.dispose();
      checkOutputs(model, reference, 'base');
      expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
      expect(config.torch_dtype).toBeTypeOf('string');
      model.dispose();
    });
  }
});

describe('the parity fixtures discriminate', () => {
  it('causal and bidirectional references differ, and Mistral without its sliding window misses the causal reference', async () => {
    const reference = await loadReference('mistral');
    const causal = reference.get('causal.base.last_hidden_state')!.data as Float32Array;
    const bidirectional = reference.get('bidirectional.base.last_hidden_state')!.data as Float32Array;
    expect(relativeError(bidirectional, causal)).toBeGreaterThan(1e-2);
    const dir = join(PARITY, 'mistral');
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.sliding_window).toBe(4);
    const unwindowed = LlamaModel.fromWeights({ ...(config as { model_type: 'mistral' } & Record<string, never>), sliding_window: null }, await readModelWeights(dir));
    const ids = reference.get('input_ids')!;
    const mask = reference.get('attention_mask')!;
    const hidden = tf.tidy(() => unwindowed.forward(tf.tensor2d(ids.data as Int32Array, ids.shape as [number, number], 'int32'), tf.tensor2d(mask.data as Int32Array, mask.shape as [number, number], 'int32')).dataSync() as Float32Array);
    const width = unwindowed.config.hidden_size;
    expect(relativeError(hidden, causal, (i) => mask.data[Math.floor(i / width)] === 1)).toBeGreaterThan(1e-3);
    unwindowed.dispose();
  });
});

describe('LlmEmbedder on the parity fixtures', () => {
  it('embedTensor gives the reference pooled embeddings for every pooling (bidirectional, adapter merged by fromPretrained)', async () => {
    const dir = join(PARITY, 'qwen2');
    const reference = await loadReference('qwen2');
    const ids = reference.get('input_ids')!;
    const [batch, length] = ids.shape;
    const encoded = {
      inputIds: Int32Array.from(ids.data),
      attentionMask: Int32Array.from(reference.get('attention_mask')!.data),
      embedMask: Int32Array.from(reference.get('embed_mask')!.data),
      batch,
      length,
    };
    const tokenizer = LlmTokenizer.fromJson(tinyTokenizerJson(), tinyTokenizerConfig());
    for (const pooling of POOLING_MODES) {
      const model = await LlamaModel.fromPretrained(dir);
      (await LoraAdapter.loadAdapter(model, join(dir, 'adapter'))).merge();
      const embedder = new LlmEmbedder(model, tokenizer, { pooling });
      const asTextEmbedder: TextEmbedder = embedder;
      expect(asTextEmbedder.dim).toBe(64);
      const pooled = embedder.embedTensor(encoded);
      const expected = reference.get(`bidirectional.lora.pooled.${pooling}`)!.data as Float32Array;
      expect(relativeError(pooled.dataSync() as Float32Array, expected), pooling).toBeLessThanOrEqual(1e-4);
      pooled.dispose();
      embedder.dispose();
    }
  });
});
