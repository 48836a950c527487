#!/usr/bin/env python3
"""Writes the parity fixtures of @llm2clip/llm with PyTorch primitives only.

For each tiny random decoder (Llama 3.x with llama3 rope scaling and tied embeddings in BF16,
Llama 2 with linear rope scaling in F32, Mistral with a sliding window shorter than the sequence
and an explicit head_dim in F16, Qwen2 with q/k/v biases and tied embeddings in F32) this writes,
under test/fixtures/parity/<name>/:

  config.json, model.safetensors     the model, exactly as `transformers` saves a *ForCausalLM
  adapter/adapter_config.json,       a PEFT LoRA adapter (all seven Linear modules, r=4)
  adapter/adapter_model.safetensors
  reference.safetensors              inputs and reference outputs (names below)
  reference.json                     what the inputs and outputs are

Reference tensors (float32 unless said), for mode in {causal, bidirectional} and variant in
{base, lora} (lora = the adapter applied, W + (lora_alpha/r)·B·A):
  input_ids, attention_mask, position_ids, embed_mask   [batch, seq] int64
  {mode}.{variant}.last_hidden_state                     [batch, seq, hidden]  (after the final norm)
  {mode}.{variant}.logits                                [batch, seq, vocab]
  {mode}.{variant}.pooled.{mean|weighted_mean|eos|bos}   [batch, hidden]

The forward pass is written out with torch ops exactly as `transformers` computes Llama/Mistral/
Qwen2 in float32 (eager attention), with explicit position_ids = cumsum(attention_mask) - 1
(padding 1) and LLM2Vec's bidirectional mode (padding-only mask, no sliding window). Only rows
where attention_mask == 1 are meaningful in last_hidden_state/logits.

usage: /usr/bin/python3 scripts/make_parity_fixtures.py [outDir]
"""
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, "..", "test", "fixtures", "parity")

DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32"}
TORCH_DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def tensor_bytes(t):
    t = t.contiguous().cpu()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the 16-bit patterns
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    """safetensors as the reference implementation writes it: u64 header length, JSON header
    (keys sorted, data_offsets into the data section) padded with spaces to 8 bytes, raw LE data."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata is not None:
        header = {"__metadata__": metadata, **header}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------- model, as transformers computes it

def head_dim_of(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def inverse_frequencies(cfg):
    dim = head_dim_of(cfg)
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = cfg.get("rope_scaling")
    if not scaling:
        return inv_freq
    kind = scaling.get("rope_type", scaling.get("type"))
    factor = scaling["factor"]
    if kind == "linear":
        return inv_freq / factor
    assert kind == "llama3"
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv_freq
    llama = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * llama / factor + smooth * llama
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, llama)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def attention_mask_4d(mask, causal, sliding_window):
    """Additive mask [batch, 1, q, k]: 0 where allowed, finfo.min where not (eager attention)."""
    batch, seq = mask.shape
    allowed = mask[:, None, None, :].bool().expand(batch, 1, seq, seq)
    q = torch.arange(seq)[:, None]
    k = torch.arange(seq)[None, :]
    if causal:
        allowed = allowed & (k <= q)
        if sliding_window is not None:
            allowed = allowed & (k > q - sliding_window)
    out = torch.zeros(batch, 1, seq, seq)
    return out.masked_fill(~allowed, torch.finfo(torch.float32).min)


def forward(cfg, w, input_ids, mask, position_ids, causal):
    hidden = w["model.embed_tokens.weight"][input_ids]
    batch, seq, _ = hidden.shape
    heads, kv_heads, dim = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"], head_dim_of(cfg)
    inv_freq = inverse_frequencies(cfg)
    freqs = position_ids[:, :, None].float() * inv_freq[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    window = None
    if cfg["model_type"] == "mistral" or (cfg["model_type"] == "qwen2" and cfg.get("use_sliding_window")):
        window = cfg.get("sliding_window")
    bias = attention_mask_4d(mask, causal, window)
    eps = cfg["rms_norm_eps"]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        normed = rms_norm(hidden, w[p + "input_layernorm.weight"], eps)
        q = linear(normed, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias"))
        k = linear(normed, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias"))
        v = linear(normed, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias"))
        q = q.view(batch, seq, heads, dim).transpose(1, 2)
        k = k.view(batch, seq, kv_heads, dim).transpose(1, 2)
        v = v.view(batch, seq, kv_heads, dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        groups = heads // kv_heads
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(dim) + bias
        probs = torch.softmax(scores.float(), dim=-1)
        attended = (probs @ v).transpose(1, 2).reshape(batch, seq, heads * dim)
        hidden = hidden + linear(attended, w[p + "self_attn.o_proj.weight"], w.get(p + "self_attn.o_proj.bias"))
        normed = rms_norm(hidden, w[p + "post_attention_layernorm.weight"], eps)
        gate = torch.nn.functional.silu(linear(normed, w[p + "mlp.gate_proj.weight"]))
        hidden = hidden + linear(gate * linear(normed, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
    return rms_norm(hidden, w["model.norm.weight"], eps)


def pool(hidden, attention_mask, embed_mask, mode):
    """LLM2Vec's pooling with skip_instruction (embed_mask marks the pooled, trailing tokens)."""
    batch, seq, _ = hidden.shape
    weights = torch.zeros(batch, seq)
    for i in range(batch):
        if mode in ("mean", "weighted_mean"):
            n = int(embed_mask[i].sum())
            weights[i, seq - n:] = 1.0 if mode == "mean" else torch.arange(n).float() + 1
        elif mode == "eos":
            weights[i, int(torch.nonzero(attention_mask[i])[-1])] = 1.0
        else:
            weights[i, int(torch.nonzero(attention_mask[i])[0])] = 1.0
        weights[i] /= torch.clamp(weights[i].sum(), min=1e-9)
    return (hidden * weights[:, :, None]).sum(1)


