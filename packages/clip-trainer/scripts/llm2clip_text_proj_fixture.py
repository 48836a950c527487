"""Writes test/fixtures/llm2clip-text-proj.{safetensors,json}: LLM2CLIP's text adapter (`TextProj`
from microsoft/LLM2CLIP llm2clip/eva_clip/model.py, re-declared here with the same modules and
state-dict names so no LLM2CLIP checkout is needed) with seeded random weights, an input batch and
its output. The TypeScript test loads the weights by these names and must reproduce the output.

Usage: /usr/bin/python3 scripts/llm2clip_text_proj_fixture.py   (PyTorch; run from the package)
"""
import json
import struct

import torch
from torch import nn


class LinearBlock(nn.Module):  # as in LLM2CLIP: x + fn(ln(x))
    def __init__(self, dim, expansion_factor=4, dropout=0.0):
        super().__init__()
        self.fn = nn.Sequential(
            nn.Linear(dim, int(expansion_factor * dim)),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(int(expansion_factor * dim), dim),
        )
        self.ln = nn.LayerNorm(dim)

    def forward(self, x):
        return x + self.fn(self.ln(x))


class TextProj(nn.Module):  # as in LLM2CLIP
    def __init__(self, embedding_dim=4096, output_dim=512, expansion_factor=2, num_layers_text=4, proj_bias=True, dropout=0):
        super().__init__()
        self.text_adaptor = nn.Sequential(
            *[LinearBlock(embedding_dim, expansion_factor, dropout) for _ in range(num_layers_text)],
            nn.LayerNorm(embedding_dim),
            nn.Linear(embedding_dim, output_dim, bias=proj_bias),
        )

    def forward(self, text, l2_norm=True):
        if l2_norm:
            text = torch.nn.functional.normalize(text, p=2, dim=-1)
        return self.text_adaptor(text)


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, tensor in tensors.items():
        data = tensor.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


torch.manual_seed(0)
model = TextProj(embedding_dim=6, output_dim=4).eval()
with torch.no_grad():
    for p in model.parameters():  # non-trivial norms and biases, so every weight matters
        p.add_(torch.randn_like(p) * 0.3)
x = torch.randn(3, 6) * 5
with torch.no_grad():
    y = model(x)
write_safetensors("test/fixtures/llm2clip-text-proj.safetensors", model.state_dict())
with open("test/fixtures/llm2clip-text-proj.json", "w") as f:
    json.dump({"config": {"inputDim": 6, "outputDim": 4, "numBlocks": 4, "expansion": 2, "projBias": True}, "input": x.flatten().tolist(), "output": y.flatten().tolist()}, f)
print("names:", list(model.state_dict().keys()))
