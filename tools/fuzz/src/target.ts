import type { Rng } from '@llm2clip/core';

/** A reader under fuzzing: bytes in, then success or a typed `Llm2ClipError` — anything else is a crash. */
export interface FuzzTarget {
  /** Short name, used on the command line and for corpus and crash folders. */
  readonly name: string;
  /** The reader(s) it drives. */
  readonly description: string;
  /** Longest input the mutator produces. */
  readonly maxLength: number;
  /** Format tokens the mutator inserts (JSON keys, magic strings, ...). */
  readonly dictionary: readonly string[];
  /**
   * Structure-aware mutation (a libFuzzer custom mutator): `'json'` when the whole input is JSON,
   * or a function that returns a mutated input (or `undefined` to fall back to byte mutation).
   * The loop uses it for a share of the mutations; byte-level mutation does the rest.
   */
  readonly structure?: 'json' | ((input: Uint8Array, rng: Rng, keys: readonly string[]) => Uint8Array | undefined);
  /** Valid inputs made with the project's own writers: the seed corpus. */
  seeds(): Promise<Uint8Array[]>;
  /**
   * Feeds `input` to the reader. `workDir` is a private, empty-at-start directory for the files the
   * reader needs; nothing may be written outside it.
   */
  run(input: Uint8Array, workDir: string): Promise<void>;
}
