import { Llm2ClipError } from '@llm2clip/core';

function matchingBrace(text: string, open: number, pattern: string): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  throw new Llm2ClipError('E_CONFIG', `unbalanced "{" in pattern ${JSON.stringify(pattern)}`, { field: 'shards' });
}

function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '{') depth++;
    else if (body[i] === '}') depth--;
    else if (body[i] === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

function numericRange(body: string): string[] | undefined {
  const match = /^(-?\d+)\.\.(-?\d+)$/.exec(body);
  if (match === null) return undefined;
  const [, from, to] = match;
  const start = Number.parseInt(from, 10);
  const end = Number.parseInt(to, 10);
  const padded = /^-?0\d/.test(from) || /^-?0\d/.test(to);
  const width = padded ? Math.max(from.replace('-', '').length, to.replace('-', '').length) : 0;
  const step = start <= end ? 1 : -1;
  const values: string[] = [];
  for (let n = start; step > 0 ? n <= end : n >= end; n += step) {
    const digits = String(Math.abs(n)).padStart(width, '0');
    values.push(n < 0 ? `-${digits}` : digits);
  }
  return values;
}

function expand(text: string, pattern: string): string[] {
  const open = text.indexOf('{');
  if (open < 0) {
    if (text.includes('}')) throw new Llm2ClipError('E_CONFIG', `unbalanced "}" in pattern ${JSON.stringify(pattern)}`, { field: 'shards' });
    return [text];
  }
  const close = matchingBrace(text, open, pattern);
  const prefix = text.slice(0, open);
  if (prefix.includes('}')) throw new Llm2ClipError('E_CONFIG', `unbalanced "}" in pattern ${JSON.stringify(pattern)}`, { field: 'shards' });
  const body = text.slice(open + 1, close);
  const suffixes = expand(text.slice(close + 1), pattern);
  const alternatives = splitTopLevel(body);
  let middles: string[];
  if (alternatives.length > 1) middles = alternatives.flatMap((alternative) => expand(alternative, pattern));
  else middles = numericRange(body) ?? expand(body, pattern).map((inner) => `{${inner}}`);
  return middles.flatMap((middle) => suffixes.map((suffix) => `${prefix}${middle}${suffix}`));
}

/**
 * Expands shell-style brace patterns as webdataset URLs use them: numeric ranges keep the
 * zero padding of their bounds (`shard-{000..002}.tar` → `shard-000.tar`, `shard-001.tar`,
 * `shard-002.tar`), comma lists give alternatives (`{train,val}`), several and nested braces
 * expand to every combination in order. A brace with neither stays literal; unbalanced braces
 * throw `E_CONFIG`.
 */
export function expandBraces(pattern: string): string[] {
  return expand(pattern, pattern);
}
