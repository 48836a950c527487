"""PIL side of the decode bench: decode to RGB (`Image.open(...).convert("RGB")`, as open_clip's and
LLM2CLIP's loaders do) in N processes, nothing else. The decode + RandomResizedCrop bench, which needs
the vision package's transform, is packages/clip-trainer/bench/data-pipeline.mjs.

Usage: python3 pil_decode.py <images-dir> <processes> <rounds>
Prints one JSON line: {"images": n, "seconds": best, "imagesPerSecond": n / best, "pil": version}.
"""
import io
import json
import os
import sys
import time
from multiprocessing import Pool

from PIL import Image, __version__ as PIL_VERSION

_DATA = {}


def _init(items):
    _DATA["items"] = items


def _work(index):
    image = Image.open(io.BytesIO(_DATA["items"][index])).convert("RGB")
    image.load()
    return image.width * image.height * 3


def main():
    directory, processes, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    items = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".jpg"):
            with open(os.path.join(directory, name), "rb") as f:
                items.append(f.read())
    best = float("inf")
    expected = None
    with Pool(processes, initializer=_init, initargs=(items,)) as pool:
        pool.map(_work, range(min(len(items), processes * 2)))  # warm-up
        for _ in range(rounds):
            start = time.perf_counter()
            total = sum(pool.imap_unordered(_work, range(len(items)), chunksize=4))
            best = min(best, time.perf_counter() - start)
            expected = total if expected is None else expected
            assert total == expected
    print(json.dumps({"images": len(items), "seconds": best, "imagesPerSecond": len(items) / best, "bytes": expected, "pil": PIL_VERSION}))


if __name__ == "__main__":
    main()
