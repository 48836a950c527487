import { describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import { attentionBiasesOf, firstSlidingWindowLayer, headDimOf, kvHeadsOf, llamaParameterShapes, parseLlamaConfig, ropeInverseFrequencies, slidingWindowOf } from '../src/index.js';
import { tinyConfig } from './fixtures.js';

describe('config.json of Llama, Mistral and Qwen2', () => {
  it('refuses unknown model types and architectures with a typed error naming the field', () => {
    for (const [json, field] of [
      [{ ...tinyConfig(), model_type: 'gemma' }, 'model_type'],
      [{ ...tinyConfig(), architectures: ['GemmaForCausalLM'] }, 'architectures.0'],
      [{ ...tinyConfig(), hidden_act: 'gelu' }, 'hidden_act'],
      [{ ...tinyConfig(), hidden_size: 'big' }, 'hidden_size'],
    ] as const) {
      try {
        parseLlamaConfig(json, 'x/config.json');
        expect.unreachable();
      } catch (error) {
        expect(isLlm2ClipError(error, 'E_CONFIG')).toBe(true);
        expect((error as { field?: string }).field).toBe(field);
        expect((error as Error).message).toContain('x/config.json');
      }
    }
    expect(() => parseLlamaConfig({ ...tinyConfig(), model_type: 'gemma' })).toThrow(/unsupported model_type "gemma"; supported: llama, mistral, qwen2/);
  });

  it('honours head_dim, GQA, tie_word_embeddings, bias rules and torch_dtype', () => {
    const mistral = parseLlamaConfig({ ...tinyConfig(), model_type: 'mistral', architectures: ['MistralForCausalLM'], head_dim: 16, torch_dtype: 'bfloat16', tie_word_embeddings: true });
    expect(headDimOf(mistral)).toBe(16);
    expect(kvHeadsOf(mistral)).toBe(2);
    expect(mistral.torch_dtype).toBe('bfloat16');
    const shapes = llamaParameterShapes(mistral);
    expect(shapes.get('model.layers.0.self_attn.q_proj.weight')).toEqual([64, 32]);
    expect(shapes.get('model.layers.0.self_attn.k_proj.weight')).toEqual([32, 32]);
    expect(shapes.get('model.layers.0.self_attn.o_proj.weight')).toEqual([32, 64]);
    expect(shapes.has('lm_head.weight')).toBe(false);
    expect(attentionBiasesOf(parseLlamaConfig({ ...tinyConfig(), model_type: 'qwen2' }))).toEqual({ qkv: true, o: false });
    expect(attentionBiasesOf(parseLlamaConfig({ ...tinyConfig(), attention_bias: true }))).toEqual({ qkv: true, o: true });
    expect(attentionBiasesOf(mistral)).toEqual({ qkv: false, o: false });
    expect(llamaParameterShapes(parseLlamaConfig({ ...tinyConfig(), model_type: 'qwen2' })).get('model.layers.1.self_attn.v_proj.bias')).toEqual([16]);
    expect(() => parseLlamaConfig({ ...tinyConfig(), head_dim: 7 })).toThrow(/E_CONFIG.*head_dim/);
  });

  it('applies sliding windows as transformers does (Mistral always, Qwen2 only with use_sliding_window from max_window_layers)', () => {
    const mistral = parseLlamaConfig({ ...tinyConfig(), model_type: 'mistral', sliding_window: 4 });
    expect(slidingWindowOf(mistral)).toBe(4);
    expect(firstSlidingWindowLayer(mistral)).toBe(0);
    expect(slidingWindowOf(parseLlamaConfig({ ...tinyConfig(), model_type: 'mistral', sliding_window: null }))).toBeUndefined();
    expect(slidingWindowOf(parseLlamaConfig({ ...tinyConfig(), model_type: 'qwen2', sliding_window: 4 }))).toBeUndefined();
    const qwen = parseLlamaConfig({ ...tinyConfig(), model_type: 'qwen2', sliding_window: 4, use_sliding_window: true, max_window_layers: 1 });
    expect(slidingWindowOf(qwen)).toBe(4);
    expect(firstSlidingWindowLayer(qwen)).toBe(1);
  });

  it('computes llama3 and linear rope scaling as transformers', () => {
    const base = ropeInverseFrequencies(parseLlamaConfig({ ...tinyConfig(), head_dim: 16 }));
    const linear = ropeInverseFrequencies(parseLlamaConfig({ ...tinyConfig(), head_dim: 16, rope_scaling: { type: 'linear', factor: 4 } }));
    const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(Math.abs(b) * 1e-6);
    linear.forEach((f, i) => close(f, base[i] / 4));
    const llama3 = ropeInverseFrequencies(parseLlamaConfig({ ...tinyConfig(), head_dim: 16, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }));
    // wavelength 2π/f: below 64/4 kept, above 64/1 divided by 8, in between interpolated
    base.forEach((f, i) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < 16) expect(llama3[i]).toBe(f);
      else if (wavelen > 64) close(llama3[i], f / 8);
      else close(llama3[i], (1 - (64 / wavelen - 1) / 3) * (f / 8) + ((64 / wavelen - 1) / 3) * f);
    });
    expect(new Set(Array.from(base, (f) => ((2 * Math.PI) / f < 16 ? 'high' : (2 * Math.PI) / f > 64 ? 'low' : 'mid'))).size).toBe(3);
  });
});
