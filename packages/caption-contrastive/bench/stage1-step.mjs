// Times stage-1 training steps (and causal-LM steps) at the demo's model size.
// Usage (after `pnpm build`): node bench/stage1-step.mjs [auto|cpu] ; env BATCH (default 32), STEPS (default 3), TOKENS_PER_PASS (default 2048).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@llm2clip/core';
import { ensureGradientsRegistered, initBackend } from '@llm2clip/tensor';
import { LlamaModel, LlmTokenizer } from '@llm2clip/llm';
import { pretrainCausalLm, trainCaptionContrastive } from '../dist/index.js';

const mode = process.argv[2] ?? 'auto';
const batchSize = Number(process.env.BATCH ?? 32);
const steps = Number(process.env.STEPS ?? 3);
const tokensPerPass = Number(process.env.TOKENS_PER_PASS ?? 2048);
if (mode === 'cpu') {
  await ensureGradientsRegistered();
  await tf.setBackend('cpu');
} else {
  await initBackend();
}
console.log(`backend ${tf.getBackend()}, batch ${batchSize}`);

const special = ['<pad>', '<s>', '</s>', '<unk>', '<mask>'];
const words = Array.from({ length: 295 }, (_, i) => `w${i}`);
const vocab = Object.fromEntries([...special, ...words].map((t, i) => [t, i]));
const tokenizer = LlmTokenizer.fromJson(
  {
    version: '1.0', truncation: null, padding: null,
    added_tokens: special.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null, pre_tokenizer: { type: 'Whitespace' },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '<unk>', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  },
  { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>' },
);
const rng = new Rng(1);
const sentence = (min, max) => Array.from({ length: rng.int(min, max) }, () => rng.pick(words)).join(' ');
const samples = Array.from({ length: 256 }, (_, i) => ({
  key: `s${i}`,
  image: { kind: 'raw', width: 1, height: 1, channels: 3, data: new Uint8Array(3) },
  captions: [sentence(8, 20), sentence(60, 189), sentence(8, 20), sentence(60, 189)],
  captionKinds: ['short', 'long', 'short', 'long'],
}));
const config = {
  model_type: 'llama', vocab_size: 300, hidden_size: 128, intermediate_size: 344, num_hidden_layers: 4,
  num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 256,
  tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0,
};

const clmModel = LlamaModel.create(config, new Rng(2));
const clmTimes = [];
await pretrainCausalLm({
  model: clmModel, tokenizer, texts: samples.flatMap((s) => s.captions), steps, batchSize, lr: 1e-3, maxLength: 192,
  metrics: { log: (r) => clmTimes.push(r.seconds) },
});
clmModel.dispose();
console.log(`clm step (batch ${batchSize} texts): ${clmTimes.map((t) => t.toFixed(2)).join(' ')} s`);

const model = LlamaModel.create(config, new Rng(2));
const times = [];
const result = await trainCaptionContrastive({
  model, tokenizer, samples, steps, batchSize, maxLength: 192, tokensPerPass,
  metrics: { log: (r) => times.push(`${r.seconds.toFixed(2)}s/${r.passes}p`) },
});
console.log(`stage-1 step (batch ${batchSize} triples = ${3 * batchSize} captions, tokensPerPass ${tokensPerPass}): ${times.join(' ')}`);
result.embedder.dispose();
