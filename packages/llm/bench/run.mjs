// `pnpm bench` for @llm2clip/llm (needs `pnpm build` first; PyTorch from Debian's python3-torch
// under /usr/bin/python3 for the reference). Two measurements on one generated ~110M-parameter
// Llama (hidden 768, 12 layers, vocab 32000, tied embeddings) saved as BF16 safetensors:
//
// 1. load memory: peak RSS growth of a fresh process loading the model with the streamed loader
//    (LlamaModel.fromPretrained) vs the final float32 size, next to the naive whole-file path
//    (readFile + @llm2clip/tensor parseSafetensors + LlamaModel.fromWeights) in the same run;
// 2. throughput: captions/s of LlmEmbedder-style bidirectional forward + mean pooling at sequence
//    SEQ (64), next to PyTorch on the same weights (bench/torch_embed.py), printing the ratio.
//
// Env: CAPTIONS (32), SEQ (64), BATCH (16), THREADS (PyTorch thread counts, "1,2"; best taken),
// BACKEND (tensor backend; default the fastest available), SKIP_TORCH=1, KEEP=1 (keep the model dir).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const child = process.argv[2];

const CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 32000, hidden_size: 768, intermediate_size: 2048,
  num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12, rms_norm_eps: 1e-5, rope_theta: 10000,
  max_position_embeddings: 512, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
};

async function tf() {
  const { initBackend } = await import('@llm2clip/tensor');
  return initBackend({ backend: process.env.BACKEND, log: () => {} });
}

if (child === '--load') {
  // child process: one load, report RSS growth
  const [, , , dir, mode] = process.argv;
  const { LlamaModel } = await import('../dist/index.js');
  const { parseSafetensors } = await import('@llm2clip/tensor');
  await tf();
  const { readFile } = await import('node:fs/promises');
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  const start = performance.now();
  let model;
  if (mode === 'streamed') model = await LlamaModel.fromPretrained(dir);
  else {
    // the naive path: the whole file in memory, then decoded
    const tensors = parseSafetensors(await readFile(join(dir, 'model.safetensors')), dir).tensors;
    model = LlamaModel.fromWeights(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')), tensors, dir);
  }
  const seconds = (performance.now() - start) / 1000;
  const finalBytes = model.parameters.entries().reduce((sum, [, v]) => sum + v.size * 4, 0);
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ mode, baseline, peak, finalBytes, seconds }));
  process.exit(0);
}

const { Rng } = await import('@llm2clip/core');
const { LlamaModel, writeSafetensorsModel, poolHiddenStates } = await import('../dist/index.js');
const tfjs = await import('@tensorflow/tfjs-core');
const backend = await tf();
const captions = Number(process.env.CAPTIONS ?? 32);
const seq = Number(process.env.SEQ ?? 64);
const batch = Number(process.env.BATCH ?? 16);
const params = 12 * (4 * 768 * 768 + 3 * 768 * 2048 + 2 * 768) + 32000 * 768 + 768;
console.log(`@llm2clip/llm bench: Llama ${(params / 1e6).toFixed(1)}M params (hidden 768, 12 layers, vocab 32000, tied), BF16 safetensors; backend ${backend.name} (${backend.threads} threads)`);
console.log('(timings on a shared machine are noisy; compare the ratios, not the absolute numbers)');

