"""PIL side of the data-pipeline bench: decode + crop (the given boxes) + bicubic resize, in N processes.

This is torchvision's RandomResizedCrop on a PIL image with the crop box fixed
(`F.resized_crop` = `Image.crop` then `Image.resize(size, BICUBIC)`), after `Image.open(...).convert("RGB")`
as open_clip's and LLM2CLIP's loaders do.

Usage: python3 pil_decode.py <images-dir> <boxes.json> <processes> <rounds> <size> [<dump.bin> <n>]
Prints one JSON line: {"images": n, "seconds": best, "imagesPerSecond": n / best, "pil": version}.
With <dump.bin>, also writes the RGB bytes of the first <n> outputs (keys in sorted order) there.
"""
import io
import json
import os
import sys
import time
from multiprocessing import Pool

from PIL import Image, __version__ as PIL_VERSION

_DATA = {}


def _init(items, size):
    _DATA["items"] = items
    _DATA["size"] = size


def _transform(index):
    name, data, box = _DATA["items"][index]
    size = _DATA["size"]
    image = Image.open(io.BytesIO(data)).convert("RGB")
    left, top, width, height = box["left"], box["top"], box["width"], box["height"]
    return image.crop((left, top, left + width, top + height)).resize((size, size), Image.BICUBIC)


def _work(index):
    return len(_transform(index).tobytes())


def main():
    directory, boxes_path, processes, rounds, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    with open(boxes_path) as f:
        boxes = json.load(f)
    items = []
    for name in sorted(boxes):
        with open(os.path.join(directory, name + ".jpg"), "rb") as f:
            items.append((name, f.read(), boxes[name]))
    if len(sys.argv) > 7:
        _init(items, size)
        with open(sys.argv[6], "wb") as f:
            for index in range(min(len(items), int(sys.argv[7]))):
                f.write(_transform(index).tobytes())
    best = float("inf")
    with Pool(processes, initializer=_init, initargs=(items, size)) as pool:
        pool.map(_work, range(min(len(items), processes * 2)))  # warm-up
        for _ in range(rounds):
            start = time.perf_counter()
            total = sum(pool.imap_unordered(_work, range(len(items)), chunksize=4))
            best = min(best, time.perf_counter() - start)
            assert total == len(items) * size * size * 3
    print(json.dumps({"images": len(items), "seconds": best, "imagesPerSecond": len(items) / best, "pil": PIL_VERSION}))


if __name__ == "__main__":
    main()
