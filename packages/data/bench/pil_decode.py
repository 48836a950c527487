"""PIL side of the decode bench: decode + crop (the same boxes) + bicubic resize to 224, in N processes.

Usage: python3 pil_decode.py <images-dir> <boxes.json> <processes> <rounds>
Prints one JSON line: {"images": n, "seconds": best, "imagesPerSecond": n / best, "pil": version}.
"""
import io
import json
import os
import sys
import time
from multiprocessing import Pool

from PIL import Image, __version__ as PIL_VERSION

SIZE = 224
_DATA = {}


def _init(items):
    _DATA["items"] = items


def _work(index):
    name, data, box = _DATA["items"][index]
    image = Image.open(io.BytesIO(data)).convert("RGB")
    left, top, width, height = box["left"], box["top"], box["width"], box["height"]
    out = image.crop((left, top, left + width, top + height)).resize((SIZE, SIZE), Image.BICUBIC)
    return len(out.tobytes())


def main():
    directory, boxes_path, processes, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(boxes_path) as f:
        boxes = json.load(f)
    items = []
    for name in sorted(boxes):
        with open(os.path.join(directory, name + ".jpg"), "rb") as f:
            items.append((name, f.read(), boxes[name]))
    best = float("inf")
    with Pool(processes, initializer=_init, initargs=(items,)) as pool:
        pool.map(_work, range(min(len(items), processes * 2)))  # warm-up
        for _ in range(rounds):
            start = time.perf_counter()
            total = sum(pool.imap_unordered(_work, range(len(items)), chunksize=4))
            best = min(best, time.perf_counter() - start)
            assert total == len(items) * SIZE * SIZE * 3
    print(json.dumps({"images": len(items), "seconds": best, "imagesPerSecond": len(items) / best, "pil": PIL_VERSION}))


if __name__ == "__main__":
    main()
