// The two training workloads of the benchmark, built only from @llm2clip/tensor's own nn ops
// (the tensor package cannot import @llm2clip/llm or @llm2clip/vision: dependencies point the
// other way). bench/torch_reference.py defines the same architectures with torch primitives,
// op for op, so both sides do the same FLOPs on the same shapes (bench/shapes.json).
//
// (a) ViT: CLIP-style vision tower — patchify + linear patch embedding (no bias, as CLIP's conv1),
//     class token, learned positions, ln_pre, pre-LN blocks (fused qkv, exact GELU MLP), ln_post
//     on the class token, a projection, and the CLIP loss against a fixed random text matrix with a
//     learnable logit scale. Every weight trains.
// (b) Llama + LoRA: token embedding, RMSNorm, RoPE, grouped-query bidirectional attention (no
//     mask), SwiGLU MLP, LoRA (PEFT scaling alpha/r) on q/k/v/o/gate/up/down with the base frozen,
//     final RMSNorm, mean pooling, and the symmetric contrastive loss against a fixed random
//     matrix at a fixed logit scale. Only the LoRA weights train.
import * as tf from '@tensorflow/tfjs-core';
import {
  ParameterStore,
  normalInit,
  zerosInit,
  onesInit,
  kaimingUniformInit,
  linear,
  layerNorm,
  rmsNorm,
  gelu,
  silu,
  splitHeads,
  mergeHeads,
  scaledDotProductAttention,
  clipContrastiveLoss,
} from '@llm2clip/tensor';

/**
 * Builds the ViT workload from a `shapes.json` `vit` entry. Weights and inputs come from `rng`
 * (the same seed gives the same model on every backend). Returns `{ params, loss, dispose }`:
 * the parameter store, a closure computing the loss over fixed inputs, and cleanup.
 */
export function buildVit(config, rng) {
  const { batch, imageSize, channels, patch, width, layers, embedDim, layerNormEps } = config;
  const grid = imageSize / patch;
  const tokens = grid * grid + 1;
  const params = new ParameterStore();
  const add = (name, tensor) => params.add(name, tensor);
  add('conv1.weight', normalInit(rng, [width, channels * patch * patch], 0.02));
  add('class_embedding', normalInit(rng, [width], 0.02));
  add('positional_embedding', normalInit(rng, [tokens, width], 0.01));
  add('ln_pre.weight', onesInit([width]));
  add('ln_pre.bias', zerosInit([width]));
  for (let i = 0; i < layers; i++) {
    const p = `blocks.${i}.`;
    add(`${p}ln_1.weight`, onesInit([width]));
    add(`${p}ln_1.bias`, zerosInit([width]));
    add(`${p}attn.in_proj_weight`, normalInit(rng, [3 * width, width], 0.02));
    add(`${p}attn.in_proj_bias`, zerosInit([3 * width]));
    add(`${p}attn.out_proj.weight`, normalInit(rng, [width, width], 0.02));
    add(`${p}attn.out_proj.bias`, zerosInit([width]));
    add(`${p}ln_2.weight`, onesInit([width]));
    add(`${p}ln_2.bias`, zerosInit([width]));
    add(`${p}mlp.c_fc.weight`, normalInit(rng, [config.mlp, width], 0.02));
    add(`${p}mlp.c_fc.bias`, zerosInit([config.mlp]));
    add(`${p}mlp.c_proj.weight`, normalInit(rng, [width, config.mlp], 0.02));
    add(`${p}mlp.c_proj.bias`, zerosInit([width]));
  }
  add('ln_post.weight', onesInit([width]));
  add('ln_post.bias', zerosInit([width]));
  add('proj', normalInit(rng, [embedDim, width], width ** -0.5));
  add('logit_scale', tf.scalar(Math.log(config.logitScale)));

  const images = tf.keep(normalInit(rng, [batch, channels, imageSize, imageSize], 1));
  const text = tf.keep(normalInit(rng, [batch, embedDim], 1));
  const w = (name) => params.get(name);

  const loss = () => {
    // patchify [B,C,H,W] -> [B, grid², C·p·p] in the order of a PyTorch conv weight [out, C, p, p]
    const patches = tf.reshape(
      tf.transpose(tf.reshape(images, [batch, channels, grid, patch, grid, patch]), [0, 2, 4, 1, 3, 5]),
      [batch, grid * grid, channels * patch * patch],
    );
    const embedded = linear(patches, w('conv1.weight'));
    const cls = tf.broadcastTo(tf.reshape(w('class_embedding'), [1, 1, width]), [batch, 1, width]);
    let x = tf.add(tf.concat([cls, embedded], 1), w('positional_embedding'));
    x = layerNorm(x, w('ln_pre.weight'), w('ln_pre.bias'), layerNormEps);
    for (let i = 0; i < layers; i++) {
      const p = `blocks.${i}.`;
      const h = layerNorm(x, w(`${p}ln_1.weight`), w(`${p}ln_1.bias`), layerNormEps);
      const [q, k, v] = tf.split(linear(h, w(`${p}attn.in_proj_weight`), w(`${p}attn.in_proj_bias`)), 3, 2);
      const attended = mergeHeads(scaledDotProductAttention(splitHeads(q, config.heads), splitHeads(k, config.heads), splitHeads(v, config.heads)));
      x = tf.add(x, linear(attended, w(`${p}attn.out_proj.weight`), w(`${p}attn.out_proj.bias`)));
      const m = layerNorm(x, w(`${p}ln_2.weight`), w(`${p}ln_2.bias`), layerNormEps);
      const hidden = gelu(linear(m, w(`${p}mlp.c_fc.weight`), w(`${p}mlp.c_fc.bias`)));
      x = tf.add(x, linear(hidden, w(`${p}mlp.c_proj.weight`), w(`${p}mlp.c_proj.bias`)));
    }
    const pooled = layerNorm(tf.reshape(tf.slice(x, [0, 0, 0], [batch, 1, width]), [batch, width]), w('ln_post.weight'), w('ln_post.bias'), layerNormEps);
    const imageEmbeddings = linear(pooled, w('proj'));
    return clipContrastiveLoss(imageEmbeddings, text, tf.exp(w('logit_scale')));
  };
  return {
    params,
    loss,
    dispose: () => {
      params.dispose();
      tf.dispose([images, text]);
    },
  };
}

