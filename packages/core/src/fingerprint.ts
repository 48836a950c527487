import { createHash } from 'node:crypto';

/**
 * A short stable hash (sha256, first 16 hex chars) of JSON values and byte arrays, used as model
 * and data fingerprints in manifests and reports.
 */
export function fingerprint(...parts: ReadonlyArray<unknown>): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    if (part instanceof Uint8Array) hash.update(part);
    else if (ArrayBuffer.isView(part)) hash.update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    else hash.update(JSON.stringify(part) ?? 'undefined');
    hash.update('\u0000');
  }
  return hash.digest('hex').slice(0, 16);
}
