import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Rng } from '@llm2clip/core';
import { LlamaModel, LlmEmbedder, LlmTokenizer, LoraAdapter } from '../src/index.js';
import { syncError, tempDir, tinyConfig, tinyTokenizerConfig, tinyTokenizerJson, typedError, writeTinyTokenizer } from './fixtures.js';

/** A real pickle header (protocol 2, an empty dict): the loaders must not look inside. */
const PICKLE = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);

describe('LlmTokenizer over an untrusted tokenizer.json', () => {
  it('replays the tokenizer-json fuzz reproducers: every one is E_FORMAT naming the file (no hang, no TypeError)', async () => {
    const dir = new URL('../../../tools/fuzz/regressions/tokenizer-json/', import.meta.url);
    const files = (await readdir(dir)).sort();
    expect(files.length).toBe(4);
    for (const file of files) {
      const json = JSON.parse(await readFile(new URL(file, dir), 'utf8')) as Record<string, unknown>;
      const vocab = (json.model as { vocab?: Record<string, number> } | undefined)?.vocab;
      const eos = vocab !== undefined && '</s>' in vocab ? '</s>' : '<|end_of_text|>';
      const e = syncError(() => LlmTokenizer.fromJson(json, { eos_token: eos }, '/m/tokenizer.json').tokenize('the red cube ab abc'), 'E_FORMAT');
      expect(e.path, file).toBe('/m/tokenizer.json');
    }
  });

  it('fromDirectory validates tokenizer.json before the library sees it', async () => {
    const dir = await tempDir('llm-tok-dir-');
    await writeTinyTokenizer(dir);
    expect((await LlmTokenizer.fromDirectory(dir)).vocabSize).toBeGreaterThan(5);
    const json = tinyTokenizerJson() as { model: { vocab: Record<string, number> } };
    json.model.vocab['<s>'] = 2 ** 31;
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const started = Date.now();
    const e = await typedError(LlmTokenizer.fromDirectory(dir), 'E_FORMAT');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e.path).toBe(join(dir, 'tokenizer.json'));
    expect(e.field).toBe('model.vocab.<s>');
  });

  it('turns library errors after load (encode, decode) into E_FORMAT naming the file', () => {
    // an unk_token that is not a string loads and encodes, but the library's decode fails on it
    const json = tinyTokenizerJson() as { model: { unk_token: unknown } };
    json.model.unk_token = 7;
    const broken = LlmTokenizer.fromJson(json, tinyTokenizerConfig(), '/m/tokenizer.json');
    expect(broken.tokenize('a red cube').ids.length).toBeGreaterThan(2);
    const e = syncError(() => broken.decode([9999]), 'E_FORMAT');
    expect(e.path).toBe('/m/tokenizer.json');
    expect(e.message).toMatch(/decode/);
    // an input-dependent failure of the library while encoding
    const tokenizer = LlmTokenizer.fromJson(tinyTokenizerJson(), tinyTokenizerConfig(), '/m/tokenizer.json');
    const encode = tokenizer.tokenizer.encode.bind(tokenizer.tokenizer);
    const spy = vi.spyOn(tokenizer.tokenizer, 'encode').mockImplementation((text: string, options?: Parameters<typeof encode>[1]) => {
      if (text.includes('cube')) throw new TypeError('x.toLowerCase is not a function');
      return encode(text, options);
    });
    expect(tokenizer.tokenize('a red dog').ids.length).toBeGreaterThan(1);
    const failed = syncError(() => tokenizer.encodeBatch(['a red dog', 'a red cube']), 'E_FORMAT');
    expect(failed.path).toBe('/m/tokenizer.json');
    expect(failed.message).toMatch(/toLowerCase/);
    expect(failed.cause).toBeInstanceOf(TypeError);
    spy.mockRestore();
  });
});

describe('pickle-only directories get the conversion message, not "not found"', () => {
  it('loadAdapter on a PEFT directory saved with safe_serialization=False (adapter_model.bin only)', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(3));
    const lora = LoraAdapter.attach(model, { r: 2, alpha: 4 }, new Rng(4));
    const dir = await tempDir('llm-peft-bin-');
    await lora.saveAdapter(dir);
    lora.deactivate();
    lora.parameters.dispose();
    await rm(join(dir, 'adapter_model.safetensors'));
    await writeFile(join(dir, 'adapter_model.bin'), PICKLE);
    let e = await typedError(LoraAdapter.loadAdapter(model, dir), 'E_FORMAT');
    expect(e.path).toBe(join(dir, 'adapter_model.bin'));
    expect(e.message).toContain("save_file(torch.load('adapter_model.bin', map_location='cpu', weights_only=True), 'adapter_model.safetensors')");
    // the .bin given as the adapter path
    e = await typedError(LoraAdapter.loadAdapter(model, join(dir, 'adapter_model.bin')), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    // with no weights at all it is not a pickle problem
    await rm(join(dir, 'adapter_model.bin'));
    e = await typedError(LoraAdapter.loadAdapter(model, dir), 'E_IO');
    expect(e.path).toBe(join(dir, 'adapter_model.safetensors'));
    model.dispose();
  });

  it('LlmEmbedder.fromPretrained on a directory with only pickle weights, with or without the tokenizer files', async () => {
    const dir = await tempDir('llm-embed-bin-');
    await writeFile(join(dir, 'pytorch_model.bin'), PICKLE);
    let e = await typedError(LlmEmbedder.fromPretrained(dir), 'E_FORMAT');
    expect(e.path).toBe(join(dir, 'pytorch_model.bin'));
    expect(e.message).toContain('save_pretrained(dir, safe_serialization=True)');
    await writeTinyTokenizer(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(tinyConfig()));
    e = await typedError(LlmEmbedder.fromPretrained(dir), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    // the pickle file itself
    e = await typedError(LlmEmbedder.fromPretrained(join(dir, 'pytorch_model.bin')), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    // an adapter saved as adapter_model.bin next to a good model
    const good = await tempDir('llm-embed-good-');
    const model = LlamaModel.create(tinyConfig(), new Rng(6));
    await model.save(good);
    model.dispose();
    await writeTinyTokenizer(good);
    const adapter = await tempDir('llm-embed-adapter-');
    await writeFile(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'] }));
    await writeFile(join(adapter, 'adapter_model.bin'), PICKLE);
    e = await typedError(LlmEmbedder.fromPretrained(good, { adapter }), 'E_FORMAT');
    expect(e.path).toBe(join(adapter, 'adapter_model.bin'));
  });
});
