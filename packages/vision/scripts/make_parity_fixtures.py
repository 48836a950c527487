#!/usr/bin/python3
"""Writes the parity fixtures of @llm2clip/vision: tiny random towers in each real checkpoint
layout, with reference outputs computed from PyTorch primitives only (Debian python3-torch 1.13;
no transformers / open_clip / timm needed here).

    /usr/bin/python3 packages/vision/scripts/make_parity_fixtures.py

Each directory under packages/vision/test/fixtures/parity/<name>/ holds the checkpoint exactly as
the real tool writes it plus `reference.safetensors` (inputs and expected outputs) and
`reference.json` (what each reference tensor is). The forward passes below follow, line by line:
transformers' modeling_clip.py (CLIPVisionModelWithProjection, CLIPModel), open_clip's
VisionTransformer/TextTransformer and resize_pos_embed, EVA-CLIP's eva_vit_model.py + rope.py
(EVA02: SwiGLU, sub-LN, 2-D RoPE) — and timm's eva.py for the same EVA02 weights renamed.
The lead cross-checks these directories with transformers / open_clip / timm elsewhere.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'parity')
FORMAT = 'llm2clip.vision-parity'
VERSION = 1


# ---------------------------------------------------------------- safetensors (the real format)
def write_safetensors(path, tensors, metadata=None):
    header = {}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: 'F32', torch.int64: 'I64', torch.int32: 'I32'}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    if metadata is not None:
        header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=2)
        f.write('\n')


def rnd(*shape, std=0.02):
    return torch.randn(*shape) * std


def ln_params(width):
    return 1 + 0.1 * torch.randn(width), 0.1 * torch.randn(width)


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def act(name, x):
    if name == 'quick_gelu':
        return x * torch.sigmoid(1.702 * x)
    if name == 'gelu':
        return F.gelu(x)
    raise ValueError(name)


# ---------------------------------------------------------------- HF CLIP (modeling_clip.py)
def hf_encoder_weights(sd, prefix, hidden, inter, layers):
    for i in range(layers):
        p = f'{prefix}.layers.{i}'
        for proj in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
            sd[f'{p}.self_attn.{proj}.weight'] = rnd(hidden, hidden, std=hidden ** -0.5)
            sd[f'{p}.self_attn.{proj}.bias'] = rnd(hidden, std=0.1)
        sd[f'{p}.layer_norm1.weight'], sd[f'{p}.layer_norm1.bias'] = ln_params(hidden)
        sd[f'{p}.mlp.fc1.weight'] = rnd(inter, hidden, std=hidden ** -0.5)
        sd[f'{p}.mlp.fc1.bias'] = rnd(inter, std=0.1)
        sd[f'{p}.mlp.fc2.weight'] = rnd(hidden, inter, std=inter ** -0.5)
        sd[f'{p}.mlp.fc2.bias'] = rnd(hidden, std=0.1)
        sd[f'{p}.layer_norm2.weight'], sd[f'{p}.layer_norm2.bias'] = ln_params(hidden)


def hf_encoder(sd, prefix, x, cfg, mask=None):
    heads = cfg['num_attention_heads']
    B, N, D = x.shape
    hd = D // heads
    for i in range(cfg['num_hidden_layers']):
        p = f'{prefix}.layers.{i}'
        h = layer_norm(x, sd[f'{p}.layer_norm1.weight'], sd[f'{p}.layer_norm1.bias'], cfg['layer_norm_eps'])
        q = F.linear(h, sd[f'{p}.self_attn.q_proj.weight'], sd[f'{p}.self_attn.q_proj.bias']) * hd ** -0.5
        k = F.linear(h, sd[f'{p}.self_attn.k_proj.weight'], sd[f'{p}.self_attn.k_proj.bias'])
        v = F.linear(h, sd[f'{p}.self_attn.v_proj.weight'], sd[f'{p}.self_attn.v_proj.bias'])
        q, k, v = (t.reshape(B, N, heads, hd).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores + mask
        o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D)
        x = x + F.linear(o, sd[f'{p}.self_attn.out_proj.weight'], sd[f'{p}.self_attn.out_proj.bias'])
        h = layer_norm(x, sd[f'{p}.layer_norm2.weight'], sd[f'{p}.layer_norm2.bias'], cfg['layer_norm_eps'])
        h = F.linear(act(cfg['hidden_act'], F.linear(h, sd[f'{p}.mlp.fc1.weight'], sd[f'{p}.mlp.fc1.bias'])), sd[f'{p}.mlp.fc2.weight'], sd[f'{p}.mlp.fc2.bias'])
        x = x + h
    return x


def hf_vision_weights(cfg, projection_dim):
    D = cfg['hidden_size']
    p = cfg['patch_size']
    n = (cfg['image_size'] // p) ** 2 + 1
    sd = {}
    sd['vision_model.embeddings.class_embedding'] = rnd(D, std=0.5)
    sd['vision_model.embeddings.patch_embedding.weight'] = rnd(D, 3, p, p, std=0.1)
    sd['vision_model.embeddings.position_embedding.weight'] = rnd(n, D, std=0.5)
    sd['vision_model.pre_layrnorm.weight'], sd['vision_model.pre_layrnorm.bias'] = ln_params(D)
    hf_encoder_weights(sd, 'vision_model.encoder', D, cfg['intermediate_size'], cfg['num_hidden_layers'])
    sd['vision_model.post_layernorm.weight'], sd['vision_model.post_layernorm.bias'] = ln_params(D)
    sd['visual_projection.weight'] = rnd(projection_dim, D, std=D ** -0.5)
    return sd


def hf_interpolate_pos(pos, new_h, new_w):
    """CLIPVisionEmbeddings.interpolate_pos_encoding (transformers >= 4.45): bicubic, no antialias."""
    cls, grid = pos[:1], pos[1:]
    g = int(math.sqrt(grid.shape[0]))
    grid = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new_h, new_w), mode='bicubic', align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(-1, pos.shape[1])
    return torch.cat([cls, grid])


def hf_vision_forward(sd, cfg, pixels, interpolate=False):
    p = cfg['patch_size']
    B, _, H, W = pixels.shape
    x = F.conv2d(pixels, sd['vision_model.embeddings.patch_embedding.weight'], stride=p).flatten(2).transpose(1, 2)
    cls = sd['vision_model.embeddings.class_embedding'].expand(B, 1, -1)
    x = torch.cat([cls, x], 1)
    pos = sd['vision_model.embeddings.position_embedding.weight']
    if interpolate:
        pos = hf_interpolate_pos(pos, H // p, W // p)
    x = x + pos
    x = layer_norm(x, sd['vision_model.pre_layrnorm.weight'], sd['vision_model.pre_layrnorm.bias'], cfg['layer_norm_eps'])
    x = hf_encoder(sd, 'vision_model.encoder', x, cfg)
    pooled = layer_norm(x[:, 0], sd['vision_model.post_layernorm.weight'], sd['vision_model.post_layernorm.bias'], cfg['layer_norm_eps'])
    return x, pooled, F.linear(pooled, sd['visual_projection.weight'])


def hf_text_weights(cfg, projection_dim):
    D = cfg['hidden_size']
    sd = {}
    sd['text_model.embeddings.token_embedding.weight'] = rnd(cfg['vocab_size'], D, std=0.5)
    sd['text_model.embeddings.position_embedding.weight'] = rnd(cfg['max_position_embeddings'], D, std=0.5)
    hf_encoder_weights(sd, 'text_model.encoder', D, cfg['intermediate_size'], cfg['num_hidden_layers'])
    sd['text_model.final_layer_norm.weight'], sd['text_model.final_layer_norm.bias'] = ln_params(D)
    sd['text_projection.weight'] = rnd(projection_dim, D, std=D ** -0.5)
    return sd


def causal_mask(n):
    return torch.full((n, n), float('-inf')).triu(1)[None, None]


def hf_text_forward(sd, cfg, ids):
    B, N = ids.shape
    x = sd['text_model.embeddings.token_embedding.weight'][ids] + sd['text_model.embeddings.position_embedding.weight'][:N]
    x = hf_encoder(sd, 'text_model.encoder', x, cfg, causal_mask(N))
    x = layer_norm(x, sd['text_model.final_layer_norm.weight'], sd['text_model.final_layer_norm.bias'], cfg['layer_norm_eps'])
    if cfg['eos_token_id'] == 2:
        # legacy configs: the end-of-text token has the largest id
        at = ids.to(torch.int).argmax(-1)
    else:
        at = (ids.to(torch.int) == cfg['eos_token_id']).int().argmax(-1)
    pooled = x[torch.arange(B), at]
    return x, pooled, F.linear(pooled, sd['text_projection.weight'])


def hf_vision_config(cfg, projection_dim, with_model_type=True):
    out = {
        'attention_dropout': 0.0, 'dropout': 0.0, 'hidden_act': cfg['hidden_act'], 'hidden_size': cfg['hidden_size'],
        'image_size': cfg['image_size'], 'initializer_factor': 1.0, 'initializer_range': 0.02,
        'intermediate_size': cfg['intermediate_size'], 'layer_norm_eps': cfg['layer_norm_eps'],
        'num_attention_heads': cfg['num_attention_heads'], 'num_channels': 3,
        'num_hidden_layers': cfg['num_hidden_layers'], 'patch_size': cfg['patch_size'], 'projection_dim': projection_dim,
    }
    if with_model_type:
        out['model_type'] = 'clip_vision_model'
    return out


def preprocessor_config(size, mean, std):
    return {
        'crop_size': {'height': size, 'width': size}, 'do_center_crop': True, 'do_convert_rgb': True, 'do_normalize': True,
        'do_rescale': True, 'do_resize': True, 'image_mean': mean, 'image_std': std,
        'image_processor_type': 'CLIPImageProcessor', 'resample': 3, 'rescale_factor': 1 / 255,
        'size': {'shortest_edge': size},
    }


OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def write_reference(d, tensors, described):
    write_safetensors(os.path.join(d, 'reference.safetensors'), tensors, {'format': FORMAT})
    write_json(os.path.join(d, 'reference.json'), {'format': FORMAT, 'version': VERSION, 'generator': 'packages/vision/scripts/make_parity_fixtures.py', 'torch': torch.__version__, 'tensors': described})


def make_hf_clip_vision():
    d = os.path.join(ROOT, 'hf-clip-vision')
    os.makedirs(d, exist_ok=True)
    cfg = {'image_size': 32, 'patch_size': 8, 'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2,
           'num_attention_heads': 4, 'hidden_act': 'quick_gelu', 'layer_norm_eps': 1e-5}
    sd = hf_vision_weights(cfg, 16)
    write_safetensors(os.path.join(d, 'model.safetensors'), sd, {'format': 'pt'})
    config = {'architectures': ['CLIPVisionModelWithProjection'], 'torch_dtype': 'float32', **hf_vision_config(cfg, 16)}
    write_json(os.path.join(d, 'config.json'), config)
    write_json(os.path.join(d, 'preprocessor_config.json'), preprocessor_config(32, OPENAI_MEAN, OPENAI_STD))
    pixels = torch.randn(2, 3, 32, 32)
    hidden, pooled, embeds = hf_vision_forward(sd, cfg, pixels)
    pixels48 = torch.randn(1, 3, 48, 48)
    _, _, embeds48 = hf_vision_forward(sd, cfg, pixels48, interpolate=True)
    write_reference(d, {'pixel_values': pixels, 'last_hidden_state': hidden, 'pooler_output': pooled, 'image_embeds': embeds,
                        'pixel_values_48': pixels48, 'image_embeds_48': embeds48}, {
        'pixel_values': 'input [2,3,32,32]', 'last_hidden_state': 'CLIPVisionModelWithProjection(...).last_hidden_state',
        'pooler_output': 'post_layernorm(class token)', 'image_embeds': 'CLIPVisionModelWithProjection(...).image_embeds',
        'pixel_values_48': 'input [1,3,48,48]', 'image_embeds_48': 'image_embeds with interpolate_pos_encoding=True (bicubic, align_corners=False, no antialias)'})


def make_hf_clip():
    d = os.path.join(ROOT, 'hf-clip')
    os.makedirs(d, exist_ok=True)
    vcfg = {'image_size': 24, 'patch_size': 8, 'hidden_size': 32, 'intermediate_size': 48, 'num_hidden_layers': 2,
            'num_attention_heads': 2, 'hidden_act': 'gelu', 'layer_norm_eps': 1e-6}
    tcfg = {'vocab_size': 64, 'hidden_size': 24, 'intermediate_size': 40, 'num_hidden_layers': 2, 'num_attention_heads': 3,
            'max_position_embeddings': 16, 'hidden_act': 'gelu', 'layer_norm_eps': 1e-5,
            'pad_token_id': 1, 'bos_token_id': 0, 'eos_token_id': 2}
    proj = 20
    sd = {**hf_text_weights(tcfg, proj), **hf_vision_weights(vcfg, proj)}
    sd['logit_scale'] = torch.tensor(math.log(1 / 0.07))
    write_safetensors(os.path.join(d, 'model.safetensors'), sd, {'format': 'pt'})
    text_config = {'attention_dropout': 0.0, 'dropout': 0.0, 'initializer_factor': 1.0, 'initializer_range': 0.02,
                   'model_type': 'clip_text_model', 'projection_dim': proj, **tcfg}
    config = {'architectures': ['CLIPModel'], 'model_type': 'clip', 'torch_dtype': 'float32', 'projection_dim': proj,
              'logit_scale_init_value': 2.6592, 'initializer_factor': 1.0,
              'text_config': text_config, 'vision_config': hf_vision_config(vcfg, proj)}
    write_json(os.path.join(d, 'config.json'), config)
    pixels = torch.randn(2, 3, 24, 24)
    _, _, image_embeds = hf_vision_forward(sd, vcfg, pixels)
    # legacy config (eos_token_id 2): pooled at argmax(ids); the end token 63 is the largest id
    ids = torch.tensor([[0, 5, 9, 63, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
                        [0, 7, 7, 7, 30, 41, 12, 63, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=torch.int64)
    hidden, pooled, text_embeds = hf_text_forward(sd, tcfg, ids)
    # the same weights read with eos_token_id 63 pool at the first 63
    tcfg_new = {**tcfg, 'eos_token_id': 63}
    ids2 = torch.tensor([[0, 5, 63, 9, 63, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=torch.int64)
    _, _, text_embeds_first_eos = hf_text_forward(sd, tcfg_new, ids2)
    write_reference(d, {'pixel_values': pixels, 'image_embeds': image_embeds, 'input_ids': ids.to(torch.int32),
                        'text_last_hidden_state': hidden, 'text_pooler_output': pooled, 'text_embeds': text_embeds,
                        'input_ids_first_eos': ids2.to(torch.int32), 'text_embeds_first_eos': text_embeds_first_eos}, {
        'pixel_values': 'input [2,3,24,24]', 'image_embeds': 'CLIPModel.get_image_features',
        'input_ids': 'text input, legacy eos_token_id 2 (argmax pooling)', 'text_last_hidden_state': 'text_model last_hidden_state',
        'text_pooler_output': 'text_model pooler_output', 'text_embeds': 'CLIPModel.get_text_features',
        'input_ids_first_eos': 'text input', 'text_embeds_first_eos': 'get_text_features with text_config.eos_token_id = 63 (first-eos pooling)'})


# ---------------------------------------------------------------- open_clip (transformer.py)
def oc_resblock_weights(sd, p, width, mlp):
    sd[f'{p}.ln_1.weight'], sd[f'{p}.ln_1.bias'] = ln_params(width)
    sd[f'{p}.attn.in_proj_weight'] = rnd(3 * width, width, std=width ** -0.5)
    sd[f'{p}.attn.in_proj_bias'] = rnd(3 * width, std=0.1)
    sd[f'{p}.attn.out_proj.weight'] = rnd(width, width, std=width ** -0.5)
    sd[f'{p}.attn.out_proj.bias'] = rnd(width, std=0.1)
    sd[f'{p}.ln_2.weight'], sd[f'{p}.ln_2.bias'] = ln_params(width)
    sd[f'{p}.mlp.c_fc.weight'] = rnd(mlp, width, std=width ** -0.5)
    sd[f'{p}.mlp.c_fc.bias'] = rnd(mlp, std=0.1)
    sd[f'{p}.mlp.c_proj.weight'] = rnd(width, mlp, std=mlp ** -0.5)
    sd[f'{p}.mlp.c_proj.bias'] = rnd(width, std=0.1)


def oc_transformer(sd, prefix, x, layers, heads, act_name, mask=None):
    B, N, D = x.shape
    hd = D // heads
    for i in range(layers):
        p = f'{prefix}.resblocks.{i}'
        h = layer_norm(x, sd[f'{p}.ln_1.weight'], sd[f'{p}.ln_1.bias'], 1e-5)
        qkv = F.linear(h, sd[f'{p}.attn.in_proj_weight'], sd[f'{p}.attn.in_proj_bias'])
        q, k, v = qkv.chunk(3, -1)
        q, k, v = (t.reshape(B, N, heads, hd).transpose(1, 2) for t in (q, k, v))
        scores = (q * hd ** -0.5) @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores + mask
        o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D)
        x = x + F.linear(o, sd[f'{p}.attn.out_proj.weight'], sd[f'{p}.attn.out_proj.bias'])
        h = layer_norm(x, sd[f'{p}.ln_2.weight'], sd[f'{p}.ln_2.bias'], 1e-5)
        x = x + F.linear(act(act_name, F.linear(h, sd[f'{p}.mlp.c_fc.weight'], sd[f'{p}.mlp.c_fc.bias'])), sd[f'{p}.mlp.c_proj.weight'], sd[f'{p}.mlp.c_proj.bias'])
    return x


def oc_resize_pos_embed(pos, grid):
    """open_clip.model.resize_pos_embed: bicubic, antialias=True, align_corners=False; class token kept."""
    tok, img = pos[:1], pos[1:]
    old = int(math.sqrt(len(img)))
    img = img.reshape(1, old, old, -1).permute(0, 3, 1, 2)
    img = F.interpolate(img, size=(grid, grid), mode='bicubic', antialias=True, align_corners=False)
    img = img.permute(0, 2, 3, 1).reshape(grid * grid, -1)
    return torch.cat([tok, img])


def oc_visual_forward(sd, vc, pixels, act_name, pos=None):
    p = vc['patch_size']
    width = vc['width']
    heads = width // vc['head_width']
    B = pixels.shape[0]
    x = F.conv2d(pixels, sd['visual.conv1.weight'], stride=p).reshape(B, width, -1).permute(0, 2, 1)
    x = torch.cat([sd['visual.class_embedding'].expand(B, 1, -1), x], 1)
    x = x + (sd['visual.positional_embedding'] if pos is None else pos)
    x = layer_norm(x, sd['visual.ln_pre.weight'], sd['visual.ln_pre.bias'], 1e-5)
    x = oc_transformer(sd, 'visual.transformer', x, vc['layers'], heads, act_name)
    x = layer_norm(x, sd['visual.ln_post.weight'], sd['visual.ln_post.bias'], 1e-5)
    return x[:, 0] @ sd['visual.proj']


def oc_text_forward(sd, tc, ids, act_name):
    B, N = ids.shape
    x = sd['token_embedding.weight'][ids] + sd['positional_embedding'][:N]
    x = oc_transformer(sd, 'transformer', x, tc['layers'], tc['heads'], act_name, causal_mask(N))
    x = layer_norm(x, sd['ln_final.weight'], sd['ln_final.bias'], 1e-5)
    return x[torch.arange(B), ids.argmax(-1)] @ sd['text_projection']


def make_open_clip():
    d = os.path.join(ROOT, 'open-clip')
    os.makedirs(d, exist_ok=True)
    embed = 16
    vc = {'image_size': 32, 'layers': 2, 'width': 32, 'head_width': 8, 'mlp_ratio': 4.0, 'patch_size': 8}
    tc = {'context_length': 12, 'vocab_size': 50, 'width': 24, 'heads': 4, 'layers': 2}
    cfg = {'model_cfg': {'embed_dim': embed, 'quick_gelu': True, 'vision_cfg': vc, 'text_cfg': tc},
           'preprocess_cfg': {'mean': OPENAI_MEAN, 'std': OPENAI_STD, 'interpolation': 'bicubic', 'resize_mode': 'shortest'}}
    width = vc['width']
    sd = {}
    sd['visual.class_embedding'] = rnd(width, std=0.5)
    sd['visual.positional_embedding'] = rnd(17, width, std=0.5)
    sd['visual.proj'] = rnd(width, embed, std=width ** -0.5)
    sd['visual.conv1.weight'] = rnd(width, 3, 8, 8, std=0.1)
    sd['visual.ln_pre.weight'], sd['visual.ln_pre.bias'] = ln_params(width)
    for i in range(vc['layers']):
        oc_resblock_weights(sd, f'visual.transformer.resblocks.{i}', width, int(width * vc['mlp_ratio']))
    sd['visual.ln_post.weight'], sd['visual.ln_post.bias'] = ln_params(width)
    tw = tc['width']
    sd['positional_embedding'] = rnd(tc['context_length'], tw, std=0.5)
    sd['text_projection'] = rnd(tw, embed, std=tw ** -0.5)
    sd['logit_scale'] = torch.tensor(math.log(1 / 0.07))
    sd['token_embedding.weight'] = rnd(tc['vocab_size'], tw, std=0.5)
    for i in range(tc['layers']):
        oc_resblock_weights(sd, f'transformer.resblocks.{i}', tw, 4 * tw)
    sd['ln_final.weight'], sd['ln_final.bias'] = ln_params(tw)
    write_safetensors(os.path.join(d, 'open_clip_model.safetensors'), sd)
    write_json(os.path.join(d, 'open_clip_config.json'), cfg)
    pixels = torch.randn(2, 3, 32, 32)
    image = oc_visual_forward(sd, vc, pixels, 'quick_gelu')
    # the same checkpoint built at image_size 48: resize_pos_embed to a 6x6 grid while loading
    pixels48 = torch.randn(1, 3, 48, 48)
    pos48 = oc_resize_pos_embed(sd['visual.positional_embedding'], 6)
    image48 = oc_visual_forward(sd, vc, pixels48, 'quick_gelu', pos48)
    ids = torch.tensor([[48, 3, 17, 49, 0, 0, 0, 0, 0, 0, 0, 0], [48, 22, 5, 6, 7, 9, 49, 0, 0, 0, 0, 0]], dtype=torch.int64)
    text = oc_text_forward(sd, tc, ids, 'quick_gelu')
    write_reference(d, {'pixel_values': pixels, 'image_features': image, 'pixel_values_48': pixels48,
                        'positional_embedding_48': pos48, 'image_features_48': image48,
                        'input_ids': ids.to(torch.int32), 'text_features': text}, {
        'pixel_values': 'input [2,3,32,32]', 'image_features': 'model.encode_image(pixels)',
        'pixel_values_48': 'input [1,3,48,48]', 'positional_embedding_48': 'open_clip resize_pos_embed to a 6x6 grid (bicubic, antialias, class token kept)',
        'image_features_48': 'encode_image of the model created with image_size 48 from this checkpoint',
        'input_ids': 'text input (argmax pooling: end token 49 is the largest id)', 'text_features': 'model.encode_text(ids)'})


# ---------------------------------------------------------------- EVA02 (EVA-CLIP eva_vit_model.py + rope.py)
def eva_rope(head_dim, grid, pt_seq_len):
    """VisionRotaryEmbeddingFast(dim=head_dim//2, pt_seq_len, ft_seq_len=grid) buffers [grid², head_dim]."""
    dim = head_dim // 2
    freqs = 1.0 / (10000 ** (torch.arange(0, dim, 2)[:(dim // 2)].float() / dim))
    t = torch.arange(grid) / grid * pt_seq_len
    freqs = torch.einsum('..., f -> ... f', t, freqs)
    freqs = freqs.repeat_interleave(2, -1)  # '... n -> ... (n r)', r=2
    freqs = torch.cat([freqs[:, None, :].expand(grid, grid, -1), freqs[None, :, :].expand(grid, grid, -1)], -1)
    return freqs.cos().view(-1, freqs.shape[-1]), freqs.sin().view(-1, freqs.shape[-1])


def rotate_half(x):
    x = x.reshape(*x.shape[:-1], -1, 2)
    x1, x2 = x.unbind(-1)
    return torch.stack((-x2, x1), -1).flatten(-2)


def make_eva02():
    embed = 16
    width, layers, head_width, patch, image, pt_hw = 32, 2, 8, 8, 32, 16
    mlp_ratio = 2.6667
    hidden = int(width * mlp_ratio)
    heads = width // head_width
    grid = image // patch
    vc = {'image_size': image, 'layers': layers, 'width': width, 'head_width': head_width, 'mlp_ratio': mlp_ratio,
          'patch_size': patch, 'eva_model_name': 'eva-clip-b-16-X', 'drop_path_rate': 0.0, 'xattn': True, 'fusedLN': True,
          'rope': True, 'pt_hw_seq_len': pt_hw, 'intp_freq': True, 'naiveswiglu': True, 'subln': True}
    cos, sin = eva_rope(head_width, grid, pt_hw)
    sd = {}
    sd['visual.cls_token'] = rnd(1, 1, width, std=0.5)
    sd['visual.pos_embed'] = rnd(1, grid * grid + 1, width, std=0.5)
    sd['visual.patch_embed.proj.weight'] = rnd(width, 3, patch, patch, std=0.1)
    sd['visual.patch_embed.proj.bias'] = rnd(width, std=0.1)
    sd['visual.rope.freqs_cos'], sd['visual.rope.freqs_sin'] = cos, sin
    for i in range(layers):
        p = f'visual.blocks.{i}'
        sd[f'{p}.norm1.weight'], sd[f'{p}.norm1.bias'] = ln_params(width)
        sd[f'{p}.attn.q_bias'] = rnd(width, std=0.1)
        sd[f'{p}.attn.v_bias'] = rnd(width, std=0.1)
        sd[f'{p}.attn.q_proj.weight'] = rnd(width, width, std=width ** -0.5)
        sd[f'{p}.attn.k_proj.weight'] = rnd(width, width, std=width ** -0.5)
        sd[f'{p}.attn.v_proj.weight'] = rnd(width, width, std=width ** -0.5)
        sd[f'{p}.attn.rope.freqs_cos'], sd[f'{p}.attn.rope.freqs_sin'] = cos, sin
        sd[f'{p}.attn.inner_attn_ln.weight'], sd[f'{p}.attn.inner_attn_ln.bias'] = ln_params(width)
        sd[f'{p}.attn.proj.weight'] = rnd(width, width, std=width ** -0.5)
        sd[f'{p}.attn.proj.bias'] = rnd(width, std=0.1)
        sd[f'{p}.norm2.weight'], sd[f'{p}.norm2.bias'] = ln_params(width)
        sd[f'{p}.mlp.w1.weight'] = rnd(hidden, width, std=width ** -0.5)
        sd[f'{p}.mlp.w1.bias'] = rnd(hidden, std=0.1)
        sd[f'{p}.mlp.w2.weight'] = rnd(hidden, width, std=width ** -0.5)
        sd[f'{p}.mlp.w2.bias'] = rnd(hidden, std=0.1)
        sd[f'{p}.mlp.ffn_ln.weight'], sd[f'{p}.mlp.ffn_ln.bias'] = ln_params(hidden)
        sd[f'{p}.mlp.w3.weight'] = rnd(width, hidden, std=hidden ** -0.5)
        sd[f'{p}.mlp.w3.bias'] = rnd(width, std=0.1)
    sd['visual.norm.weight'], sd['visual.norm.bias'] = ln_params(width)
    sd['visual.head.weight'] = rnd(embed, width, std=width ** -0.5)
    sd['visual.head.bias'] = rnd(embed, std=0.1)

    eps = 1e-6

    def forward(pixels):
        B = pixels.shape[0]
        x = F.conv2d(pixels, sd['visual.patch_embed.proj.weight'], sd['visual.patch_embed.proj.bias'], stride=patch).flatten(2).transpose(1, 2)
        x = torch.cat([sd['visual.cls_token'].expand(B, -1, -1), x], 1) + sd['visual.pos_embed']
        N = x.shape[1]
        for i in range(layers):
            p = f'visual.blocks.{i}'
            h = layer_norm(x, sd[f'{p}.norm1.weight'], sd[f'{p}.norm1.bias'], eps)
            q = F.linear(h, sd[f'{p}.attn.q_proj.weight'], sd[f'{p}.attn.q_bias'])
            k = F.linear(h, sd[f'{p}.attn.k_proj.weight'], None)
            v = F.linear(h, sd[f'{p}.attn.v_proj.weight'], sd[f'{p}.attn.v_bias'])
            q, k, v = (t.reshape(B, N, heads, -1).permute(0, 2, 1, 3) for t in (q, k, v))
            q = torch.cat([q[:, :, :1], q[:, :, 1:] * cos + rotate_half(q[:, :, 1:]) * sin], -2)
            k = torch.cat([k[:, :, :1], k[:, :, 1:] * cos + rotate_half(k[:, :, 1:]) * sin], -2)
            attn = ((q * head_width ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
            o = (attn @ v).transpose(1, 2).reshape(B, N, -1)
            o = layer_norm(o, sd[f'{p}.attn.inner_attn_ln.weight'], sd[f'{p}.attn.inner_attn_ln.bias'], eps)
            x = x + F.linear(o, sd[f'{p}.attn.proj.weight'], sd[f'{p}.attn.proj.bias'])
            h = layer_norm(x, sd[f'{p}.norm2.weight'], sd[f'{p}.norm2.bias'], eps)
            g = F.silu(F.linear(h, sd[f'{p}.mlp.w1.weight'], sd[f'{p}.mlp.w1.bias'])) * F.linear(h, sd[f'{p}.mlp.w2.weight'], sd[f'{p}.mlp.w2.bias'])
            g = layer_norm(g, sd[f'{p}.mlp.ffn_ln.weight'], sd[f'{p}.mlp.ffn_ln.bias'], eps)
            x = x + F.linear(g, sd[f'{p}.mlp.w3.weight'], sd[f'{p}.mlp.w3.bias'])
        x = layer_norm(x, sd['visual.norm.weight'], sd['visual.norm.bias'], eps)
        pooled = x[:, 0]
        return x, pooled, F.linear(pooled, sd['visual.head.weight'], sd['visual.head.bias'])

    pixels = torch.randn(2, 3, image, image)
    hidden_states, pooled, features = forward(pixels)
    refs = {'pixel_values': pixels, 'last_hidden_state': hidden_states, 'pooled': pooled, 'image_features': features}
    described = {'pixel_values': 'input [2,3,32,32]', 'last_hidden_state': 'blocks output after the final norm (all tokens)',
                 'pooled': 'normed class token', 'image_features': 'EVA-CLIP model.encode_image = timm Eva forward (head output)'}

    # EVA-CLIP layout: the model config + a state dict with visual.* names (text tower omitted)
    d = os.path.join(ROOT, 'eva02-clip')
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, 'open_clip_model.safetensors'), sd)
    write_json(os.path.join(d, 'open_clip_config.json'), {
        'model_cfg': {'embed_dim': embed, 'vision_cfg': vc},
        'preprocess_cfg': {'mean': OPENAI_MEAN, 'std': OPENAI_STD, 'interpolation': 'bicubic', 'resize_mode': 'shortest'}})
    write_reference(d, refs, described)

    # timm layout (timm/models/eva.py checkpoint_filter_fn applied; rope buffers dropped, no prefix)
    d = os.path.join(ROOT, 'eva02-timm')
    os.makedirs(d, exist_ok=True)
    timm_sd = {}
    for k, v in sd.items():
        if 'rope' in k:
            continue
        k = k[len('visual.'):]
        k = k.replace('mlp.ffn_ln', 'mlp.norm').replace('attn.inner_attn_ln', 'attn.norm')
        k = k.replace('mlp.w1', 'mlp.fc1_g').replace('mlp.w2', 'mlp.fc1_x').replace('mlp.w3', 'mlp.fc2')
        k = k.replace('q_bias', 'q_proj.bias').replace('v_bias', 'v_proj.bias')
        timm_sd[k] = v
    write_safetensors(os.path.join(d, 'model.safetensors'), timm_sd, {'format': 'pt'})
    model_args = {'img_size': image, 'patch_size': patch, 'embed_dim': width, 'depth': layers, 'num_heads': heads,
                  'mlp_ratio': mlp_ratio, 'qkv_fused': False, 'swiglu_mlp': True, 'scale_mlp': True, 'scale_attn_inner': True,
                  'use_rot_pos_emb': True, 'ref_feat_shape': [pt_hw, pt_hw], 'global_pool': 'token', 'num_classes': embed}
    write_json(os.path.join(d, 'config.json'), {
        'architecture': 'eva02_base_patch16_clip_224', 'num_classes': embed, 'num_features': width, 'global_pool': 'token',
        'model_args': model_args,
        'pretrained_cfg': {'tag': 'llm2clip_parity', 'custom_load': False, 'input_size': [3, image, image], 'fixed_input_size': True,
                           'interpolation': 'bicubic', 'crop_pct': 1.0, 'crop_mode': 'center', 'mean': OPENAI_MEAN, 'std': OPENAI_STD,
                           'num_classes': embed, 'pool_size': None, 'first_conv': 'patch_embed.proj', 'classifier': 'head'}})
    write_reference(d, refs, described)


if __name__ == '__main__':
    make_hf_clip_vision()
    make_hf_clip()
    make_open_clip()
    make_eva02()
    for name in sorted(os.listdir(ROOT)):
        size = sum(os.path.getsize(os.path.join(ROOT, name, f)) for f in os.listdir(os.path.join(ROOT, name)))
        print(f'{name}: {size} bytes', file=sys.stderr)
