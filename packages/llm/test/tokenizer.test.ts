import { mkdtemp } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { LlmTokenizer } from '../src/index.js';
import { tempDir, tinyTokenizerConfig, tinyTokenizerJson, writeTinyTokenizer } from './fixtures.js';

const tokenizer = LlmTokenizer.fromJson(tinyTokenizerJson(), tinyTokenizerConfig());

describe('LlmTokenizer', () => {
  it('reads tokenizer.json and tokenizer_config.json from a directory', async () => {
    const dir = await tempDir();
    await writeTinyTokenizer(dir);
    const loaded = await LlmTokenizer.fromDirectory(dir);
    expect(loaded.padTokenId).toBe(0);
    expect(loaded.bosTokenId).toBe(1);
    expect(loaded.eosTokenId).toBe(2);
    expect(loaded.tokenize('a red cube').ids).toEqual([1, 5, 7, 11]);
  });

  it('reports a missing tokenizer.json with its path', async () => {
    const dir = await mkdtemp('/tmp/empty-tok-');
    await expect(LlmTokenizer.fromDirectory(dir)).rejects.toThrow(/E_IO.*tokenizer\.json/);
  });

  it('pads on the left by default with the pad token, to the longest row', () => {
    const batch = tokenizer.encodeBatch(['a red cube', 'blue ball']);
    expect(batch.batch).toBe(2);
    expect(batch.length).toBe(4);
    expect([...batch.inputIds]).toEqual([1, 5, 7, 11, 0, 1, 9, 12]);
    expect([...batch.attentionMask]).toEqual([1, 1, 1, 1, 0, 1, 1, 1]);
    // LLM2Vec pools the text tokens only: BOS and padding are left out
    expect([...batch.embedMask]).toEqual([0, 1, 1, 1, 0, 0, 1, 1]);
  });

  it('pads on the right on request', () => {
    const batch = tokenizer.encodeBatch(['a red cube', 'blue ball'], { padding: 'right' });
    expect([...batch.inputIds]).toEqual([1, 5, 7, 11, 1, 9, 12, 0]);
    expect([...batch.attentionMask]).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
  });

  it('falls back to EOS for padding when there is no pad token', () => {
    const { pad_token: _, ...config } = tinyTokenizerConfig();
    expect(LlmTokenizer.fromJson(tinyTokenizerJson(), config).padTokenId).toBe(2);
  });

  it('truncates to maxLength keeping the BOS token', () => {
    const item = tokenizer.tokenize('a red cube left of a blue ball', { maxLength: 4 });
    expect(item.ids).toEqual([1, 5, 7, 11]);
    expect(tokenizer.tokenize('a red cube', { addSpecialTokens: false }).ids).toEqual([5, 7, 11]);
  });

  it('marks only the text of an [instruction, text] pair for pooling', () => {
    const item = tokenizer.tokenize(['retrieve matching caption :', 'red cube']);
    expect(item.ids).toEqual([1, 29, 30, 28, 31, 7, 11]);
    expect(item.embedMask).toEqual([0, 0, 0, 0, 0, 1, 1]);
    const batch = tokenizer.encodeBatch([['retrieve :', 'red cube'], 'blue ball']);
    expect([...batch.embedMask]).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 1, 1]);
  });

  it('applies no chat template unless asked, and refuses the Llama-3 one without its tokens', () => {
    expect(tokenizer.chatTemplate).toBe('none');
    expect(tokenizer.withChatTemplate('auto').chatTemplate).toBe('none');
    expect(() => tokenizer.withChatTemplate('llama3')).toThrow(/E_CONFIG.*<\|start_header_id\|>/);
    const llama3Config = { ...tinyTokenizerConfig(), chat_template: '{{ "<|start_header_id|>" }}' };
    expect(() => LlmTokenizer.fromJson(tinyTokenizerJson(), llama3Config, 'x', { chatTemplate: 'auto' })).toThrow(/E_CONFIG/);
  });

  it('decodes ids back to text', () => {
    expect(tokenizer.decode(tokenizer.tokenize('a red cube').ids)).toBe('a red cube');
  });
});
