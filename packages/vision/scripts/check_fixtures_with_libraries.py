#!/usr/bin/env python3
"""Cross-checks the committed fixtures of @llm2clip/vision against the real Python libraries:
transformers (CLIPVisionModelWithProjection, CLIPModel, CLIPImageProcessor), open_clip
(`local-dir:` loading, `force_image_size` -> resize_pos_embed) and timm (`local-dir:` EVA02, and
the EVA-CLIP state dict through timm's checkpoint_filter_fn). Each library that is not installed
is reported as skipped. Exit status 1 when any comparison exceeds 1e-4 relative (or any grey level
for the preprocessing).

    python3 packages/vision/scripts/check_fixtures_with_libraries.py
"""
import json
import os
import struct
import sys
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
PARITY = os.path.join(HERE, '..', 'test', 'fixtures', 'parity')
PRE = os.path.join(HERE, '..', 'test', 'fixtures', 'preprocess')
failures = []


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {'F32': np.float32, 'I32': np.int32, 'I64': np.int64, 'U8': np.uint8}
    out = {}
    for name, e in header.items():
        if name != '__metadata__':
            a, b = e['data_offsets']
            out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dtypes[e['dtype']]).reshape(e['shape']).copy())
    return out


def check(label, actual, expected, tol=1e-4):
    actual = actual.detach().float().cpu()
    err = ((actual - expected).abs().max() / expected.abs().max()).item()
    ok = err <= tol and tuple(actual.shape) == tuple(expected.shape)
    print(f'  {"ok " if ok else "BAD"} {label}: rel err {err:.2e} shape {tuple(actual.shape)}')
    if not ok:
        failures.append(label)


def features(out):
    # transformers 5 returns model outputs from get_*_features; 4.x returns tensors
    return out if torch.is_tensor(out) else out.pooler_output


def section(name, fn):
    print(name)
    try:
        fn()
    except ImportError as e:
        print(f'  skipped: {e}')
    except Exception:
        traceback.print_exc()
        failures.append(name)


def transformers_checks():
    import transformers
    from transformers import CLIPImageProcessor, CLIPModel, CLIPVisionModelWithProjection
    print(f'  transformers {transformers.__version__}')
    d = os.path.join(PARITY, 'hf-clip-vision')
    ref = read_safetensors(os.path.join(d, 'reference.safetensors'))
    m = CLIPVisionModelWithProjection.from_pretrained(d).eval()
    with torch.no_grad():
        out = m(pixel_values=ref['pixel_values'])
        check('hf-clip-vision image_embeds', out.image_embeds, ref['image_embeds'])
        check('hf-clip-vision last_hidden_state', out.last_hidden_state, ref['last_hidden_state'])
        out48 = m(pixel_values=ref['pixel_values_48'], interpolate_pos_encoding=True)
        check('hf-clip-vision image_embeds_48 (interpolate_pos_encoding)', out48.image_embeds, ref['image_embeds_48'])
    d = os.path.join(PARITY, 'hf-clip')
    ref = read_safetensors(os.path.join(d, 'reference.safetensors'))
    m = CLIPModel.from_pretrained(d).eval()
    with torch.no_grad():
        check('hf-clip image features', features(m.get_image_features(pixel_values=ref['pixel_values'])), ref['image_embeds'])
        check('hf-clip text features (eos 2: argmax)', features(m.get_text_features(input_ids=ref['input_ids'].long())), ref['text_embeds'])
    m.config.text_config.eos_token_id = 63
    m.text_model.eos_token_id = 63
    with torch.no_grad():
        check('hf-clip text features (eos 63: first eos)', features(m.get_text_features(input_ids=ref['input_ids_first_eos'].long())), ref['text_embeds_first_eos'])
    # CLIPImageProcessor on the rendered PNGs: the slow (PIL) processor should match to the byte;
    # the torchvision-backed one (transformers 5's default) may differ by up to two grey levels
    import PIL
    from PIL import Image
    pre = read_safetensors(os.path.join(PRE, 'reference.safetensors'))
    info = json.load(open(os.path.join(PRE, 'reference.json')))
    print(f'  Pillow {PIL.__version__}')
    processors = {'CLIPImageProcessor': CLIPImageProcessor}
    try:
        from transformers import CLIPImageProcessorFast
        processors['CLIPImageProcessorFast'] = CLIPImageProcessorFast
    except ImportError:
        pass
    for name, e in info['images'].items():
        img = Image.open(os.path.join(PRE, e['file'])).convert('RGB')
        resized = np.asarray(img.resize(tuple(pre[f'{name}.resized'].shape[1::-1]), Image.BICUBIC))
        pil_levels = np.abs(resized.astype(int) - pre[f'{name}.resized'].numpy().astype(int)).max()
        print(f'  {"ok " if pil_levels == 0 else "BAD"} PIL.Image.resize {name}: max diff {pil_levels} grey levels')
        if pil_levels != 0:
            failures.append(f'PIL {name}')
        for label, cls in processors.items():
            proc = cls(size={'shortest_edge': e['size']}, crop_size={'height': e['size'], 'width': e['size']})
            px = proc(images=img, return_tensors='pt')['pixel_values'][0]
            crop = pre[f'{name}.clip'].float().permute(2, 0, 1) / 255
            expected = (crop - torch.tensor(info['mean'])[:, None, None]) / torch.tensor(info['std'])[:, None, None]
            levels = ((px - expected) * torch.tensor(info['std'])[:, None, None] * 255).abs().max().item()
            ok = levels < 2.5
            print(f'  {"ok " if ok else "BAD"} {label} ({type(proc).__name__}) {name}: max diff {levels:.3f} grey levels')
            if not ok:
                failures.append(f'{label} {name}')


