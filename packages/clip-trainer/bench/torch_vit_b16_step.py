"""PyTorch reference for bench/vit-b16-step.mjs: the same stage-2 training step with torch
primitives and the same shapes — a ViT-B/16 CLIP vision tower as Hugging Face's CLIPVisionModel
(conv patch embedding, class + position embeddings, pre-LN, 12 pre-LN blocks with quick_gelu,
post-LN on the class token, bias-free 512-d projection), LLM2CLIP's TextProj adapter (4 blocks),
the symmetric CLIP loss, AdamW (decay groups, layer decay 0.85), grad clipping at 5, the logit
scale clamp. Random inputs. Prints one JSON line.

Usage: /usr/bin/python3 bench/torch_vit_b16_step.py <batch> <steps> [textDim=2048] [threads=1]
"""
import json
import math
import resource
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

batch, steps = int(sys.argv[1]), int(sys.argv[2])
text_dim = int(sys.argv[3]) if len(sys.argv) > 3 else 2048
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, d=768, heads=12, inner=3072):
        super().__init__()
        self.heads = heads
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2, self.act = nn.Linear(d, inner), nn.Linear(inner, d), QuickGELU()

    def forward(self, x):
        b, n, d = x.shape
        h = self.layer_norm1(x)
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q_proj(h)) * (d // self.heads) ** -0.5, split(self.k_proj(h)), split(self.v_proj(h))
        attn = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
        x = x + self.out_proj(attn.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(self.act(self.fc1(self.layer_norm2(x))))


class Vision(nn.Module):
    def __init__(self, d=768, layers=12, patch=16, size=224, proj=512):
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, d, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(d) * 0.02)
        self.position_embedding = nn.Parameter(torch.randn((size // patch) ** 2 + 1, d) * 0.02)
        self.pre_layrnorm, self.post_layernorm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.layers = nn.ModuleList(Block(d) for _ in range(layers))
        self.visual_projection = nn.Linear(d, proj, bias=False)

    def forward(self, pixels):
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], 1) + self.position_embedding
        x = self.pre_layrnorm(x)
        for layer in self.layers:
            x = layer(x)
        return self.visual_projection(self.post_layernorm(x[:, 0]))


class LinearBlock(nn.Module):  # LLM2CLIP TextProj block
    def __init__(self, d):
        super().__init__()
        self.fn = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(0.0), nn.Linear(2 * d, d))
        self.ln = nn.LayerNorm(d)

    def forward(self, x):
        return x + self.fn(self.ln(x))


vision = Vision()
adapter = nn.Sequential(*[LinearBlock(text_dim) for _ in range(4)], nn.LayerNorm(text_dim), nn.Linear(text_dim, 512))
logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


def groups():
    out = []
    for prefix, module in (("vision", vision), ("adapter", adapter)):
        for name, p in module.named_parameters():
            no_decay = p.ndim < 2 or "embedding" in name or "norm" in name or name.endswith(".ln.weight")
            layer = 0 if ("embedding" in name or "pre_layrnorm" in name) else (int(name.split(".")[1]) + 1 if name.startswith("layers.") else 13)
            scale = 0.85 ** (13 - layer) if prefix == "vision" else 1.0
            out.append({"params": [p], "weight_decay": 0.0 if no_decay else 0.05, "lr": 1e-5 * scale})
    out.append({"params": [logit_scale], "weight_decay": 0.0, "lr": 1e-5})
    return out


optimizer = torch.optim.AdamW(groups(), betas=(0.9, 0.98), eps=1e-6)
pixels = torch.randn(batch, 3, 224, 224)
embeddings = torch.randn(batch, text_dim)
labels = torch.arange(batch)
seconds = []
for step in range(steps):
    started = time.perf_counter()
    image = F.normalize(vision(pixels), dim=-1)
    text = F.normalize(adapter(F.normalize(embeddings, dim=-1)), dim=-1)
    logits = logit_scale.exp() * image @ text.t()
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 5.0)
    optimizer.step()
    with torch.no_grad():
        logit_scale.clamp_(0, math.log(100))
    seconds.append(time.perf_counter() - started)
steady = seconds[1:] if len(seconds) > 1 else seconds
mean = sum(steady) / len(steady)
print(json.dumps({"impl": "torch", "torch": torch.__version__, "threads": threads, "batch": batch, "textDim": text_dim, "secondsPerStep": seconds, "imagesPerSecond": batch / mean, "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
