import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { LLAMA3_USER_HEADER, LlmTokenizer } from '../src/index.js';
import { variedCaptions as captions } from './fixtures.js';
import { ensureLlama3Fixture, LLAMA3_FIXTURE_DIR } from './llama3-fixture.js';

const FIXTURE = LLAMA3_FIXTURE_DIR;

let tokenizer: LlmTokenizer;
let tokenizerJson: Record<string, unknown>;
let tokenizerConfig: Record<string, unknown>;

beforeAll(async () => {
  await ensureLlama3Fixture();
  tokenizerJson = JSON.parse(gunzipSync(await readFile(join(FIXTURE, 'tokenizer.json.gz'))).toString('utf8')) as Record<string, unknown>;
  tokenizerConfig = JSON.parse(await readFile(join(FIXTURE, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  tokenizer = LlmTokenizer.fromJson(tokenizerJson, tokenizerConfig, join(FIXTURE, 'tokenizer.json.gz'));
}, 120_000);

describe('Llama-3 tokenizer.json converted from llama3-tokenizer-js', () => {
  it('matches llama3-tokenizer-js ids on 300 varied captions', () => {
    const texts = captions(300);
    expect(new Set(texts).size).toBeGreaterThan(290);
    let tokens = 0;
    for (const text of texts) {
      const expected = llama3Tokenizer.encode(text, { bos: true, eos: false });
      expect(tokenizer.tokenize(text, { maxLength: 100_000 }).ids, JSON.stringify(text)).toEqual(expected);
      tokens += expected.length;
    }
    expect(tokens).toBeGreaterThan(3000);
    expect(tokenizer.decode(tokenizer.tokenize('Grüße aus 東京 🐕!').ids)).toBe('Grüße aus 東京 🐕!');
  });

  it('pads on the left with EOS (no pad token, as LLM2Vec) and truncates the text only', () => {
    expect(tokenizer.bosTokenId).toBe(128000);
    expect(tokenizer.eosTokenId).toBe(128009);
    expect(tokenizer.padTokenId).toBe(128009);
    const batch = tokenizer.encodeBatch(['a dog', 'a photo of two dogs on the beach'], { maxLength: 6 });
    expect(batch.length).toBe(6);
    const row0 = [...batch.inputIds.subarray(0, 6)];
    expect(row0.slice(0, 3)).toEqual([128009, 128009, 128009]);
    expect(row0.slice(3)).toEqual([128000, ...llama3Tokenizer.encode('a dog', { bos: false, eos: false })]);
    expect([...batch.inputIds.subarray(6)]).toEqual(llama3Tokenizer.encode('a photo of two dogs on the beach', { bos: true, eos: false }).slice(0, 6));
    expect([...batch.attentionMask]).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect([...batch.embedMask]).toEqual([0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1]);
  });

  it('wraps texts in the Llama-3 user turn and pools the text and <|eot_id|> only', () => {
    // `auto` recognises the Llama-3 chat_template of tokenizer_config.json
    const templated = tokenizer.withChatTemplate('auto');
    expect(templated.chatTemplate).toBe('llama3');
    const text = 'a red bicycle leaning against a wall';
    const item = templated.tokenize(text);
    const expected = llama3Tokenizer.encode(`${LLAMA3_USER_HEADER}${text}<|eot_id|>`, { bos: true, eos: false });
    expect(item.ids).toEqual(expected);
    expect(item.ids.slice(0, 4)).toEqual([128000, 128006, 882, 128007]);
    const pooled = llama3Tokenizer.encode(`${text}<|eot_id|>`, { bos: false, eos: false }).length;
    expect(item.embedMask).toEqual([...new Array<number>(item.ids.length - pooled).fill(0), ...new Array<number>(pooled).fill(1)]);
    // LLM2Vec joins "instruction text" with one space and pools the text's own token count
    const pair = templated.tokenize(['  Retrieve the matching caption: ', text]);
    expect(pair.ids).toEqual(llama3Tokenizer.encode(`${LLAMA3_USER_HEADER}Retrieve the matching caption: ${text}<|eot_id|>`, { bos: true, eos: false }));
    expect(pair.embedMask.reduce((a, b) => a + b, 0)).toBe(pooled);
    expect(pair.embedMask.at(-1)).toBe(1);
    // truncation keeps the template and cuts the caption
    const short = templated.tokenize(text, { maxLength: 8 });
    expect(short.ids.length).toBe(8);
    expect(short.ids.slice(0, 5)).toEqual([128000, 128006, 882, 128007, 271]);
    expect(short.ids.at(-1)).toBe(128009);
    expect(short.embedMask).toEqual([0, 0, 0, 0, 0, 1, 1, 1]);
  });
});