# ---------------------------------------------------------------- fixtures

MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def parameter_shapes(cfg):
    hidden, inter, dim = cfg["hidden_size"], cfg["intermediate_size"], head_dim_of(cfg)
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    shapes = {"model.embed_tokens.weight": (cfg["vocab_size"], hidden)}
    out_in = {
        "q_proj": (heads * dim, hidden), "k_proj": (kv_heads * dim, hidden), "v_proj": (kv_heads * dim, hidden),
        "o_proj": (hidden, heads * dim), "gate_proj": (inter, hidden), "up_proj": (inter, hidden), "down_proj": (hidden, inter),
    }
    for layer in range(cfg["num_hidden_layers"]):
        for m in MODULES:
            parent = "mlp" if m in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            name = f"model.layers.{layer}.{parent}.{m}"
            shapes[name + ".weight"] = out_in[m]
            if (m in ("q_proj", "k_proj", "v_proj") and qkv_bias) or (m == "o_proj" and o_bias):
                shapes[name + ".bias"] = (out_in[m][0],)
        shapes[f"model.layers.{layer}.input_layernorm.weight"] = (hidden,)
        shapes[f"model.layers.{layer}.post_attention_layernorm.weight"] = (hidden,)
    shapes["model.norm.weight"] = (hidden,)
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (cfg["vocab_size"], hidden)
    return shapes


def random_weights(cfg, gen, dtype):
    weights = {}
    for name, shape in parameter_shapes(cfg).items():
        if name.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.15 * torch.randn(shape, generator=gen)
        # stored in the checkpoint dtype; the reference computes with exactly those values in float32
        weights[name] = t.to(dtype)
    return weights


def lora_weights(cfg, gen, r):
    shapes = parameter_shapes(cfg)
    adapter = {}
    for layer in range(cfg["num_hidden_layers"]):
        for m in MODULES:
            parent = "mlp" if m in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            name = f"model.layers.{layer}.{parent}.{m}"
            out, inp = shapes[name + ".weight"]
            adapter[f"base_model.model.{name}.lora_A.weight"] = 0.2 * torch.randn((r, inp), generator=gen)
            adapter[f"base_model.model.{name}.lora_B.weight"] = 0.2 * torch.randn((out, r), generator=gen)
    return adapter


