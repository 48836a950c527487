import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Where the Llama-3 `tokenizer.json` fixture lives once generated. */
export const LLAMA3_FIXTURE_DIR = fileURLToPath(new URL('./fixtures/llama3-tokenizer/', import.meta.url));

/**
 * Generates the Llama-3 `tokenizer.json.gz` + `tokenizer_config.json` fixture from the
 * `llama3-tokenizer-js` devDependency on first use (it is not committed: the vocabulary is
 * Meta's and the npm package already ships it), and returns its directory.
 */
export async function ensureLlama3Fixture(): Promise<string> {
  if (!existsSync(join(LLAMA3_FIXTURE_DIR, 'tokenizer.json.gz')) || !existsSync(join(LLAMA3_FIXTURE_DIR, 'tokenizer_config.json'))) {
    const script = fileURLToPath(new URL('../scripts/make-llama3-tokenizer-fixture.mjs', import.meta.url));
    await promisify(execFile)(process.execPath, [script, LLAMA3_FIXTURE_DIR]);
  }
  return LLAMA3_FIXTURE_DIR;
}
