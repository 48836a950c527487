#!/usr/bin/env python3
"""PyTorch side of `pnpm bench` for @llm2clip/llm: loads the same config.json + model.safetensors
the TypeScript side loads, runs the same bidirectional forward + mean pooling (the parity
script's torch implementation) over `captions` random sequences of `seq` tokens in batches, and
prints one JSON line {"threads", "captions_per_s", "seconds"} per thread count tried.

usage: /usr/bin/python3 bench/torch_embed.py <modelDir> <captions> <seq> <batch> <threads,...>
"""
import json
import os
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_parity_fixtures import forward, pool  # noqa: E402

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = t.float()
    return out


def main():
    model_dir, captions, seq, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, cfg["vocab_size"], (captions, seq), generator=gen)
    mask = torch.ones(captions, seq, dtype=torch.int64)
    positions = mask.cumsum(-1) - 1
    for n in [int(t) for t in threads.split(",")]:
        torch.set_num_threads(n)
        with torch.no_grad():
            forward(cfg, weights, ids[:batch], mask[:batch], positions[:batch], causal=False)  # warm-up
            start = time.perf_counter()
            for i in range(0, captions, batch):
                hidden = forward(cfg, weights, ids[i:i + batch], mask[i:i + batch], positions[i:i + batch], causal=False)
                pool(hidden, mask[i:i + batch], mask[i:i + batch], "mean")
            seconds = time.perf_counter() - start
        print(json.dumps({"threads": n, "captions_per_s": captions / seconds, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