const dir = await mkdtemp(join(tmpdir(), 'llm-bench-'));
try {
  // write the model tensor by tensor (random normal, std 0.02; norms 1) without building it in tfjs
  const rng = new Rng(0);
  const { llamaParameterShapes, parseLlamaConfig } = await import('../dist/index.js');
  const shapes = llamaParameterShapes(parseLlamaConfig(CONFIG));
  const tensors = [...shapes].map(([name, shape]) => ({
    name,
    shape,
    values: () => (name.endsWith('norm.weight') ? new Float32Array(shape[0]).fill(1) : rng.normalArray(shape.reduce((a, b) => a * b, 1), 0.02)),
  }));
  await writeSafetensorsModel(dir, tensors, { dtype: 'BF16', maxShardBytes: 1e12 });
  const { writeJsonAtomic } = await import('@llm2clip/core');
  await writeJsonAtomic(join(dir, 'config.json'), { ...CONFIG, torch_dtype: 'bfloat16' });
  const fileBytes = (await stat(join(dir, 'model.safetensors'))).size;

  // 1. load memory, each in a fresh process
  const mib = (b) => (b / 2 ** 20).toFixed(0);
  const results = {};
  for (const mode of ['streamed', 'whole-file']) {
    const run = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--load', dir, mode], { encoding: 'utf8', env: process.env, maxBuffer: 1 << 20 });
    if (run.status !== 0) throw new Error(`load child failed: ${run.stderr}`);
    results[mode] = JSON.parse(run.stdout.trim().split('\n').at(-1));
  }
  const growth = (r) => r.peak - r.baseline;
  const s = results.streamed;
  const w = results['whole-file'];
  console.log(`load: file ${mib(fileBytes)} MiB (BF16), final float32 ${mib(s.finalBytes)} MiB`);
  console.log(`  streamed (LlamaModel.fromPretrained):  peak RSS growth ${mib(growth(s))} MiB = ${(growth(s) / s.finalBytes).toFixed(2)}× final size, ${s.seconds.toFixed(2)} s`);
  console.log(`  whole file (readFile+parseSafetensors)   : peak RSS growth ${mib(growth(w))} MiB = ${(growth(w) / w.finalBytes).toFixed(2)}× final size, ${w.seconds.toFixed(2)} s`);
  console.log(`  ratio streamed / whole-file peak growth: ${(growth(s) / growth(w)).toFixed(2)}`);

  // 2. throughput: bidirectional forward + mean pooling over full-length sequences
  const model = await LlamaModel.fromPretrained(dir);
  const ids = new Int32Array(captions * seq);
  for (let i = 0; i < ids.length; i++) ids[i] = 3 + rng.int(0, 31990);
  const embedBatch = (start) => tfjs.tidy(() => {
    const rows = Math.min(batch, captions - start);
    const inputIds = tfjs.tensor2d(ids.subarray(start * seq, (start + rows) * seq), [rows, seq], 'int32');
    const mask = tfjs.ones([rows, seq], 'int32');
    const hidden = model.forward(inputIds, mask, { bidirectional: true });
    return poolHiddenStates(hidden, mask, mask, 'mean');
  });
  const warm = embedBatch(0);
  await warm.data();
  warm.dispose();
  const start = performance.now();
  for (let i = 0; i < captions; i += batch) {
    const pooled = embedBatch(i);
    await pooled.data();
    pooled.dispose();
  }
  const tsSeconds = (performance.now() - start) / 1000;
  const tsRate = captions / tsSeconds;
  console.log(`embed: ${captions} captions × ${seq} tokens, batch ${batch}`);
  console.log(`  TypeScript (${backend.name}): ${tsRate.toFixed(2)} captions/s (${tsSeconds.toFixed(2)} s)`);
  model.dispose();
  const summary = {
    format: 'llm2clip.bench', version: 1, package: '@llm2clip/llm', backend: backend.name, params,
    load: { fileBytes, finalBytes: s.finalBytes, streamedPeakGrowth: growth(s), wholeFilePeakGrowth: growth(w), streamedSeconds: s.seconds, wholeFileSeconds: w.seconds },
    embed: { captions, seq, batch, captionsPerSecond: tsRate, torch: null },
  };
  if (process.env.SKIP_TORCH !== '1') {
    const torch = spawnSync('/usr/bin/python3', [join(here, 'torch_embed.py'), dir, String(captions), String(seq), String(batch), process.env.THREADS ?? '1,2'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (torch.status !== 0) {
      console.log(`  PyTorch: not run (${(torch.stderr || torch.error?.message || '').trim().split('\n').at(-1)})`);
    } else {
      const runs = torch.stdout.trim().split('\n').map((line) => JSON.parse(line));
      for (const r of runs) console.log(`  PyTorch ${r.threads} thread(s): ${r.captions_per_s.toFixed(2)} captions/s (${r.seconds.toFixed(2)} s)`);
      const best = Math.max(...runs.map((r) => r.captions_per_s));
      console.log(`  ratio TypeScript / best PyTorch: ${(tsRate / best).toFixed(2)}`);
      summary.embed.torch = { runs, best, ratio: tsRate / best };
    }
  }
  await writeFile(join(here, 'results.json'), `${JSON.stringify(summary, null, 2)}\n`);
} finally {
  if (process.env.KEEP !== '1') await rm(dir, { recursive: true, force: true });
  else console.log(`model kept in ${dir}`);
}
