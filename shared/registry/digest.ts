import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** The algorithms the OCI image spec registers (descriptor.md, "Registered algorithms"); anything else is refused. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export function digestAlgorithm(digest: string): DigestAlgorithm {
  const alg = digest.slice(0, digest.indexOf(":"));
  if (alg !== "sha256" && alg !== "sha512") throw new Error(`unsupported digest algorithm in ${digest.slice(0, 80)}`);
  return alg;
}

/** The digest of `bytes` with the algorithm of `like` (a digest), sha256 when not given. */
export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
  ) {
    super(`${what}: digest mismatch, expected ${expected}, got ${actual}`);
    this.name = "DigestMismatchError";
  }
}

export class SizeMismatchError extends Error {
  constructor(expected: number, actual: number, what: string) {
    super(`${what}: size mismatch, expected ${expected} bytes, got ${actual}`);
    this.name = "SizeMismatchError";
  }
}

/**
 * Passes bytes through while hashing them and holds back the last chunk until the digest and size are proven, so a
 * consumer (an upload) never receives a complete but wrong body. sha256 and sha512 are verified; another algorithm
 * is refused rather than passed unchecked.
 */
export class VerifyingStream extends Transform {
  private readonly algorithm: DigestAlgorithm;
  private readonly hash;
  private held: Buffer | undefined;
  private seen = 0;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly what: string,
  ) {
    super();
    this.algorithm = digestAlgorithm(expectedDigest);
    this.hash = createHash(this.algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.seen += chunk.length;
    if (this.expectedSize !== undefined && this.seen > this.expectedSize) {
      done(new SizeMismatchError(this.expectedSize, this.seen, this.what));
      return;
    }
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    const actual = `${this.algorithm}:${this.hash.digest("hex")}`;
    if (this.expectedSize !== undefined && this.seen !== this.expectedSize) {
      done(new SizeMismatchError(this.expectedSize, this.seen, this.what));
    } else if (actual !== this.expectedDigest) {
      done(new DigestMismatchError(this.expectedDigest, actual, this.what));
    } else {
      done(null, this.held);
    }
  }

  get bytes(): number {
    return this.seen;
  }
}