def merged_with_lora(cfg, weights, adapter, r, alpha):
    merged = dict(weights)
    for name in list(weights):
        a = adapter.get(f"base_model.model.{name[:-len('.weight')]}.lora_A.weight") if name.endswith(".weight") else None
        if a is not None:
            b = adapter[f"base_model.model.{name[:-len('.weight')]}.lora_B.weight"]
            merged[name] = weights[name] + (alpha / r) * (b @ a)
    return merged


def make_inputs(cfg, gen, lengths, seq, instruction_lengths):
    """Left-padded batch (pad = eos, as LLM2Vec pads); row i starts with BOS; embed_mask marks
    the trailing tokens after BOS and after the instruction, as LLM2Vec's tokenize() does."""
    batch = len(lengths)
    pad = cfg["eos_token_id"]
    ids = torch.full((batch, seq), pad, dtype=torch.int64)
    mask = torch.zeros(batch, seq, dtype=torch.int64)
    embed = torch.zeros(batch, seq, dtype=torch.int64)
    for i, n in enumerate(lengths):
        body = torch.randint(3, cfg["vocab_size"], (n - 1,), generator=gen)
        ids[i, seq - n] = cfg["bos_token_id"]
        ids[i, seq - n + 1:] = body
        mask[i, seq - n:] = 1
        pooled = n - 1 - instruction_lengths[i]
        embed[i, seq - pooled:] = 1
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    return ids, mask, positions, embed


def base_config(model_type, **fields):
    arch = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}[model_type]
    cfg = {
        "architectures": [arch],
        "model_type": model_type,
        "vocab_size": 128,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 256,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "tie_word_embeddings": False,
        "use_cache": True,
        "transformers_version": "4.46.0",
    }
    cfg.update(fields)
    return cfg


FIXTURES = [
    ("llama3", torch.bfloat16, base_config(
        "llama", attention_bias=False, mlp_bias=False, pretraining_tp=1, tie_word_embeddings=True, rope_theta=500000.0,
        rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64, "rope_type": "llama3"},
        head_dim=16, eos_token_id=[2, 3])),
    ("llama2-linear", torch.float32, base_config(
        "llama", num_key_value_heads=4, hidden_size=48, intermediate_size=96, attention_bias=False, mlp_bias=False, pretraining_tp=1,
        rope_scaling={"type": "linear", "factor": 2.0})),
    ("mistral", torch.float16, base_config(
        "mistral", hidden_size=48, head_dim=16, sliding_window=4, rms_norm_eps=1e-6)),
    ("qwen2", torch.float32, base_config(
        "qwen2", tie_word_embeddings=True, rope_theta=1000000.0, use_sliding_window=False, sliding_window=4096, max_window_layers=2,
        rms_norm_eps=1e-6)),
]

POOLINGS = ["mean", "weighted_mean", "eos", "bos"]


