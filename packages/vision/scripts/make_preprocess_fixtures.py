#!/usr/bin/python3
"""Writes the preprocessing fixtures of @llm2clip/vision with Pillow (Debian python3-pil) and
PyTorch: real-world-like images rendered here (gradients, text, a photo-like scene, a tiny noisy
image that gets upsampled) as PNG, and what CLIPImageProcessor / open_clip's eval transform /
torchvision's RandomResizedCrop make of them.

    /usr/bin/python3 packages/vision/scripts/make_preprocess_fixtures.py

Output: packages/vision/test/fixtures/preprocess/{<name>.png, reference.safetensors, reference.json}.
The reference resize is `PIL.Image.resize((w, h), Image.BICUBIC)`, which both
`transformers.image_transforms.resize` (CLIPImageProcessor, resample=3) and torchvision's
`Resize`/`RandomResizedCrop` on PIL images call.
"""
import json
import math
import os
import struct

import numpy as np
import PIL
import torch
from PIL import Image, ImageDraw, ImageFilter

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'preprocess')
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
rng = np.random.default_rng(1234)


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        dtype = {np.dtype('uint8'): 'U8', np.dtype('float32'): 'F32', np.dtype('int32'): 'I32'}[array.dtype]
        data = array.tobytes()
        header[name] = {'dtype': dtype, 'shape': list(array.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def gradient(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / 5.0)
    return Image.fromarray(np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8), 'RGB')


def text(w, h):
    img = Image.new('RGB', (w, h), (250, 248, 240))
    draw = ImageDraw.Draw(img)
    lines = ['LLM2CLIP: a photo of', 'a red bicycle, 42 km/h', 'Hello, world! <|eot|>', 'The quick brown fox', 'jumps over 13 lazy dogs']
    for i, line in enumerate(lines):
        draw.text((3 + (i % 2) * 4, 2 + i * 17), line, fill=(20 + 40 * i, 10, 90 - 15 * i))
    draw.line([(0, h - 5), (w - 1, h - 9)], fill=(200, 30, 30), width=2)
    return img


def photo(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    sky = np.stack([120 + 60 * y / h, 170 + 40 * y / h, 235 - 30 * y / h], -1)
    img = sky.copy()
    for cx, cy, s, col in [(0.3, 0.6, 0.18, (40, 120, 40)), (0.7, 0.75, 0.25, (90, 70, 40)), (0.55, 0.3, 0.08, (250, 230, 120))]:
        d = ((x / w - cx) ** 2 + (y / h - cy) ** 2) / (s * s)
        a = np.exp(-d)[..., None]
        img = img * (1 - a) + np.array(col) * a
    ground = (y > 0.8 * h + 6 * np.sin(x / 7))[..., None]
    img = np.where(ground, np.array([70, 90, 50]) + 20 * np.sin(x / 3)[..., None], img)
    img = img + rng.normal(0, 6, img.shape)
    pil = Image.fromarray(img.round().clip(0, 255).astype(np.uint8), 'RGB')
    draw = ImageDraw.Draw(pil)
    draw.rectangle([int(0.1 * w), int(0.15 * h), int(0.25 * w), int(0.5 * h)], fill=(200, 40, 40), outline=(20, 20, 20))
    draw.ellipse([int(0.6 * w), int(0.45 * h), int(0.9 * w), int(0.6 * h)], fill=(30, 30, 160))
    return pil.filter(ImageFilter.GaussianBlur(0.6))


def noise(w, h):
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), 'RGB')


def clip_processor(img, size):
    """CLIPImageProcessor: shortest edge -> size (int of the scaled long side), PIL bicubic, floor center crop."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    resized = img.resize((nw, nh), Image.BICUBIC)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.asarray(resized), np.asarray(resized)[top:top + size, left:left + size]


def open_clip_eval(img, size):
    """torchvision Resize(size, BICUBIC) + CenterCrop(size) (rounded offsets)."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    resized = np.asarray(img.resize((nw, nh), Image.BICUBIC))
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    return resized[top:top + size, left:left + size]


def normalize(crop):
    x = torch.from_numpy(crop.astype(np.float32)).permute(2, 0, 1) / 255.0
    return ((x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]).numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    images = {'gradient': gradient(123, 77), 'text': text(150, 91), 'photo': photo(96, 131), 'noise': noise(21, 27)}
    sizes = {'gradient': 40, 'text': 56, 'photo': 40, 'noise': 48}
    tensors, described = {}, {}
    for name, img in images.items():
        img.save(os.path.join(OUT, f'{name}.png'))
        size = sizes[name]
        resized, crop = clip_processor(img, size)
        tensors[f'{name}.resized'] = resized
        tensors[f'{name}.clip'] = crop
        tensors[f'{name}.open_clip'] = open_clip_eval(img, size)
        described[name] = {'file': f'{name}.png', 'size': size, 'width': img.size[0], 'height': img.size[1]}
    # RandomResizedCrop's resize step for a fixed box (top, left, height, width): crop, then bicubic
    box = [5, 9, 60, 101]
    crop = images['gradient'].crop((box[1], box[0], box[1] + box[3], box[0] + box[2])).resize((40, 40), Image.BICUBIC)
    tensors['gradient.rrc'] = np.asarray(crop)
    tensors['gradient.rrc_box'] = np.array(box, dtype=np.int32)
    tensors['photo.clip_normalized'] = normalize(tensors['photo.clip'])
    # bicubic (PyTorch) of float grids, for position-embedding interpolation
    torch.manual_seed(3)
    grid = torch.randn(1, 5, 7, 7)
    tensors['grid.input'] = grid[0].permute(1, 2, 0).contiguous().numpy()
    for (h, w) in [(10, 10), (4, 4), (9, 5)]:
        for aa in (False, True):
            out = torch.nn.functional.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False, antialias=aa)
            tensors[f'grid.{h}x{w}.{"aa" if aa else "plain"}'] = out[0].permute(1, 2, 0).contiguous().numpy()
    write_safetensors(os.path.join(OUT, 'reference.safetensors'), tensors, {'format': 'llm2clip.vision-preprocess'})
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump({'format': 'llm2clip.vision-preprocess', 'version': 1, 'generator': 'packages/vision/scripts/make_preprocess_fixtures.py',
                   'pillow': PIL.__version__, 'torch': torch.__version__, 'mean': MEAN, 'std': STD, 'images': described,
                   'rrc': {'image': 'gradient', 'box': 'top, left, height, width', 'size': 40},
                   'grids': 'grid.input is HWC [7,7,5]; grid.HxW.{plain,aa} = F.interpolate(bicubic, align_corners=False, antialias) in HWC'}, f, indent=2)
        f.write('\n')


if __name__ == '__main__':
    main()
