#!/usr/bin/env python3
"""Reference fixtures made by the real Python stack (transformers, peft, timm, Pillow).

The TypeScript packages are tested against fixtures produced by torch-primitive scripts
(`packages/*/scripts/make_parity_fixtures.py`) that run on Debian's python3-torch. This script
is the independent cross-check: it builds tiny random models with Hugging Face `transformers`,
`peft` and `timm` themselves, saves them with their own `save_pretrained` (so the files are
exactly what those libraries write), runs them, and writes the outputs beside the weights.
It needs a machine with those libraries (not CI); its output is committed under
`fixtures/hf-reference/` and read by the packages' tests.

Usage: python3 hf_reference.py OUT_DIR [--check DIR ...]
  --check DIR  also load a fixture directory written by a torch-primitive script (it holds
               `reference.json`) with transformers/peft/timm and record their outputs for it.
"""
from __future__ import annotations

import json
import math
import zlib
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import torch

torch.set_grad_enabled(False)
torch.use_deterministic_algorithms(True, warn_only=True)

RESULTS: dict[str, str] = {}


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().float().cpu() for k, v in tensors.items()}, str(path),
              metadata={"format": "pt"})


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def randomize_(model: torch.nn.Module, seed: int) -> None:
    """Gives every parameter non-trivial values so a wrong formula cannot hide behind init."""
    g = torch.Generator().manual_seed(seed)
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        if p.ndim == 0:
            continue
        if p.ndim == 1 and ("norm" in name or "ln" in name or name.endswith("layernorm.weight")):
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
        elif p.ndim == 1:
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
        elif "embed" in name and "patch" not in name and "position" not in name:
            p.copy_(torch.randn(p.shape, generator=g))
        else:
            fan_in = p[0].numel() if p.ndim > 1 else p.numel()
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(max(1, fan_in)))


# ---------------------------------------------------------------------------------------------
# LLMs
# ---------------------------------------------------------------------------------------------

PAD = 2  # pad = eos, as LLM2Vec pads


def llm_inputs(vocab: int, seq: int = 12):
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(3, vocab, (3, seq), generator=g)
    mask = torch.ones(3, seq, dtype=torch.long)
    ids[1, :3] = PAD  # left padding, LLM2Vec style
    mask[1, :3] = 0
    ids[2, :5] = PAD
    mask[2, :5] = 0
    ids[:, -1] = PAD  # every sequence ends with eos (= pad id), as LLM2Vec appends it
    return ids, mask


def additive_mask(mask: torch.Tensor, causal: bool) -> torch.Tensor:
    b, n = mask.shape
    allowed = mask[:, None, None, :].bool().expand(b, 1, n, n)
    if causal:
        allowed = allowed & torch.tril(torch.ones(n, n, dtype=torch.bool))[None, None]
    out = torch.zeros(b, 1, n, n)
    out.masked_fill_(~allowed, torch.finfo(torch.float32).min)
    return out


