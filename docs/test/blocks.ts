/**
 * Extraction of the fenced code blocks of a guide.
 *
 * Info-string grammar (after the language): `runnable` runs the block; `setup` marks the
 * quickstart block that builds the tiny workspace every guide runs in; `file=<path>` writes the
 * block to that path in the workspace (configs, and ts blocks); `not-runnable: <reason>` keeps a
 * block out of the run, with the reason stated. `ts`, `sh` and `bash` blocks must carry one of
 * `runnable` / `not-runnable`; other languages (text, json, yaml, …) are shown as-is unless
 * `file=` is given.
 */
export interface CodeBlock {
  /** The guide file the block comes from. */
  guide: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  info: string;
  code: string;
  runnable: boolean;
  setup: boolean;
  file?: string;
  notRunnableReason?: string;
}

/** Languages whose blocks are code that must be either run or excused. */
export const EXECUTABLE_LANGS = new Set(['ts', 'typescript', 'sh', 'bash', 'js', 'mjs']);

/** The fenced blocks of `markdown` (``` fences; nested fences are not used in the guides). */
export function extractBlocks(guide: string, markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[2]!;
    const info = open[3]!.trim();
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trim().startsWith(fence)) body.push(lines[j++]!);
    if (j >= lines.length) throw new Error(`${guide}:${i + 1}: unclosed code fence`);
    const [lang = '', ...rest] = info.split(/\s+/);
    const restText = rest.join(' ');
    const reason = /not-runnable:\s*(.+)$/.exec(restText)?.[1]?.trim();
    const file = /(?:^|\s)file=(\S+)/.exec(restText)?.[1];
    blocks.push({
      guide,
      line: i + 1,
      lang,
      info,
      code: body.join('\n') + '\n',
      runnable: reason === undefined && (/(?:^|\s)runnable(?:\s|$)/.test(restText) || (file !== undefined && !EXECUTABLE_LANGS.has(lang))),
      setup: /(?:^|\s)setup(?:\s|$)/.test(restText),
      ...(file !== undefined ? { file } : {}),
      ...(reason !== undefined ? { notRunnableReason: reason } : {}),
    });
    i = j;
  }
  return blocks;
}
