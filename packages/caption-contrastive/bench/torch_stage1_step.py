#!/usr/bin/env python3
"""PyTorch reference for bench/stage1-bench.mjs: one stage-1 training step with torch primitives.

The same work as the TypeScript step, op for op on the same shapes: a Llama decoder (RMSNorm,
RoPE, grouped-query attention — bidirectional, SwiGLU MLP) with frozen base weights and LoRA
(r, alpha, dropout 0.05) on q/k/v/o/gate/up/down; queries, positives and hard negatives of
`batch` triples (3·batch sequences of `seq` tokens) embedded by mean pooling; LLM2Vec's loss
(50 · cosine against [positives; negatives], cross-entropy toward the own positive); backward;
global gradient-norm clip 1; AdamW on the LoRA weights. Weights are random (not the tfjs ones);
the FLOPs are the same.

Prints one line `@@bench {json}` per thread count with the best step time.

    /usr/bin/python3 bench/torch_stage1_step.py --config '{...}' --batch 2 --seq 128 --steps 3 --threads 1,2
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Stage1Model:
    def __init__(self, cfg, r, alpha, dropout, gen):
        h = cfg['hidden_size']
        self.cfg = cfg
        self.heads = cfg['num_attention_heads']
        self.kv_heads = cfg.get('num_key_value_heads', self.heads)
        self.head_dim = h // self.heads
        inter = cfg['intermediate_size']
        self.eps = cfg['rms_norm_eps']
        self.scale = alpha / r
        self.dropout = dropout
        std = 0.02
        self.embed = torch.randn(cfg['vocab_size'], h, generator=gen) * std
        self.layers = []
        self.lora = []
        shapes = {
            'q': (self.heads * self.head_dim, h), 'k': (self.kv_heads * self.head_dim, h), 'v': (self.kv_heads * self.head_dim, h),
            'o': (h, self.heads * self.head_dim), 'gate': (inter, h), 'up': (inter, h), 'down': (h, inter),
        }
        for _ in range(cfg['num_hidden_layers']):
            layer = {name: torch.randn(*shape, generator=gen) * std for name, shape in shapes.items()}
            layer['in_norm'] = torch.ones(h)
            layer['post_norm'] = torch.ones(h)
            self.layers.append(layer)
            adapters = {}
            for name, (out, inp) in shapes.items():
                a = (torch.rand(r, inp, generator=gen) * 2 - 1) * (1 / math.sqrt(inp))
                b = torch.randn(out, r, generator=gen) * 0.01
                adapters[name] = (a.requires_grad_(), b.requires_grad_())
            self.lora.append(adapters)
        self.final_norm = torch.ones(h)
        inv = 1.0 / (cfg['rope_theta'] ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        self.inv_freq = inv

    def parameters(self):
        return [t for adapters in self.lora for pair in adapters.values() for t in pair]

    def proj(self, x, weight, adapter):
        out = x @ weight.t()
        a, b = adapter
        return out + (F.dropout(x, self.dropout, training=True) @ a.t() @ b.t()) * self.scale

    def forward(self, ids):
        batch, seq = ids.shape
        x = self.embed[ids]
        pos = torch.arange(seq).float()
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()
        group = self.heads // self.kv_heads
        for layer, adapters in zip(self.layers, self.lora):
            n = rms_norm(x, layer['in_norm'], self.eps)
            q = self.proj(n, layer['q'], adapters['q']).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
            k = self.proj(n, layer['k'], adapters['k']).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
            v = self.proj(n, layer['v'], adapters['v']).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if group > 1:
                k = k.repeat_interleave(group, dim=1)
                v = v.repeat_interleave(group, dim=1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)  # bidirectional: no mask
            o = (att @ v).transpose(1, 2).reshape(batch, seq, -1)
            x = x + self.proj(o, layer['o'], adapters['o'])
            n = rms_norm(x, layer['post_norm'], self.eps)
            x = x + self.proj(F.silu(self.proj(n, layer['gate'], adapters['gate'])) * self.proj(n, layer['up'], adapters['up']), layer['down'], adapters['down'])
        return rms_norm(x, self.final_norm, self.eps)


def step(model, optimizer, ids, batch):
    hidden = model.forward(ids)
    pooled = hidden.mean(dim=1)  # every token is a caption token here
    q, p, n = pooled[:batch], pooled[batch:2 * batch], pooled[2 * batch:]
    docs = F.normalize(torch.cat([p, n], 0), dim=-1)
    scores = F.normalize(q, dim=-1) @ docs.t() * 50.0
    loss = F.cross_entropy(scores, torch.arange(batch))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--config', required=True)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--seq', type=int, default=128)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--threads', default='1,2')
    parser.add_argument('--r', type=int, default=16)
    parser.add_argument('--alpha', type=float, default=32)
    args = parser.parse_args()
    cfg = json.loads(args.config)
    gen = torch.Generator().manual_seed(0)
    model = Stage1Model(cfg, args.r, args.alpha, 0.05, gen)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.0)
    ids = torch.randint(0, cfg['vocab_size'], (3 * args.batch, args.seq), generator=gen)
    for threads in [int(t) for t in args.threads.split(',')]:
        torch.set_num_threads(threads)
        step(model, optimizer, ids, args.batch)  # warm-up
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step(model, optimizer, ids, args.batch)
            times.append(time.perf_counter() - t0)
        tokens = 3 * args.batch * args.seq
        best = min(times)
        print('@@bench ' + json.dumps({'threads': threads, 'seconds': best, 'times': times, 'tokens': tokens, 'tokensPerSecond': tokens / best,
                                       'torch': torch.__version__}), flush=True)


if __name__ == '__main__':
    main()
