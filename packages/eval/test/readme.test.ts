import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The first ```ts block of the README, importing this package's sources instead of the built entry. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(packageDir, 'README.md'), 'utf8');
  const match = /```ts\n([\s\S]*?)```/.exec(readme);
  if (match === null) throw new Error('README.md has no ts code block');
  return match[1].replace("from '@llm2clip/eval'", `from '${pathToFileURL(join(packageDir, 'src', 'index.ts')).href}'`);
}

describe('README example', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs and prints the numbers the README states', async () => {
    const file = join(packageDir, 'test', '.tmp', 'readme-example.ts');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, await readmeExample());
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void printed.push(parts.map(String).join(' ')));
    await import(pathToFileURL(file).href);
    const output = printed.join('\n');
    const readme = await readFile(join(packageDir, 'README.md'), 'utf8');
    // every line of the README's "prints" block appears in the output
    const expected = /It prints:\n\n```text\n([\s\S]*?)```/.exec(readme);
    expect(expected).not.toBeNull();
    for (const line of expected![1].split('\n').filter((l) => l.trim() !== '' && !l.startsWith('…'))) {
      expect(output).toContain(line);
    }
  });
});
