import type { Rng } from '@llm2clip/core';

/** Byte values and little-endian integers that often sit on a parser's boundaries. */
const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x2c, 0x2e, 0x2f, 0x30, 0x39, 0x5b, 0x5d, 0x7b, 0x7d, 0x0a, 0x0d, 0x09];
const INTERESTING_32 = [0, 1, 8, 16, 255, 256, 511, 512, 513, 1024, 4096, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff];
/** Decimal strings substituted for digit runs in text formats. */
const INTERESTING_NUMBERS = ['0', '-1', '1', '7', '8', '512', '65536', '2147483647', '4294967296', '9007199254740993', '1e308', '-0', '1.5', '99999999999999999999'];

/** Options of {@link mutate}. */
export interface MutateOptions {
  /** Longest input produced. */
  maxLength: number;
  /** Tokens of the target's format, inserted or overwritten at random places. */
  dictionary: readonly Uint8Array[];
  /** Other corpus entries to splice with. */
  corpus: readonly Uint8Array[];
}

function randomIndex(rng: Rng, length: number): number {
  return length === 0 ? 0 : rng.int(0, length - 1);
}

function insert(data: Uint8Array, at: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + bytes.length);
  out.set(data.subarray(0, at));
  out.set(bytes, at);
  out.set(data.subarray(at), at + bytes.length);
  return out;
}

function replaceRange(data: Uint8Array, start: number, end: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length - (end - start) + bytes.length);
  out.set(data.subarray(0, start));
  out.set(bytes, start);
  out.set(data.subarray(end), start + bytes.length);
  return out;
}

