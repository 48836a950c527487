import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipTextTokenizer } from '../src/index.js';

// a CLIPTokenizerFast-format tokenizer.json with merges learned from a small corpus, and the ids
// OpenAI's simple_tokenizer algorithm gives (scripts/make_clip_tokenizer_fixture.py)
const DIR = join(import.meta.dirname, 'fixtures', 'clip-tokenizer');

interface Reference {
  bos_token_id: number;
  eos_token_id: number;
  vocab_size: number;
  texts: string[];
  ids: number[][];
}

describe('CLIP BPE tokenizer from a real-format tokenizer.json', () => {
  it('encodes like OpenAI CLIP: lower-cased, byte-level BPE with </w>, [sot] … [eot], 77 ids', async () => {
    const reference = JSON.parse(await readFile(join(DIR, 'reference.json'), 'utf8')) as Reference;
    const tokenizer = await ClipTextTokenizer.fromFile(DIR);
    expect(tokenizer.bosTokenId).toBe(reference.bos_token_id);
    expect(tokenizer.eosTokenId).toBe(reference.eos_token_id);
    // CLIP pads with its end token (Hugging Face's pad_token is <|endoftext|>)
    expect(tokenizer.padTokenId).toBe(reference.eos_token_id);
    expect(tokenizer.configFields()).toEqual({ vocab_size: reference.vocab_size, bos_token_id: reference.bos_token_id, eos_token_id: reference.eos_token_id, pad_token_id: reference.eos_token_id, max_position_embeddings: 77 });
    reference.texts.forEach((text, i) => {
      const ids = tokenizer.encode(text);
      const expected = reference.ids[i];
      expect(ids).toHaveLength(77);
      expect(Array.from(ids.slice(0, expected.length)), text).toEqual(expected);
      expect(Array.from(ids.slice(expected.length)).every((id) => id === tokenizer.padTokenId)).toBe(true);
    });
    // the longest text is cut to 77 with the end token kept last
    expect(reference.ids.at(-1)).toHaveLength(77);
  });
});
