#!/usr/bin/env node
// Converts the Llama-3 vocabulary and merges shipped in the npm package `llama3-tokenizer-js`
// into a Hugging Face `tokenizer.json` laid out exactly like Meta's Llama-3 one (byte-level BPE,
// `ignore_merges`, the Llama-3 split regex, 256 special tokens from id 128000, a
// `<|begin_of_text|>` template), gzipped, plus the matching `tokenizer_config.json`.
//
// usage: node scripts/make-llama3-tokenizer-fixture.mjs [outDir]
//        (default outDir: test/fixtures/llama3-tokenizer)
// The tests run it on first use (test/llama3-fixture.ts); the output is not committed, since the
// vocabulary is Meta's and the npm package already ships it.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import llama3Tokenizer from 'llama3-tokenizer-js';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, '..', 'test', 'fixtures', 'llama3-tokenizer'));

/** The pre-tokenizer regex of Meta's Llama-3 `tokenizer.json` (Python/Rust syntax). */
const LLAMA3_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const FIRST_SPECIAL_ID = 128000;

const byId = llama3Tokenizer.vocabById;
if (byId.length !== 128256) throw new Error(`expected 128256 tokens, package has ${byId.length}`);
const vocab = {};
for (let id = 0; id < FIRST_SPECIAL_ID; id++) vocab[byId[id]] = id;
// the package keeps merges as "left right" → priority (1, 3, 5, … in file order)
const merges = [...llama3Tokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
const addedTokens = byId.slice(FIRST_SPECIAL_ID).map((content, i) => ({
  id: FIRST_SPECIAL_ID + i,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
}));
const bos = '<|begin_of_text|>';
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: addedTokens,
  normalizer: null,
  pre_tokenizer: {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: LLAMA3_SPLIT_REGEX }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  },
  post_processor: {
    type: 'Sequence',
    processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: bos, type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: bos, type_id: 1 } },
          { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { [bos]: { id: bos, ids: [FIRST_SPECIAL_ID], tokens: [bos] } },
      },
    ],
  },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: true,
    vocab,
    merges,
  },
};
// Llama-3.x-Instruct's tokenizer_config.json fields that matter here (no pad token: LLM2Vec pads with EOS)
const tokenizerConfig = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: bos,
  eos_token: '<|eot_id|>',
  clean_up_tokenization_spaces: true,
  model_input_names: ['input_ids', 'attention_mask'],
  model_max_length: 131072,
  tokenizer_class: 'PreTrainedTokenizerFast',
  chat_template:
    "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}",
};
mkdirSync(outDir, { recursive: true });
// temp file then rename: test files generating the fixture at the same time never see half a file
const writeAtomic = (name, data) => {
  const tmp = join(outDir, `.${name}.${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, join(outDir, name));
};
writeAtomic('tokenizer_config.json', `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
writeAtomic('tokenizer.json.gz', gzipSync(Buffer.from(JSON.stringify(tokenizer)), { level: 6 }));
console.log(`wrote ${outDir}: ${Object.keys(vocab).length} vocab entries, ${merges.length} merges, ${addedTokens.length} special tokens`);