def causal_lm(model):
    """The *ForCausalLM module (PeftModel wraps it; LoRA layers are injected in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def run_llm(model, ids, mask, mode: str):
    lm = causal_lm(model)
    am = mask if mode == "causal" else additive_mask(mask, causal=False)
    hidden = lm.model(input_ids=ids, attention_mask=am).last_hidden_state
    m = mask[..., None].float()
    mean = (hidden * m).sum(1) / m.sum(1)
    return {"hidden": hidden, "logits": lm.lm_head(hidden), "mean_pooled": mean}


def make_llm(out_root: Path, name: str, arch: str, cfg: dict, *, dtype=torch.float32,
             shard: str | None = None, with_lora: bool = False) -> None:
    import transformers
    from transformers import AutoModelForCausalLM

    d = out_root / name
    d.mkdir(parents=True, exist_ok=True)
    config_cls = getattr(transformers, {"llama": "LlamaConfig", "mistral": "MistralConfig",
                                        "qwen2": "Qwen2Config"}[arch])
    model_cls = getattr(transformers, {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                                       "qwen2": "Qwen2ForCausalLM"}[arch])
    hub_config = dict(cfg)
    kwargs = {k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "torch_dtype")}
    config = config_cls(**kwargs)
    config._attn_implementation = "eager"
    model = model_cls(config).eval()
    randomize_(model, seed=zlib.crc32(name.encode()) % 1000)
    save_kwargs = {"safe_serialization": True}
    if shard:
        save_kwargs["max_shard_size"] = shard
    model.to(dtype).save_pretrained(str(d), **save_kwargs)
    # The hub's config.json files are in the classic layout (rope_theta/rope_scaling at the top);
    # write that form, then load it back through transformers so the outputs come from what it read.
    hub_config["torch_dtype"] = {torch.float32: "float32", torch.bfloat16: "bfloat16",
                                 torch.float16: "float16"}[dtype]
    write_json(d / "config.json", hub_config)
    loaded = AutoModelForCausalLM.from_pretrained(str(d), torch_dtype=torch.float32,
                                                  attn_implementation="eager").eval()
    ids, mask = llm_inputs(cfg["vocab_size"])
    tensors = {"input_ids": ids.float(), "attention_mask": mask.float()}
    # the 4-D mask path must reproduce the library's own causal mask, or bidirectional means nothing
    own = loaded.model(input_ids=ids, attention_mask=mask).last_hidden_state
    via4d = loaded.model(input_ids=ids, attention_mask=additive_mask(mask, causal=True)).last_hidden_state
    valid = mask.bool()
    check = float((own - via4d)[valid].abs().max())
    modes = ["causal", "bidirectional"]
    for mode in modes:
        for k, v in run_llm(loaded, ids, mask, mode).items():
            tensors[f"{mode}.{k}"] = v
    notes = {"four_d_causal_max_abs_diff_vs_own_mask": check}
    if "sliding_window" in cfg and cfg.get("sliding_window"):
        notes["sliding_window_note"] = ("causal outputs use transformers' own mask (sliding window "
                                        "applied); bidirectional uses a full 4-D padding mask")
    if with_lora:
        from peft import LoraConfig, PeftModel, get_peft_model

        lcfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.05, bias="none",
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                          "up_proj", "down_proj"], task_type="CAUSAL_LM")
        peft_model = get_peft_model(model_cls.from_pretrained(str(d), torch_dtype=torch.float32,
                                                               attn_implementation="eager"), lcfg)
        g = torch.Generator().manual_seed(11)
        for n, p in peft_model.named_parameters():
            if "lora_" in n:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
        peft_model.save_pretrained(str(d / "adapter"))
        cfg_path = d / "adapter" / "adapter_config.json"
        ac = json.loads(cfg_path.read_text())
        ac["base_model_name_or_path"] = name
        write_json(cfg_path, ac)
        base = model_cls.from_pretrained(str(d), torch_dtype=torch.float32, attn_implementation="eager")
        reloaded = PeftModel.from_pretrained(base, str(d / "adapter")).eval()
        for mode in modes:
            for k, v in run_llm(reloaded, ids, mask, mode).items():
                tensors[f"lora.{mode}.{k}"] = v
        merged = reloaded.merge_and_unload().eval()
        for k, v in run_llm(merged, ids, mask, "bidirectional").items():
            tensors[f"merged.bidirectional.{k}"] = v
    save_tensors(d / "reference.safetensors", tensors)
    write_json(d / "reference.json", {
        "format": "llm2clip.hf-reference", "version": 1,
        "produced_by": {"transformers": transformers.__version__, "torch": torch.__version__},
        "arch": arch, "dtype": hub_config["torch_dtype"], "sharded": shard is not None,
        "inputs": {"input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                   "padding": "left, pad = eos id", "position_ids": "transformers default (0..n-1 "
                   "over the padded row, pads included)"},
        "outputs": {"<mode>.hidden": "last hidden state after the final norm [b, n, d]",
                    "<mode>.logits": "lm_head logits [b, n, vocab]",
                    "<mode>.mean_pooled": "mean of hidden over attention_mask tokens [b, d]",
                    "modes": "causal = transformers' own mask; bidirectional = 4-D additive mask that "
                             "hides only padding keys",
                    "lora.*": "PeftModel over the base with adapter/ (dropout inactive, eval)",
                    "merged.*": "merge_and_unload() of the same adapter"},
        "notes": notes,
    })


def llm_fixtures(out: Path) -> list:
    base = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2,
                hidden_act="silu", initializer_range=0.02, attention_bias=False,
                attention_dropout=0.0, mlp_bias=False, pretraining_tp=1, use_cache=True)
    steps = []
    llama = dict(base, architectures=["LlamaForCausalLM"], model_type="llama",
                 tie_word_embeddings=False)
    steps.append(lambda: make_llm(out, "llama", "llama", llama, with_lora=True))
    llama3 = dict(base, architectures=["LlamaForCausalLM"], model_type="llama",
                  tie_word_embeddings=True, rope_theta=500000.0,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 16})
    steps.append(lambda: make_llm(out, "llama3-rope-scaling-tied", "llama", llama3))
    llama_linear = dict(llama, rope_scaling={"type": "linear", "factor": 2.0}, head_dim=8)
    llama_linear["num_attention_heads"] = 4
    steps.append(lambda: make_llm(out, "llama-linear-rope-head-dim", "llama", llama_linear))
    mistral = dict(base, architectures=["MistralForCausalLM"], model_type="mistral",
                   tie_word_embeddings=False, sliding_window=4, head_dim=16)
    for k in ("attention_bias", "mlp_bias", "pretraining_tp"):
        mistral.pop(k)
    steps.append(lambda: make_llm(out, "mistral-sliding-window-sharded", "mistral", mistral, shard="40KB"))
    qwen2 = dict(base, architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                 tie_word_embeddings=False, use_sliding_window=False, sliding_window=None,
                 max_window_layers=2, rope_theta=1000000.0, rms_norm_eps=1e-6)
    for k in ("attention_bias", "mlp_bias", "pretraining_tp"):
        qwen2.pop(k)
    steps.append(lambda: make_llm(out, "qwen2-bf16", "qwen2", qwen2, dtype=torch.bfloat16, with_lora=True))
    return steps


# ---------------------------------------------------------------------------------------------
# CLIP (transformers) and EVA02 (timm)
# ---------------------------------------------------------------------------------------------

def clip_fixtures(out: Path) -> None:
    import transformers
    from transformers import (CLIPConfig, CLIPModel, CLIPVisionConfig,
                              CLIPVisionModelWithProjection)

    g = torch.Generator().manual_seed(3)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                  num_hidden_layers=2, num_attention_heads=4, num_channels=3,
                  hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=16)
    text = dict(vocab_size=99, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=16, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, projection_dim=16, bos_token_id=97, eos_token_id=98,
                pad_token_id=1)
    pixels = torch.randn(2, 3, 32, 32, generator=g)
    pixels48 = torch.randn(2, 3, 48, 48, generator=g)
    ids = torch.randint(3, 97, (2, 16), generator=g)
    ids[:, 0] = 97
    ids[0, 9] = 98
    ids[0, 10:] = 1
    ids[1, 15] = 98
    # CLIPModel (both towers)
    d = out / "clip-model"
    d.mkdir(parents=True, exist_ok=True)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16,
                                 logit_scale_init_value=2.6592)).eval()
    randomize_(model, 5)
    model.logit_scale.fill_(math.log(1 / 0.07))
    model.save_pretrained(str(d), safe_serialization=True)
    model = CLIPModel.from_pretrained(str(d), torch_dtype=torch.float32,
                                      attn_implementation="eager").eval()
    vo = model.vision_model(pixel_values=pixels)
    vo48 = model.vision_model(pixel_values=pixels48, interpolate_pos_encoding=True)
    to = model.text_model(input_ids=ids)
    save_tensors(d / "reference.safetensors", {
        "pixel_values": pixels, "pixel_values_48": pixels48, "input_ids": ids.float(),
        "vision.last_hidden_state": vo.last_hidden_state, "vision.pooler_output": vo.pooler_output,
        "image_features": model.visual_projection(vo.pooler_output),
        "vision48.pooler_output": vo48.pooler_output,
        "image_features_48": model.visual_projection(vo48.pooler_output),
        "text.last_hidden_state": to.last_hidden_state, "text.pooler_output": to.pooler_output,
        "text_features": model.text_projection(to.pooler_output),
    })
    write_json(d / "reference.json", {
        "format": "llm2clip.hf-reference", "version": 1,
        "produced_by": {"transformers": transformers.__version__, "torch": torch.__version__},
        "class": "CLIPModel", "attn_implementation": "eager",
        "notes": {"text_pooling": "eos_token_id != 2, so pooling takes the first eos position",
                  "vision48": "interpolate_pos_encoding=True at 48 px (grid 4 -> 6, bicubic)"},
    })
    # CLIPVisionModelWithProjection, exact GELU and another eps
    d = out / "clip-vision-with-projection-gelu"
    d.mkdir(parents=True, exist_ok=True)
    vcfg = CLIPVisionConfig(**dict(vision, hidden_act="gelu", layer_norm_eps=1e-6))
    vm = CLIPVisionModelWithProjection(vcfg).eval()
    randomize_(vm, 9)
    vm.save_pretrained(str(d), safe_serialization=True)
    vm = CLIPVisionModelWithProjection.from_pretrained(str(d), torch_dtype=torch.float32,
                                                       attn_implementation="eager").eval()
    o = vm(pixel_values=pixels)
    save_tensors(d / "reference.safetensors", {
        "pixel_values": pixels, "image_embeds": o.image_embeds,
        "last_hidden_state": o.last_hidden_state,
    })
    write_json(d / "reference.json", {"format": "llm2clip.hf-reference", "version": 1,
                                      "class": "CLIPVisionModelWithProjection",
                                      "produced_by": {"transformers": transformers.__version__}})


def eva_fixtures(out: Path) -> None:
    import timm

    d = out / "timm-eva02-clip"
    d.mkdir(parents=True, exist_ok=True)
    kwargs = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4,
                  ref_feat_shape=(4, 4), num_classes=16)
    model = timm.create_model("eva02_large_patch14_clip_224", pretrained=False, **kwargs).eval()
    randomize_(model, 13)
    g = torch.Generator().manual_seed(4)
    pixels = torch.randn(2, 3, 32, 32, generator=g)
    feats = model.forward_features(pixels)
    head = model.forward_head(feats)
    sd = {k: v for k, v in model.state_dict().items()}
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in sd.items()}, str(d / "model.safetensors"),
              metadata={"format": "pt"})
    write_json(d / "config.json", {"architecture": "eva02_large_patch14_clip_224",
                                   "timm_kwargs": {**kwargs, "ref_feat_shape": [4, 4]},
                                   "timm_version": timm.__version__})
    save_tensors(d / "reference.safetensors", {"pixel_values": pixels, "features": feats,
                                               "head": head})
    cls = type(model.blocks[0].attn).__name__
    write_json(d / "reference.json", {
        "format": "llm2clip.hf-reference", "version": 1,
        "produced_by": {"timm": timm.__version__, "torch": torch.__version__},
        "notes": {"features": "forward_features (all tokens, after the final norm)",
                  "head": "forward_head (global_pool='token' then head)",
                  "attention_class": cls,
                  "pretrained_cfg": {k: str(v) for k, v in model.pretrained_cfg.items()}},
    })


def preprocess_fixtures(out: Path) -> None:
    import PIL
    import transformers
    from PIL import Image, ImageDraw, ImageFilter

    d = out / "clip-preprocess"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = {}
    w, h = 333, 250
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    grad = np.concatenate([x.repeat(h, 0), y.repeat(w, 1), (x * y)], axis=2)
    images["gradient"] = Image.fromarray((grad * 255).round().astype(np.uint8))
    txt = Image.new("RGB", (250, 400), (240, 240, 230))
    dr = ImageDraw.Draw(txt)
    for i in range(18):
        dr.text((8, 6 + 21 * i), f"Line {i}: a red bus near 12 cats!", fill=(20, 20 + 10 * i, 60))
    dr.rectangle((30, 300, 200, 380), outline=(200, 0, 0), width=3)
    images["text"] = txt
    noise = rng.integers(0, 256, (61, 97, 3), dtype=np.uint8)
    images["photo"] = Image.fromarray(noise).resize((194, 122), Image.NEAREST).filter(
        ImageFilter.GaussianBlur(2))
    tensors = {}
    meta = {}
    for name, im in images.items():
        im.save(d / f"{name}.png")
        tensors[f"{name}.pil_bicubic_short224"] = torch.from_numpy(np.asarray(
            im.resize(_short_side(im.size, 224), Image.BICUBIC)).astype(np.float32))
        tensors[f"{name}.pil_bicubic_short32"] = torch.from_numpy(np.asarray(
            im.resize(_short_side(im.size, 32), Image.BICUBIC)).astype(np.float32))
    for cls_name in ("CLIPImageProcessor", "CLIPImageProcessorFast"):
        try:
            cls = getattr(transformers, cls_name)
            for size in (224, 32):
                proc = cls(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
                for name, im in images.items():
                    pv = proc(images=im, return_tensors="pt")["pixel_values"][0]
                    tensors[f"{name}.{cls_name}.{size}"] = pv
            meta[cls_name] = type(proc).__name__
        except Exception as e:  # noqa: BLE001 - record what this transformers version lacks
            meta[cls_name] = f"unavailable: {e!r}"
    save_tensors(d / "reference.safetensors", tensors)
    write_json(d / "reference.json", {
        "format": "llm2clip.hf-reference", "version": 1,
        "produced_by": {"transformers": transformers.__version__,
                        "pillow": PIL.__version__},
        "classes": meta,
        "notes": {"<img>.pil_bicubic_shortN": "PIL Image.resize(BICUBIC) of the shorter side to N, "
                  "uint8 values as float [h, w, 3]",
                  "<img>.<Processor>.N": "pixel_values [3, N, N] with OpenAI mean/std"},
    })


def _short_side(size, target):
    w, h = size
    if w <= h:
        return target, int(target * h / w)
    return int(target * w / h), target


# ---------------------------------------------------------------------------------------------
# Cross-check of fixture directories written by the torch-primitive scripts
# ---------------------------------------------------------------------------------------------

def check_dir(d: Path, out: Path) -> None:
    """Loads a primitive-script fixture with the real library and records its outputs."""
    ref = json.loads((d / "reference.json").read_text())
    res = {"dir": str(d), "reference_json_keys": sorted(ref.keys())}
    cfg = json.loads((d / "config.json").read_text()) if (d / "config.json").exists() else {}
    from safetensors.torch import load_file
    reft = load_file(str(d / "reference.safetensors")) if (d / "reference.safetensors").exists() else {}
    res["reference_tensors"] = {k: list(v.shape) for k, v in reft.items()}
    tensors = {}
    mt = cfg.get("model_type")
    if mt in ("llama", "mistral", "qwen2"):
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(str(d), torch_dtype=torch.float32,
                                                     attn_implementation="eager").eval()
        ids = reft.get("input_ids")
        mask = reft.get("attention_mask")
        if ids is not None:
            ids = ids.long()
            mask = mask.long() if mask is not None else torch.ones_like(ids)
            for mode in ("causal", "bidirectional"):
                for k, v in run_llm(model, ids, mask, mode).items():
                    tensors[f"{mode}.{k}"] = v
            adapters = [p.parent for p in d.rglob("adapter_config.json")]
            for a in adapters:
                from peft import PeftModel
                base = AutoModelForCausalLM.from_pretrained(str(d), torch_dtype=torch.float32,
                                                            attn_implementation="eager")
                pm = PeftModel.from_pretrained(base, str(a)).eval()
                for mode in ("causal", "bidirectional"):
                    for k, v in run_llm(pm, ids, mask, mode).items():
                        tensors[f"lora[{a.name}].{mode}.{k}"] = v
    elif mt in ("clip", "clip_vision_model"):
        from transformers import AutoModel
        model = AutoModel.from_pretrained(str(d), torch_dtype=torch.float32,
                                          attn_implementation="eager").eval()
        pv = reft.get("pixel_values")
        if pv is not None:
            vm = model.vision_model if hasattr(model, "vision_model") else model
            o = vm(pixel_values=pv) if not hasattr(model, "vision_model") else model.vision_model(pixel_values=pv)
            tensors["vision.pooler_output"] = o.pooler_output
            tensors["vision.last_hidden_state"] = o.last_hidden_state
            if hasattr(model, "visual_projection"):
                tensors["image_features"] = model.visual_projection(o.pooler_output)
        ids = reft.get("input_ids")
        if ids is not None and hasattr(model, "text_model"):
            to = model.text_model(input_ids=ids.long())
            tensors["text.pooler_output"] = to.pooler_output
            tensors["text_features"] = model.text_projection(to.pooler_output)
    # compare same-named tensors directly
    diffs = {}
    for k, v in tensors.items():
        for rk, rv in reft.items():
            if rk == k or rk.endswith(k) or k.endswith(rk):
                if tuple(rv.shape) == tuple(v.shape):
                    diffs[f"{k} vs {rk}"] = float((v.float() - rv.float()).abs().max() /
                                                  (rv.float().abs().max() + 1e-12))
    res["max_rel_diffs"] = diffs
    name = "__".join(d.parts[-4:])
    target = out / "checks"
    target.mkdir(parents=True, exist_ok=True)
    if tensors:
        save_tensors(target / f"{name}.safetensors", tensors)
    write_json(target / f"{name}.json", res)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    checks = []
    if "--check" in sys.argv:
        checks = [Path(p) for p in sys.argv[sys.argv.index("--check") + 1:]]
    steps = [(f"llm {i}", fn) for i, fn in enumerate(llm_fixtures(out))]
    steps += [("clip", lambda: clip_fixtures(out)),
             ("eva", lambda: eva_fixtures(out)), ("preprocess", lambda: preprocess_fixtures(out))]
    for c in checks:
        steps.append((f"check {c}", lambda c=c: check_dir(c, out)))
    for name, fn in steps:
        try:
            fn()
            RESULTS[name] = "ok"
        except Exception:  # noqa: BLE001 - keep going, report every failure
            RESULTS[name] = traceback.format_exc()
        print(f"== {name}: {'ok' if RESULTS[name] == 'ok' else 'FAILED'}", flush=True)
        if RESULTS[name] != "ok":
            print(RESULTS[name], flush=True)
    write_json(out / "results.json", RESULTS)


if __name__ == "__main__":
    main()
