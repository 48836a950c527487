import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { LlamaModel } from '@llm2clip/llm';
import { initBackend } from '@llm2clip/tensor';
import { cosine, embedCaptions, nearestCaptions } from '../src/index.js';

// A tiny random Llama in the Hugging Face layout (config.json + model.safetensors written by
// LlamaModel.save, a WordLevel tokenizer.json + tokenizer_config.json as `tokenizers` writes them).

const SPECIAL = ['<pad>', '<s>', '</s>', '<unk>'];
const WORDS = ['a', 'the', 'red', 'green', 'blue', 'cube', 'ball', 'cone', 'small', 'large', 'on', 'left', 'right', 'of'];
const VOCAB = [...SPECIAL, ...WORDS];

let dir: string;

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: () => {} });
  dir = await mkdtemp(join(tmpdir(), 'llm-embedder-example-'));
  const model = LlamaModel.create(
    {
      architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: VOCAB.length, hidden_size: 16, intermediate_size: 32,
      num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64,
      bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, tie_word_embeddings: true,
    },
    new Rng(3),
  );
  await model.save(dir);
  model.dispose();
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null, pre_tokenizer: { type: 'Whitespace' },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])), unk_token: '<unk>' },
  }));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' }));
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('@llm2clip/llm as a caption embedder', () => {
  it('embeds captions into unit vectors of the hidden size, the same text to the same vector', async () => {
    const out = await embedCaptions(['a red cube', 'the blue ball on the left', 'a red cube'], { model: dir });
    expect(out.dim).toBe(16);
    expect(out.vectors).toHaveLength(3);
    for (const v of out.vectors) expect(cosine(v, v)).toBeCloseTo(1, 5);
    expect(cosine(out.vectors[0]!, out.vectors[2]!)).toBeCloseTo(1, 5);
    expect(cosine(out.vectors[0]!, out.vectors[1]!)).toBeLessThan(0.9999);
    expect(out.embedder.fingerprint).toMatch(/\S/);
  });

  it('pooling changes the embedding', async () => {
    const mean = await embedCaptions(['a small green cone'], { model: dir, pooling: 'mean' });
    const eos = await embedCaptions(['a small green cone'], { model: dir, pooling: 'eos' });
    expect(cosine(mean.vectors[0]!, eos.vectors[0]!)).toBeLessThan(0.9999);
  });

  it('finds a caption itself first among the gallery', async () => {
    const gallery = ['a large blue ball', 'a red cube on the right', 'the green cone'];
    const [result] = await nearestCaptions(['a red cube on the right'], gallery, 2, { model: dir });
    expect(result!.hits).toHaveLength(2);
    expect(result!.hits[0]).toMatchObject({ index: 1, caption: 'a red cube on the right' });
    expect(result!.hits[0]!.score).toBeCloseTo(1, 5);
    expect(result!.hits[1]!.score).toBeLessThanOrEqual(result!.hits[0]!.score);
  });

  it('names the missing directory in a typed error', async () => {
    await expect(embedCaptions(['x'], { model: join(dir, 'nope') })).rejects.toMatchObject({ name: 'Llm2ClipError' });
  });

  it('runs as a command', async () => {
    const bin = resolve(import.meta.dirname, '../dist/cli.js');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--model', dir, '--k', '1', 'a red cube', '--', 'the green cone', 'a red cube'], { env: { ...process.env, LLM2CLIP_BACKEND: 'cpu' } });
    expect(stdout).toMatch(/^a red cube\n\s+1\.0000\s+a red cube\n$/);
  });
});
