// What a download must match before it is used or kept: the size the server announced and the
// content hash its ETag names (a hub's X-Linked-Etag: the sha256 of an LFS file; its ETag of a
// small file: the git blob sha1). A VerifySink checks a streamed body when nothing is cached; the
// cache writers (src/io/cache_node.ts, src/io/cache_browser.ts) check what they stored.
import type { BlobSink } from './hub_common.js';
import type { Hasher } from './sha256.js';

/** Makes the hashers a platform has: sha256 always; sha1 in Node (git blob hashes). */
export interface Hashers {
  sha256(): Hasher;
  sha1?(): Hasher;
}

/** The size and content hash a body must have. */
export interface Expected {
  size?: number;
  /** The normalised ETag: 64 hex digits = sha256 of the file, 40 = git blob sha1. */
  etag: string;
}

const SHA256 = /^[0-9a-f]{64}$/i;
const SHA1 = /^[0-9a-f]{40}$/i;

/** huggingface_hub's _normalize_etag (no weak prefix, no quotes), and a content hash in lowercase whatever case it came in. */
export function normalizeEtag(etag: string | null | undefined): string | undefined {
  if (!etag) return undefined;
  const bare = etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
  return SHA256.test(bare) || SHA1.test(bare) ? bare.toLowerCase() : bare;
}

export function isSha256(etag: string | undefined): boolean {
  return etag !== undefined && SHA256.test(etag);
}

/** Hashes pieces as they pass and says what, if anything, differs from `expected`. */
export class Verifier {
  private readonly sha256: Hasher | undefined;
  private readonly sha1: Hasher | undefined;
  private length = 0;

  constructor(
    private readonly expected: Expected,
    hashers: Hashers,
  ) {
    const etag = expected.etag.toLowerCase();
    if (SHA256.test(etag)) this.sha256 = hashers.sha256();
    else if (SHA1.test(etag) && expected.size !== undefined && hashers.sha1) {
      this.sha1 = hashers.sha1();
      this.sha1.update(new TextEncoder().encode(`blob ${expected.size}\0`));
    }
  }

  /** Whether the content hash is checked (not only the size). */
  get hashed(): boolean {
    return this.sha256 !== undefined || this.sha1 !== undefined;
  }

  update(bytes: Uint8Array): void {
    this.length += bytes.byteLength;
    this.sha256?.update(bytes);
    this.sha1?.update(bytes);
  }

  /** undefined when the bytes match; else what differs, for a message. */
  problem(): string | undefined {
    const { size } = this.expected;
    const etag = this.expected.etag.toLowerCase();
    if (size !== undefined && this.length !== size)
      return `${this.length} bytes arrived, the server announced ${size}`;
    if (this.sha256) {
      const got = this.sha256.hex();
      if (got !== etag) return `sha256 ${got} differs from the server's ${etag}`;
    }
    if (this.sha1) {
      const got = this.sha1.hex();
      if (got !== etag) return `git blob sha1 ${got} differs from the server's ${etag}`;
    }
    return undefined;
  }
}

/** A sink that only verifies (nothing is cached): commit() throws when the body differs from what was announced. */
export class VerifySink implements BlobSink {
  private readonly verifier: Verifier;

  constructor(
    private readonly what: string,
    expected: Expected,
    hashers: Hashers,
  ) {
    this.verifier = new Verifier(expected, hashers);
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.verifier.update(bytes);
  }

  async commit(): Promise<void> {
    const problem = this.verifier.problem();
    if (problem)
      throw new VerificationError(
        `download of ${this.what} failed verification: ${problem}; it was not used`,
      );
  }

  async abort(): Promise<void> {}
}

/** A body that is not what the server announced (size or content hash). */
export class VerificationError extends Error {
  override name = 'VerificationError';
}
