import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/**
 * How the hub names a file's content, and so how a download is checked:
 *
 * - `sha256`: LFS files (weights). `X-Linked-Etag` is the sha256 of the content, in hex.
 * - `git-sha1`: regular git files (configs, tokenizers). `ETag` is the git blob id: the sha1 of
 *   `"blob <byte length>\0"` followed by the content (what `git hash-object` prints).
 *
 * These are the names `huggingface_hub` gives the blobs of its cache, so a blob's file name is also
 * the digest its content must have.
 */
export type BlobDigestAlgorithm = 'sha256' | 'git-sha1';

/** The digest a downloaded blob must have. */
export interface ExpectedDigest {
  readonly algorithm: BlobDigestAlgorithm;
  /** Lowercase hex. */
  readonly hex: string;
}

/**
 * The digest a blob named by `etag` must have: 64 hex digits are a sha256, 40 a git blob sha1.
 * Anything else (a mirror's opaque ETag) cannot be checked and gives `undefined`.
 */
export function digestFromEtag(etag: string): ExpectedDigest | undefined {
  const hex = etag.toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) return { algorithm: 'sha256', hex };
  if (/^[0-9a-f]{40}$/.test(hex)) return { algorithm: 'git-sha1', hex };
  return undefined;
}

/**
 * Incremental digest of a blob. A git blob id needs the total length before the content, so a
 * `git-sha1` hasher is created with the length the server announced; {@link BlobHasher.digest}
 * returns `undefined` when the bytes fed differ from it (the length check reports that case).
 */
export class BlobHasher {
  private readonly hash: Hash;
  private fed = 0;

  /** @param length Total byte length; required for `git-sha1`. */
  constructor(
    readonly algorithm: BlobDigestAlgorithm,
    private readonly length?: number,
  ) {
    if (algorithm === 'sha256') {
      this.hash = createHash('sha256');
    } else {
      if (length === undefined) throw new RangeError('a git blob id needs the byte length up front');
      this.hash = createHash('sha1').update(`blob ${length}\0`);
    }
  }

  /** Feeds the next bytes. */
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.fed += chunk.byteLength;
  }

  /** Feeds the bytes of a file (e.g. the part of a download already on disk). */
  async updateFromFile(path: string): Promise<void> {
    for await (const chunk of createReadStream(path)) this.update(chunk as Buffer);
  }

  /** Lowercase hex digest, or `undefined` for a git blob id whose length was not the one announced. */
  digest(): string | undefined {
    if (this.algorithm === 'git-sha1' && this.fed !== this.length) return undefined;
    return this.hash.digest('hex');
  }
}

/** The `algorithm` digest of the file at `path` (two passes are never needed: its size is read first). */
export async function digestFile(path: string, algorithm: BlobDigestAlgorithm, size: number): Promise<string | undefined> {
  const hasher = new BlobHasher(algorithm, size);
  await hasher.updateFromFile(path);
  return hasher.digest();
}