/** `[batch, heads, seq, headDim]` rotated by RoPE as Hugging Face Llama does (`rotate_half`). */
function applyRope(x, cos, sin) {
  const half = x.shape[3] / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

/** RoPE tables `[seq, headDim]` (frequencies repeated for both halves, as Hugging Face builds them). */
function ropeTables(seq, headDim, theta) {
  const cos = new Float32Array(seq * headDim);
  const sin = new Float32Array(seq * headDim);
  for (let pos = 0; pos < seq; pos++) {
    for (let i = 0; i < headDim / 2; i++) {
      const angle = pos / theta ** ((2 * i) / headDim);
      for (const j of [i, i + headDim / 2]) {
        cos[pos * headDim + j] = Math.cos(angle);
        sin[pos * headDim + j] = Math.sin(angle);
      }
    }
  }
  return { cos: tf.tensor2d(cos, [seq, headDim]), sin: tf.tensor2d(sin, [seq, headDim]) };
}

/**
 * Builds the Llama + LoRA workload from a `shapes.json` `llama` entry: frozen base weights,
 * trainable PEFT-style LoRA A (Kaiming-uniform) and B (zeros) matrices.
 */
export function buildLlamaLora(config, rng) {
  const { batch, seq, vocab, hidden, layers, heads, kvHeads, intermediate, rmsNormEps, loraRank, loraAlpha } = config;
  const headDim = hidden / heads;
  const kvWidth = kvHeads * headDim;
  const scaling = loraAlpha / loraRank;
  const targets = new Set(config.loraTargets);
  const params = new ParameterStore();
  const frozen = (name, tensor) => params.add(name, tensor, false);
  const shapes = { q_proj: [hidden, hidden], k_proj: [kvWidth, hidden], v_proj: [kvWidth, hidden], o_proj: [hidden, hidden], gate_proj: [intermediate, hidden], up_proj: [intermediate, hidden], down_proj: [hidden, intermediate] };
  frozen('model.embed_tokens.weight', normalInit(rng, [vocab, hidden], 0.02));
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}.`;
    frozen(`${p}input_layernorm.weight`, onesInit([hidden]));
    frozen(`${p}post_attention_layernorm.weight`, onesInit([hidden]));
    for (const [module, [out, inFeatures]] of Object.entries(shapes)) {
      const block = ['gate_proj', 'up_proj', 'down_proj'].includes(module) ? 'mlp' : 'self_attn';
      const base = `${p}${block}.${module}`;
      frozen(`${base}.weight`, normalInit(rng, [out, inFeatures], 0.02));
      if (targets.has(module)) {
        params.add(`${base}.lora_A.weight`, kaimingUniformInit(rng, [loraRank, inFeatures], inFeatures));
        params.add(`${base}.lora_B.weight`, zerosInit([out, loraRank]));
      }
    }
  }
  frozen('model.norm.weight', onesInit([hidden]));

  const ids = tf.keep(tf.tensor2d(Int32Array.from({ length: batch * seq }, () => rng.int(0, vocab - 1)), [batch, seq], 'int32'));
  const text = tf.keep(normalInit(rng, [batch, hidden], 1));
  const { cos, sin } = ropeTables(seq, headDim, config.ropeTheta);
  tf.keep(cos);
  tf.keep(sin);
  const logitScale = tf.keep(tf.scalar(config.logitScale));
  const w = (name) => params.get(name);
  const project = (x, base) => {
    const y = linear(x, w(`${base}.weight`));
    if (!params.has(`${base}.lora_A.weight`)) return y;
    return tf.add(y, tf.mul(linear(linear(x, w(`${base}.lora_A.weight`)), w(`${base}.lora_B.weight`)), scaling));
  };

  const loss = () => {
    let x = tf.gather(w('model.embed_tokens.weight'), ids);
    for (let i = 0; i < layers; i++) {
      const p = `model.layers.${i}.`;
      const h = rmsNorm(x, w(`${p}input_layernorm.weight`), rmsNormEps);
      const q = applyRope(splitHeads(project(h, `${p}self_attn.q_proj`), heads), cos, sin);
      const k = applyRope(splitHeads(project(h, `${p}self_attn.k_proj`), kvHeads), cos, sin);
      const v = splitHeads(project(h, `${p}self_attn.v_proj`), kvHeads);
      // bidirectional: no causal mask, and no padding in the batch, so no bias at all
      x = tf.add(x, project(mergeHeads(scaledDotProductAttention(q, k, v)), `${p}self_attn.o_proj`));
      const m = rmsNorm(x, w(`${p}post_attention_layernorm.weight`), rmsNormEps);
      const gated = tf.mul(silu(project(m, `${p}mlp.gate_proj`)), project(m, `${p}mlp.up_proj`));
      x = tf.add(x, project(gated, `${p}mlp.down_proj`));
    }
    const pooled = tf.mean(rmsNorm(x, w('model.norm.weight'), rmsNormEps), 1);
    return clipContrastiveLoss(pooled, text, logitScale);
  };
  return {
    params,
    loss,
    dispose: () => {
      params.dispose();
      tf.dispose([ids, text, cos, sin, logitScale]);
    },
  };
}

/**
 * Matrix-product FLOPs of one training step (forward + backward), counting 2 per multiply-add.
 * Elementwise work is left out, so this is a lower bound used for "achieved GFLOPS".
 */
export function stepFlops(kind, config) {
  if (kind === 'vit') {
    const { batch, imageSize, channels, patch, width, layers, mlp, embedDim } = config;
    const patches = (imageSize / patch) ** 2;
    const tokens = batch * (patches + 1);
    const perLayer = 2 * tokens * width * (3 * width + width + 2 * mlp) + 4 * batch * (patches + 1) ** 2 * width;
    const forward = 2 * batch * patches * channels * patch * patch * width + layers * perLayer + 2 * batch * width * embedDim;
    // backward: input gradients + weight gradients, each about one forward (the image needs none)
    return 3 * forward - 2 * batch * patches * channels * patch * patch * width;
  }
  const { batch, seq, hidden, layers, heads, kvHeads, intermediate, loraRank } = config;
  const tokens = batch * seq;
  const kvWidth = (hidden / heads) * kvHeads;
  const base = 2 * tokens * hidden * (2 * hidden + 2 * kvWidth + 3 * intermediate);
  const attention = 4 * batch * seq * seq * hidden;
  const lora = 2 * tokens * loraRank * (hidden * 6 + kvWidth * 2 + 3 * (hidden + intermediate));
  // frozen base: backward needs input gradients only (one forward's worth); attention and LoRA
  // need both input and weight/operand gradients (two)
  return layers * (2 * base + 3 * attention + 3 * lora);
}