def open_clip_checks():
    import open_clip
    print(f'  open_clip {open_clip.__version__}')
    d = os.path.join(PARITY, 'open-clip')
    ref = read_safetensors(os.path.join(d, 'reference.safetensors'))
    m = open_clip.create_model(f'local-dir:{d}', pretrained=os.path.join(d, 'open_clip_model.safetensors')).eval()
    with torch.no_grad():
        check('open-clip encode_image', m.encode_image(ref['pixel_values']), ref['image_features'])
        check('open-clip encode_text', m.encode_text(ref['input_ids'].long()), ref['text_features'])
    m48 = open_clip.create_model(f'local-dir:{d}', pretrained=os.path.join(d, 'open_clip_model.safetensors'), force_image_size=48).eval()
    with torch.no_grad():
        check('open-clip positional_embedding_48 (resize_pos_embed)', m48.visual.positional_embedding, ref['positional_embedding_48'])
        check('open-clip encode_image at 48 px', m48.encode_image(ref['pixel_values_48']), ref['image_features_48'])


def timm_checks():
    import timm
    from timm.models.eva import checkpoint_filter_fn
    print(f'  timm {timm.__version__}')
    d = os.path.join(PARITY, 'eva02-timm')
    ref = read_safetensors(os.path.join(d, 'reference.safetensors'))
    m = timm.create_model(f'local-dir:{d}', pretrained=True).eval()
    with torch.no_grad():
        check('eva02-timm forward', m(ref['pixel_values']), ref['image_features'])
        check('eva02-timm forward_features', m.forward_features(ref['pixel_values']), ref['last_hidden_state'])
    # the EVA-CLIP layout (visual.* names) through timm's own converter
    args = json.load(open(os.path.join(d, 'config.json')))['model_args']
    m2 = timm.create_model('eva02_base_patch16_clip_224', pretrained=False, **args).eval()
    sd = read_safetensors(os.path.join(PARITY, 'eva02-clip', 'open_clip_model.safetensors'))
    m2.load_state_dict(checkpoint_filter_fn(sd, m2), strict=True)
    with torch.no_grad():
        check('eva02-clip via timm checkpoint_filter_fn', m2(ref['pixel_values']), ref['image_features'])


section('transformers', transformers_checks)
section('open_clip', open_clip_checks)
section('timm', timm_checks)
print('FAILED: ' + ', '.join(failures) if failures else 'all available checks passed')
sys.exit(1 if failures else 0)
