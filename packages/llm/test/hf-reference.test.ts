import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, type HostTensor } from '@llm2clip/tensor';
import { describe, expect, it } from 'vitest';
import { LlamaModel, LoraAdapter, poolHiddenStates } from '../src/index.js';

// Fixtures written by transformers + peft themselves (see fixtures/hf-reference/README.md): the
// independent check of the torch-primitive parity fixtures. Positions there are transformers'
// default (0..n−1 over the padded row), so they are passed explicitly.
const ROOT = fileURLToPath(new URL('./fixtures/hf-reference/', import.meta.url));
const MODELS = ['llama', 'llama-linear-rope-head-dim', 'llama3-rope-scaling-tied', 'mistral-sliding-window-sharded', 'qwen2-bf16'] as const;

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

function check(model: LlamaModel, reference: Map<string, HostTensor>, prefix: string, modes: readonly ('causal' | 'bidirectional')[]): void {
  const idsHost = reference.get('input_ids')!;
  const maskHost = reference.get('attention_mask')!;
  const [batch, seq] = idsHost.shape as [number, number];
  const real = (width: number) => (i: number) => maskHost.data[Math.floor(i / width)] === 1;
  for (const mode of modes) {
    const [hidden, logits, pooled] = tf.tidy(() => {
      const ids = tf.cast(tf.tensor2d(idsHost.data, [batch, seq]), 'int32') as tf.Tensor2D;
      const mask = tf.cast(tf.tensor2d(maskHost.data, [batch, seq]), 'int32') as tf.Tensor2D;
      const positionIds = tf.tile(tf.reshape(tf.range(0, seq, 1, 'int32'), [1, seq]), [batch, 1]) as tf.Tensor2D;
      const states = model.forward(ids, mask, { bidirectional: mode === 'bidirectional', positionIds });
      return [states.dataSync(), model.logits(states).dataSync(), poolHiddenStates(states, mask, mask, 'mean').dataSync()] as Float32Array[];
    });
    const key = `${prefix}${mode}`;
    expect(relativeError(hidden, reference.get(`${key}.hidden`)!.data as Float32Array, real(model.config.hidden_size)), `${key}.hidden`).toBeLessThanOrEqual(1e-4);
    expect(relativeError(logits, reference.get(`${key}.logits`)!.data as Float32Array, real(model.config.vocab_size)), `${key}.logits`).toBeLessThanOrEqual(1e-4);
    expect(relativeError(pooled, reference.get(`${key}.mean_pooled`)!.data as Float32Array), `${key}.mean_pooled`).toBeLessThanOrEqual(1e-4);
  }
}

describe('parity with transformers + peft (fixtures/hf-reference)', () => {
  for (const name of MODELS) {
    it(`${name}: hidden states, logits and mean pooling match transformers in causal and bidirectional mode`, async () => {
      const dir = join(ROOT, name);
      const reference = (await readSafetensors(join(dir, 'reference.safetensors'))).tensors;
      const model = await LlamaModel.fromPretrained(dir);
      check(model, reference, '', ['causal', 'bidirectional']);
      if (reference.has('lora.causal.hidden')) {
        const adapterConfig = JSON.parse(await readFile(join(dir, 'adapter', 'adapter_config.json'), 'utf8')) as { peft_type: string };
        expect(adapterConfig.peft_type).toBe('LORA');
        const lora = await LoraAdapter.loadAdapter(model, join(dir, 'adapter'));
        check(model, reference, 'lora.', ['causal', 'bidirectional']);
        lora.merge();
        check(model, reference, 'merged.', ['bidirectional']);
      }
      model.dispose();
    });
  }
});
