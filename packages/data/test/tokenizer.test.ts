import { describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { Rng } from '@llm2clip/core';
import {
  SPECIAL_TOKEN_ORDER,
  buildTokenizerConfigJson,
  buildWordLevelTokenizerJson,
  captionVocabulary,
  generateScene,
  sampleCaptions,
  splitWords,
} from '../src/index.js';

function load(options = {}): Tokenizer {
  // round trip through JSON text, as from the files on disk
  const json = JSON.parse(JSON.stringify(buildWordLevelTokenizerJson(captionVocabulary(), options)));
  const config = JSON.parse(JSON.stringify(buildTokenizerConfigJson(options)));
  return new Tokenizer(json, config);
}

describe('word-level tokenizer.json', () => {
  it('loads in @huggingface/tokenizers with special tokens at ids 0-4', () => {
    const tokenizer = load();
    expect(SPECIAL_TOKEN_ORDER.map((t) => tokenizer.token_to_id(t))).toEqual([0, 1, 2, 3, 4]);
    expect(tokenizer.get_vocab().size).toBe(captionVocabulary().length + 5);
  });

  it('encodes captions word by word with <s> first, ids matching the vocabulary, and decodes back', () => {
    const tokenizer = load();
    const vocab = buildWordLevelTokenizerJson(captionVocabulary()).model.vocab;
    const rng = new Rng(1);
    for (let i = 0; i < 100; i++) {
      for (const caption of sampleCaptions(generateScene(rng), rng).captions) {
        const encoding = tokenizer.encode(caption);
        const words = splitWords(caption);
        expect(encoding.tokens).toEqual(['<s>', ...words]);
        expect(encoding.ids).toEqual([2, ...words.map((w) => vocab[w])]);
        expect(encoding.ids).not.toContain(1);
        expect(tokenizer.decode(encoding.ids, { skip_special_tokens: true })).toBe(caption);
      }
    }
  });

  it('maps unknown words to <unk>, whole, and lowercases input', () => {
    const tokenizer = load();
    const encoding = tokenizer.encode('A RED Zebra, redness circle');
    expect(encoding.tokens).toEqual(['<s>', 'a', 'red', '<unk>', ',', '<unk>', 'circle']);
    expect(encoding.ids[3]).toBe(1);
  });

  it('adds </s> only when asked', () => {
    expect(load().encode('a red circle').tokens.at(-1)).toBe('circle');
    expect(load({ addEos: true }).encode('a red circle').tokens).toEqual(['<s>', 'a', 'red', 'circle', '</s>']);
    expect(load({ addBos: false }).encode('a red circle').tokens).toEqual(['a', 'red', 'circle']);
  });

  it('writes a tokenizer_config.json with the special tokens and left padding', () => {
    const config = buildTokenizerConfigJson({ modelMaxLength: 256 });
    expect(config).toMatchObject({
      bos_token: '<s>',
      eos_token: '</s>',
      pad_token: '<pad>',
      unk_token: '<unk>',
      mask_token: '<mask>',
      model_max_length: 256,
      padding_side: 'left',
    });
    expect(config.added_tokens_decoder['0'].content).toBe('<pad>');
  });

  it('rejects vocabularies it cannot represent', () => {
    expect(() => buildWordLevelTokenizerJson(['red', 'red'])).toThrow(/twice/);
    expect(() => buildWordLevelTokenizerJson(['Red'])).toThrow(/lowercase/);
    expect(() => buildWordLevelTokenizerJson(['<s>'])).toThrow(/special/);
  });
});
