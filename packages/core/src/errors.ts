/**
 * Stable error codes. Code that handles errors switches on these strings, never on messages.
 *
 * - `E_FORMAT`: a file does not follow its format (bad header, bad JSON, wrong magic).
 * - `E_CONFIG`: a configuration value is missing, of the wrong type or out of range.
 * - `E_SHAPE`: a tensor or matrix has a shape other than the one required.
 * - `E_IO`: a file or directory could not be read or written.
 * - `E_BACKEND`: a tensor backend could not be loaded or lacks a kernel.
 * - `E_NOT_FOUND`: a named thing (file, tensor, key, checkpoint) does not exist.
 * - `E_MISMATCH`: two artifacts that must agree do not (cache vs. model, keys vs. shards).
 * - `E_STATE`: an object was used in a state that does not allow the call (disposed, unfinished).
 * - `E_DATA`: a data sample is malformed (bad image, missing caption).
 */
export const ERROR_CODES = [
  'E_FORMAT',
  'E_CONFIG',
  'E_SHAPE',
  'E_IO',
  'E_BACKEND',
  'E_NOT_FOUND',
  'E_MISMATCH',
  'E_STATE',
  'E_DATA',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Where an error happened: the file, the field inside it, the sample key. */
export interface ErrorContext {
  /** File or directory the error concerns. */
  path?: string;
  /** Field, tensor name or config key the error concerns. */
  field?: string;
  /** Sample key the error concerns. */
  key?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The one error class of llm2clip-ts. `code` is stable across releases; the message names the
 * path, field or sample and says what was expected.
 *
 * @example
 * ```ts
 * throw new Llm2ClipError('E_FORMAT', 'header length exceeds file size', { path: file });
 * ```
 */
export class Llm2ClipError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** File or directory concerned, if any. */
  readonly path?: string;
  /** Field concerned, if any. */
  readonly field?: string;
  /** Sample key concerned, if any. */
  readonly key?: string;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    const where = [
      context.path !== undefined ? `file ${context.path}` : undefined,
      context.field !== undefined ? `field ${context.field}` : undefined,
      context.key !== undefined ? `sample ${context.key}` : undefined,
    ].filter((part): part is string => part !== undefined);
    super(`[${code}] ${message}${where.length > 0 ? ` (${where.join(', ')})` : ''}`, {
      cause: context.cause,
    });
    this.name = 'Llm2ClipError';
    this.code = code;
    this.path = context.path;
    this.field = context.field;
    this.key = context.key;
  }
}

/** True when `error` is an {@link Llm2ClipError}, optionally with the given code. */
export function isLlm2ClipError(error: unknown, code?: ErrorCode): error is Llm2ClipError {
  return error instanceof Llm2ClipError && (code === undefined || error.code === code);
}
