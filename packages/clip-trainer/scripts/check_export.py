"""Loads a model directory exported by `llm2clip clip train` (saveClipModel) in PyTorch alone and
checks it reproduces the TypeScript outputs written by scripts/export-reference.mjs:

- the vision tower: `config.json` + `model.safetensors` strict-loaded into a module tree with the
  exact parameter names and shapes of Hugging Face's `CLIPVisionModelWithProjection`
  (`vision_model.embeddings.*`, `vision_model.pre_layrnorm`, `vision_model.encoder.layers.N.
  {self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}`,
  `vision_model.post_layernorm`, `visual_projection`) — the same `load_state_dict` that
  `transformers` does, without needing it installed;
- the adapter: `adapter/llm2clip_text_proj.safetensors` strict-loaded into LLM2CLIP's `TextProj`.

Usage: /usr/bin/python3 scripts/check_export.py <modelDir> <reference.json>
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

model_dir, reference_path = sys.argv[1], sys.argv[2]


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        start, end = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + start : 8 + n + end], dtype="<f4").copy()).reshape(info["shape"])
    return out


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        b, n, d = x.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q_proj(x)) * (d // self.heads) ** -0.5, split(self.k_proj(x)), split(self.v_proj(x))
        return self.out_proj((torch.softmax(q @ k.transpose(-1, -2), -1) @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, d, inner, act):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(d, inner), nn.Linear(inner, d), act

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Layer(nn.Module):
    def __init__(self, c, act):
        super().__init__()
        d = c["hidden_size"]
        self.self_attn = Attention(d, c["num_attention_heads"])
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(d, eps=c["layer_norm_eps"]), nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.mlp = Mlp(d, c["intermediate_size"], act)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p, s = c["hidden_size"], c["patch_size"], c["image_size"]
        self.class_embedding = nn.Parameter(torch.zeros(d))
        self.patch_embedding = nn.Conv2d(3, d, p, p, bias=False)
        self.position_embedding = nn.Embedding((s // p) ** 2 + 1, d)

    def forward(self, pixels):
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], 1)
        return x + self.position_embedding.weight


class Encoder(nn.Module):
    def __init__(self, c, act):
        super().__init__()
        self.layers = nn.ModuleList(Layer(c, act) for _ in range(c["num_hidden_layers"]))


class VisionTransformer(nn.Module):
    def __init__(self, c, act):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.pre_layrnorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.encoder = Encoder(c, act)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, pixels):
        x = self.pre_layrnorm(self.embeddings(pixels))
        for layer in self.encoder.layers:
            x = layer(x)
        return self.post_layernorm(x[:, 0])


class CLIPVisionModelWithProjection(nn.Module):
    def __init__(self, c):
        super().__init__()
        act = (lambda x: x * torch.sigmoid(1.702 * x)) if c.get("hidden_act", "quick_gelu") == "quick_gelu" else nn.GELU()
        self.vision_model = VisionTransformer(c, act)
        self.visual_projection = nn.Linear(c["hidden_size"], c["projection_dim"], bias=False)

    def forward(self, pixels):
        return self.visual_projection(self.vision_model(pixels))


class LinearBlock(nn.Module):  # LLM2CLIP eva_clip/model.py
    def __init__(self, dim, expansion_factor):
        super().__init__()
        self.fn = nn.Sequential(nn.Linear(dim, expansion_factor * dim), nn.GELU(), nn.Dropout(0.0), nn.Linear(expansion_factor * dim, dim))
        self.ln = nn.LayerNorm(dim)

    def forward(self, x):
        return x + self.fn(self.ln(x))


class TextProj(nn.Module):  # LLM2CLIP eva_clip/model.py
    def __init__(self, embedding_dim, output_dim, expansion_factor=2, num_layers_text=4, proj_bias=True):
        super().__init__()
        self.text_adaptor = nn.Sequential(*[LinearBlock(embedding_dim, expansion_factor) for _ in range(num_layers_text)], nn.LayerNorm(embedding_dim), nn.Linear(embedding_dim, output_dim, bias=proj_bias))

    def forward(self, text):
        return self.text_adaptor(F.normalize(text, p=2, dim=-1))


config = json.load(open(f"{model_dir}/config.json"))
assert config["architectures"] == ["CLIPVisionModelWithProjection"], config["architectures"]
vision = CLIPVisionModelWithProjection(config).eval()
vision.load_state_dict(read_safetensors(f"{model_dir}/model.safetensors"), strict=True)
adapter_config = json.load(open(f"{model_dir}/adapter/adapter_config.json"))["config"]
adapter = TextProj(adapter_config["inputDim"], adapter_config["outputDim"], adapter_config["expansion"], adapter_config["numBlocks"], adapter_config.get("projBias", False)).eval()
adapter.load_state_dict(read_safetensors(f"{model_dir}/adapter/llm2clip_text_proj.safetensors"), strict=True)

ref = json.load(open(reference_path))
with torch.no_grad():
    image = vision(torch.tensor(ref["pixels"]).reshape(ref["pixelShape"]))
    text = adapter(torch.tensor(ref["teacherRows"]).reshape(2, -1))
image_err = (image.flatten() - torch.tensor(ref["image"])).abs().max().item()
text_err = (text.flatten() - torch.tensor(ref["text"])).abs().max().item()
print(json.dumps({"vision_strict_load": True, "adapter_strict_load": True, "image_max_abs_diff": image_err, "text_max_abs_diff": text_err}))
assert image_err < 1e-4 and text_err < 1e-4, "outputs differ"
print("OK: the export loads in PyTorch under Hugging Face / LLM2CLIP names and reproduces the TypeScript outputs")
