/** A digest a server announced for a response body: the hash algorithm (Node name) and the bytes. */
export interface AnnouncedDigest {
  /** `sha256` or `sha512`. */
  readonly algorithm: 'sha256' | 'sha512';
  /** Lowercase hex. */
  readonly hex: string;
  /** The header it came from, for messages. */
  readonly header: string;
}

const ALGORITHMS: Record<string, 'sha256' | 'sha512'> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

function fromBase64(value: string, algorithm: 'sha256' | 'sha512'): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === (algorithm === 'sha256' ? 32 : 64) ? bytes.toString('hex') : undefined;
}

/**
 * The strongest digest of the body that the headers of a full (`200`, not content-encoded)
 * response announce, from the standard headers only:
 *
 * - `Content-Digest` / `Repr-Digest` (RFC 9530): `sha-256=:<base64>:` or `sha-512=:<base64>:`
 *   dictionary members;
 * - `Digest` (RFC 3230, obsoleted by RFC 9530 but still sent): `SHA-256=<base64>`;
 * - `X-Linked-Etag` on a redirect of the Hugging Face hub (LFS files): the sha256 in hex.
 *
 * Other algorithms (md5, crc32c, unixsum) and vendor checksums are ignored. `undefined` when none.
 */
export function announcedDigest(headers: Headers, hubLinkedEtag?: string | null): AnnouncedDigest | undefined {
  const found: AnnouncedDigest[] = [];
  for (const header of ['content-digest', 'repr-digest']) {
    for (const member of (headers.get(header) ?? '').split(',')) {
      const match = /^\s*([A-Za-z0-9-]+)\s*=\s*:([^:]*):\s*$/.exec(member);
      const algorithm = match === null ? undefined : ALGORITHMS[match[1].toLowerCase()];
      const hex = algorithm === undefined ? undefined : fromBase64(match![2], algorithm);
      if (algorithm !== undefined && hex !== undefined) found.push({ algorithm, hex, header });
    }
  }
  for (const member of (headers.get('digest') ?? '').split(',')) {
    const eq = member.indexOf('=');
    const algorithm = eq < 0 ? undefined : ALGORITHMS[member.slice(0, eq).trim().toLowerCase()];
    const hex = algorithm === undefined ? undefined : fromBase64(member.slice(eq + 1).trim(), algorithm);
    if (algorithm !== undefined && hex !== undefined) found.push({ algorithm, hex, header: 'digest' });
  }
  const linked = hubLinkedEtag?.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
  if (linked !== undefined && /^[0-9a-f]{64}$/.test(linked)) found.push({ algorithm: 'sha256', hex: linked, header: 'x-linked-etag' });
  return found.find((d) => d.algorithm === 'sha512') ?? found[0];
}
