"""PyTorch reference for bench/vit-b16.mjs: loads the CLIPVisionModelWithProjection checkpoint the
bench wrote (config.json + model.safetensors, read with numpy) and times, with torch primitives,
the same two things on the same input: inference (no_grad forward to the projection) and one
training step (forward, mean-square loss on the features, backward, AdamW). Prints one JSON line
with the timings and the features of the first image (the bench checks they agree).

Usage: /usr/bin/python3 bench/torch_vit.py <dir> <inputs.safetensors> <reps> <threads>
"""
import json
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

model_dir, inputs_path, reps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        assert entry['dtype'] == 'F32', entry['dtype']
        a, b = entry['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(entry['shape']).copy())
    return out


cfg = json.load(open(f'{model_dir}/config.json'))
sd = read_safetensors(f'{model_dir}/model.safetensors')
pixels = read_safetensors(inputs_path)['pixel_values']
params = {k: v.requires_grad_() for k, v in sd.items()}
act = (lambda x: x * torch.sigmoid(1.702 * x)) if cfg['hidden_act'] == 'quick_gelu' else F.gelu
heads, eps, p = cfg['num_attention_heads'], cfg['layer_norm_eps'], cfg['patch_size']


def forward(x):
    w = params
    B = x.shape[0]
    h = F.conv2d(x, w['vision_model.embeddings.patch_embedding.weight'], stride=p).flatten(2).transpose(1, 2)
    h = torch.cat([w['vision_model.embeddings.class_embedding'].expand(B, 1, -1), h], 1) + w['vision_model.embeddings.position_embedding.weight']
    h = F.layer_norm(h, h.shape[-1:], w['vision_model.pre_layrnorm.weight'], w['vision_model.pre_layrnorm.bias'], eps)
    N, D = h.shape[1], h.shape[2]
    for i in range(cfg['num_hidden_layers']):
        q_ = f'vision_model.encoder.layers.{i}'
        y = F.layer_norm(h, (D,), w[f'{q_}.layer_norm1.weight'], w[f'{q_}.layer_norm1.bias'], eps)
        split = lambda t: t.view(B, N, heads, D // heads).transpose(1, 2)
        q = split(F.linear(y, w[f'{q_}.self_attn.q_proj.weight'], w[f'{q_}.self_attn.q_proj.bias'])) * (D // heads) ** -0.5
        k = split(F.linear(y, w[f'{q_}.self_attn.k_proj.weight'], w[f'{q_}.self_attn.k_proj.bias']))
        v = split(F.linear(y, w[f'{q_}.self_attn.v_proj.weight'], w[f'{q_}.self_attn.v_proj.bias']))
        o = (torch.softmax(q @ k.transpose(-1, -2), -1) @ v).transpose(1, 2).reshape(B, N, D)
        h = h + F.linear(o, w[f'{q_}.self_attn.out_proj.weight'], w[f'{q_}.self_attn.out_proj.bias'])
        y = F.layer_norm(h, (D,), w[f'{q_}.layer_norm2.weight'], w[f'{q_}.layer_norm2.bias'], eps)
        h = h + F.linear(act(F.linear(y, w[f'{q_}.mlp.fc1.weight'], w[f'{q_}.mlp.fc1.bias'])), w[f'{q_}.mlp.fc2.weight'], w[f'{q_}.mlp.fc2.bias'])
    pooled = F.layer_norm(h[:, 0], (D,), w['vision_model.post_layernorm.weight'], w['vision_model.post_layernorm.bias'], eps)
    return F.linear(pooled, w['visual_projection.weight'])


with torch.no_grad():
    features = forward(pixels)  # warm-up, and the features to compare
    infer = []
    for _ in range(reps):
        t = time.perf_counter()
        forward(pixels)
        infer.append(time.perf_counter() - t)
opt = torch.optim.AdamW(list(params.values()), lr=1e-5, weight_decay=0.05)
train = []
for step in range(reps + 1):
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = forward(pixels).pow(2).mean()
    loss.backward()
    opt.step()
    if step > 0:
        train.append(time.perf_counter() - t)
print(json.dumps({'torch': torch.__version__, 'threads': threads, 'batch': pixels.shape[0], 'inferSeconds': infer, 'trainSeconds': train,
                  'features0': features[0].tolist()}))
