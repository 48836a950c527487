#!/usr/bin/env python3
"""PyTorch reference for `pnpm bench` in @llm2clip/tensor.

Measures, with plain torch primitives, the same work as bench/backend-worker.mjs: square float32
matmul GFLOPS (A·B and A·Bᵀ) and the time of one training step (forward + backward + AdamW) of
the two models of bench/models.mjs, defined here op for op on the shapes of bench/shapes.json.
Weights are random (not the tfjs ones); the FLOPs are the same.

Each measurement is taken at every thread count in --threads (torch.set_num_threads; OpenBLAS
keeps its own pool), so bench/run.mjs can report PyTorch at its best setting. Results are printed
as lines `@@bench {json}`.

    /usr/bin/python3 bench/torch_reference.py --tasks matmul,vit,llama --threads 1,2 --steps 3
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_mib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def emit(record):
    record['rssMiB'] = rss_mib()
    record['maxRssMiB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print('@@bench ' + json.dumps(record), flush=True)


def matmul(cfg, sizes, threads):
    for size in sizes:
        for mode in cfg['modes']:
            g = torch.Generator().manual_seed(size)
            a = torch.randn(size, size, generator=g)
            b = torch.randn(size, size, generator=g)
            rhs = b.t() if mode == 'A·Bᵀ' else b
            torch.mm(a, rhs)  # warm-up
            reps, best, start = 0, math.inf, time.perf_counter()
            while reps < cfg['minReps'] or time.perf_counter() - start < cfg['minSeconds']:
                t0 = time.perf_counter()
                torch.mm(a, rhs)
                best = min(best, time.perf_counter() - t0)
                reps += 1
            emit({'type': 'matmul', 'threads': threads, 'size': size, 'mode': mode, 'seconds': best, 'reps': reps,
                  'gflops': 2 * size**3 / best / 1e9})


def clip_loss(image, text, scale):
    """Symmetric CLIP loss of L2-normalised rows, row i matching column i (as clipContrastiveLoss)."""
    logits = scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
    labels = torch.arange(image.shape[0])
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def attention(q, k, v):
    """softmax(q·kᵀ/√d)·v with grouped-query heads folded into the query axis (as the tfjs op)."""
    batch, heads, length, head_dim = q.shape
    kv_heads = k.shape[1]
    grouped = (q * head_dim**-0.5).reshape(batch, kv_heads, heads // kv_heads * length, head_dim)
    weights = torch.softmax(grouped @ k.transpose(-1, -2), dim=-1)
    return (weights @ v).reshape(batch, heads, length, head_dim)


def split_heads(x, heads):
    batch, length, width = x.shape
    return x.reshape(batch, length, heads, width // heads).transpose(1, 2)


def merge_heads(x):
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)


def build_vit(c):
    g = torch.Generator().manual_seed(1)
    w, tokens = c['width'], (c['imageSize'] // c['patch'])**2 + 1
    n = lambda *shape, std: (torch.randn(*shape, generator=g) * std).requires_grad_()
    ones = lambda k: torch.ones(k, requires_grad=True)
    zeros = lambda k: torch.zeros(k, requires_grad=True)
    P = {'conv1': n(w, c['channels'] * c['patch']**2, std=0.02), 'cls': n(w, std=0.02), 'pos': n(tokens, w, std=0.01),
         'ln_pre': (ones(w), zeros(w)), 'ln_post': (ones(w), zeros(w)), 'proj': n(c['embedDim'], w, std=w**-0.5),
         'logit_scale': torch.tensor(math.log(c['logitScale']), requires_grad=True), 'blocks': []}
    for _ in range(c['layers']):
        P['blocks'].append({'ln_1': (ones(w), zeros(w)), 'qkv': (n(3 * w, w, std=0.02), zeros(3 * w)),
                            'out': (n(w, w, std=0.02), zeros(w)), 'ln_2': (ones(w), zeros(w)),
                            'fc': (n(c['mlp'], w, std=0.02), zeros(c['mlp'])), 'proj': (n(w, c['mlp'], std=0.02), zeros(w))})
    images = torch.randn(c['batch'], c['channels'], c['imageSize'], c['imageSize'], generator=g)
    text = torch.randn(c['batch'], c['embedDim'], generator=g)
    eps, heads, batch, patch, grid = c['layerNormEps'], c['heads'], c['batch'], c['patch'], c['imageSize'] // c['patch']

    def loss():
        patches = images.reshape(batch, c['channels'], grid, patch, grid, patch).permute(0, 2, 4, 1, 3, 5)
        x = F.linear(patches.reshape(batch, grid * grid, -1), P['conv1'])
        x = torch.cat([P['cls'].reshape(1, 1, w).expand(batch, 1, w), x], 1) + P['pos']
        x = F.layer_norm(x, (w,), *P['ln_pre'], eps)
        for b in P['blocks']:
            h = F.layer_norm(x, (w,), *b['ln_1'], eps)
            q, k, v = F.linear(h, *b['qkv']).chunk(3, -1)
            x = x + F.linear(merge_heads(attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads))), *b['out'])
            m = F.layer_norm(x, (w,), *b['ln_2'], eps)
            x = x + F.linear(F.gelu(F.linear(m, *b['fc'])), *b['proj'])
        pooled = F.layer_norm(x[:, 0], (w,), *P['ln_post'], eps)
        return clip_loss(F.linear(pooled, P['proj']), text, P['logit_scale'].exp())

    params = [t for t in _flatten(P) if t.requires_grad]
    return params, loss


def _flatten(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _flatten(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _flatten(value)


def rope_tables(seq, head_dim, theta):
    inv = 1.0 / theta**(torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(seq, dtype=torch.float64), inv)
    emb = torch.cat([angles, angles], -1)
    return emb.cos().float(), emb.sin().float()


def apply_rope(x, cos, sin):
    x1, x2 = x.chunk(2, -1)
    return x * cos + torch.cat([-x2, x1], -1) * sin


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def build_llama(c):
    g = torch.Generator().manual_seed(2)
    h, heads, kv_heads, inter, r = c['hidden'], c['heads'], c['kvHeads'], c['intermediate'], c['loraRank']
    head_dim = h // heads
    kv = kv_heads * head_dim
    scaling = c['loraAlpha'] / r
    shapes = {'q_proj': (h, h), 'k_proj': (kv, h), 'v_proj': (kv, h), 'o_proj': (h, h),
              'gate_proj': (inter, h), 'up_proj': (inter, h), 'down_proj': (h, inter)}
    embed = torch.randn(c['vocab'], h, generator=g) * 0.02
    layers, trainable = [], []
    for _ in range(c['layers']):
        layer = {'in_norm': torch.ones(h), 'post_norm': torch.ones(h)}
        for name, (out, fan_in) in shapes.items():
            weight = torch.randn(out, fan_in, generator=g) * 0.02
            lora = None
            if name in c['loraTargets']:
                bound = 1 / math.sqrt(fan_in)
                a = ((torch.rand(r, fan_in, generator=g) * 2 - 1) * bound).requires_grad_()
                b = torch.zeros(out, r, requires_grad=True)
                lora = (a, b)
                trainable += [a, b]
            layer[name] = (weight, lora)
        layers.append(layer)
    final_norm = torch.ones(h)
    ids = torch.randint(0, c['vocab'], (c['batch'], c['seq']), generator=g)
    text = torch.randn(c['batch'], h, generator=g)
    cos, sin = rope_tables(c['seq'], head_dim, c['ropeTheta'])
    eps = c['rmsNormEps']

    def project(x, module):
        weight, lora = module
        y = F.linear(x, weight)
        return y if lora is None else y + F.linear(F.linear(x, lora[0]), lora[1]) * scaling

    def loss():
        x = F.embedding(ids, embed)
        for layer in layers:
            n = rms_norm(x, layer['in_norm'], eps)
            q = apply_rope(split_heads(project(n, layer['q_proj']), heads), cos, sin)
            k = apply_rope(split_heads(project(n, layer['k_proj']), kv_heads), cos, sin)
            v = split_heads(project(n, layer['v_proj']), kv_heads)
            x = x + project(merge_heads(attention(q, k, v)), layer['o_proj'])  # bidirectional, no mask
            m = rms_norm(x, layer['post_norm'], eps)
            x = x + project(F.silu(project(m, layer['gate_proj'])) * project(m, layer['up_proj']), layer['down_proj'])
        pooled = rms_norm(x, final_norm, eps).mean(1)
        return clip_loss(pooled, text, c['logitScale'])

    return trainable, loss


def training(kind, cfg, opt_cfg, threads, max_steps, budget):
    params, loss_fn = (build_vit if kind == 'vit' else build_llama)(cfg)
    optimizer = torch.optim.AdamW(params, lr=opt_cfg['lr'], betas=tuple(opt_cfg['betas']), eps=opt_cfg['eps'],
                                  weight_decay=opt_cfg['weightDecay'])

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return loss.item()

    # Same policy as backend-worker.mjs: a second warm-up step only when steps are cheap.
    warmup = []
    while not warmup or (len(warmup) < 2 and warmup[0] < 5):
        t0 = time.perf_counter()
        step()
        warmup.append(time.perf_counter() - t0)
    times, losses = [], []
    timing_started = time.perf_counter()
    while len(times) < max_steps:
        if times and time.perf_counter() - timing_started + statistics.median(times) > budget:
            break
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
    emit({'type': 'step', 'model': kind, 'threads': threads, 'phase': 'timed', 'trainable': sum(p.numel() for p in params),
          'warmupSeconds': warmup, 'stepSeconds': times, 'medianSeconds': statistics.median(times), 'losses': losses})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', default='matmul,vit,llama')
    parser.add_argument('--threads', default='1,2')
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--budget-s', type=float, default=40)
    parser.add_argument('--sizes', default=None)
    args = parser.parse_args()
    with open(os.path.join(HERE, 'shapes.json')) as f:
        shapes = json.load(f)
    sizes = [int(s) for s in args.sizes.split(',')] if args.sizes else shapes['matmul']['sizes']
    emit({'type': 'backend', 'torch': torch.__version__, 'blas': _blas_info(), 'python': sys.version.split()[0]})
    for task in args.tasks.split(','):
        for threads in [int(t) for t in args.threads.split(',')]:
            torch.set_num_threads(threads)
            if task == 'matmul':
                matmul(shapes['matmul'], sizes, threads)
            else:
                training(task, shapes[task], shapes['optimizer'], threads, args.steps, args.budget_s)
    emit({'type': 'done'})


def _blas_info():
    """The BLAS torch was built for and the BLAS library actually mapped into this process."""
    import re
    built = re.search(r'BLAS_INFO=(\w+)', torch.__config__.show())
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    with open('/proc/self/maps') as f:
        libs = sorted({line.split()[-1].rsplit('/', 1)[-1] for line in f if 'blas' in line.lower() and '/' in line})
    return f"BLAS_INFO={built.group(1) if built else 'unknown'}, loaded: {', '.join(libs) or 'none found'}"


if __name__ == '__main__':
    main()