def main():
    torch.manual_seed(0)
    for index, (name, dtype, cfg) in enumerate(FIXTURES):
        gen = torch.Generator().manual_seed(1000 + index)
        directory = os.path.join(OUT, name)
        os.makedirs(os.path.join(directory, "adapter"), exist_ok=True)
        cfg = dict(cfg, torch_dtype=TORCH_DTYPE_NAMES[dtype])
        eos = cfg["eos_token_id"]
        pad_source = eos[0] if isinstance(eos, list) else eos
        weights = random_weights(cfg, gen, dtype)
        write_safetensors(os.path.join(directory, "model.safetensors"), weights, {"format": "pt"})
        write_json(os.path.join(directory, "config.json"), cfg)

        r, alpha = 4, 8
        adapter = lora_weights(cfg, gen, r)
        write_safetensors(os.path.join(directory, "adapter", "adapter_model.safetensors"), adapter, {"format": "pt"})
        write_json(os.path.join(directory, "adapter", "adapter_config.json"), {
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": f"../{name}", "revision": None,
            "r": r, "lora_alpha": alpha, "lora_dropout": 0.0, "target_modules": MODULES, "bias": "none",
            "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "modules_to_save": None,
            "layers_to_transform": None, "layers_pattern": None, "rank_pattern": {}, "alpha_pattern": {},
            "use_rslora": False, "use_dora": False,
        })

        compute_cfg = dict(cfg, eos_token_id=pad_source)
        seq = 9
        lengths = [9, 6, 4]
        instruction_lengths = [3, 0, 0]
        ids, mask, positions, embed = make_inputs(compute_cfg, gen, lengths, seq, instruction_lengths)
        reference = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "embed_mask": embed}
        f32 = {k: v.float() for k, v in weights.items()}
        variants = {"base": f32, "lora": merged_with_lora(cfg, f32, adapter, r, alpha)}
        lm_head = "model.embed_tokens.weight" if cfg["tie_word_embeddings"] else "lm_head.weight"
        with torch.no_grad():
            for mode in ("causal", "bidirectional"):
                for variant, w in variants.items():
                    hidden = forward(compute_cfg, w, ids, mask, positions, causal=(mode == "causal"))
                    reference[f"{mode}.{variant}.last_hidden_state"] = hidden.contiguous()
                    reference[f"{mode}.{variant}.logits"] = linear(hidden, w[lm_head]).contiguous()
                    for p in POOLINGS:
                        reference[f"{mode}.{variant}.pooled.{p}"] = pool(hidden, mask, embed, p).contiguous()
        write_safetensors(os.path.join(directory, "reference.safetensors"), reference, {"format": "pt"})
        write_json(os.path.join(directory, "reference.json"), {
            "format": "llm2clip.parity-reference",
            "version": 1,
            "generator": "packages/llm/scripts/make_parity_fixtures.py (PyTorch %s)" % torch.__version__,
            "model": {"path": ".", "dtype": TORCH_DTYPE_NAMES[dtype], "architectures": cfg["architectures"]},
            "adapter": {"path": "adapter", "r": r, "lora_alpha": alpha, "target_modules": MODULES},
            "inputs": {
                "input_ids": ids.tolist(),
                "attention_mask": mask.tolist(),
                "position_ids": positions.tolist(),
                "embed_mask": embed.tolist(),
                "padding_side": "left",
                "pad_token_id": pad_source,
                "note": "position_ids are passed explicitly (cumsum(attention_mask) - 1, padding 1); "
                        "embed_mask marks the pooled tokens (LLM2Vec skip_instruction: BOS and instruction excluded); "
                        "pad_token_id is the (first) eos id, as LLM2Vec pads",
            },
            "modes": {
                "causal": "standard causal attention with padding mask" + (", sliding window %d" % cfg["sliding_window"] if cfg["model_type"] == "mistral" else ""),
                "bidirectional": "LLM2Vec bi-model: every query attends to every non-padding key; no sliding window",
            },
            "how_to_check_with_transformers": (
                "AutoModel.from_pretrained(dir, torch_dtype=torch.float32, attn_implementation='eager') (transformers >= 4.45 for "
                "Mistral head_dim), PeftModel.from_pretrained(model, dir + '/adapter') for the lora variant; call with input_ids, "
                "position_ids and, causal: attention_mask; bidirectional: a 4-D float mask [batch, 1, seq, seq] that is 0 where "
                "attention_mask[b, key] == 1 and finfo.min elsewhere (or LLM2Vec's *BiModel); compare rows with attention_mask 1; "
                "logits = AutoModelForCausalLM"
            ),
            "variants": {"base": "the base model", "lora": "base + adapter (PEFT LoRA, scale lora_alpha/r), unmerged or merged"},
            "poolings": POOLINGS,
            "tensors": {
                "{mode}.{variant}.last_hidden_state": "[batch, seq, hidden] final-norm hidden states (rows with attention_mask 0 are not meaningful)",
                "{mode}.{variant}.logits": "[batch, seq, vocab] lm_head(last_hidden_state)",
                "{mode}.{variant}.pooled.{pooling}": "[batch, hidden] LLM2Vec pooling with embed_mask",
            },
            "tolerance": {"relative": 1e-4},
        })
        print("wrote", directory)


if __name__ == "__main__":
    main()