/** One mutation of `data`, chosen by `rng` among libFuzzer's usual operators. */
function mutateOnce(data: Uint8Array, rng: Rng, options: MutateOptions): Uint8Array {
  const kind = rng.int(0, 11);
  switch (kind) {
    case 0: {
      // flip one bit
      if (data.length === 0) return Uint8Array.of(rng.int(0, 255));
      const out = data.slice();
      const i = randomIndex(rng, out.length);
      out[i] ^= 1 << rng.int(0, 7);
      return out;
    }
    case 1: {
      // set a random or interesting byte
      if (data.length === 0) return Uint8Array.of(rng.int(0, 255));
      const out = data.slice();
      out[randomIndex(rng, out.length)] = rng.bernoulli(0.5) ? rng.int(0, 255) : INTERESTING_8[rng.int(0, INTERESTING_8.length - 1)];
      return out;
    }
    case 2: {
      // overwrite 1, 2, 4 or 8 bytes with an interesting little-endian integer
      const width = [1, 2, 4, 8][rng.int(0, 3)];
      if (data.length < width) return data;
      const out = data.slice();
      const at = rng.int(0, out.length - width);
      const value = BigInt(INTERESTING_32[rng.int(0, INTERESTING_32.length - 1)]) * (rng.bernoulli(0.2) ? 1n << 32n : 1n);
      for (let b = 0; b < width; b++) out[at + b] = Number((value >> BigInt(8 * b)) & 0xffn);
      return out;
    }
    case 3: {
      // delete a range
      if (data.length < 2) return data;
      const start = randomIndex(rng, data.length);
      const end = Math.min(data.length, start + 1 + rng.int(0, Math.min(64, data.length - start)));
      return replaceRange(data, start, end, new Uint8Array(0));
    }
    case 4: {
      // insert random bytes
      const count = rng.int(1, 16);
      const bytes = new Uint8Array(count);
      for (let i = 0; i < count; i++) bytes[i] = rng.int(0, 255);
      return insert(data, rng.int(0, data.length), bytes);
    }
    case 5: {
      // duplicate a range elsewhere
      if (data.length === 0) return data;
      const start = randomIndex(rng, data.length);
      const end = Math.min(data.length, start + 1 + rng.int(0, 128));
      return insert(data, rng.int(0, data.length), data.slice(start, end));
    }
    case 6:
      // truncate
      return data.length === 0 ? data : data.slice(0, rng.int(0, data.length - 1));
    case 7: {
      // splice with another corpus entry
      if (options.corpus.length === 0) return data;
      const other = options.corpus[rng.int(0, options.corpus.length - 1)];
      const cut = rng.int(0, data.length);
      const from = rng.int(0, other.length);
      const out = new Uint8Array(cut + other.length - from);
      out.set(data.subarray(0, cut));
      out.set(other.subarray(from), cut);
      return out;
    }
    case 8:
    case 9: {
      // insert or overwrite a dictionary token
      if (options.dictionary.length === 0) return data;
      const token = options.dictionary[rng.int(0, options.dictionary.length - 1)];
      const at = rng.int(0, data.length);
      return kind === 8 ? insert(data, at, token) : replaceRange(data, at, Math.min(data.length, at + token.length), token);
    }
    case 10: {
      // replace a run of ASCII digits with an interesting number
      const digits: number[] = [];
      for (let i = 0; i < data.length; i++) if (data[i] >= 0x30 && data[i] <= 0x39 && (i === 0 || data[i - 1] < 0x30 || data[i - 1] > 0x39)) digits.push(i);
      if (digits.length === 0) return data;
      const start = digits[rng.int(0, digits.length - 1)];
      let end = start;
      while (end < data.length && data[end] >= 0x30 && data[end] <= 0x39) end++;
      const number = INTERESTING_NUMBERS[rng.int(0, INTERESTING_NUMBERS.length - 1)];
      return replaceRange(data, start, end, new TextEncoder().encode(number));
    }
    default: {
      // shuffle a few bytes
      if (data.length < 2) return data;
      const out = data.slice();
      const start = randomIndex(rng, out.length);
      const end = Math.min(out.length, start + rng.int(2, 8));
      for (let i = end - 1; i > start; i--) {
        const j = rng.int(start, i);
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    }
  }
}

/** Applies 1–8 stacked mutations to `data`, capped at `maxLength` bytes. */
export function mutate(data: Uint8Array, rng: Rng, options: MutateOptions): Uint8Array {
  let out = data;
  const rounds = 1 << rng.int(0, 3);
  for (let i = 0; i < rounds; i++) out = mutateOnce(out, rng, options);
  return out.length > options.maxLength ? out.subarray(0, options.maxLength) : out;
}

/** Values a structure-aware JSON mutation substitutes: wrong types, boundaries, empties. */
const INTERESTING_JSON: readonly unknown[] = [
  null, true, false, 0, -1, 1, 0.5, -0.000001, 255, 65536, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, -(2 ** 63), 1e308, -1e308,
  '', 'x', '../../etc/passwd', '/abs/path', '\u0000', 'ÿ'.repeat(64), '9007199254740993', [], {}, [null], [[]], [0, 0], { '': null },
];

/** Every (container, key) slot of a JSON value, root first, up to `limit` slots. */
function jsonSlots(root: unknown, limit = 4000): Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> {
  const holder = { root };
  const slots: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [{ parent: holder, key: 'root' }];
  for (let i = 0; i < slots.length && slots.length < limit; i++) {
    const { parent, key } = slots[i];
    const value = (parent as Record<string | number, unknown>)[key];
    if (Array.isArray(value)) value.forEach((_, index) => slots.push({ parent: value, key: index }));
    else if (typeof value === 'object' && value !== null) for (const k of Object.keys(value)) slots.push({ parent: value as Record<string, unknown>, key: k });
  }
  return slots;
}

/**
 * A structure-aware mutation of a parsed JSON value (a libFuzzer custom mutator for JSON
 * formats): one node is replaced by an interesting value of another type or a boundary number,
 * deleted, duplicated, nudged (numbers ±1, ×2, negated; strings cut or grown), or a key taken from
 * `keys` is added to an object. Returns the new value; the input is not modified.
 */
export function mutateJsonValue(value: unknown, rng: Rng, keys: readonly string[] = []): unknown {
  const holder = { root: structuredClone(value) as unknown };
  const slots = jsonSlots(holder.root);
  // slot 0 of jsonSlots is the root of its own holder; remap it onto ours
  slots[0] = { parent: holder, key: 'root' };
  const { parent, key } = slots[rng.int(0, slots.length - 1)];
  const container = parent as Record<string | number, unknown>;
  const current = container[key];
  const op = rng.int(0, 5);
  if (op === 0 || op === 1) {
    container[key] = structuredClone(INTERESTING_JSON[rng.int(0, INTERESTING_JSON.length - 1)]);
  } else if (op === 2 && parent !== holder) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete container[key];
  } else if (op === 3 && Array.isArray(parent)) {
    parent.splice(key as number, 0, structuredClone(current));
  } else if (op === 4) {
    if (typeof current === 'number') {
      const choices = [current + 1, current - 1, current * 2, -current, Math.floor(current / 2), current + 0.5];
      container[key] = choices[rng.int(0, choices.length - 1)];
    } else if (typeof current === 'string') {
      container[key] = rng.bernoulli(0.5) ? current.slice(0, rng.int(0, current.length)) : current + current;
    } else if (Array.isArray(current)) {
      current.push(structuredClone(current.length > 0 ? current[rng.int(0, current.length - 1)] : null));
    } else if (typeof current === 'object' && current !== null) {
      const name = keys.length > 0 ? keys[rng.int(0, keys.length - 1)] : 'x';
      (current as Record<string, unknown>)[name] = structuredClone(INTERESTING_JSON[rng.int(0, INTERESTING_JSON.length - 1)]);
    } else {
      container[key] = structuredClone(INTERESTING_JSON[rng.int(0, INTERESTING_JSON.length - 1)]);
    }
  } else {
    // move a value of another slot here (type confusion between fields)
    const other = slots[rng.int(0, slots.length - 1)];
    container[key] = structuredClone((other.parent as Record<string | number, unknown>)[other.key]);
  }
  return holder.root;
}

/** {@link mutateJsonValue} over UTF-8 JSON bytes; `undefined` when the bytes are not JSON. */
export function mutateJsonBytes(data: Uint8Array, rng: Rng, keys: readonly string[] = []): Uint8Array | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch {
    return undefined;
  }
  let out = value;
  const rounds = rng.int(1, 3);
  for (let i = 0; i < rounds; i++) out = mutateJsonValue(out, rng, keys);
  const text = JSON.stringify(out);
  return new TextEncoder().encode(text === undefined ? 'null' : text);
}

/** Keys of a dictionary: its tokens that are JSON strings, unquoted. */
export function dictionaryKeys(dictionary: readonly string[]): string[] {
  return dictionary.filter((token) => /^"[^"\\]+"$/.test(token)).map((token) => token.slice(1, -1));
}
