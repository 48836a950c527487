// `pnpm bench` for @llm2clip/caption-contrastive: training tokens/s of one stage-1 step on a
// ~100M-parameter Llama with LoRA at sequence 128, next to PyTorch running the same step
// (bench/torch_stage1_step.py, same shapes) on the same machine in the same run; prints the ratio.
//
// The TypeScript step is the trainer's: GradCache gradients (one pass here, as PyTorch's single
// tape), global-norm clip, AdamW on the LoRA weights. Env: BATCH (triples, default 2 → 6
// sequences), SEQ (128), STEPS (2 timed after 1 warm-up), THREADS (PyTorch thread counts, default "1",
// its best here per TOOLCHAIN.md; "1,2" tries both and takes the best), BACKEND (tensor backend; default the fastest available), SKIP_TORCH=1.
// Needs `pnpm build` first; PyTorch from Debian's python3-torch under /usr/bin/python3.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@llm2clip/core';
import { AdamW, clipGradNorm, disposeGradients, initBackend } from '@llm2clip/tensor';
import { LlamaModel, LlmEmbedder, LlmTokenizer, LoraAdapter } from '@llm2clip/llm';
import { captionContrastiveLoss, contrastiveGradients } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const batch = Number(process.env.BATCH ?? 2);
const seq = Number(process.env.SEQ ?? 128);
const steps = Number(process.env.STEPS ?? 2);
const threads = process.env.THREADS ?? '1';

// ~102M parameters: 12 layers × (q,o 768² + k,v 256·768 + 3·768·2560) + 16384·768 tied embeddings
const config = {
  model_type: 'llama', vocab_size: 16384, hidden_size: 768, intermediate_size: 2560, num_hidden_layers: 12,
  num_attention_heads: 12, num_key_value_heads: 4, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 512,
  tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0,
};
const lora = { r: 16, alpha: 32, dropout: 0.05 };

const backend = await initBackend({ backend: process.env.BACKEND, log: () => {} });
const params = config.num_hidden_layers * (4 * 768 * 768 - 2 * 768 * 512 + 3 * 768 * config.intermediate_size) + config.vocab_size * 768;
console.log(`stage-1 step: Llama ${(params / 1e6).toFixed(0)}M params (hidden 768, 12 layers, GQA 12/4), LoRA r ${lora.r} on q/k/v/o/gate/up/down, ${batch} triples = ${3 * batch} × ${seq} tokens; backend ${backend.name} (${backend.threads} threads)`);

// a tokenizer is only needed for padding: the inputs are random ids of exactly `seq` tokens
const tokenizer = LlmTokenizer.fromJson(
  {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 0, content: '<pad>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: { '<pad>': 0, '<s>': 1, '</s>': 2, a: 3 }, unk_token: '<pad>' },
  },
  { eos_token: '</s>', pad_token: '<pad>' },
);
const rng = new Rng(0);
const model = LlamaModel.create(config, rng.fork(1));
const adapter = LoraAdapter.attach(model, lora, rng.fork(2));
const embedder = new LlmEmbedder(model, tokenizer, { maxLength: seq });
const items = Array.from({ length: 3 * batch }, () => {
  const ids = Array.from({ length: seq }, () => rng.int(3, config.vocab_size - 1));
  return { ids, embedMask: new Array(seq).fill(1) };
});
const optimizer = new AdamW({ weightDecay: 0 });
const lossOf = (e) => {
  const [q, p, n] = tf.split(e, 3, 0);
  return captionContrastiveLoss(q, p, n, 50);
};
const step = () => {
  const { grads } = contrastiveGradients(adapter.parameters, embedder, items, lossOf, { tokensPerPass: 1e9, training: true, rng });
  clipGradNorm(grads, 1);
  optimizer.apply(adapter.parameters, grads, 2e-4);
  disposeGradients(grads);
};
step(); // warm-up
const times = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  step();
  times.push((performance.now() - t0) / 1000);
}
const tokens = 3 * batch * seq;
const ours = Math.min(...times);
console.log(`  llm2clip-ts: ${ours.toFixed(2)} s/step (runs ${times.map((t) => t.toFixed(2)).join(', ')}) = ${(tokens / ours).toFixed(0)} tokens/s`);
optimizer.dispose();
embedder.dispose();

if (process.env.SKIP_TORCH === '1') process.exit(0);
const torch = spawnSync(
  '/usr/bin/python3',
  [join(here, 'torch_stage1_step.py'), '--config', JSON.stringify(config), '--batch', String(batch), '--seq', String(seq), '--steps', String(steps), '--threads', threads, '--r', String(lora.r), '--alpha', String(lora.alpha)],
  { encoding: 'utf8' },
);
const records = (torch.stdout ?? '').split('\n').filter((l) => l.startsWith('@@bench ')).map((l) => JSON.parse(l.slice(8)));
if (torch.status !== 0 || records.length === 0) {
  console.log(`  PyTorch reference unavailable (${torch.error?.message ?? torch.stderr?.trim().split('\n').at(-1) ?? 'no output'}); install python3-torch for the ratio`);
  process.exit(0);
}
const best = records.reduce((a, b) => (b.seconds < a.seconds ? b : a));
for (const r of records) console.log(`  PyTorch ${r.torch}, ${r.threads} thread(s): ${r.seconds.toFixed(2)} s/step = ${r.tokensPerSecond.toFixed(0)} tokens/s`);
console.log(`  ratio (llm2clip-ts / best PyTorch, tokens/s): ${(best.seconds / ours).toFixed(2)}×  (${(ours / best.seconds).toFixed(2)}× PyTorch's step time)`);
